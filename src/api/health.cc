// Operations: GET /healthz (the process answers), GET /readyz (the store
// answers and the writer keeps up; it also says whether the shared cache is in
// use), GET /metrics (Prometheus text).
#include <boost/json.hpp>

#include "api/handlers.h"
#include "api/render.h"
#include "metrics/metrics.h"

namespace errata::api {
namespace json = boost::json;

void Healthz(const Ctx&, Services&, Respond respond) {
  respond({200, R"({"status":"ok"})"});
}

void Readyz(const Ctx&, Services& s, Respond respond) {
  const Status store = s.store->Ping();
  const size_t depth = s.writer->depth();
  const size_t ops = s.writer->queued_weight();  // ops, each 1 + its errors
  const bool writer_ok = s.writer->healthy();
  // The shared cache (Redis) is not needed to be ready: while it is down,
  // reads use the store and writes still commit. errata is then degraded.
  const bool cache_ok = s.cache->shared_ok();
  // Not ready at 90% of the write queue's bounds (--queue-capacity,
  // --queue-ops-capacity), before writes are refused.
  const bool ready = store.ok() && writer_ok && !s.writer->nearly_full();
  json::object o{{"status", ready ? "ready" : "not_ready"},
                 {"store", s.store->Describe()},
                 {"store_ok", store.ok()},
                 {"writer_ok", writer_ok},
                 {"write_queue_depth", depth},
                 {"write_queue_ops", ops},
                 {"cache", s.cache->Describe()},
                 {"cache_ok", cache_ok}};
  if (!store.ok()) o["store_error"] = store.message();
  if (!cache_ok) {
    o["cache_error"] = s.cache->shared_error();
    o["degraded"] = true;
  }
  http::Response r = Json(ready ? 200 : 503, o);
  if (!ready) r.headers.emplace_back("Retry-After", "1");
  respond(std::move(r));
}

void GetMetrics(const Ctx&, Services& s, Respond respond) {
  std::string text = s.metrics->Render();
  if (s.hub != nullptr) {
    AppendSample(&text, "errata_stream_subscribers", "gauge", "Open live event streams (SSE).",
                 s.hub->subscribers());
    AppendSample(&text, "errata_stream_dropped_total", "counter",
                 "Streams dropped as slow consumers.", s.hub->dropped());
    AppendSample(&text, "errata_stream_buffered_bytes", "gauge",
                 "Bytes of the events kept for reconnects (Last-Event-ID), all learners together.",
                 s.hub->buffered_bytes());
    AppendSample(&text, "errata_stream_buffered_bytes_limit", "gauge",
                 "The most errata_stream_buffered_bytes may be.", s.hub->max_bytes());
  }
  if (s.relay != nullptr) {
    AppendSample(&text, "errata_stream_relay_dropped_total", "counter",
                 "Live events not sent to the other nodes (Redis down, or the relay's queue full).",
                 s.relay->dropped());
    AppendSample(&text, "errata_stream_relay_subscribed", "gauge",
                 "Whether the relay's Redis subscription is up (events from other nodes arrive).",
                 s.relay->subscribed() ? 1 : 0);
  }
  respond({200, std::move(text), "text/plain; version=0.0.4"});
}

}  // namespace errata::api
