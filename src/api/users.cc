// Users: POST /users/ (seed), POST /v1/users, GET, PATCH and DELETE /v1/users/{id}.
#include <boost/json.hpp>
#include <fmt/format.h>

#include "api/errors.h"
#include "api/handlers.h"
#include "api/query.h"
#include "api/render.h"
#include "api/request.h"
#include "api/write.h"
#include "core/email.h"
#include "core/ids.h"
#include "core/text.h"
#include "core/user_search.h"

namespace errata::api {
namespace json = boost::json;

namespace {

// Reads username and email into op.user; the field errors name the body field.
Status ReadUser(const json::object& body, WriteOp* op) {
  Fields f(body);
  auto username = f.String("username", Fields::kRequired, 200);
  auto email = f.String("email", Fields::kRequired, 254);
  if (!f.ok()) return f.status();
  if (!IsValidEmail(*email)) {
    return Status::InvalidArgument("value is not a valid email address", "email");
  }
  op->kind = WriteOp::Kind::kCreateUser;
  op->user.username = *username;
  op->user.email = *email;
  op->user.created_at = NowMicros();
  op->user.user_id = NewUuidV7(op->user.created_at);
  return Status::Ok();
}

// Reads a PATCH body into op: username, email (null removes it), and
// nothing else but the learner's own user_id (docs/users.md). A member
// errata would ignore is refused, so a misspelt one is not a silent no-op.
Status ReadUserChange(const json::object& body, const std::string& id, WriteOp* op) {
  Fields f(body);
  for (const auto& member : body) {
    const std::string_view key = member.key();
    if (key != "username" && key != "email" && key != "user_id") {
      return Status::InvalidArgument(
          fmt::format("{} cannot be changed: a PATCH takes username and email", key),
          std::string(key));
    }
  }
  auto given = f.Uuid("user_id", Fields::kOptional);
  if (!f.ok()) return f.status();
  if (given && *given != id) return Status::InvalidArgument("user_id cannot be changed", "user_id");
  if (const json::value* v = body.if_contains("username")) {
    if (v->is_null()) return Status::InvalidArgument("username cannot be null", "username");
    auto username = f.String("username", Fields::kRequired, 200);
    if (!f.ok()) return f.status();
    if (username->empty()) return Status::InvalidArgument("username cannot be empty", "username");
    op->user.username = *username;
    op->update.username = true;
  }
  if (body.contains("email")) {
    op->user.email = f.String("email", Fields::kOptional, 254);  // null: no email
    if (!f.ok()) return f.status();
    if (op->user.email && !IsValidEmail(*op->user.email)) {
      return Status::InvalidArgument("value is not a valid email address", "email");
    }
    op->update.email = true;
  }
  if (!op->update.username && !op->update.email) {
    return Status::InvalidArgument("nothing to change: give username, email or both");
  }
  op->kind = WriteOp::Kind::kUpdateUser;
  op->user.user_id = id;
  return Status::Ok();
}

}  // namespace

void PostUserSeed(const Ctx& c, Services& s, Respond respond) {
  http::Response bad_body;
  auto body = ParseSeedBody(c.request.body(), &bad_body);
  if (!body) return respond(std::move(bad_body));
  WriteOp op;
  if (Status st = ReadUser(*body, &op); !st.ok()) return respond(ErrorResponse(Flavor::kSeed, st));
  SubmitWrite(s, Flavor::kSeed, OneOp(std::move(op)), [](WriteRequest& r) {
    const WriteOp& op = r.ops[0];
    if (!op.status.ok()) return ErrorResponse(Flavor::kSeed, op.status);
    return Json(200, RenderUser(op.user));
  }, std::move(respond));
}

void PostUser(const Ctx& c, Services& s, Respond respond) {
  auto body = ParseObject(c.request.body());
  if (!body.ok()) return respond(V1Error(400, "invalid_json", body.status().message()));
  WriteOp op;
  Fields f(*body);
  auto user_id = f.Uuid("user_id", Fields::kOptional);
  if (!f.ok()) return respond(ErrorResponse(Flavor::kV1, f.status()));
  if (Status st = ReadUser(*body, &op); !st.ok()) return respond(ErrorResponse(Flavor::kV1, st));
  // The original route takes "" as its FastAPI did; v1 wants a name.
  if (op.user.username.empty()) {
    return respond(V1Error(422, "invalid_argument", "username cannot be empty", "username"));
  }
  if (user_id) {
    op.user.user_id = *user_id;
    op.client_id = true;
  }
  SubmitWrite(s, Flavor::kV1, OneOp(std::move(op)), [](WriteRequest& r) {
    const WriteOp& op = r.ops[0];
    if (!op.status.ok()) return ErrorResponse(Flavor::kV1, op.status);
    json::object o = RenderUser(op.user);
    o["replayed"] = op.replayed;
    return Json(op.replayed ? 200 : 201, o);
  }, std::move(respond));
}

namespace {
// Reads the candidates and ranks them (on the slow-reads thread).
void Search(Services& s, const std::string& q, size_t limit, const Respond& respond) {
  // The stores' prefix indexes hold ASCII-lower-case names and emails; their
  // trigrams, and the ranking, fold the query themselves (SearchFold).
  auto candidates = s.store->SearchCandidates(AsciiLower(q), 5000);
  if (!candidates.ok()) return respond(ErrorResponse(Flavor::kV1, candidates.status()));
  json::array users;
  for (const User& u : RankUserMatches(q, std::move(*candidates), limit)) {
    users.push_back(RenderUser(u));
  }
  respond(Json(200, {{"query", q}, {"users", std::move(users)}}));
}
}  // namespace

// GET /v1/users/search?q=&limit=10: by email or name, tolerant of typos. Off
// the HTTP threads: reading and ranking up to thousands of candidates takes
// 5-30 ms, which would stall every connection of the thread (docs/http.md).
void SearchUsers(const Ctx& c, Services& s, Respond respond) {
  auto given = QueryParam(c.query, "q");
  if (!given.ok()) return respond(ErrorResponse(Flavor::kV1, given.status()));
  std::optional<std::string>& q = *given;
  if (!q || q->empty() || Utf8Length(*q) > 254) {
    return respond(V1Error(422, "invalid_argument", "q must be 1 to 254 characters", "q"));
  }
  auto limit = QueryCount(c.query, "limit", 10, 100);
  if (!limit.ok()) return respond(ErrorResponse(Flavor::kV1, limit.status()));
  RunLongRead(s, respond, [&s, q = std::move(*q), limit = *limit, respond] {
    Search(s, q, limit, respond);
  });
}

// DELETE /v1/users/{id}: erases every record of the learner (docs/erasure.md),
// durably before it answers, with when and how many of each kind went. Sent
// again for a learner already erased, it answers the same (replayed: true).
void EraseUser(const Ctx& c, Services& s, Respond respond) {
  auto id = CanonicalUuid(c.params[0]);
  if (!id) return respond(BadPathId("user_id"));
  WriteOp op;
  op.kind = WriteOp::Kind::kEraseUser;
  op.user.user_id = *id;
  op.erased_at = NowMicros();
  SubmitWrite(s, Flavor::kV1, OneOp(std::move(op)), [](WriteRequest& r) {
    const WriteOp& op = r.ops[0];
    if (!op.status.ok()) return ErrorResponse(Flavor::kV1, op.status);
    const WriteOp::Erased& e = op.erased;
    return Json(200, {{"user_id", op.user.user_id},
                      {"erased_at", FormatTime(op.erased_at)},
                      {"erased", {{"conversations", e.conversations},
                                  {"utterances", e.utterances},
                                  {"errors", e.errors},
                                  {"attempts", e.attempts}}},
                      {"replayed", op.replayed}});
  }, std::move(respond));
}

// PATCH /v1/users/{id}: the learner's new username and/or email (a
// learner's right to rectification, docs/users.md), durably before it
// answers the record as stored. Sent again, it answers the same.
void PatchUser(const Ctx& c, Services& s, Respond respond) {
  auto id = CanonicalUuid(c.params[0]);
  if (!id) return respond(BadPathId("user_id"));
  auto body = ParseObject(c.request.body());
  if (!body.ok()) return respond(V1Error(400, "invalid_json", body.status().message()));
  WriteOp op;
  if (Status st = ReadUserChange(*body, *id, &op); !st.ok()) {
    return respond(ErrorResponse(Flavor::kV1, st));
  }
  SubmitWrite(s, Flavor::kV1, OneOp(std::move(op)), [](WriteRequest& r) {
    const WriteOp& op = r.ops[0];
    if (!op.status.ok()) return ErrorResponse(Flavor::kV1, op.status);
    return Json(200, RenderUser(op.user));
  }, std::move(respond));
}

void GetUser(const Ctx& c, Services& s, Respond respond) {
  auto id = CanonicalUuid(c.params[0]);
  if (!id) return respond(BadPathId("user_id"));
  auto user = s.store->GetUser(*id);
  if (!user.ok()) return respond(ErrorResponse(Flavor::kV1, user.status()));
  respond(Json(200, RenderUser(*user)));
}

}  // namespace errata::api
