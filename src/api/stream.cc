// Live events: GET /v1/users/{id}/stream (Server-Sent Events), and the
// "profile" events published after each committed change to a learner.
#include <boost/json.hpp>

#include <algorithm>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "api/errors.h"
#include "api/handlers.h"
#include "api/render.h"
#include "api/request.h"
#include "api/stream.h"
#include "core/ids.h"

namespace errata::api {
namespace json = boost::json;

// The last event of an erased learner's streams.
constexpr const char kErasedEvent[] = "erased";

void GetStream(const Ctx& c, Services& s, Respond respond) {
  auto id = CanonicalUuid(c.params[0]);
  if (!id) return respond(BadPathId("user_id"));
  if (s.hub == nullptr) return respond(V1Error(503, "unavailable", "live events are off"));
  auto profile = s.cache->Get(*id);
  if (!profile.ok()) return respond(ErrorResponse(Flavor::kV1, profile.status()));
  if (!(*profile)->user_known) return respond(V1Error(404, "not_found", "User not found"));
  std::optional<uint64_t> last;
  auto header = c.request.find("Last-Event-ID");
  if (header != c.request.end() && !header->value().empty()) {
    // One that is not a number was not errata's: the hub tells the client
    // to reset, as for an id it never sent.
    last = ParseUnsigned({header->value().data(), header->value().size()})
               .value_or(std::numeric_limits<uint64_t>::max());
  }
  http::Response r{200, "", "text/event-stream"};
  EventHub* hub = s.hub;
  r.stream = [hub, user = *id, last](std::shared_ptr<EventSink> sink) {
    sink->Push("retry: 2000\n\n");
    const uint64_t sub = hub->Subscribe(user, sink, last);
    sink->OnClosed([hub, user, sub] { hub->Unsubscribe(user, sub); });
  };
  respond(std::move(r));
}

namespace {

// The "profile" event of a learner whose points `subs` changed, to this
// node's subscribers: those points as they are now (count, score, mastery).
void PublishProfileEvent(Services& s, const std::string& user,
                         const std::unordered_set<std::string>& subs) {
  auto profile = s.cache->Get(user);
  if (!profile.ok()) return;
  const Micros now = NowMicros();
  json::array points;
  for (const auto& sub : subs) {
    if (const ErrorPoint* p = (*profile)->Find(sub)) {
      points.push_back(RenderPoint(*p, now, s.config.half_life));
    }
  }
  s.hub->Publish(user, "profile",
                 json::serialize(json::object{{"user_id", user},
                                              {"total_errors", (*profile)->TotalErrors()},
                                              {"changed", std::move(points)}}));
}

}  // namespace

void PublishChanges(Services& s, const WriteRequest& r) {
  if (s.hub == nullptr || !r.status.ok()) return;
  // The learners and points this request changed.
  std::unordered_map<std::string, std::unordered_set<std::string>> changed;
  for (const WriteOp& op : r.ops) {
    if (!op.status.ok() || op.replayed) continue;
    if (op.kind == WriteOp::Kind::kEraseUser) {
      // The learner's streams end, on every node, with an "erased" event:
      // here at once, and on the others through the relay (whose copy of it
      // comes back here too, where a second End does nothing). Through the
      // relay alone, a Redis that was down left this node's streams of the
      // erased learner open, and their kept events in memory.
      const std::string data = json::serialize(json::object{{"user_id", op.user.user_id}});
      s.hub->End(op.user.user_id, kErasedEvent, data);
      if (s.relay != nullptr) s.relay->Publish(op.user.user_id, kErasedEvent, data);
      continue;
    }
    if (op.kind == WriteOp::Kind::kRecordAttempt) {
      changed[op.attempt.user_id].insert(op.attempt.subcategory_id);
    } else if (op.kind == WriteOp::Kind::kAddUtterance || op.kind == WriteOp::Kind::kAddErrors) {
      for (const auto& e : op.utterance.errors) changed[op.utterance.user_id].insert(e.subcategory_id);
    }
  }
  for (const auto& [user, subs] : changed) {
    if (subs.empty()) continue;
    if (s.relay != nullptr) {
      // A subscriber may be on any node: each renders the event for its own.
      std::string lines;
      for (const auto& sub : subs) lines.append(sub).push_back('\n');
      s.relay->Publish(user, "changes", lines);
    } else if (s.hub->Watched(user)) {
      PublishProfileEvent(s, user, subs);
    }
  }
}

void DeliverRelayed(Services& s, const std::string& user_id, const std::string& type,
                    const std::string& data) {
  if (type == kErasedEvent) return s.hub->End(user_id, type, data);
  if (type != "changes") {
    s.hub->Publish(user_id, type, data);
    return;
  }
  if (!s.hub->Watched(user_id)) return;
  std::unordered_set<std::string> subs;
  for (size_t at = 0; at < data.size();) {
    const size_t end = std::min(data.find('\n', at), data.size());
    if (end > at) subs.insert(data.substr(at, end - at));
    at = end + 1;
  }
  PublishProfileEvent(s, user_id, subs);
}

}  // namespace errata::api
