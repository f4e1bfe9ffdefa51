// GET /v1/users/{id}/errors/top?n=10&since=&as_of=: a learner's top error
// points, in the seed route's order. Served from the profile cache unless a
// time window is asked for.
#include <boost/json.hpp>

#include "api/errors.h"
#include "api/handlers.h"
#include "api/query.h"
#include "api/render.h"
#include "api/request.h"

namespace errata::api {
namespace json = boost::json;

void GetTopErrors(const Ctx& c, Services& s, Respond respond) {
  UserQuery q;
  if (Status st = ReadUserQuery(c, s, 10, &q); !st.ok()) return respond(ErrorResponse(Flavor::kV1, st));
  auto since = QueryTime(c.query, "since");
  if (!since.ok()) return respond(ErrorResponse(Flavor::kV1, since.status()));
  std::shared_ptr<const Profile> profile;
  if (*since) {
    auto window = s.store->ProfileBetween(q.user_id, **since, q.as_of);
    if (!window.ok()) return respond(ErrorResponse(Flavor::kV1, window.status()));
    profile = std::make_shared<const Profile>(std::move(*window));
  } else {
    profile = q.profile;
  }
  json::array errors;
  for (const ErrorPoint* p : TopByFrequency(*profile, q.n)) {
    ErrorPoint point = *p;
    if (const ErrorPoint* full = q.profile->Find(p->subcategory_id)) {
      point.memory = full->memory;  // a window has counts only; mastery is the learner's
    }
    errors.push_back(RenderPoint(point, q.as_of, s.config.half_life));
  }
  respond(Json(200, {{"user_id", q.user_id},
                     {"as_of", FormatTime(q.as_of)},
                     {"errors", std::move(errors)}}));
}

}  // namespace errata::api
