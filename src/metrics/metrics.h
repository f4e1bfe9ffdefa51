// Metrics: lock-free counters and histograms, rendered in the Prometheus text
// format by GET /metrics. Every method is thread-safe.
#pragma once

#include <fmt/format.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace errata {

// Appends one sample of `name` (type "counter" or "gauge") with its HELP and
// TYPE lines, for the renderers of /metrics (Metrics::AddSource).
template <typename V>
void AppendSample(std::string* out, std::string_view name, std::string_view type,
                  std::string_view help, V value) {
  fmt::format_to(std::back_inserter(*out), "# HELP {0} {2}\n# TYPE {0} {1}\n{0} {3}\n", name, type,
                 help, value);
}

// A cumulative histogram with fixed upper bounds.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);
  // Appends the _bucket, _sum and _count series of `name` with `labels` ("a=\"b\"" or "").
  void Render(const std::string& name, const std::string& labels, std::string* out) const;
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // one per bound, plus +Inf
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

std::vector<double> LatencyBounds();  // seconds, 50us .. 10s

class Metrics {
 public:
  explicit Metrics(std::vector<std::string> route_names);

  // One finished HTTP request on route `route` (an index into route_names; the
  // last index is "unmatched") with its status and duration.
  void ObserveRequest(size_t route, int status, double seconds);
  void ObserveCommit(size_t requests, size_t ops, double seconds, bool ok);
  // A batch that failed before its commit ran (pipelined stores: its
  // preparing failed, or the batch before it did): no commit to observe.
  void BatchUnwritten() { batches_unwritten_.fetch_add(1, std::memory_order_relaxed); }
  // One fsync of committed batches (stores with deferred sync: SQLite).
  void ObserveSync(double seconds) { sync_latency_.Observe(seconds); }
  void SetQueueDepth(int64_t depth) { queue_depth_.store(depth, std::memory_order_relaxed); }
  void CacheHit() { cache_hits_.fetch_add(1, std::memory_order_relaxed); }
  void CacheMiss() { cache_misses_.fetch_add(1, std::memory_order_relaxed); }
  // A learner loaded back into the cache after a restart (docs/warm-restart.md).
  void CachePreloaded() { cache_preloaded_.fetch_add(1, std::memory_order_relaxed); }
  void SetCacheSize(int64_t n) { cache_size_.store(n, std::memory_order_relaxed); }
  void SetCacheBytes(int64_t n) { cache_bytes_.store(n, std::memory_order_relaxed); }
  void QueueRejected() { queue_rejected_.fetch_add(1, std::memory_order_relaxed); }
  // An accept that failed (out of file descriptors or memory).
  void AcceptFailed() { accept_failed_.fetch_add(1, std::memory_order_relaxed); }
  // A learner erased (DELETE /v1/users/{id}, committed; a replay is not one).
  void LearnerErased() { learners_erased_.fetch_add(1, std::memory_order_relaxed); }
  // The shared profile cache (Redis), when configured: whether it is in use,
  // its errors (each one also marks it down), and its hits and misses.
  void SetSharedCacheUp(bool up) {
    shared_cache_up_.store(up ? 1 : 0, std::memory_order_relaxed);
  }
  void SharedCacheError() { shared_cache_errors_.fetch_add(1, std::memory_order_relaxed); }
  void SharedCacheHit() { shared_cache_hits_.fetch_add(1, std::memory_order_relaxed); }
  void SharedCacheMiss() { shared_cache_misses_.fetch_add(1, std::memory_order_relaxed); }
  // A hit served from this node's copy, after Redis said it is still current.
  void SharedCacheCurrent() { shared_cache_current_.fetch_add(1, std::memory_order_relaxed); }

  // Adds series that Render appends (the SQLite store's WAL gauges). Call
  // before serving; what `render` reads must outlive the Metrics.
  void AddSource(std::function<void(std::string*)> render) { sources_.push_back(std::move(render)); }

  std::string Render() const;

 private:
  struct Route {
    Histogram latency{LatencyBounds()};
    std::array<std::atomic<uint64_t>, 600> by_status{};
  };
  std::vector<std::string> names_;
  std::vector<std::unique_ptr<Route>> routes_;
  Histogram commit_latency_{LatencyBounds()};
  Histogram sync_latency_{LatencyBounds()};
  Histogram commit_batch_{{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000, 2000}};
  std::atomic<uint64_t> commits_failed_{0};
  std::atomic<uint64_t> batches_unwritten_{0};
  std::atomic<uint64_t> ops_committed_{0};
  std::atomic<int64_t> queue_depth_{0};
  std::atomic<uint64_t> queue_rejected_{0};
  std::atomic<uint64_t> learners_erased_{0};
  std::atomic<uint64_t> accept_failed_{0};
  std::atomic<uint64_t> cache_hits_{0};
  std::atomic<uint64_t> cache_misses_{0};
  std::atomic<uint64_t> cache_preloaded_{0};
  std::atomic<int64_t> cache_size_{0};
  std::atomic<int64_t> cache_bytes_{0};
  std::atomic<int> shared_cache_up_{-1};  // -1: no shared cache configured
  std::atomic<uint64_t> shared_cache_errors_{0};
  std::atomic<uint64_t> shared_cache_hits_{0};
  std::atomic<uint64_t> shared_cache_current_{0};
  std::atomic<uint64_t> shared_cache_misses_{0};
  std::vector<std::function<void(std::string*)>> sources_;
};

}  // namespace errata
