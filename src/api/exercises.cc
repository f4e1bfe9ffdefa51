// Practice: GET /v1/users/{id}/exercises, POST /v1/users/{id}/attempts,
// GET /v1/taxonomy.
#include <boost/json.hpp>

#include "api/errors.h"
#include "api/handlers.h"
#include "api/practice.h"
#include "api/query.h"
#include "api/render.h"
#include "api/request.h"
#include "api/write.h"

namespace errata::api {
namespace json = boost::json;

json::array SeedExercises(Services&, const std::string&, const Profile&, size_t) {
  return {};
}

void GetExercises(const Ctx& c, Services& s, Respond respond) {
  respond(V1Error(501, "not_implemented", "practice sets are not implemented yet"));
}

void PostAttempt(const Ctx& c, Services& s, Respond respond) {
  respond(V1Error(501, "not_implemented", "attempts are not implemented yet"));
}

void GetTaxonomy(const Ctx&, Services& s, Respond respond) {
  json::array categories;
  for (const Category& cat : s.taxonomy->categories()) {
    json::array subs;
    for (const auto& id : cat.subcategory_ids) {
      const Subcategory* sub = s.taxonomy->Find(id);
      json::array aliases(sub->aliases.begin(), sub->aliases.end());
      json::array codes(sub->codes.begin(), sub->codes.end());
      subs.push_back(json::object{{"id", sub->id},
                                  {"name", sub->name},
                                  {"description", sub->description},
                                  {"aliases", std::move(aliases)},
                                  {"codes", std::move(codes)}});
    }
    categories.push_back(json::object{{"id", cat.id}, {"name", cat.name}, {"subcategories", std::move(subs)}});
  }
  respond(Json(200, {{"version", s.taxonomy->version()}, {"categories", std::move(categories)}}));
}

}  // namespace errata::api
