#include "app/serve.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <sys/resource.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <memory>
#include <optional>
#include <thread>

#include "api/errors.h"
#include "api/exercise_json.h"
#include "api/handlers.h"
#include "api/stream.h"
#include "app/data.h"
#include "app/open_store.h"
#include "app/warm_restart.h"
#include "http/server.h"
#include "http/slow_reads.h"
#include "log/log.h"
#include "store/redis/redis_profiles.h"

namespace errata::app {
namespace {

bool SplitListen(const std::string& listen, std::string* host, uint16_t* port) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return false;
  *host = listen.substr(0, colon);
  if (host->size() > 2 && host->front() == '[') *host = host->substr(1, host->size() - 2);
  // Every character a digit: std::stoi read "8000x" as 8000.
  const char* first = listen.data() + colon + 1;
  const char* last = listen.data() + listen.size();
  unsigned p = 0;
  const auto [end, ec] = std::from_chars(first, last, p);
  if (ec != std::errc() || end != last || first == last || p > 65535) return false;
  *port = static_cast<uint16_t>(p);
  return true;
}

// SIGINT and SIGTERM from the first line of `serve` on. A signal that comes
// while the server starts (its store opening, its first requests already
// answered) is held, and Wait() returns at once: the server starts, then
// stops cleanly. Without it, a signal before Wait() would kill the process.
class StopSignal {
 public:
  StopSignal() : signals_(ioc_, SIGINT, SIGTERM) {}

  // Blocks until SIGINT or SIGTERM, or returns the one held.
  void Wait() {
    signals_.async_wait([](const boost::system::error_code&, int sig) {
      log::Info("signal", {{"signal", sig}});
    });
    ioc_.run();
  }

 private:
  boost::asio::io_context ioc_;
  boost::asio::signal_set signals_;
};

// Every connection holds a file descriptor, and Debian's soft limit is 1024:
// a thousand open connections would use them all. The soft limit is raised
// to the hard one (at most 2^20, Linux's default nr_open), as Go's runtime and
// nginx's worker_rlimit_nofile do. Returns the limit in force.
uint64_t RaiseOpenFilesLimit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return 0;
  const rlim_t want = std::min<rlim_t>(r.rlim_max, rlim_t{1} << 20);
  if (r.rlim_cur < want) {
    rlimit raised = r;
    raised.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) r = raised;
  }
  return r.rlim_cur;
}

// Waits up to `limit` for in-flight requests to be answered, to the answer's
// last byte.
void Drain(const http::Server& server, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (server.in_flight() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

int RunServe(const ServeOptions& o) {
  StopSignal stop_signal;
  if (!log::Setup(o.log_level)) {
    fprintf(stderr, "errata: unknown --log-level %s\n", o.log_level.c_str());
    return 2;
  }
  log::Info("starting", {{"version", ERRATA_VERSION}});
  const uint64_t open_files = RaiseOpenFilesLimit();
  std::string host;
  uint16_t port = 0;
  if (!SplitListen(o.listen, &host, &port)) {
    log::Error("bad --listen, want HOST:PORT", {{"listen", o.listen}});
    return 2;
  }
  // Every option is checked before the store opens: opening one may make it,
  // or upgrade its format, which a mistyped flag should not do.
  std::optional<redis::Url> redis_url;
  if (!o.cache.empty() && o.cache != "local") {
    auto url = redis::ParseUrl(o.cache);
    if (!url.ok()) {
      log::Error("bad --cache", {{"error", url.status().message()}});
      return 2;
    }
    redis_url = *url;
  }
  // Reads block their HTTP thread on the store (and on Redis, with --cache).
  // On an embedded store a cold learner's profile is a disk read: two threads
  // per core keep a core busy while one waits (docs/http.md, "Threads"). Over
  // the network (PostgreSQL, Redis) a thread waits a round trip per read, so
  // more threads keep the cores busy: 4 per core, at least 8 (W4a on
  // PostgreSQL + Redis, 2 cores: 2 threads 7.9k req/s, 8 threads 11.7k).
  const bool networked = o.store.starts_with("postgres://") ||
                         o.store.starts_with("postgresql://") ||
                         (!o.cache.empty() && o.cache != "local");
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = o.threads > 0 ? o.threads : (networked ? std::max(8, 4 * cores) : 2 * cores);
  auto data = LoadDomainData(o.taxonomy_path, o.exercises_path);
  if (!data.ok()) {
    log::Error("invalid data", {{"error", data.status().message()}});
    return 1;
  }
  const Micros half_life = static_cast<Micros>(o.half_life_days * kMicrosPerDay);
  auto store = OpenStore(o.store, o.data_dir, half_life, threads + 2,
                         {o.pg_read_timeout_ms, o.pg_write_timeout_ms, o.pg_lock_timeout_ms});
  if (!store.ok()) {
    log::Error("cannot open store", {{"error", store.status().message()}});
    return 1;
  }
  // Nodes that share a PostgreSQL store see each other's writes in their
  // local caches within the TTL; one SQLite node owns its writes (no TTL).
  const bool shared_store = o.store.starts_with("postgres://") || o.store.starts_with("postgresql://");
  const int64_t ttl_ms = o.cache_ttl_ms >= 0 ? o.cache_ttl_ms : (shared_store ? 1000 : 0);
  api::Services services;
  auto router_names = api::BuildRouter(services).Names();
  Metrics metrics(router_names);
  // The store's own figures: SQLite's WAL and checkpoints, RocksDB's compactions.
  metrics.AddSource([st = store->get()](std::string* out) { st->RenderMetrics(out); });
  std::unique_ptr<redis::RedisProfiles> shared;
  if (redis_url) {
    redis::RedisProfiles::Options ro{.url = *redis_url};
    ro.readers = static_cast<size_t>(std::clamp(threads, 4, 32));  // HTTP threads read profiles
    shared = std::make_unique<redis::RedisProfiles>(ro, &metrics);
    shared->Start();
    if (!shared->WaitUntilUp(std::chrono::seconds(1))) {
      log::Warn("shared cache not reachable yet: reading profiles from the store until it is",
                {{"cache", shared->Describe()}, {"error", shared->last_error()}});
    }
  }
  ProfileCache cache(store->get(), &metrics, {o.cache_size, ttl_ms * 1000, o.cache_mb << 20},
                     shared.get());
  Writer::Options wo;
  wo.flush_interval = o.flush_interval_us;
  wo.max_batch = o.max_batch;
  wo.queue_capacity = o.queue_capacity;
  wo.queue_ops_capacity = o.queue_ops_capacity;
  wo.pipelined = o.pipelined_commits;
  Writer writer(store->get(), &cache, &metrics, wo);
  services = {store->get(), &writer, &cache, &data->taxonomy, &data->bank, &metrics,
              api::Config{half_life}};
  services.config.assets_dir = o.assets_dir;
  const api::ExerciseJson exercise_json(data->bank, &data->taxonomy);
  services.exercise_json = &exercise_json;
  http::SlowReads slow_reads;  // the export's (http/slow_reads.h)
  services.slow = &slow_reads;
  metrics.AddSource([&slow_reads](std::string* out) { slow_reads.RenderMetrics(out); });
  EventHub hub({});  // outlives the server; its CloseAll lets go of the sessions first
  services.hub = &hub;
  std::unique_ptr<RedisRelay> relay;
  if (redis_url) {  // events cross nodes through Redis pub/sub
    relay = std::make_unique<RedisRelay>(
        *redis_url, &hub,
        [&services](const std::string& user, const std::string& type, const std::string& data) {
          api::DeliverRelayed(services, user, type, data);
        });
    relay->Start();
    services.relay = relay.get();
  }
  const http::Router router = api::BuildRouter(services);
  // Embedded stores never make a handler wait long: each HTTP thread runs its
  // own connections (docs/http.md). Networked ones share one pool.
  // Connections may not take the descriptors the store needs: RocksDB keeps
  // up to 512 files open and makes new ones as it flushes and compacts, and a
  // flush that cannot open its file puts it in read-only mode.
  // (0: no limit, when the open-files limit could not be read.)
  const auto files = static_cast<int64_t>(open_files);
  const int64_t max_connections =
      o.max_connections > 0 ? o.max_connections
      : files > 0           ? std::max<int64_t>(1, files - std::min<int64_t>(files / 2, 1024))
                            : 0;
  http::Server server({host, port, o.body_limit, threads, /*per_thread_contexts=*/!networked,
                       max_connections,
                       std::chrono::milliseconds(std::max<int64_t>(1, std::llround(o.idle_timeout_s * 1000)))},
                      router, &metrics, api::ServerError);
  metrics.AddSource([&server](std::string* out) {
    AppendSample(out, "errata_http_connections", "gauge", "Connections open now.", server.connections());
  });
  if (Status s = server.Listen(); !s.ok()) {
    log::Error("cannot listen", {{"error", s.message()}});
    return 1;
  }
  writer.Start();
  server.Start();
  // Warm restart: one node's local cache over an embedded store (with Redis
  // or a TTL the cache is not this node's to warm).
  std::string hot_path;
  if (o.warm_restart && !networked && ttl_ms == 0) {
    if (const std::string p = EmbeddedStorePath(o.store, o.data_dir); !p.empty()) {
      hot_path = p + ".hot-learners";
    }
  }
  Preloader preloader(&cache, store->get(), hot_path, std::min(cores, 8));  // one loader a core
  if (!hot_path.empty()) preloader.Start();
  log::Info("listening", {{"address", host + ":" + std::to_string(server.port())},
                          {"store", (*store)->Describe()},
                          {"cache", cache.Describe()},
                          {"cache_ttl_ms", ttl_ms},
                          {"cache_mb", o.cache_mb},
                          {"threads", threads},
                          {"open_files_limit", open_files},
                          {"max_connections", max_connections},
                          {"version", ERRATA_VERSION},
                          {"taxonomy", data->taxonomy.version()},
                          {"exercises", data->bank.size()}});
  stop_signal.Wait();
  log::Info("shutting down", {{"in_flight", server.in_flight()}});
  server.StopAccepting();
  Drain(server, std::chrono::seconds(10));
  slow_reads.Stop();  // answers what was queued
  writer.Stop();
  Drain(server, std::chrono::seconds(2));
  // Every committed write's event has gone to the hub. The streams end now,
  // each with its last chunk, while the I/O threads still run: the hub held
  // their sessions, which must not outlive the server's io_contexts.
  // The relay sends what is queued, and its own events come back through
  // it into the hub (at most 2 s); then it delivers no more.
  if (relay) relay->Stop(std::chrono::seconds(2));
  hub.CloseAll(2 * kMicrosPerSecond);
  preloader.Stop();
  if (!hot_path.empty()) {
    const auto ids = cache.HotLearners(cache.size());
    if (Status s = SaveHotLearners(ids, hot_path); !s.ok()) {
      log::Warn("cannot save the cached learners for a warm restart", {{"error", s.message()}});
    } else {
      log::Info("saved the cached learners for a warm restart",
                {{"learners", ids.size()}, {"path", hot_path}});
    }
  }
  server.Stop();
  if (shared) shared->Stop();
  log::Info("stopped");
  return 0;
}

}  // namespace errata::app
