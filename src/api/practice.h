// Practice sets for a learner, shared by GET /v1/users/{id}/exercises and the
// "exercises" array of the seed route GET /generate-exercise.
#pragma once

#include <boost/json/array.hpp>

#include "api/services.h"

namespace errata::api {

// The exercises for the seed route: a practice set of up to n items for the
// learner's top points, deterministic for a given profile and day.
boost::json::array SeedExercises(Services& s, const std::string& user_id, const Profile& profile,
                                 size_t n);

}  // namespace errata::api
