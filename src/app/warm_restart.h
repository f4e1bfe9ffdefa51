// Warm restart: at a clean shutdown the ids of the cached learners are saved
// beside the embedded store, and after the next start a thread loads them
// back into the cache in the background. A restarted node then serves its hot
// learners from memory within seconds, instead of paying a store read on each
// one's first request (docs/warm-restart.md). Only the ids are saved: the
// profiles are read from the store, so they are as exact as any read.
#pragma once

#include <algorithm>
#include <cstddef>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "store/profile_cache.h"

namespace errata::app {

// Writes `ids`, one per line, to `path`: a temporary file, synced, then
// renamed over it, so a crash leaves the old list or the new one.
Status SaveHotLearners(const std::vector<std::string>& ids, const std::string& path);

// Loads the learners listed at `path` (by SaveHotLearners) into `cache`, in
// about their order, on `threads` threads of its own (each load waits on the
// store, and a node is idle right after a start), then tells `store` that
// its bulk read has ended (Store::ReleaseReadMappings: SQLite's readers no
// longer hold every page they touched in the RSS). A missing file is an
// empty list.
class Preloader {
 public:
  Preloader(ProfileCache* cache, Store* store, std::string path, int threads = 2)
      : cache_(cache), store_(store), path_(std::move(path)), threads_(std::max(1, threads)) {}
  ~Preloader() { Stop(); }
  void Start();
  // Stops early if still running, and waits for the thread.
  void Stop();

 private:
  void Run(std::stop_token stop);

  ProfileCache* cache_;
  Store* store_;
  std::string path_;
  int threads_;
  std::jthread thread_;
};

}  // namespace errata::app
