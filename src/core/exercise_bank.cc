#include "core/exercise_bank.h"

#include <algorithm>
#include <array>
#include <map>
#include <boost/json.hpp>
#include <utility>

namespace errata {
namespace {

namespace json = boost::json;

constexpr std::array<std::string_view, 6> kLevels = {"A1", "A2", "B1", "B2", "C1", "C2"};
constexpr std::array<std::string_view, 7> kTypes = {
    kMultipleChoice,         kFillBlank, kMinimalPair,   kSentenceCorrection,
    kSentenceTransformation, kReadAloud, kSpeakingPrompt};
constexpr std::array<std::string_view, 8> kFields = {
    "id", "subcategory_id", "type", "level", "prompt", "options", "answers", "explanation"};
constexpr std::string_view kRightSingleQuote = "\xE2\x80\x99";  // U+2019 in UTF-8

template <size_t N>
bool Contains(const std::array<std::string_view, N>& set, std::string_view s) {
  return std::find(set.begin(), set.end(), s) != set.end();
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// `s` in double quotes, with quotes, backslashes and control characters escaped.
std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += "\\x";
      out.push_back("0123456789abcdef"[(c >> 4) & 0xf]);
      out.push_back("0123456789abcdef"[c & 0xf]);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

// An id is a short lower-case prefix (a letter, then letters or digits, at most
// 12 in all), '-', and at least three digits: "sva-001".
bool IsValidId(std::string_view id) {
  const size_t dash = id.rfind('-');
  if (dash == std::string_view::npos || dash == 0 || dash > 12) return false;
  const std::string_view prefix = id.substr(0, dash);
  const std::string_view number = id.substr(dash + 1);
  if (!IsLower(prefix[0]) || number.size() < 3) return false;
  const bool prefix_ok =
      std::all_of(prefix.begin(), prefix.end(), [](char c) { return IsLower(c) || IsDigit(c); });
  return prefix_ok && std::all_of(number.begin(), number.end(), IsDigit);
}

// The 1-based line and column of byte `offset` in `text`.
std::string Position(std::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  size_t line = 1;
  size_t column = 1;
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

// Builds the InvalidArgument errors of one load: "<source>: <where>: <what>".
class Errors {
 public:
  explicit Errors(std::string_view source) : source_(source) {}
  Status At(std::string_view where, std::string_view what) const {
    return Status::InvalidArgument(source_ + ": " + std::string(where) + ": " + std::string(what));
  }

 private:
  std::string source_;
};

Result<json::value> ParseJson(std::string_view text, const Errors& errors) {
  json::stream_parser parser;
  boost::system::error_code ec;
  const size_t consumed = parser.write(text.data(), text.size(), ec);
  if (!ec) parser.finish(ec);
  if (ec) {
    return errors.At("invalid JSON at " + Position(text, consumed), ec.message());
  }
  return parser.release();
}

// Reads a required string field of `object` into `out`.
Status ReadString(const json::object& object, std::string_view key, const std::string& where,
                  const Errors& errors, std::string* out) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr) return errors.At(where, "missing field " + Quote(key));
  const json::string* text = value->if_string();
  if (text == nullptr) return errors.At(where, "field " + Quote(key) + " must be a string");
  out->assign(text->data(), text->size());
  return Status::Ok();
}

// Reads a required array-of-strings field of `object` into `out`.
Status ReadStrings(const json::object& object, std::string_view key, const std::string& where,
                   const Errors& errors, std::vector<std::string>* out) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr) return errors.At(where, "missing field " + Quote(key));
  const json::array* array = value->if_array();
  if (array == nullptr) {
    return errors.At(where, "field " + Quote(key) + " must be an array of strings");
  }
  for (size_t i = 0; i < array->size(); ++i) {
    const json::string* text = (*array)[i].if_string();
    if (text == nullptr) {
      return errors.At(where, std::string(key) + "[" + std::to_string(i) + "] must be a string");
    }
    out->emplace_back(text->data(), text->size());
  }
  return Status::Ok();
}

// Reads the fields of one exercise (shape and types only) and names it in `where`.
Status ReadExercise(const json::value& value, const Errors& errors, std::string* where,
                    Exercise* out) {
  const json::object* object = value.if_object();
  if (object == nullptr) return errors.At(*where, "must be an object");
  if (Status s = ReadString(*object, "id", *where, errors, &out->id); !s.ok()) return s;
  *where += " (id " + Quote(out->id) + ")";
  for (const auto& [key, unused] : *object) {
    if (!Contains(kFields, key)) return errors.At(*where, "unknown field " + Quote(key));
  }
  for (auto [key, field] :
       {std::pair{"subcategory_id", &out->subcategory_id}, std::pair{"type", &out->type},
        std::pair{"level", &out->level}, std::pair{"prompt", &out->prompt},
        std::pair{"explanation", &out->explanation}}) {
    if (Status s = ReadString(*object, key, *where, errors, field); !s.ok()) return s;
  }
  if (Status s = ReadStrings(*object, "options", *where, errors, &out->options); !s.ok()) {
    return s;
  }
  return ReadStrings(*object, "answers", *where, errors, &out->answers);
}

// Checks that each of `items` is non-empty after normalization and that no two
// normalize to the same text (else a wrong choice could be accepted).
Status CheckDistinct(const std::vector<std::string>& items, std::string_view what,
                     const std::string& where, const Errors& errors) {
  std::map<std::string, std::string> seen;
  for (const std::string& item : items) {
    std::string normal = NormalizeAnswer(item);
    if (normal.empty()) {
      return errors.At(where,
                       std::string(what) + " " + Quote(item) + " is empty after normalization");
    }
    auto [it, inserted] = seen.emplace(std::move(normal), item);
    if (!inserted) {
      return errors.At(where, std::string(what) + "s " + Quote(it->second) + " and " + Quote(item) +
                                  " are the same after normalization");
    }
  }
  return Status::Ok();
}

// The rules of a choice type: at least two distinct options, at least one answer,
// every answer one of the options, and a blank in fill_blank prompts.
Status CheckChoice(const Exercise& ex, const std::string& where, const Errors& errors) {
  if (ex.options.size() < 2) {
    return errors.At(
        where, ex.type + " needs at least 2 options, has " + std::to_string(ex.options.size()));
  }
  if (ex.answers.empty()) return errors.At(where, ex.type + " needs at least 1 answer");
  for (const std::string& answer : ex.answers) {
    if (std::find(ex.options.begin(), ex.options.end(), answer) == ex.options.end()) {
      return errors.At(where, "answer " + Quote(answer) + " is not among the options");
    }
  }
  if (ex.type == kFillBlank && ex.prompt.find(kBlank) == std::string::npos) {
    return errors.At(where, "fill_blank prompt has no blank " + Quote(kBlank));
  }
  return Status::Ok();
}

// The rules that depend on the exercise type.
Status CheckTypeRules(const Exercise& ex, const std::string& where, const Errors& errors) {
  if (!Contains(kTypes, ex.type)) return errors.At(where, "unknown type " + Quote(ex.type));
  if (Status s = CheckDistinct(ex.options, "option", where, errors); !s.ok()) return s;
  if (Status s = CheckDistinct(ex.answers, "answer", where, errors); !s.ok()) return s;
  if (IsChoiceType(ex.type)) return CheckChoice(ex, where, errors);
  if (IsSpokenType(ex.type)) {
    if (!ex.options.empty()) return errors.At(where, ex.type + " takes no options");
    return Status::Ok();
  }
  if (ex.answers.empty()) return errors.At(where, ex.type + " needs at least 1 answer");
  return Status::Ok();
}

// The rules of a single exercise, apart from uniqueness and coverage.
Status CheckExercise(const Exercise& ex, const std::map<std::string, int, std::less<>>& known,
                     const std::string& where, const Errors& errors) {
  if (!IsValidId(ex.id)) {
    return errors.At(where, "id must be a short lower-case prefix, '-' and three digits");
  }
  if (!known.contains(ex.subcategory_id)) {
    return errors.At(where, "unknown subcategory " + Quote(ex.subcategory_id));
  }
  if (!Contains(kLevels, ex.level)) {
    return errors.At(where, "level " + Quote(ex.level) + " is not one of A1 A2 B1 B2 C1 C2");
  }
  if (NormalizeAnswer(ex.prompt).empty()) return errors.At(where, "prompt is empty");
  if (NormalizeAnswer(ex.explanation).empty()) return errors.At(where, "explanation is empty");
  return CheckTypeRules(ex, where, errors);
}

// Reads and checks every item of the "exercises" array.
Status ReadExercises(const json::array& items, const std::map<std::string, int, std::less<>>& known,
                     const Errors& errors, std::vector<Exercise>* out) {
  std::map<std::string, size_t, std::less<>> first_index;
  for (size_t i = 0; i < items.size(); ++i) {
    std::string where = "exercises[" + std::to_string(i) + "]";
    Exercise ex;
    if (Status s = ReadExercise(items[i], errors, &where, &ex); !s.ok()) return s;
    if (Status s = CheckExercise(ex, known, where, errors); !s.ok()) return s;
    auto [it, inserted] = first_index.emplace(ex.id, i);
    if (!inserted) {
      return errors.At(
          where, "duplicate id (first used by exercises[" + std::to_string(it->second) + "])");
    }
    out->push_back(std::move(ex));
  }
  return Status::Ok();
}

// Checks that every subcategory has at least its minimum number of exercises.
Status CheckCoverage(const std::map<std::string, int, std::less<>>& known,
                     const std::vector<Exercise>& exercises, const Errors& errors) {
  std::map<std::string_view, int> counts;
  for (const Exercise& ex : exercises) ++counts[ex.subcategory_id];
  for (const auto& [subcategory, min] : known) {
    const int count = counts[subcategory];
    if (count < min) {
      return errors.At("coverage", "subcategory " + Quote(subcategory) + " has " +
                                       std::to_string(count) + " exercise" +
                                       (count == 1 ? "" : "s") + ", needs at least " +
                                       std::to_string(min));
    }
  }
  return Status::Ok();
}

// Reads the optional top-level "retired" object into `out`: each key an id the
// bank no longer uses (never a live one, so it is never reused), each value the
// id of the live exercise that took its place.
Status ReadRetired(const json::object& root, const StringMap<const Exercise*>& by_id,
                   const Errors& errors, StringMap<const Exercise*>* out) {
  const json::value* value = root.if_contains("retired");
  if (value == nullptr) return Status::Ok();
  const json::object* retired = value->if_object();
  if (retired == nullptr) {
    return errors.At("top level", "field \"retired\" must be an object");
  }
  for (const auto& [key, successor] : *retired) {
    const std::string id(key.data(), key.size());
    const std::string where = "retired " + Quote(id);
    if (!IsValidId(id)) {
      return errors.At(where, "id must be a short lower-case prefix, '-' and three digits");
    }
    if (by_id.contains(id)) {
      return errors.At(where, "is an exercise's id (a retired id is never reused)");
    }
    const json::string* next = successor.if_string();
    if (next == nullptr) {
      return errors.At(where, "must name the exercise that took its place, as a string");
    }
    const std::string_view next_id(next->data(), next->size());
    const auto it = by_id.find(next_id);
    if (it == by_id.end()) {
      return errors.At(where, "successor " + Quote(next_id) + " is not an exercise in the bank");
    }
    out->emplace(id, it->second);
  }
  return Status::Ok();
}

}  // namespace

bool IsChoiceType(std::string_view type) {
  return type == kMultipleChoice || type == kFillBlank || type == kMinimalPair;
}

bool IsSpokenType(std::string_view type) { return type == kReadAloud || type == kSpeakingPrompt; }

ExerciseBank::ExerciseBank() : data_(std::make_shared<const Data>()) {}

ExerciseBank::ExerciseBank(std::shared_ptr<const Data> data) : data_(std::move(data)) {}

const ExerciseBank::Data& ExerciseBank::data() const {
  static const Data* const kEmpty = new Data();
  return data_ ? *data_ : *kEmpty;
}

Result<ExerciseBank> ExerciseBank::FromJson(std::string_view json_text,
                                            std::string_view source_name,
                                            const std::vector<CoverageRule>& known) {
  const Errors errors(source_name);
  Result<json::value> parsed = ParseJson(json_text, errors);
  if (!parsed.ok()) return parsed.status();
  const json::object* root = parsed->if_object();
  if (root == nullptr) return errors.At("top level", "must be an object");
  for (const auto& [key, unused] : *root) {
    if (key != "version" && key != "exercises" && key != "retired") {
      return errors.At("top level", "unknown field " + Quote(key));
    }
  }
  auto data = std::make_shared<Data>();
  if (Status s = ReadString(*root, "version", "top level", errors, &data->version); !s.ok()) {
    return s;
  }
  if (data->version.empty()) return errors.At("top level", "field \"version\" is empty");
  const json::value* items = root->if_contains("exercises");
  if (items == nullptr) return errors.At("top level", "missing field \"exercises\"");
  if (!items->is_array()) return errors.At("top level", "field \"exercises\" must be an array");

  std::map<std::string, int, std::less<>> minimums;
  for (const CoverageRule& rule : known) {
    int& min = minimums[rule.subcategory_id];
    min = std::max(min, rule.min_exercises);
  }
  if (Status s = ReadExercises(items->get_array(), minimums, errors, &data->exercises); !s.ok()) {
    return s;
  }
  if (Status s = CheckCoverage(minimums, data->exercises, errors); !s.ok()) return s;

  for (const Exercise& ex : data->exercises) {
    data->by_id.emplace(ex.id, &ex);
    data->by_subcategory[ex.subcategory_id].push_back(&ex);
  }
  if (Status s = ReadRetired(*root, data->by_id, errors, &data->retired); !s.ok()) return s;
  return ExerciseBank(std::move(data));
}

const Exercise* ExerciseBank::Find(std::string_view id) const {
  const auto it = data().by_id.find(id);
  return it == data().by_id.end() ? nullptr : it->second;
}

const Exercise* ExerciseBank::Successor(std::string_view retired_id) const {
  const auto it = data().retired.find(retired_id);
  return it == data().retired.end() ? nullptr : it->second;
}

const std::vector<const Exercise*>& ExerciseBank::ForSubcategory(
    std::string_view subcategory_id) const {
  static const std::vector<const Exercise*>* const kNone = new std::vector<const Exercise*>();
  const auto it = data().by_subcategory.find(subcategory_id);
  return it == data().by_subcategory.end() ? *kNone : it->second;
}

const std::vector<Exercise>& ExerciseBank::exercises() const { return data().exercises; }

size_t ExerciseBank::size() const { return data().exercises.size(); }

const std::string& ExerciseBank::version() const { return data().version; }

std::string NormalizeAnswer(std::string_view answer) {
  std::string out;
  out.reserve(answer.size());
  bool pending_space = false;
  for (size_t i = 0; i < answer.size(); ++i) {
    char c = answer[i];
    if (IsSpace(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (answer.substr(i).starts_with(kRightSingleQuote)) {
      c = '\'';
      i += kRightSingleQuote.size() - 1;
    } else if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  while (!out.empty() &&
         (out.back() == '.' || out.back() == '!' || out.back() == '?' || out.back() == ' ')) {
    out.pop_back();
  }
  return out;
}

bool IsAcceptedAnswer(const Exercise& exercise, std::string_view answer) {
  if (exercise.answers.empty()) return true;
  const std::string given = NormalizeAnswer(answer);
  return std::any_of(
      exercise.answers.begin(), exercise.answers.end(),
      [&given](const std::string& accepted) { return NormalizeAnswer(accepted) == given; });
}

}  // namespace errata
