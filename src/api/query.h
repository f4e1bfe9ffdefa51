// The common query of the /v1/users/{id}/... read routes: the user id in the
// path, n, as_of, and the learner's cached profile.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "api/services.h"
#include "http/router.h"

namespace errata::api {

struct UserQuery {
  std::string user_id;
  size_t n = 10;
  Micros as_of = 0;
  bool as_of_asked = false;  // as_of came in the query (not the default, now)
  std::shared_ptr<const Profile> profile;
};

// Reads {id}, n (1..100, default `default_n`; not read when 0) and as_of
// (default now), checks the user exists, and loads the profile. NotFound for
// an unknown user.
Status ReadUserQuery(const http::RouteContext& c, Services& s, size_t default_n, UserQuery* q);

// The learner's profile as it stood at q.as_of. The cached one (no store
// read) unless as_of was asked for and is before the learner's newest
// error: then the points are counted again from the errors up to as_of
// (ProfileAsOf), as a replay at that instant would see them.
Result<std::shared_ptr<const Profile>> ProfileAtAsOf(Services& s, const UserQuery& q);

// An optional whole-number query parameter from 1 to `max`; `fallback`
// when it is absent. InvalidArgument (naming `key`) otherwise.
Result<size_t> QueryCount(std::string_view query, std::string_view key, size_t fallback,
                          size_t max);

// An optional ISO-8601 query parameter.
Result<std::optional<Micros>> QueryTime(std::string_view query, std::string_view key);

}  // namespace errata::api
