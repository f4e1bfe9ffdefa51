// Operations: GET /healthz (the process answers), GET /readyz (the store
// answers and the writer keeps up), GET /metrics (Prometheus text).
#include <boost/json.hpp>

#include "api/handlers.h"
#include "api/render.h"

namespace errata::api {
namespace json = boost::json;

void Healthz(const Ctx&, Services&, Respond respond) {
  respond({200, R"({"status":"ok"})"});
}

void Readyz(const Ctx&, Services& s, Respond respond) {
  const Status store = s.store->Ping();
  const size_t depth = s.writer->depth();
  const bool writer_ok = s.writer->healthy();
  const bool ready = store.ok() && writer_ok && depth < 9000;
  json::object o{{"status", ready ? "ready" : "not_ready"},
                 {"store", s.store->Describe()},
                 {"store_ok", store.ok()},
                 {"writer_ok", writer_ok},
                 {"write_queue_depth", depth}};
  if (!store.ok()) o["store_error"] = store.message();
  http::Response r = Json(ready ? 200 : 503, o);
  if (!ready) r.headers.emplace_back("Retry-After", "1");
  respond(std::move(r));
}

void GetMetrics(const Ctx&, Services& s, Respond respond) {
  respond({200, s.metrics->Render(), "text/plain; version=0.0.4"});
}

}  // namespace errata::api
