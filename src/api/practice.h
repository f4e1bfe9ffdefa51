// Practice sets for a learner, shared by GET /v1/users/{id}/exercises and the
// "exercises" array of the seed route GET /generate-exercise.
#pragma once

#include "api/json_writer.h"

#include "api/services.h"

namespace errata::api {

// Writes the exercises of the seed route as an array: a practice set of up to
// n items for the learner's top points, deterministic for a given profile and day.
void WriteSeedExercises(JsonWriter& w, Services& s, const Profile& profile, size_t n);

}  // namespace errata::api
