#include "api/query.h"

#include <cstdlib>
#include <string>

#include "api/errors.h"
#include "api/request.h"
#include "core/ids.h"

namespace errata::api {

Result<size_t> QueryCount(std::string_view query, std::string_view key, size_t fallback,
                          size_t max) {
  auto given = QueryParam(query, key);
  if (!given.ok()) return given.status();
  const std::optional<std::string>& text = *given;
  if (!text) return fallback;
  const std::optional<uint64_t> v = ParseUnsigned(*text);
  if (!v || *v < 1 || *v > max) {
    return Status::InvalidArgument(
        std::string(key) + " must be an integer from 1 to " + std::to_string(max),
        std::string(key));
  }
  return static_cast<size_t>(*v);
}

Result<std::optional<Micros>> QueryTime(std::string_view query, std::string_view key) {
  auto given = QueryParam(query, key);
  if (!given.ok()) return given.status();
  const std::optional<std::string>& text = *given;
  if (!text) return std::optional<Micros>();
  auto t = ParseTime(*text);
  if (!t) {
    // "+01:00" sent unencoded reads as " 01:00": a query's "+" is a space.
    // The message says so, as the cause is hard to see from the client.
    const bool plus_as_space = text->find(' ') != std::string::npos;
    return Status::InvalidArgument(
        std::string(key) + " must be an ISO-8601 date-time" +
            (plus_as_space ? " (a \"+\" in a query string reads as a space: send it as %2B)" : ""),
        std::string(key));
  }
  // As the times errata takes in (Fields::Time): before 1970 the timeline's
  // days would round the wrong way, and a year past 9999 is no RFC 3339
  // date-time to answer with.
  if (*t < kFirstTime || *t > kLastTime) {
    return Status::InvalidArgument(
        std::string(key) + " must be from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z",
        std::string(key));
  }
  return std::optional<Micros>(*t);
}

Status ReadUserQuery(const http::RouteContext& c, Services& s, size_t default_n, UserQuery* q) {
  auto id = CanonicalUuid(c.params[0]);
  if (!id) return BadPathIdStatus("user_id");
  q->user_id = *id;
  if (default_n > 0) {  // a route with no n leaves it alone
    auto n = QueryCount(c.query, "n", default_n, 100);
    if (!n.ok()) return n.status();
    q->n = *n;
  }
  auto as_of = QueryTime(c.query, "as_of");
  if (!as_of.ok()) return as_of.status();
  q->as_of = as_of->value_or(NowMicros());
  q->as_of_asked = as_of->has_value();
  auto profile = s.cache->Get(q->user_id);
  if (!profile.ok()) return profile.status();
  if (!(*profile)->user_known) return Status::NotFound("User not found");
  q->profile = std::move(*profile);
  return Status::Ok();
}

Result<std::shared_ptr<const Profile>> ProfileAtAsOf(Services& s, const UserQuery& q) {
  // Without as_of the answer is the cached one, even with an error dated up
  // to a minute ahead (the created_at tolerated): that is the hot path.
  if (!q.as_of_asked || q.as_of >= NewestError(*q.profile)) return q.profile;
  auto counts = s.store->ProfileBetween(q.user_id, kFirstTime, q.as_of);
  if (!counts.ok()) return counts.status();
  return std::make_shared<const Profile>(ProfileAsOf(*q.profile, std::move(*counts), q.as_of));
}

}  // namespace errata::api
