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

// The start of an item's tail, up to the point's subcategory_id. The member
// names are fixed and the head's members come before them, so they are
// written as fragments, commas included.
void WriteBecauseHead(JsonWriter& w, std::string_view source, std::string_view category,
                      std::string_view subcategory, std::string_view subcategory_id) {
  w.Fragment(R"(,"source":)").String(source);
  w.Fragment(R"(,"because":{"category":)").String(category);
  w.Fragment(R"(,"subcategory":)").String(subcategory);
  w.Fragment(R"(,"subcategory_id":)").String(subcategory_id);
}

// The members of "because" after the point's names, and its closing brace.
void WritePointTail(JsonWriter& w, const RankedPoint& r) {
  const ErrorPoint& p = *r.point;
  w.Fragment(R"(,"count":)").Int(p.count);
  w.Fragment(R"(,"last_seen":)").Time(p.last_seen);
  w.Fragment(R"(,"mastery":)").Double(r.recall);
  w.Fragment(R"(,"priority":)").Double(r.priority);
  w.EndObject();
}

constexpr std::string_view kBank = "bank";

}  // namespace

ExerciseJson::ExerciseJson(const ExerciseBank& bank, const Taxonomy* taxonomy) {
  for (const Exercise& x : bank.exercises()) {
    Entry e;
    JsonWriter w(&e.members);
    WriteMembers(w, x);
    if (const Subcategory* sub = taxonomy ? taxonomy->Find(x.subcategory_id) : nullptr) {
      e.names = PointNames(x.subcategory_id, sub->category_name, sub->name);
      JsonWriter h(&e.because_head);
      WriteBecauseHead(h, kBank, e.names.category(), e.names.subcategory(), x.subcategory_id);
    }
    entries_.emplace(&x, std::move(e));
  }
}

const ExerciseJson::Entry* ExerciseJson::Lookup(const Exercise* x) const {
  auto it = entries_.find(x);
  return it == entries_.end() ? nullptr : &it->second;
}

namespace {

// An item's members after the exercise's own: "source" and "because". A bank
// item whose point has the taxonomy's names (all of them, unless the taxonomy
// renamed a subcategory since) copies its start from the entry.
void WriteTail(JsonWriter& w, const PracticeItem& item, const ExerciseJson::Entry* e) {
  const ErrorPoint& p = *item.because.point;
  // Interned names: equal ones are one copy, so this is a pointer compare.
  if (e != nullptr && !e->because_head.empty() && item.source == kBank && p.names == e->names) {
    w.Fragment(e->because_head);
  } else {
    WriteBecauseHead(w, item.source, p.category(), p.subcategory(), p.subcategory_id());
  }
  WritePointTail(w, item.because);
}

// Opens the item's object and writes the exercise's own members; returns the
// exercise's entry in `cache`, if any.
const ExerciseJson::Entry* WriteHead(JsonWriter& w, const PracticeItem& item,
                                     const ExerciseJson* cache) {
  const ExerciseJson::Entry* e = cache != nullptr ? cache->Lookup(item.exercise) : nullptr;
  w.BeginObject();
  if (e != nullptr) {
    w.Raw(e->members);
  } else {
    WriteMembers(w, *item.exercise);
  }
  return e;
}

}  // namespace

void WriteRankedPoints(JsonWriter& w, const std::vector<RankedPoint>& points) {
  w.BeginArray();
  for (const RankedPoint& r : points) {
    const ErrorPoint& p = *r.point;
    w.BeginObject();
    w.Key("category").String(p.category());
    w.Key("subcategory").String(p.subcategory());
    w.Key("subcategory_id").String(p.subcategory_id());
    WritePointTail(w, r);
  }
  w.EndArray();
}

void WritePracticeItem(JsonWriter& w, const PracticeItem& item, const ExerciseJson* cache) {
  WriteTail(w, item, WriteHead(w, item, cache));
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
    const ExerciseJson::Entry* e = WriteHead(w, item, cache);
    auto same = [&item](const Written& t) {
      return t.point == item.because.point && std::strcmp(t.source, item.source) == 0;
    };
    if (auto t = std::find_if(tails.begin(), tails.end(), same); t != tails.end()) {
      w.Again(t->at, t->n);
    } else {
      const size_t at = w.size();
      WriteTail(w, item, e);
      tails.push_back({item.because.point, item.source, at, w.size() - at});
    }
    w.EndObject();
  }
  w.EndArray();
}

}  // namespace errata::api
