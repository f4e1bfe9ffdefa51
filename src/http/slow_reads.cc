#include "http/slow_reads.h"

#include <sys/resource.h>
#include <unistd.h>

#include <utility>

#include "log/log.h"
#include "metrics/metrics.h"

namespace errata::http {

SlowReads::SlowReads(size_t max_waiting) : max_waiting_(max_waiting) {
  thread_ = std::thread([this] { Loop(); });
}

SlowReads::~SlowReads() { Stop(); }

bool SlowReads::Run(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= max_waiting_) {
      refused_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
  return true;
}

void SlowReads::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void SlowReads::Loop() {
  // Linux: a thread's nice value is its own (PRIO_PROCESS with its id).
  // Raising it needs no privilege.
  if (setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 10) != 0) {
    log::Warn("slow reads run at the HTTP threads' priority", {{"error", "setpriority failed"}});
  }
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
    ran_.fetch_add(1, std::memory_order_relaxed);
  }
}

void SlowReads::RenderMetrics(std::string* out) const {
  size_t waiting = 0;
  {
    std::lock_guard lock(mu_);
    waiting = queue_.size();
  }
  AppendSample(out, "errata_slow_reads_waiting", "gauge",
               "Long reads (exports, user searches) waiting for the slow-reads thread.", waiting);
  AppendSample(out, "errata_slow_reads_total", "counter", "Long reads (exports, user searches) run.",
               ran_.load());
  AppendSample(out, "errata_slow_reads_refused_total", "counter",
               "Long reads (exports, user searches) refused with 503: too many were waiting.", refused_.load());
}

}  // namespace errata::http
