#include "app/warm_restart.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>

#include "core/ids.h"
#include "log/log.h"

namespace errata::app {

Status SaveHotLearners(const std::vector<std::string>& ids, const std::string& path) {
  const std::string tmp = path + ".tmp";
  std::string text;
  text.reserve(ids.size() * 37);
  for (const auto& id : ids) text.append(id).push_back('\n');
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Unavailable("cannot create " + tmp);
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) break;
    done += static_cast<size_t>(n);
  }
  const bool ok = done == text.size() && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return Status::Unavailable("cannot write " + path);
  }
  return Status::Ok();
}

void Preloader::Start() {
  thread_ = std::jthread([this](std::stop_token stop) {
    pthread_setname_np(pthread_self(), "preload");
    Run(stop);
  });
}

void Preloader::Stop() {
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
}

void Preloader::Run(std::stop_token stop) {
  std::ifstream in(path_);
  if (!in) return;
  const auto start = std::chrono::steady_clock::now();
  std::mutex mu;  // guards `in`
  std::atomic<size_t> listed = 0, loaded = 0, full = 0;
  std::atomic<bool> failed = false;
  auto next = [&](std::string* id) {
    std::lock_guard lock(mu);
    std::string line;
    while (std::getline(in, line)) {
      if (auto canonical = CanonicalUuid(line)) {
        *id = std::move(*canonical);
        return true;
      }
    }
    return false;
  };
  auto work = [&] {
    std::string id;
    while (!stop.stop_requested() && !failed && next(&id)) {
      ++listed;
      switch (cache_->Preload(id)) {
        case ProfileCache::Preloaded::kLoaded: ++loaded; break;
        case ProfileCache::Preloaded::kFull: ++full; break;
        case ProfileCache::Preloaded::kPresent:
        case ProfileCache::Preloaded::kSkipped: break;
        case ProfileCache::Preloaded::kFailed: failed = true; break;
      }
    }
  };
  {
    std::vector<std::jthread> workers;
    for (int i = 1; i < threads_; ++i) workers.emplace_back(work);
    work();
  }  // joins the workers
  store_->ReleaseReadMappings();
  if (failed) {
    log::Warn("warm restart stopped: the store failed", {{"loaded", loaded.load()}});
    return;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  log::Info("warm restart", {{"listed", listed.load()}, {"loaded", loaded.load()},
                             {"no_room", full.load()}, {"threads", threads_},
                             {"stopped_early", stop.stop_requested()}, {"seconds", seconds}});
}

}  // namespace errata::app
