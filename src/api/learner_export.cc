// GET /v1/users/{id}/export: everything errata holds about one learner, in
// one JSON document (a learner's right of access; docs/erasure.md, "Access"):
// the user, every conversation with its utterances and their errors, every
// practice attempt, and the error points as of now. Read from the store
// (the conversations a page at a time) in one snapshot (Store::
// BeginReadSnapshot), not from the cache, on the slow-reads thread
// (http/slow_reads.h).
#include <boost/json.hpp>

#include "api/errors.h"
#include "api/handlers.h"
#include "api/render.h"
#include "core/ids.h"

namespace errata::api {
namespace json = boost::json;

namespace {

// A page of conversations read at a time.
constexpr size_t kPage = 100;

void WriteAttempt(JsonWriter& w, const Attempt& a) {
  w.BeginObject();
  w.Key("attempt_id").String(a.attempt_id);
  w.Key("exercise_id").String(a.exercise_id);
  w.Key("subcategory_id").String(a.subcategory_id);
  w.Key("correct").Bool(a.correct);
  WriteOptional(w, "answer", a.answer);
  w.Key("answered_at").Time(a.answered_at);
  w.EndObject();
}

// Reads and renders the export (on the slow-reads thread), every part
// from one snapshot of the store.
void Export(Services& s, const std::string& id, const Respond& respond) {
  auto snapshot = s.store->BeginReadSnapshot();
  if (!snapshot.ok()) return respond(ErrorResponse(Flavor::kV1, snapshot.status()));
  auto user = s.store->GetUser(id);
  if (!user.ok()) return respond(ErrorResponse(Flavor::kV1, user.status()));
  const Micros now = NowMicros();
  std::string body;
  JsonWriter w(&body);
  w.BeginObject();
  w.Key("exported_at").Time(now);
  w.Key("user").Raw(json::serialize(RenderUser(*user)));
  w.Key("conversations").BeginArray();
  std::optional<ConversationCursor> after;
  for (;;) {
    auto page = s.store->ListConversations(id, after, kPage);
    if (!page.ok()) return respond(ErrorResponse(Flavor::kV1, page.status()));
    for (const ConversationSummary& summary : *page) {
      auto view = s.store->GetConversation(summary.conversation.conversation_id);
      if (!view.ok()) return respond(ErrorResponse(Flavor::kV1, view.status()));
      WriteConversationView(w, *view);
    }
    if (page->size() < kPage) break;
    const Conversation& last = page->back().conversation;
    after = ConversationCursor{last.started_at, last.conversation_id};
  }
  w.EndArray();
  auto attempts = s.store->ListAttempts(id);
  if (!attempts.ok()) return respond(ErrorResponse(Flavor::kV1, attempts.status()));
  w.Key("attempts").BeginArray();
  for (const Attempt& a : *attempts) WriteAttempt(w, a);
  w.EndArray();
  auto profile = s.store->LoadProfile(id);
  if (!profile.ok()) return respond(ErrorResponse(Flavor::kV1, profile.status()));
  w.Key("error_points").BeginArray();
  for (const ErrorPoint& p : profile->points) {
    w.Raw(json::serialize(RenderPoint(p, now, s.config.half_life)));
  }
  w.EndArray();
  w.EndObject();
  respond({200, std::move(body)});
}

}  // namespace

void RunLongRead(Services& s, const Respond& respond, std::function<void()> read) {
  if (s.slow == nullptr) return read();
  if (!s.slow->Run(std::move(read))) {
    respond(V1Error(503, "unavailable", "too many long reads are waiting; retry later"));
  }
}

// Off the HTTP threads (http::SlowReads): a large learner's export takes
// tens of milliseconds, which would stall every connection of the thread.
void ExportLearner(const Ctx& c, Services& s, Respond respond) {
  auto id = CanonicalUuid(c.params[0]);
  if (!id) return respond(BadPathId("user_id"));
  RunLongRead(s, respond, [&s, id = *id, respond] { Export(s, id, respond); });
}

}  // namespace errata::api
