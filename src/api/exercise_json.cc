#include "api/exercise_json.h"

#include "core/clock.h"

namespace errata::api {
namespace {

void WriteStrings(JsonWriter& w, const std::vector<std::string>& v) {
  w.BeginArray();
  for (const auto& s : v) w.String(s);
  w.EndArray();
}

// The exercise's own members, without the braces around them.
void WriteMembers(JsonWriter& w, const Exercise& x) {
  w.Key("exercise_id").String(x.id);
  w.Key("subcategory_id").String(x.subcategory_id);
  w.Key("type").String(x.type);
  w.Key("level").String(x.level);
  w.Key("prompt").String(x.prompt);
  w.Key("options");
  WriteStrings(w, x.options);
  w.Key("answers");
  WriteStrings(w, x.answers);
  w.Key("explanation").String(x.explanation);
}

}  // namespace

ExerciseJson::ExerciseJson(const ExerciseBank& bank) {
  for (const Exercise& x : bank.exercises()) {
    std::string text;
    JsonWriter w(&text);
    WriteMembers(w, x);
    members_.emplace(&x, std::move(text));
  }
}

const std::string* ExerciseJson::Find(const Exercise* x) const {
  auto it = members_.find(x);
  return it == members_.end() ? nullptr : &it->second;
}

void WritePracticeItem(JsonWriter& w, const PracticeItem& item, const ExerciseJson* cache) {
  const std::string* members = cache != nullptr ? cache->Find(item.exercise) : nullptr;
  w.BeginObject();
  if (members != nullptr) {
    w.Raw(*members);
  } else {
    WriteMembers(w, *item.exercise);
  }
  const ErrorPoint& p = *item.because.point;
  w.Key("source").String(item.source);
  w.Key("because").BeginObject();
  w.Key("category").String(p.category);
  w.Key("subcategory").String(p.subcategory);
  w.Key("subcategory_id").String(p.subcategory_id);
  w.Key("count").Int(p.count);
  w.Key("last_seen").Time(p.last_seen);
  w.Key("mastery").Double(item.because.recall);
  w.Key("priority").Double(item.because.priority);
  w.EndObject();
  w.EndObject();
}

void WritePracticeItems(JsonWriter& w, const std::vector<PracticeItem>& items,
                        const ExerciseJson* cache) {
  w.BeginArray();
  for (const auto& item : items) WritePracticeItem(w, item, cache);
  w.EndArray();
}

}  // namespace errata::api
