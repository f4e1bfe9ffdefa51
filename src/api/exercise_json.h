// The practice items of the read routes, written straight to JSON text.
// A bank exercise's own members never change, so they are rendered once at
// start-up (ExerciseJson) and copied into each response; only "source" and
// "because" are written per request, and even there the point's names come
// pre-rendered when they are the taxonomy's. docs/read-path.md has the figures.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "api/json_writer.h"
#include "core/exercise_bank.h"
#include "core/point_names.h"
#include "core/practice.h"
#include "core/taxonomy.h"

namespace errata::api {

class ExerciseJson {
 public:
  // What is rendered once for a bank exercise.
  struct Entry {
    std::string members;  // "exercise_id":..., "explanation":"..."
    // With a taxonomy that knows the exercise's subcategory: its names, and
    // the start of a bank item's tail written with them:
    // ,"source":"bank","because":{"category":...,"subcategory_id":"..."
    PointNames names;
    std::string because_head;
  };

  ExerciseJson() = default;
  explicit ExerciseJson(const ExerciseBank& bank, const Taxonomy* taxonomy = nullptr);
  // A bank exercise's entry, or nullptr for an exercise not in the bank.
  const Entry* Lookup(const Exercise* x) const;

 private:
  std::unordered_map<const Exercise*, Entry> entries_;
};

// Writes one practice item as an object: the exercise's members (from `cache`
// when it has them), "source" and "because".
void WritePracticeItem(JsonWriter& w, const PracticeItem& item, const ExerciseJson* cache);

// Writes `items` as an array.
void WritePracticeItems(JsonWriter& w, const std::vector<PracticeItem>& items,
                        const ExerciseJson* cache);

// Writes `points` as an array of objects shaped as an item's "because".
void WriteRankedPoints(JsonWriter& w, const std::vector<RankedPoint>& points);

}  // namespace errata::api
