#include "metrics/metrics.h"

#include <fmt/format.h>

namespace errata {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::Observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  double sum = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(sum, sum + v, std::memory_order_relaxed)) {
  }
}

void Histogram::Render(const std::string& name, const std::string& labels,
                       std::string* out) const {
  const std::string sep = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    const std::string le = i < bounds_.size() ? fmt::format("{}", bounds_[i]) : "+Inf";
    *out += fmt::format("{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep, le, cumulative);
  }
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  *out += fmt::format("{}_sum{} {}\n", name, braces, sum_.load(std::memory_order_relaxed));
  *out += fmt::format("{}_count{} {}\n", name, braces, count());
}

std::vector<double> LatencyBounds() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
          0.025,   0.05,   0.1,     0.25,   0.5,   1,      2.5,    5, 10};
}

Metrics::Metrics(std::vector<std::string> route_names) : names_(std::move(route_names)) {
  names_.push_back("unmatched");
  for (size_t i = 0; i < names_.size(); ++i) routes_.push_back(std::make_unique<Route>());
}

void Metrics::ObserveRequest(size_t route, int status, double seconds) {
  if (route >= routes_.size()) route = routes_.size() - 1;
  Route& r = *routes_[route];
  r.latency.Observe(seconds);
  if (status >= 0 && status < 600) r.by_status[status].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::ObserveCommit(size_t requests, size_t ops, double seconds, bool ok) {
  commit_latency_.Observe(seconds);
  commit_batch_.Observe(static_cast<double>(requests));
  if (ok) ops_committed_.fetch_add(ops, std::memory_order_relaxed);
  else commits_failed_.fetch_add(1, std::memory_order_relaxed);
}

std::string Metrics::Render() const {
  std::string out;
  out += "# HELP errata_http_requests_total HTTP requests by route and status.\n";
  out += "# TYPE errata_http_requests_total counter\n";
  for (size_t i = 0; i < routes_.size(); ++i) {
    for (int s = 0; s < 600; ++s) {
      const uint64_t n = routes_[i]->by_status[s].load(std::memory_order_relaxed);
      if (n == 0) continue;
      out += fmt::format("errata_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n",
                         names_[i], s, n);
    }
  }
  out += "# HELP errata_http_request_duration_seconds HTTP request latency by route.\n";
  out += "# TYPE errata_http_request_duration_seconds histogram\n";
  for (size_t i = 0; i < routes_.size(); ++i) {
    if (routes_[i]->latency.count() == 0) continue;
    routes_[i]->latency.Render("errata_http_request_duration_seconds",
                               fmt::format("route=\"{}\"", names_[i]), &out);
  }
  out += "# HELP errata_commit_duration_seconds Group commit latency.\n";
  out += "# TYPE errata_commit_duration_seconds histogram\n";
  commit_latency_.Render("errata_commit_duration_seconds", "", &out);
  out += "# HELP errata_sync_duration_seconds fsync of committed batches before they are acknowledged (SQLite).\n";
  out += "# TYPE errata_sync_duration_seconds histogram\n";
  sync_latency_.Render("errata_sync_duration_seconds", "", &out);
  out += "# HELP errata_commit_batch_requests Requests per group commit.\n";
  out += "# TYPE errata_commit_batch_requests histogram\n";
  commit_batch_.Render("errata_commit_batch_requests", "", &out);
  auto line = [&out](const char* name, const char* type, const char* help, auto v) {
    AppendSample(&out, name, type, help, v);
  };
  line("errata_commits_failed_total", "counter", "Group commits that failed.",
       commits_failed_.load());
  line("errata_batches_unwritten_total", "counter",
       "Batches failed (503) before their commit: their preparing failed, or the batch before "
       "them did (pipelined stores).",
       batches_unwritten_.load());
  line("errata_ops_committed_total", "counter", "Write operations committed.",
       ops_committed_.load());
  line("errata_write_queue_depth", "gauge", "Write requests waiting for commit.",
       queue_depth_.load());
  line("errata_write_queue_rejected_total", "counter", "Writes refused with 503: queue full.",
       queue_rejected_.load());
  line("errata_http_accept_failed_total", "counter",
       "Connections the listener could not accept (out of file descriptors or memory; docs/http.md).",
       accept_failed_.load());
  line("errata_learners_erased_total", "counter",
       "Learners erased by this node (DELETE /v1/users/{id}; docs/erasure.md).",
       learners_erased_.load());
  line("errata_profile_cache_hits_total", "counter", "Profile reads served from memory.",
       cache_hits_.load());
  line("errata_profile_cache_misses_total", "counter", "Profile reads that loaded the store.",
       cache_misses_.load());
  line("errata_profile_cache_preloaded_total", "counter",
       "Profiles loaded back in the background after a restart (docs/warm-restart.md).",
       cache_preloaded_.load());
  line("errata_profile_cache_entries", "gauge", "Profiles held in memory.", cache_size_.load());
  line("errata_profile_cache_bytes", "gauge",
       "Estimated memory the cached profiles hold, which --cache-mb bounds "
       "(docs/profile-memory.md).",
       cache_bytes_.load());
  if (const int up = shared_cache_up_.load(); up >= 0) {
    line("errata_shared_cache_up", "gauge",
         "1 while the shared profile cache (Redis) is in use; 0 while reads fall back to the store.",
         up);
    line("errata_shared_cache_errors_total", "counter",
         "Shared profile cache (Redis) commands that failed.", shared_cache_errors_.load());
    line("errata_shared_cache_hits_total", "counter", "Profile reads served from Redis.",
         shared_cache_hits_.load());
    line("errata_shared_cache_current_hits_total", "counter",
         "Of those, reads served from the node's own copy after Redis said it is still current"
         " (no profile sent).",
         shared_cache_current_.load());
    line("errata_shared_cache_misses_total", "counter",
         "Profile reads that Redis could not serve (absent, or a commit in progress).",
         shared_cache_misses_.load());
  }
  for (const auto& source : sources_) source(&out);
  return out;
}

}  // namespace errata
