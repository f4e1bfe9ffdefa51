// JSON renderings of errata's records, shared by the handlers so that a user,
// an utterance or an error point looks the same in every response.
#pragma once

#include <boost/json/object.hpp>

#include "api/json_writer.h"
#include "core/model.h"
#include "core/profile.h"
#include "http/message.h"

namespace errata::api {

boost::json::object RenderUser(const User& u);
boost::json::object RenderConversation(const Conversation& c);
boost::json::object RenderError(const ErrorRecord& e);
boost::json::object RenderUtterance(const Utterance& u);
// RenderError's members, in its order, written straight to JSON text, with
// "resolved_by" after them unless it is empty. The write routes answer with
// it: building a DOM for a response cost more than the rest of the write
// path (BENCHMARKS.md, "Session 8").
void WriteError(JsonWriter& w, const ErrorRecord& e, std::string_view resolved_by = {});
// An error point for /v1: category, subcategory, subcategory_id, frequency,
// first_seen, last_seen, recency score and mastery at `now`.
boost::json::object RenderPoint(const ErrorPoint& p, Micros now, Micros half_life);

// A JSON response with `status`.
http::Response Json(int status, const boost::json::object& body);

}  // namespace errata::api
