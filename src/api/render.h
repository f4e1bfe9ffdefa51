// JSON renderings of errata's records, shared by the handlers so that a user,
// an utterance or an error point looks the same in every response.
#pragma once

#include <boost/json/object.hpp>

#include <optional>
#include <string_view>
#include <vector>

#include "api/json_writer.h"
#include "core/model.h"
#include "core/profile.h"
#include "core/taxonomy.h"
#include "http/message.h"
#include "store/store.h"

namespace errata::api {

boost::json::object RenderUser(const User& u);
// `name`: the value, or null.
void WriteOptional(JsonWriter& w, std::string_view name, const std::optional<std::string>& v);
void WriteOptionalTime(JsonWriter& w, std::string_view name, const std::optional<Micros>& t);
// A conversation's members (conversation_id, user_id, started_at), without
// the braces: the routes add theirs ("replayed", "utterances").
void WriteConversationMembers(JsonWriter& w, const Conversation& c);
// A conversation with its utterances and their errors, as an object.
void WriteConversationView(JsonWriter& w, const ConversationView& v);
// An utterance's members, its errors among them, without the braces. With
// `resolutions`, each error also says how its label resolved ("resolved_by").
void WriteUtteranceMembers(JsonWriter& w, const Utterance& u,
                           const std::vector<Resolution>* resolutions = nullptr);
// An error as an object, with "resolved_by" last unless it is empty.
// Conversations, utterances and errors are written as text, not built as a
// boost::json DOM: on the write routes the DOM cost more than the rest of the
// write path (BENCHMARKS.md, "Session 8").
void WriteError(JsonWriter& w, const ErrorRecord& e, std::string_view resolved_by = {});
// An error point for /v1: category, subcategory, subcategory_id, frequency,
// first_seen, last_seen, recency score and mastery at `now`.
boost::json::object RenderPoint(const ErrorPoint& p, Micros now, Micros half_life);

// A JSON response with `status`.
http::Response Json(int status, const boost::json::object& body);

}  // namespace errata::api
