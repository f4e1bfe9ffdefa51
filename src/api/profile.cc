// GET /v1/users/{id}/errors/top?n=10&since=&as_of=: a learner's top error
// points, in the seed route's order. Served from the profile cache unless a
// time window is asked for, or an as_of before the learner's newest error.
#include <boost/json.hpp>

#include "api/errors.h"
#include "api/handlers.h"
#include "api/query.h"
#include "api/render.h"
#include "api/request.h"

namespace errata::api {
namespace json = boost::json;

// GET /v1/users/{id}/errors/timeline?days=30: errors per day per category,
// one entry per UTC day (zeros included), oldest first, ending at as_of.
void GetTimeline(const Ctx& c, Services& s, Respond respond) {
  UserQuery q;
  if (Status st = ReadUserQuery(c, s, /*default_n=*/0, &q); !st.ok()) {
    return respond(ErrorResponse(Flavor::kV1, st));
  }
  auto count = QueryCount(c.query, "days", 30, 366);
  if (!count.ok()) return respond(ErrorResponse(Flavor::kV1, count.status()));
  const int64_t days = static_cast<int64_t>(*count);
  const int64_t last_day = q.as_of / kMicrosPerDay;
  const int64_t first_day = last_day - days + 1;
  auto counts = s.store->ErrorsPerDay(q.user_id, first_day * kMicrosPerDay, q.as_of);
  if (!counts.ok()) return respond(ErrorResponse(Flavor::kV1, counts.status()));
  std::vector<std::string> categories;
  for (const Category& cat : s.taxonomy->categories()) categories.push_back(cat.name);
  for (const DayCount& d : *counts) {
    if (std::find(categories.begin(), categories.end(), d.category) == categories.end()) {
      categories.push_back(d.category);
    }
  }
  json::array series;
  size_t next = 0;
  for (int64_t day = first_day; day <= last_day; ++day) {
    json::object per;
    for (const auto& cat : categories) per[cat] = 0;
    for (; next < counts->size() && (*counts)[next].day <= day; ++next) {
      if ((*counts)[next].day == day) per[(*counts)[next].category] = (*counts)[next].count;
    }
    series.push_back(json::object{{"date", FormatTime(day * kMicrosPerDay).substr(0, 10)},
                                  {"counts", std::move(per)}});
  }
  respond(Json(200, {{"user_id", q.user_id},
                     {"days", days},
                     {"from", FormatTime(first_day * kMicrosPerDay).substr(0, 10)},
                     {"categories", json::array(categories.begin(), categories.end())},
                     {"series", std::move(series)}}));
}

void GetTopErrors(const Ctx& c, Services& s, Respond respond) {
  UserQuery q;
  if (Status st = ReadUserQuery(c, s, 10, &q); !st.ok()) return respond(ErrorResponse(Flavor::kV1, st));
  auto since = QueryTime(c.query, "since");
  if (!since.ok()) return respond(ErrorResponse(Flavor::kV1, since.status()));
  // An empty window is a mistake in the query (the two swapped), not a
  // learner without errors: 200 [] hid it.
  if (*since && **since > q.as_of) {
    return respond(V1Error(422, "invalid_argument", "since must not be after as_of (default now)",
                           "since"));
  }
  std::shared_ptr<const Profile> profile;
  if (*since) {
    auto window = s.store->ProfileBetween(q.user_id, **since, q.as_of);
    if (!window.ok()) return respond(ErrorResponse(Flavor::kV1, window.status()));
    profile = std::make_shared<const Profile>(std::move(*window));
  } else {
    auto at = ProfileAtAsOf(s, q);
    if (!at.ok()) return respond(ErrorResponse(Flavor::kV1, at.status()));
    profile = std::move(*at);
  }
  json::array errors;
  for (const ErrorPoint* p : TopByFrequency(*profile, q.n)) {
    ErrorPoint point = *p;
    if (const ErrorPoint* full = q.profile->Find(p->subcategory_id())) {
      point.memory = full->memory;  // a window has counts only; mastery is the learner's
    }
    errors.push_back(RenderPoint(point, q.as_of, s.config.half_life));
  }
  respond(Json(200, {{"user_id", q.user_id},
                     {"as_of", FormatTime(q.as_of)},
                     {"errors", std::move(errors)}}));
}

}  // namespace errata::api
