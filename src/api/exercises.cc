// Practice: GET /v1/users/{id}/exercises, POST /v1/users/{id}/attempts,
// GET /v1/taxonomy.
#include <boost/json.hpp>

#include <random>

#include "api/errors.h"
#include "api/exercise_json.h"
#include "api/handlers.h"
#include "api/practice.h"
#include "api/query.h"
#include "api/render.h"
#include "api/request.h"
#include "api/write.h"
#include "core/ids.h"
#include "core/mastery.h"
#include "core/own_words.h"
#include "core/practice.h"

namespace errata::api {
namespace json = boost::json;

namespace {

const char* const kLevels[] = {"A1", "A2", "B1", "B2", "C1", "C2"};
const char* const kTypes[] = {"multiple_choice", "fill_blank",  "sentence_correction",
                              "sentence_transformation", "minimal_pair", "read_aloud",
                              "speaking_prompt"};

// A fresh seed for an unseeded request: a per-thread generator seeded once from
// std::random_device (which costs a system call per use).
uint64_t RandomSeed() {
  thread_local std::mt19937_64 gen{(static_cast<uint64_t>(std::random_device{}()) << 32) ^
                                   std::random_device{}()};
  return gen();
}

// Reads level, types and seed from the query into *r.
Status ReadPracticeQuery(std::string_view query, PracticeRequest* r, bool* seeded) {
  std::optional<std::string> level, types, seed;
  for (auto [key, out] : {std::pair{"level", &level}, {"types", &types}, {"seed", &seed}}) {
    auto given = QueryParam(query, key);
    if (!given.ok()) return given.status();
    *out = std::move(*given);
  }
  if (level && !level->empty()) {
    if (std::find(std::begin(kLevels), std::end(kLevels), *level) == std::end(kLevels)) {
      return Status::InvalidArgument("level must be one of A1 A2 B1 B2 C1 C2", "level");
    }
    r->level = *level;
  }
  if (types && !types->empty()) {
    for (size_t pos = 0; pos <= types->size();) {
      size_t comma = types->find(',', pos);
      if (comma == std::string::npos) comma = types->size();
      std::string t = types->substr(pos, comma - pos);
      if (std::find(std::begin(kTypes), std::end(kTypes), t) == std::end(kTypes)) {
        return Status::InvalidArgument("unknown exercise type: " + t, "types");
      }
      r->types.push_back(std::move(t));
      pos = comma + 1;
    }
  }
  *seeded = false;
  if (seed) {
    const std::optional<uint64_t> v = ParseUnsigned(*seed);
    if (!v) return Status::InvalidArgument("seed must be an integer from 0 to 2^64-1", "seed");
    r->seed = *v;
    *seeded = true;
  }
  return Status::Ok();
}

std::vector<PracticeItem> Practice(Services& s, const Profile& profile, PracticeRequest r,
                                   std::vector<RankedPoint>* uncovered = nullptr) {
  r.ranking.half_life = s.config.half_life;
  return SelectPractice(profile, *s.bank, r, uncovered);
}

}  // namespace

void WriteSeedExercises(JsonWriter& w, Services& s, const Profile& profile, size_t n) {
  PracticeRequest r;
  r.n = n;
  r.now = NowMicros();
  r.seed = static_cast<uint64_t>(r.now / kMicrosPerDay);  // stable within a day
  WritePracticeItems(w, Practice(s, profile, r), s.exercise_json);
}

void GetExercises(const Ctx& c, Services& s, Respond respond) {
  UserQuery q;
  if (Status st = ReadUserQuery(c, s, 10, &q); !st.ok()) return respond(ErrorResponse(Flavor::kV1, st));
  PracticeRequest r;
  bool seeded = false;
  if (Status st = ReadPracticeQuery(c.query, &r, &seeded); !st.ok()) {
    return respond(ErrorResponse(Flavor::kV1, st));
  }
  if (!seeded) r.seed = RandomSeed();
  r.n = q.n;
  r.now = q.as_of;
  auto profile = ProfileAtAsOf(s, q);
  if (!profile.ok()) return respond(ErrorResponse(Flavor::kV1, profile.status()));
  std::vector<RankedPoint> uncovered;
  const auto items = Practice(s, **profile, r, &uncovered);
  std::string body;
  body.reserve(512 + 640 * items.size());
  JsonWriter w(&body);
  w.BeginObject();
  w.Key("user_id").String(q.user_id);
  w.Key("as_of").Time(q.as_of);
  w.Key("seed").String(std::to_string(r.seed));
  w.Key("exercises");
  WritePracticeItems(w, items, s.exercise_json);
  w.Key("uncovered");
  WriteRankedPoints(w, uncovered);
  w.EndObject();
  respond({200, std::move(body)});
}

void PostAttempt(const Ctx& c, Services& s, Respond respond) {
  auto user_id = CanonicalUuid(c.params[0]);
  if (!user_id) return respond(BadPathId("user_id"));
  auto body = ParseObject(c.request.body());
  if (!body.ok()) return respond(V1Error(400, "invalid_json", body.status().message()));
  Fields f(*body);
  WriteOp op;
  op.kind = WriteOp::Kind::kRecordAttempt;
  Attempt& a = op.attempt;
  auto exercise_id = f.String("exercise_id", Fields::kRequired, 300);
  auto correct = f.Bool("correct");
  a.answer = f.String("answer", Fields::kOptional, 10'000);
  auto answered_at = f.Time("answered_at", Fields::kOptional);
  if (!f.ok()) return respond(ErrorResponse(Flavor::kV1, f.status()));
  if (exercise_id->empty()) {  // no exercise has it: the request is bad, not the id unknown
    return respond(V1Error(422, "invalid_argument", "exercise_id must not be empty", "exercise_id"));
  }
  const Micros now = NowMicros();
  if (answered_at && *answered_at > now + s.config.future_tolerance) {
    return respond(V1Error(422, "invalid_argument", "answered_at is in the future", "answered_at"));
  }
  if (const Exercise* x = s.bank->Find(*exercise_id)) {
    a.subcategory_id = x->subcategory_id;
  } else if (const Exercise* next = s.bank->Successor(*exercise_id)) {
    // A retired id (docs/exercise-bank.md), as a set fetched before the bank
    // changed may hold: recorded as sent, credited where its item now lives.
    a.subcategory_id = next->subcategory_id;
  } else if (auto sub = OwnExerciseSubcategory(*exercise_id)) {
    // One made from the learner's own words (core/own_words.h): of a point
    // they have made errors in, so a made-up id credits no other point.
    auto profile = s.cache->Get(*user_id);
    if (!profile.ok()) return respond(ErrorResponse(Flavor::kV1, profile.status()));
    if (!(*profile)->user_known) return respond(V1Error(404, "not_found", "User not found"));
    if ((*profile)->Find(*sub) == nullptr) {
      return respond(V1Error(404, "not_found", "Exercise not found", "exercise_id"));
    }
    a.subcategory_id = *sub;
  } else {
    return respond(V1Error(404, "not_found", "Exercise not found", "exercise_id"));
  }
  a.user_id = *user_id;
  a.exercise_id = *exercise_id;
  a.correct = *correct;
  a.answered_at = answered_at.value_or(now);
  a.attempt_id = NewUuidV7(a.answered_at);
  SubmitWrite(s, Flavor::kV1, OneOp(std::move(op)), [](WriteRequest& r) {
    const WriteOp& op = r.ops[0];
    if (!op.status.ok()) return ErrorResponse(Flavor::kV1, op.status);
    const Attempt& a = op.attempt;
    return Json(201, {{"attempt_id", a.attempt_id},
                      {"user_id", a.user_id},
                      {"exercise_id", a.exercise_id},
                      {"subcategory_id", a.subcategory_id},
                      {"correct", a.correct},
                      {"answered_at", FormatTime(a.answered_at)},
                      {"memory", {{"stability_days", op.memory.stability_days},
                                  {"difficulty", op.memory.difficulty},
                                  {"reviews", op.memory.reviews},
                                  {"lapses", op.memory.lapses},
                                  {"recall", Retrievability(op.memory, a.answered_at)}}}});
  }, std::move(respond));
}

void GetTaxonomy(const Ctx&, Services& s, Respond respond) {
  json::array categories;
  for (const Category& cat : s.taxonomy->categories()) {
    json::array subs;
    for (const auto& id : cat.subcategory_ids) {
      const Subcategory* sub = s.taxonomy->Find(id);
      subs.push_back(json::object{{"id", sub->id},
                                  {"name", sub->name},
                                  {"description", sub->description},
                                  {"aliases", json::array(sub->aliases.begin(), sub->aliases.end())},
                                  {"codes", json::array(sub->codes.begin(), sub->codes.end())}});
    }
    categories.push_back(json::object{{"id", cat.id}, {"name", cat.name}, {"subcategories", std::move(subs)}});
  }
  respond(Json(200, {{"version", s.taxonomy->version()}, {"categories", std::move(categories)}}));
}

}  // namespace errata::api
