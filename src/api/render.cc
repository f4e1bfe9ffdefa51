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

void WriteConversationMembers(JsonWriter& w, const Conversation& c) {
  w.Key("conversation_id").String(c.conversation_id);
  w.Key("user_id").String(c.user_id);
  w.Key("started_at").Time(c.started_at);
}

void WriteOptional(JsonWriter& w, std::string_view name, const std::optional<std::string>& v) {
  w.Key(name);
  if (v) {
    w.String(*v);
  } else {
    w.Null();
  }
}

void WriteOptionalTime(JsonWriter& w, std::string_view name, const std::optional<Micros>& t) {
  w.Key(name);
  if (t) {
    w.Time(*t);
  } else {
    w.Null();
  }
}

void WriteConversationView(JsonWriter& w, const ConversationView& v) {
  w.BeginObject();
  WriteConversationMembers(w, v.conversation);
  w.Key("utterances").BeginArray();
  for (const Utterance& u : v.utterances) {
    w.BeginObject();
    WriteUtteranceMembers(w, u);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

void WriteError(JsonWriter& w, const ErrorRecord& e, std::string_view resolved_by) {
  w.BeginObject();
  w.Key("error_id").String(e.error_id);
  w.Key("category").String(e.category);
  w.Key("subcategory").String(e.subcategory);
  w.Key("subcategory_id").String(e.subcategory_id);
  w.Key("code");
  if (e.code.empty()) {
    w.Null();
  } else {
    w.String(e.code);
  }
  WriteOptional(w, "original", e.original);
  WriteOptional(w, "correction", e.correction);
  WriteOptional(w, "explanation", e.explanation);
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

void WriteUtteranceMembers(JsonWriter& w, const Utterance& u,
                           const std::vector<Resolution>* resolutions) {
  w.Key("utterance_id").String(u.utterance_id);
  w.Key("conversation_id").String(u.conversation_id);
  w.Key("user_id").String(u.user_id);
  WriteOptional(w, "content", u.content);
  w.Key("created_at").Time(u.created_at);
  w.Key("errors").BeginArray();
  for (size_t i = 0; i < u.errors.size(); ++i) {
    const bool resolved = resolutions != nullptr && i < resolutions->size();
    WriteError(w, u.errors[i], resolved ? HowName((*resolutions)[i].how) : "");
  }
  w.EndArray();
}

json::object RenderPoint(const ErrorPoint& p, Micros now, Micros half_life) {
  return {{"category", p.category()},
          {"subcategory", p.subcategory()},
          {"subcategory_id", p.subcategory_id()},
          {"frequency", p.count},
          {"first_seen", FormatTime(p.first_seen)},
          {"last_seen", FormatTime(p.last_seen)},
          {"recent_score", RecentScore(p, now, half_life)},
          {"mastery", Mastery(p, now)}};
}

http::Response Json(int status, const json::object& body) {
  return {status, json::serialize(body)};
}

}  // namespace errata::api
