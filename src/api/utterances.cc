// Utterances: POST /utterances/ (seed, no errors) and POST /v1/utterances
// (the normal integration: an utterance and its errors commit together).
#include <boost/json.hpp>

#include "api/errors.h"
#include "api/handlers.h"
#include "api/render.h"
#include "api/request.h"
#include "api/utterance_input.h"
#include "api/write.h"
#include "core/ids.h"

namespace errata::api {
namespace json = boost::json;

void PostUtteranceSeed(const Ctx& c, Services& s, Respond respond) {
  http::Response bad_body;
  auto body = ParseSeedBody(c.request.body(), &bad_body);
  if (!body) return respond(std::move(bad_body));
  Fields f(*body);
  WriteOp op;
  op.kind = WriteOp::Kind::kAddUtterance;
  Utterance& u = op.utterance;
  auto conversation_id = f.Uuid("conversation_id");
  auto user_id = f.Uuid("user_id");
  u.content = f.String("content", Fields::kOptional);
  if (!f.ok()) return respond(ErrorResponse(Flavor::kSeed, f.status()));
  u.conversation_id = *conversation_id;
  u.user_id = *user_id;
  u.created_at = NowMicros();
  u.utterance_id = NewUuidV7(u.created_at);
  SubmitWrite(s, Flavor::kSeed, OneOp(std::move(op)), [](WriteRequest& r) {
    const WriteOp& op = r.ops[0];
    if (!op.status.ok()) return ErrorResponse(Flavor::kSeed, op.status);
    const Utterance& u = op.utterance;
    return Json(200, {{"utterance_id", u.utterance_id},
                      {"conversation_id", u.conversation_id},
                      {"user_id", u.user_id},
                      {"content", u.content ? json::value(*u.content) : json::value(nullptr)},
                      {"timestamp", FormatTime(u.created_at)}});
  }, std::move(respond));
}

void PostUtterance(const Ctx& c, Services& s, Respond respond) {
  auto body = ParseObject(c.request.body());
  if (!body.ok()) return respond(V1Error(400, "invalid_json", body.status().message()));
  auto parsed = ParseUtterance(*body, s, NowMicros(), UtteranceMode::kV1);
  if (!parsed.ok()) return respond(ErrorResponse(Flavor::kV1, parsed.status()));
  auto resolutions = std::make_shared<std::vector<Resolution>>(std::move(parsed->resolutions));
  SubmitWrite(s, Flavor::kV1, OneOp(std::move(parsed->op)), [resolutions](WriteRequest& r) {
    const WriteOp& op = r.ops[0];
    if (!op.status.ok()) return ErrorResponse(Flavor::kV1, op.status);
    return http::Response{op.replayed ? 200 : 201, UtteranceResultJson(op, *resolutions)};
  }, std::move(respond));
}

}  // namespace errata::api
