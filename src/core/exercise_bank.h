// The exercise bank: practice exercises, each tied to one taxonomy subcategory.
// Pure domain code: the caller reads the file; this parses and validates its text.
// The format and rules are described in docs/exercise-bank.md.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/string_map.h"

namespace errata {

// The exercise types, as spelled in the bank.
inline constexpr std::string_view kMultipleChoice = "multiple_choice";
inline constexpr std::string_view kFillBlank = "fill_blank";
inline constexpr std::string_view kMinimalPair = "minimal_pair";
inline constexpr std::string_view kSentenceCorrection = "sentence_correction";
inline constexpr std::string_view kSentenceTransformation = "sentence_transformation";
inline constexpr std::string_view kReadAloud = "read_aloud";
inline constexpr std::string_view kSpeakingPrompt = "speaking_prompt";

// The marker a fill_blank prompt must contain.
inline constexpr std::string_view kBlank = "___";

struct Exercise {
  std::string id;              // "sva-001": a short prefix, '-', three digits
  std::string subcategory_id;  // a taxonomy subcategory id
  std::string type;            // one of the k* type names above
  std::string level;           // CEFR level: A1 A2 B1 B2 C1 C2
  std::string prompt;
  std::vector<std::string> options;  // choices shown (choice types only)
  std::vector<std::string> answers;  // accepted answers (empty: anything goes)
  std::string explanation;
};

// A subcategory the taxonomy knows, and how many exercises it needs at least.
struct CoverageRule {
  std::string subcategory_id;
  int min_exercises = 0;
};

// True for the types whose answer is picked from `options`
// (multiple_choice, fill_blank, minimal_pair).
bool IsChoiceType(std::string_view type);

// True for the types that are spoken and have no right answer
// (read_aloud, speaking_prompt).
bool IsSpokenType(std::string_view type);

// An immutable, validated set of exercises with lookup indexes.
// Copies are cheap (shared immutable data); thread-safe after FromJson.
class ExerciseBank {
 public:
  // An empty bank (version "", no exercises).
  ExerciseBank();

  // Parses and validates a bank. `known` lists every subcategory id the taxonomy
  // has, each with the minimum number of exercises it needs (0 allowed).
  // On failure returns InvalidArgument whose message names `source_name` and the
  // item, e.g. `data/exercises.json: exercises[12] (id "sva-003"): answer "goes"
  // is not among the options`. Checks the JSON shape and field types, required
  // fields, known type, level A1..C2, unique ids, known subcategory, the per-type
  // rules, the blank in fill_blank prompts, and coverage (the message names the
  // subcategory and the counts), and the optional "retired" ids: each no live
  // exercise's id, each naming a live exercise as its successor.
  static Result<ExerciseBank> FromJson(std::string_view json, std::string_view source_name,
                                       const std::vector<CoverageRule>& known);

  // The exercise with this id, or nullptr if there is none.
  const Exercise* Find(std::string_view id) const;

  // For an id the bank has retired (an item moved to another subcategory, or
  // replaced by a different one), the live exercise that took its place; nullptr
  // for any other id, live ones included. Retired ids are never reused, so an
  // attempt stored under one still names the item the learner answered.
  const Exercise* Successor(std::string_view retired_id) const;

  // The exercises of a subcategory, in file order; empty if there are none.
  const std::vector<const Exercise*>& ForSubcategory(std::string_view subcategory_id) const;

  // All exercises, in file order.
  const std::vector<Exercise>& exercises() const;

  // The number of exercises.
  size_t size() const;

  // The bank's "version" string, e.g. "2026.11.1".
  const std::string& version() const;

 private:
  struct Data {
    std::string version;
    std::vector<Exercise> exercises;  // never resized after the indexes are built
    StringMap<const Exercise*> by_id;
    StringMap<std::vector<const Exercise*>> by_subcategory;
    StringMap<const Exercise*> retired;  // retired id -> its successor
  };
  explicit ExerciseBank(std::shared_ptr<const Data> data);
  const Data& data() const;  // *data_, or an empty Data when moved from

  // The indexes point into data_->exercises, which is heap-allocated and never
  // moves, so they stay valid when the bank is copied or moved.
  std::shared_ptr<const Data> data_;
};

// Normalizes an answer for comparison: trims, folds ASCII case, collapses runs of
// whitespace to one space, maps the typographic apostrophe (U+2019) to ', and
// drops trailing '.', '!' and '?'.
std::string NormalizeAnswer(std::string_view answer);

// True when `answer` is accepted for `exercise`: equal to one of its answers after
// NormalizeAnswer. Speaking/read-aloud exercises (no answers) accept anything.
bool IsAcceptedAnswer(const Exercise& exercise, std::string_view answer);

}  // namespace errata
