#include "api/query.h"

#include "api/request.h"
#include "core/ids.h"

namespace errata::api {

Result<std::optional<Micros>> QueryTime(std::string_view query, std::string_view key) {
  auto text = QueryParam(query, key);
  if (!text) return std::optional<Micros>();
  auto t = ParseTime(*text);
  if (!t) return Status::InvalidArgument(std::string(key) + " must be an ISO-8601 date-time", std::string(key));
  return std::optional<Micros>(*t);
}

Status ReadUserQuery(const http::RouteContext& c, Services& s, size_t default_n, UserQuery* q) {
  auto id = CanonicalUuid(c.params[0]);
  if (!id) return Status::InvalidArgument("user id must be a valid UUID", "id");
  q->user_id = *id;
  q->n = default_n;
  if (auto n = QueryParam(c.query, "n")) {
    char* end = nullptr;
    const long long v = std::strtoll(n->c_str(), &end, 10);
    if (n->empty() || *end != '\0' || v < 1 || v > 100) {
      return Status::InvalidArgument("n must be an integer from 1 to 100", "n");
    }
    q->n = static_cast<size_t>(v);
  }
  auto as_of = QueryTime(c.query, "as_of");
  if (!as_of.ok()) return as_of.status();
  q->as_of = as_of->value_or(NowMicros());
  auto profile = s.cache->Get(q->user_id);
  if (!profile.ok()) return profile.status();
  if (!(*profile)->user_known) return Status::NotFound("User not found");
  q->profile = std::move(*profile);
  return Status::Ok();
}

}  // namespace errata::api
