// Conversations: POST /conversations/ (seed), POST /v1/conversations,
// GET /v1/conversations/{id} (with its utterances and errors, three queries),
// GET /v1/users/{id}/conversations (a learner's, newest first, by pages).
#include <boost/json.hpp>

#include <charconv>

#include "api/errors.h"
#include "api/handlers.h"
#include "api/query.h"
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

// The cursor of the next page of a learner's conversations: the last one
// listed, as "<started_at in microseconds>_<conversation id>". Clients pass it
// back as `after` and need not read it.
std::string CursorText(const Conversation& c) {
  return std::to_string(c.started_at) + "_" + c.conversation_id;
}

std::optional<ConversationCursor> ParseCursor(std::string_view text) {
  const size_t sep = text.find('_');
  if (sep == std::string_view::npos) return std::nullopt;
  ConversationCursor c;
  const char* end = text.data() + sep;
  if (const auto [p, ec] = std::from_chars(text.data(), end, c.started_at);
      ec != std::errc() || p != end) {
    return std::nullopt;
  }
  auto id = CanonicalUuid(text.substr(sep + 1));
  if (!id) return std::nullopt;
  c.conversation_id = *id;
  return c;
}

}  // namespace

void PostConversationSeed(const Ctx& c, Services& s, Respond respond) {
  http::Response bad_body;
  auto body = ParseSeedBody(c.request.body(), &bad_body);
  if (!body) return respond(std::move(bad_body));
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
    op.time_given = started_at.has_value();  // then a retry must give the same one
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
    return respond(BadPathId("conversation_id"));
  }
  auto view = s.store->GetConversation(*id);
  if (!view.ok()) return respond(ErrorResponse(Flavor::kV1, view.status()));
  std::string body;
  JsonWriter w(&body);
  WriteConversationView(w, *view);
  respond({200, std::move(body)});
}

// GET /v1/users/{id}/conversations?limit=20&after=CURSOR
void ListUserConversations(const Ctx& c, Services& s, Respond respond) {
  auto user_id = CanonicalUuid(c.params[0]);
  if (!user_id) {
    return respond(BadPathId("user_id"));
  }
  auto limit = QueryCount(c.query, "limit", 20, 100);
  if (!limit.ok()) return respond(ErrorResponse(Flavor::kV1, limit.status()));
  auto text = QueryParam(c.query, "after");
  if (!text.ok()) return respond(ErrorResponse(Flavor::kV1, text.status()));
  std::optional<ConversationCursor> after;
  if (*text) {
    after = ParseCursor(**text);
    if (!after) {
      return respond(V1Error(422, "invalid_argument",
                             "after must be the `next` of an earlier page", "after"));
    }
  }
  // One more than the page, to tell whether another page follows.
  auto list = s.store->ListConversations(*user_id, after, *limit + 1);
  if (!list.ok()) return respond(ErrorResponse(Flavor::kV1, list.status()));
  if (list->empty()) {  // no conversations (after the cursor), or no such learner
    auto user = s.store->GetUser(*user_id);
    if (!user.ok()) return respond(ErrorResponse(Flavor::kV1, user.status()));
  }
  const bool more = list->size() > *limit;
  if (more) list->pop_back();
  std::string body;
  JsonWriter w(&body);
  w.BeginObject();
  w.Key("user_id").String(*user_id);
  w.Key("conversations").BeginArray();
  for (const ConversationSummary& cs : *list) {
    w.BeginObject();
    WriteConversationMembers(w, cs.conversation);
    w.Key("utterances").Int(cs.utterances);
    WriteOptionalTime(w, "last_utterance_at", cs.last_utterance_at);
    w.EndObject();
  }
  w.EndArray();
  w.Key("next");
  if (more) {
    w.String(CursorText(list->back().conversation));
  } else {
    w.Null();
  }
  w.EndObject();
  respond({200, std::move(body)});
}

}  // namespace errata::api
