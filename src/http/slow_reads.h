// SlowReads: a thread of its own for the few requests whose reads take long
// (a learner's export: ~100 ms for 10,000 utterances), off the HTTP threads.
// On an embedded store each HTTP thread serves the connections it accepted
// (docs/http.md): a long read on one stalls every request pinned to it, and
// one client exporting in a loop took W4a's p99 from about 7 ms to 310-445
// ms (BENCHMARKS.md, "Session 20"). The thread runs at a lower priority (nice +10), so under
// load the hot paths keep the cores and the slow read takes longer instead.
//
// Bounded: with `max_waiting` tasks queued, Run refuses and the caller
// answers 503. Stop() runs what is queued and joins; so does the destructor.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace errata::http {

class SlowReads {
 public:
  explicit SlowReads(size_t max_waiting = 16);
  ~SlowReads();
  SlowReads(const SlowReads&) = delete;
  SlowReads& operator=(const SlowReads&) = delete;

  // Queues `task` for the slow thread; false (and `task` dropped) when
  // max_waiting tasks are already waiting, or after Stop().
  bool Run(std::function<void()> task);
  void Stop();

  // Prometheus lines: tasks waiting, run, and refused (/metrics).
  void RenderMetrics(std::string* out) const;

 private:
  void Loop();

  const size_t max_waiting_;
  std::atomic<uint64_t> ran_{0};
  std::atomic<uint64_t> refused_{0};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::thread thread_;
};

}  // namespace errata::http
