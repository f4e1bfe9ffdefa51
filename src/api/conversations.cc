// Conversations: POST /conversations/ (seed), POST /v1/conversations,
// GET /v1/conversations/{id} (with its utterances and errors, three queries).
#include <boost/json.hpp>

#include "api/errors.h"
#include "api/handlers.h"
#include "api/render.h"
#include "api/request.h"
#include "api/write.h"
#include "core/ids.h"

namespace errata::api {
namespace json = boost::json;

namespace {

WriteOp NewConversation(const std::string& user_id, std::optional<Micros> started_at) {
  WriteOp op;
  op.kind = WriteOp::Kind::kCreateConversation;
  op.conversation.user_id = user_id;
  op.conversation.started_at = started_at.value_or(NowMicros());
  op.conversation.conversation_id = NewUuidV7(op.conversation.started_at);
  return op;
}

// A conversation as an object; the v1 answer adds "replayed".
std::string ConversationJson(const Conversation& c, std::optional<bool> replayed = std::nullopt) {
  std::string body;
  JsonWriter w(&body);
  w.BeginObject();
  WriteConversationMembers(w, c);
  if (replayed) w.Key("replayed").Bool(*replayed);
  w.EndObject();
  return body;
}

}  // namespace

void PostConversationSeed(const Ctx& c, Services& s, Respond respond) {
  auto body = ParseObject(c.request.body());
  if (!body.ok()) return respond(SeedValidationError("body", "", "JSON decode error", "json_invalid"));
  Fields f(*body);
  auto user_id = f.Uuid("user_id");
  if (!f.ok()) return respond(ErrorResponse(Flavor::kSeed, f.status()));
  SubmitWrite(s, Flavor::kSeed, OneOp(NewConversation(*user_id, std::nullopt)),
              [](WriteRequest& r) {
                const WriteOp& op = r.ops[0];
                if (!op.status.ok()) return ErrorResponse(Flavor::kSeed, op.status);
                return http::Response{200, ConversationJson(op.conversation)};
              },
              std::move(respond));
}

void PostConversation(const Ctx& c, Services& s, Respond respond) {
  auto body = ParseObject(c.request.body());
  if (!body.ok()) return respond(V1Error(400, "invalid_json", body.status().message()));
  Fields f(*body);
  auto user_id = f.Uuid("user_id");
  auto conversation_id = f.Uuid("conversation_id", Fields::kOptional);
  auto started_at = f.Time("started_at", Fields::kOptional);
  if (!f.ok()) return respond(ErrorResponse(Flavor::kV1, f.status()));
  if (started_at && *started_at > NowMicros() + s.config.future_tolerance) {
    return respond(V1Error(422, "invalid_argument", "started_at is in the future", "started_at"));
  }
  WriteOp op = NewConversation(*user_id, started_at);
  if (conversation_id) {
    op.conversation.conversation_id = *conversation_id;
    op.client_id = true;
  }
  SubmitWrite(s, Flavor::kV1, OneOp(std::move(op)), [](WriteRequest& r) {
    const WriteOp& op = r.ops[0];
    if (!op.status.ok()) return ErrorResponse(Flavor::kV1, op.status);
    return http::Response{op.replayed ? 200 : 201, ConversationJson(op.conversation, op.replayed)};
  }, std::move(respond));
}

void GetConversation(const Ctx& c, Services& s, Respond respond) {
  auto id = CanonicalUuid(c.params[0]);
  if (!id) {
    return respond(V1Error(422, "invalid_argument", "conversation id must be a valid UUID", "id"));
  }
  auto view = s.store->GetConversation(*id);
  if (!view.ok()) return respond(ErrorResponse(Flavor::kV1, view.status()));
  std::string body;
  JsonWriter w(&body);
  w.BeginObject();
  WriteConversationMembers(w, view->conversation);
  w.Key("utterances").BeginArray();
  for (const auto& u : view->utterances) {
    w.BeginObject();
    WriteUtteranceMembers(w, u);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  respond({200, std::move(body)});
}

}  // namespace errata::api
