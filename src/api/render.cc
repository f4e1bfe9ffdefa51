#include "api/render.h"

#include <boost/json/serialize.hpp>

#include "core/mastery.h"

namespace errata::api {
namespace json = boost::json;

namespace {
json::value Opt(const std::optional<std::string>& s) {
  return s ? json::value(json::string(*s)) : json::value(nullptr);
}
}  // namespace

json::object RenderUser(const User& u) {
  return {{"user_id", u.user_id},
          {"username", u.username},
          {"email", Opt(u.email)},
          {"created_at", FormatTime(u.created_at)}};
}

json::object RenderConversation(const Conversation& c) {
  return {{"conversation_id", c.conversation_id},
          {"user_id", c.user_id},
          {"started_at", FormatTime(c.started_at)}};
}

json::object RenderError(const ErrorRecord& e) {
  json::object o{{"error_id", e.error_id},
                 {"category", e.category},
                 {"subcategory", e.subcategory},
                 {"subcategory_id", e.subcategory_id},
                 {"code", e.code.empty() ? json::value(nullptr) : json::value(e.code)},
                 {"original", Opt(e.original)},
                 {"correction", Opt(e.correction)},
                 {"explanation", Opt(e.explanation)},
                 {"created_at", FormatTime(e.created_at)}};
  o["span"] = e.span ? json::value(json::object{{"start", e.span->start}, {"end", e.span->end}})
                     : json::value(nullptr);
  return o;
}

void WriteError(JsonWriter& w, const ErrorRecord& e, std::string_view resolved_by) {
  auto optional = [&w](std::string_view name, const std::optional<std::string>& v) {
    w.Key(name);
    if (v) {
      w.String(*v);
    } else {
      w.Null();
    }
  };
  w.BeginObject();
  w.Key("error_id").String(e.error_id);
  w.Key("category").String(e.category);
  w.Key("subcategory").String(e.subcategory);
  w.Key("subcategory_id").String(e.subcategory_id);
  optional("code", e.code.empty() ? std::nullopt : std::optional<std::string>(e.code));
  optional("original", e.original);
  optional("correction", e.correction);
  optional("explanation", e.explanation);
  w.Key("created_at").Time(e.created_at);
  w.Key("span");
  if (e.span) {
    w.BeginObject().Key("start").Int(e.span->start).Key("end").Int(e.span->end).EndObject();
  } else {
    w.Null();
  }
  if (!resolved_by.empty()) w.Key("resolved_by").String(resolved_by);
  w.EndObject();
}

json::object RenderUtterance(const Utterance& u) {
  json::array errors;
  for (const auto& e : u.errors) errors.push_back(RenderError(e));
  return {{"utterance_id", u.utterance_id},
          {"conversation_id", u.conversation_id},
          {"user_id", u.user_id},
          {"content", Opt(u.content)},
          {"created_at", FormatTime(u.created_at)},
          {"errors", std::move(errors)}};
}

json::object RenderPoint(const ErrorPoint& p, Micros now, Micros half_life) {
  return {{"category", p.category},
          {"subcategory", p.subcategory},
          {"subcategory_id", p.subcategory_id},
          {"frequency", p.count},
          {"first_seen", FormatTime(p.first_seen)},
          {"last_seen", FormatTime(p.last_seen)},
          {"recent_score", DecayedCount(p.decay_log2, now, half_life)},
          {"mastery", Mastery(p, now)}};
}

http::Response Json(int status, const json::object& body) {
  return {status, json::serialize(body)};
}

}  // namespace errata::api
