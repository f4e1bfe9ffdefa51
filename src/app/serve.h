// `errata serve`: wires the store, writer, cache and HTTP server together and
// runs until SIGINT/SIGTERM, then shuts down cleanly.
#pragma once

#include <string>

namespace errata::app {

struct ServeOptions {
  std::string listen = "127.0.0.1:8000";
  std::string data_dir = "./data";
  std::string store;  // empty: SQLite in data_dir
  int threads = 0;    // 0: the core count
  std::string log_level = "info";
  size_t body_limit = 1 << 20;
  int64_t max_connections = 0;  // 0: from the open-files limit (docs/http.md)
  double idle_timeout_s = 60;    // a connection's wait for its next request (docs/http.md)
  int64_t flush_interval_us = 0;
  size_t max_batch = 1000;
  size_t queue_capacity = 10000;
  size_t queue_ops_capacity = 100000;
  // Prepare the next batch while one is written, on RocksDB (docs/write-path.md).
  bool pipelined_commits = true;
  size_t cache_mb = 768;  // the profile cache's memory (docs/profile-memory.md); 0: no limit
  size_t cache_size = 0;  // most learners cached; 0: no limit but cache_mb
  std::string cache;          // empty or "local": no shared cache; redis://... shares profiles
  int64_t cache_ttl_ms = -1;  // local cache TTL; -1: 1000 with PostgreSQL, else 0 (never expire)
  // PostgreSQL's statement and lock timeouts (docs/postgres.md, "Deadlines"), ms; 0: none.
  int64_t pg_read_timeout_ms = 5'000;
  int64_t pg_write_timeout_ms = 60'000;
  int64_t pg_lock_timeout_ms = 5'000;
  double half_life_days = 14;
  std::string taxonomy_path;
  std::string exercises_path;
  std::string assets_dir;  // holds docs/, the swagger-ui files /docs serves
  // Save the cached learners' ids at shutdown and load them back at start
  // (embedded stores with the local cache; docs/warm-restart.md).
  bool warm_restart = true;
};

// Returns the process exit code.
int RunServe(const ServeOptions& options);

}  // namespace errata::app
