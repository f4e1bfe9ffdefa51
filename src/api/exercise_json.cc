#include "api/exercise_json.h"

#include <algorithm>
#include <cstring>

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

namespace {

// An item's members after the exercise's own: "source" and "because". The
// names are fixed and the head's members come before them, so they are
// written as fragments, commas included.
void WriteTail(JsonWriter& w, const PracticeItem& item) {
  const ErrorPoint& p = *item.because.point;
  w.Fragment(R"(,"source":)").String(item.source);
  w.Fragment(R"(,"because":{"category":)").String(p.category);
  w.Fragment(R"(,"subcategory":)").String(p.subcategory);
  w.Fragment(R"(,"subcategory_id":)").String(p.subcategory_id);
  w.Fragment(R"(,"count":)").Int(p.count);
  w.Fragment(R"(,"last_seen":)").Time(p.last_seen);
  w.Fragment(R"(,"mastery":)").Double(item.because.recall);
  w.Fragment(R"(,"priority":)").Double(item.because.priority);
  w.EndObject();
}

// Opens the item's object and writes the exercise's own members.
void WriteHead(JsonWriter& w, const PracticeItem& item, const ExerciseJson* cache) {
  const std::string* members = cache != nullptr ? cache->Find(item.exercise) : nullptr;
  w.BeginObject();
  if (members != nullptr) {
    w.Raw(*members);
  } else {
    WriteMembers(w, *item.exercise);
  }
}

}  // namespace

void WritePracticeItem(JsonWriter& w, const PracticeItem& item, const ExerciseJson* cache) {
  WriteHead(w, item, cache);
  WriteTail(w, item);
  w.EndObject();
}

void WritePracticeItems(JsonWriter& w, const std::vector<PracticeItem>& items,
                        const ExerciseJson* cache) {
  // The items of one point share their tail ("source" aside, all of it is
  // the point's), and a set of ten has two or three points: a tail written
  // once is copied for the point's next items (docs/read-path.md).
  struct Written {
    const ErrorPoint* point;
    const char* source;
    size_t at, n;  // the tail, with its comma, in the output
  };
  std::vector<Written> tails;
  tails.reserve(items.size());
  w.BeginArray();
  for (const auto& item : items) {
    WriteHead(w, item, cache);
    auto same = [&item](const Written& t) {
      return t.point == item.because.point && std::strcmp(t.source, item.source) == 0;
    };
    if (auto t = std::find_if(tails.begin(), tails.end(), same); t != tails.end()) {
      w.Again(t->at, t->n);
    } else {
      const size_t at = w.size();
      WriteTail(w, item);
      tails.push_back({item.because.point, item.source, at, w.size() - at});
    }
    w.EndObject();
  }
  w.EndArray();
}

}  // namespace errata::api
