#include "core/exercise_bank.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace errata {
namespace {

// The taxonomy's subcategories, their categories and the minimum exercises each needs.
struct Subcategory {
  const char* id;
  const char* category;
  int min_exercises;
};

constexpr Subcategory kTaxonomy[] = {
    {"subject-verb-agreement", "grammar", 5},
    {"verb-tense", "grammar", 5},
    {"verb-form", "grammar", 5},
    {"modal-verbs", "grammar", 5},
    {"articles-determiners", "grammar", 5},
    {"prepositions", "grammar", 5},
    {"pronouns", "grammar", 5},
    {"noun-number", "grammar", 5},
    {"possessives", "grammar", 5},
    {"word-order", "grammar", 5},
    {"conjunctions-linking", "grammar", 5},
    {"sentence-structure", "grammar", 5},
    {"missing-word", "grammar", 5},
    {"redundancy", "grammar", 5},
    {"word-choice", "vocabulary", 5},
    {"collocation", "vocabulary", 5},
    {"word-form", "vocabulary", 5},
    {"idioms", "vocabulary", 5},
    {"register", "vocabulary", 5},
    {"spelling", "mechanics", 5},
    {"punctuation", "mechanics", 5},
    {"capitalization", "mechanics", 5},
    {"vowel-sounds", "pronunciation", 3},
    {"consonant-sounds", "pronunciation", 3},
    {"word-stress", "pronunciation", 3},
    {"rhythm-sentence-stress", "pronunciation", 3},
    {"intonation", "pronunciation", 3},
    {"connected-speech", "pronunciation", 3},
    {"hesitation", "fluency", 3},
    {"filler-words", "fluency", 3},
    {"repetition", "fluency", 3},
    {"self-correction", "fluency", 3},
    {"pausing", "fluency", 3},
    {"speech-rate", "fluency", 3},
    {"unclassified", "other", 0},
};

std::vector<CoverageRule> TaxonomyRules() {
  std::vector<CoverageRule> rules;
  for (const Subcategory& s : kTaxonomy) rules.push_back({s.id, s.min_exercises});
  return rules;
}

std::string CategoryOf(std::string_view subcategory_id) {
  for (const Subcategory& s : kTaxonomy) {
    if (subcategory_id == s.id) return s.category;
  }
  return "";
}

// The types each category may use.
std::set<std::string> SuitedTypes(const std::string& category) {
  if (category == "grammar" || category == "vocabulary" || category == "mechanics") {
    return {"multiple_choice", "fill_blank", "sentence_correction", "sentence_transformation"};
  }
  if (category == "pronunciation") return {"minimal_pair", "read_aloud"};
  if (category == "fluency") return {"speaking_prompt", "read_aloud"};
  return {"multiple_choice",         "fill_blank", "minimal_pair",   "sentence_correction",
          "sentence_transformation", "read_aloud", "speaking_prompt"};
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

class RealBankTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string text = ReadFile(ERRATA_SOURCE_DIR "/data/exercises.json");
    auto result = ExerciseBank::FromJson(text, "data/exercises.json", TaxonomyRules());
    load_status_ = new Status(result.status());
    if (result.ok()) bank_ = new ExerciseBank(std::move(result.value()));
  }
  static void TearDownTestSuite() {
    delete bank_;
    delete load_status_;
    bank_ = nullptr;
    load_status_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(load_status_->ok()) << load_status_->ToString();
    ASSERT_NE(bank_, nullptr);
  }
  static const ExerciseBank* bank_;
  static const Status* load_status_;
};

const ExerciseBank* RealBankTest::bank_ = nullptr;
const Status* RealBankTest::load_status_ = nullptr;

TEST_F(RealBankTest, LoadsWithVersion) {
  EXPECT_EQ(bank_->version(), "2026.12.2");
  EXPECT_GT(bank_->size(), 150u);
}

TEST_F(RealBankTest, EverySubcategoryMeetsItsMinimum) {
  for (const Subcategory& s : kTaxonomy) {
    EXPECT_GE(static_cast<int>(bank_->ForSubcategory(s.id).size()), s.min_exercises) << s.id;
  }
}

TEST_F(RealBankTest, EveryTypeSuitsItsCategory) {
  for (const Exercise& ex : bank_->exercises()) {
    const std::string category = CategoryOf(ex.subcategory_id);
    ASSERT_FALSE(category.empty()) << ex.id;
    EXPECT_TRUE(SuitedTypes(category).contains(ex.type)) << ex.id << " is " << ex.type;
  }
}

TEST_F(RealBankTest, GrammarVocabularyAndMechanicsMixTypes) {
  for (const Subcategory& s : kTaxonomy) {
    const std::string category = s.category;
    if (category != "grammar" && category != "vocabulary") continue;
    std::set<std::string> types;
    for (const Exercise* ex : bank_->ForSubcategory(s.id)) types.insert(ex->type);
    EXPECT_GE(types.size(), 2u) << s.id;
  }
}

TEST_F(RealBankTest, EveryLevelIsUsedAndMostAreA2ToB2) {
  std::map<std::string, int> per_level;
  for (const Exercise& ex : bank_->exercises()) ++per_level[ex.level];
  for (const char* level : {"A1", "A2", "B1", "B2", "C1", "C2"}) {
    EXPECT_GT(per_level[level], 0) << level;
  }
  const int middle = per_level["A2"] + per_level["B1"] + per_level["B2"];
  EXPECT_GT(middle * 10, static_cast<int>(bank_->size()) * 7);
}

TEST_F(RealBankTest, PromptsFollowTheirTypeConventions) {
  for (const Exercise& ex : bank_->exercises()) {
    if (ex.type == kSentenceCorrection) {
      EXPECT_TRUE(ex.prompt.starts_with("Correct the sentence: ")) << ex.id;
    } else if (ex.type == kSentenceTransformation) {
      EXPECT_TRUE(ex.prompt.starts_with("Rewrite ")) << ex.id;
    } else if (ex.type == kReadAloud) {
      EXPECT_TRUE(ex.prompt.starts_with("Read aloud")) << ex.id;
    }
  }
}

TEST_F(RealBankTest, UncorrectedSentenceIsNotAccepted) {
  for (const Exercise& ex : bank_->exercises()) {
    if (ex.type != kSentenceCorrection) continue;
    const std::string wrong = ex.prompt.substr(ex.prompt.find(": ") + 2);
    EXPECT_FALSE(IsAcceptedAnswer(ex, wrong)) << ex.id;
  }
}

TEST_F(RealBankTest, ChoiceAnswersAcceptedAndDistractorsRefused) {
  for (const Exercise& ex : bank_->exercises()) {
    if (!IsChoiceType(ex.type)) continue;
    for (const std::string& option : ex.options) {
      const bool is_answer =
          std::find(ex.answers.begin(), ex.answers.end(), option) != ex.answers.end();
      EXPECT_EQ(IsAcceptedAnswer(ex, option), is_answer) << ex.id << " " << option;
    }
  }
}

// The full form of `answer` (normalized) with its unambiguous contractions
// expanded, or "" when it has none. Not 's or 'd (is/has/possessive, had/would),
// and not a contraction before a subject: "Don't you know?" has no "Do not you know?".
std::string FullForm(const std::string& answer) {
  static const std::map<std::string, std::string> kNot = {
      {"don't", "do not"},       {"doesn't", "does not"},     {"didn't", "did not"},
      {"isn't", "is not"},       {"aren't", "are not"},       {"wasn't", "was not"},
      {"weren't", "were not"},   {"haven't", "have not"},     {"hasn't", "has not"},
      {"hadn't", "had not"},     {"can't", "cannot"},         {"couldn't", "could not"},
      {"wouldn't", "would not"}, {"shouldn't", "should not"}, {"won't", "will not"},
      {"mustn't", "must not"},   {"needn't", "need not"}};
  static const std::pair<std::string, std::string> kSuffixes[] = {
      {"'m", " am"}, {"'re", " are"}, {"'ve", " have"}, {"'ll", " will"}};
  static const std::set<std::string> kSubjects = {"i",  "you",  "he",   "she",
                                                  "it", "we",   "they", "there"};
  std::vector<std::string> words;
  std::istringstream in(NormalizeAnswer(answer));
  for (std::string w; in >> w;) words.push_back(w);
  bool changed = false;
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) {
    std::string word = words[i];
    std::string mark;  // trailing , ; or :
    while (!word.empty() && (word.back() == ',' || word.back() == ';' || word.back() == ':')) {
      mark.insert(mark.begin(), word.back());
      word.pop_back();
    }
    std::string full;
    if (auto it = kNot.find(word); it != kNot.end()) full = it->second;
    for (const auto& [suffix, expansion] : kSuffixes) {
      if (full.empty() && word.size() > suffix.size() && word.ends_with(suffix)) {
        full = word.substr(0, word.size() - suffix.size()) + expansion;
      }
    }
    if (!full.empty() && mark.empty() && i + 1 < words.size() && kSubjects.contains(words[i + 1])) {
      full.clear();  // a question's inversion
    }
    if (!full.empty()) changed = true;
    out += (i ? " " : "") + (full.empty() ? word : full) + mark;
  }
  return changed ? out : "";
}

// Answers are checked without equating contractions and full forms
// (docs/exercise-bank.md), so a typed answer with "don't", "I'm", "'ve"...
// lists its full form too.
TEST_F(RealBankTest, ContractedAnswersAlsoListTheirFullForm) {
  EXPECT_EQ(FullForm("I don't know what time it is."), "i do not know what time it is");
  EXPECT_EQ(FullForm("She might've missed the train."), "she might have missed the train");
  EXPECT_EQ(FullForm("Don't you like it?"), "");
  EXPECT_EQ(FullForm("It's a lovely day."), "");
  for (const Exercise& ex : bank_->exercises()) {
    if (ex.type != kSentenceCorrection && ex.type != kSentenceTransformation) continue;
    for (const std::string& answer : ex.answers) {
      const std::string full = FullForm(answer);
      if (!full.empty()) EXPECT_TRUE(IsAcceptedAnswer(ex, full)) << ex.id << ": " << full;
    }
  }
}

TEST_F(RealBankTest, FindAndForSubcategoryAgree) {
  for (const Exercise& ex : bank_->exercises()) {
    const Exercise* found = bank_->Find(ex.id);
    ASSERT_EQ(found, &ex);
    const auto& group = bank_->ForSubcategory(ex.subcategory_id);
    EXPECT_NE(std::find(group.begin(), group.end(), found), group.end()) << ex.id;
  }
  EXPECT_EQ(bank_->Find("nope-001"), nullptr);
  EXPECT_TRUE(bank_->ForSubcategory("unclassified").empty());
  EXPECT_TRUE(bank_->ForSubcategory("no-such-subcategory").empty());
}

// Items moved to another subcategory, or replaced, keep their old ids retired:
// an attempt on one is credited to the subcategory its item now lives in.
TEST_F(RealBankTest, RetiredIdsLeadToTheirNewHome) {
  const std::map<std::string, std::string> moved = {
      {"mw-005", "prepositions"}, {"mw-006", "prepositions"}, {"mw-009", "prepositions"},
      {"red-002", "prepositions"}, {"red-004", "prepositions"}, {"red-007", "prepositions"},
      {"mw-010", "verb-form"},     {"wc-002", "collocation"},   {"wc-007", "word-choice"},
      {"idi-008", "idioms"},       {"cap-009", "capitalization"}, {"int-006", "intonation"}};
  for (const auto& [id, subcategory] : moved) {
    EXPECT_EQ(bank_->Find(id), nullptr) << id;
    const Exercise* next = bank_->Successor(id);
    ASSERT_NE(next, nullptr) << id;
    EXPECT_EQ(next->subcategory_id, subcategory) << id;
  }
  EXPECT_EQ(bank_->Successor("mw-005")->prompt,
            "Correct the sentence: I look forward hearing from you.");
}

// ---- Small banks built in the tests ----

constexpr char kSource[] = "test/bank.json";

const std::vector<CoverageRule>& SmallRules() {
  static const auto* const kRules = new std::vector<CoverageRule>{
      {"subject-verb-agreement", 1}, {"vowel-sounds", 0}, {"hesitation", 0}};
  return *kRules;
}

std::string ValidExercise(const std::string& id = "sva-001") {
  return R"({"id": ")" + id + R"(", "subcategory_id": "subject-verb-agreement",
      "type": "fill_blank", "level": "A2", "prompt": "She ___ to work by bus.",
      "options": ["go", "goes"], "answers": ["goes"], "explanation": "Add -s."})";
}

std::string BankOf(const std::vector<std::string>& exercises) {
  std::string out = R"({"version": "t1", "exercises": [)";
  for (size_t i = 0; i < exercises.size(); ++i) out += (i ? "," : "") + exercises[i];
  return out + "]}";
}

// `text` with the first `from` replaced by `to` (which must occur).
std::string Replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// ValidExercise() with `from` replaced by `to` (which must occur).
std::string Edited(const std::string& from, const std::string& to) {
  return Replaced(ValidExercise(), from, to);
}

Status Load(const std::string& json, const std::vector<CoverageRule>& rules = SmallRules()) {
  return ExerciseBank::FromJson(json, kSource, rules).status();
}

// Expects `json` to be refused with InvalidArgument whose message has `part`.
void ExpectRefused(const std::string& json, const std::string& part,
                   const std::vector<CoverageRule>& rules = SmallRules()) {
  const Status status = Load(json, rules);
  ASSERT_FALSE(status.ok()) << "accepted: " << json;
  EXPECT_EQ(status.code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(status.message().starts_with(std::string(kSource) + ": ")) << status.message();
  EXPECT_NE(status.message().find(part), std::string::npos)
      << "message: " << status.message() << "\nexpected part: " << part;
}

TEST(ExerciseBankTest, SmallValidBankLoads) {
  auto bank = ExerciseBank::FromJson(BankOf({ValidExercise()}), kSource, SmallRules());
  ASSERT_TRUE(bank.ok()) << bank.status().ToString();
  EXPECT_EQ(bank->version(), "t1");
  EXPECT_EQ(bank->size(), 1u);
  ASSERT_NE(bank->Find("sva-001"), nullptr);
  EXPECT_EQ(bank->Find("sva-001")->answers, std::vector<std::string>{"goes"});
}

TEST(ExerciseBankTest, PointersStayValidAfterMoveAndCopy) {
  auto result = ExerciseBank::FromJson(BankOf({ValidExercise(), ValidExercise("sva-002")}), kSource,
                                       SmallRules());
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  const Exercise* before = result->Find("sva-002");
  ExerciseBank moved = std::move(result.value());
  EXPECT_EQ(moved.Find("sva-002"), before);
  EXPECT_EQ(moved.Find("sva-002")->id, "sva-002");
  std::vector<ExerciseBank> banks;
  banks.push_back(std::move(moved));
  banks.push_back(banks[0]);  // a copy, then a reallocation moves the first
  for (const ExerciseBank& bank : banks) {
    ASSERT_EQ(bank.ForSubcategory("subject-verb-agreement").size(), 2u);
    EXPECT_EQ(bank.ForSubcategory("subject-verb-agreement")[1], before);
    EXPECT_EQ(bank.ForSubcategory("subject-verb-agreement")[1]->id, "sva-002");
  }
  EXPECT_EQ(moved.size(), 0u);  // NOLINT(bugprone-use-after-move): moved-from is empty, not broken
  EXPECT_EQ(moved.Find("sva-002"), nullptr);
}

TEST(ExerciseBankTest, DefaultBankIsEmpty) {
  ExerciseBank bank;
  EXPECT_EQ(bank.size(), 0u);
  EXPECT_EQ(bank.version(), "");
  EXPECT_TRUE(bank.ForSubcategory("subject-verb-agreement").empty());
}

TEST(ExerciseBankTest, RefusesBadJson) {
  ExpectRefused("{\"version\": \"t1\",\n \"exercises\": [}",
                "test/bank.json: invalid JSON at line 2");
  ExpectRefused("", "invalid JSON");
  ExpectRefused(BankOf({ValidExercise()}) + " trailing", "invalid JSON");
}

TEST(ExerciseBankTest, RefusesBadTopLevel) {
  ExpectRefused("[]", "top level: must be an object");
  ExpectRefused(R"({"exercises": []})", "top level: missing field \"version\"");
  ExpectRefused(R"({"version": 3, "exercises": []})", "field \"version\" must be a string");
  ExpectRefused(R"({"version": "t1"})", "missing field \"exercises\"");
  ExpectRefused(R"({"version": "t1", "exercises": {}})", "field \"exercises\" must be an array");
  ExpectRefused(R"({"version": "t1", "exercises": [], "extra": 1})", "unknown field \"extra\"");
}

TEST(ExerciseBankTest, RefusesMissingField) {
  ExpectRefused(BankOf({Edited(R"("prompt": "She ___ to work by bus.",)", "")}),
                "test/bank.json: exercises[0] (id \"sva-001\"): missing field \"prompt\"");
  ExpectRefused(BankOf({Edited(R"("id": "sva-001", )", "")}),
                "test/bank.json: exercises[0]: missing field \"id\"");
}

TEST(ExerciseBankTest, RefusesWrongType) {
  ExpectRefused(BankOf({Edited(R"(["go", "goes"])", R"("go")")}),
                "exercises[0] (id \"sva-001\"): field \"options\" must be an array of strings");
  ExpectRefused(BankOf({Edited(R"(["goes"])", R"(["goes", 2])")}),
                "exercises[0] (id \"sva-001\"): answers[1] must be a string");
  ExpectRefused(BankOf({Edited(R"("sva-001")", "7")}),
                "exercises[0]: field \"id\" must be a string");
  ExpectRefused(BankOf({ValidExercise(), "42"}), "exercises[1]: must be an object");
  ExpectRefused(BankOf({Edited(R"("level": "A2")", R"("level": "A2", "answer": "x")")}),
                "exercises[0] (id \"sva-001\"): unknown field \"answer\"");
}

TEST(ExerciseBankTest, RefusesDuplicateId) {
  ExpectRefused(BankOf({ValidExercise(), ValidExercise("sva-002"), ValidExercise()}),
                "exercises[2] (id \"sva-001\"): duplicate id (first used by exercises[0])");
}

TEST(ExerciseBankTest, RefusesBadId) {
  ExpectRefused(BankOf({ValidExercise("SVA-1")}), "exercises[0] (id \"SVA-1\"): id must be");
  ExpectRefused(BankOf({ValidExercise("001")}), "id must be");
}

TEST(ExerciseBankTest, RefusesAnswerNotAmongOptions) {
  const Status status = Load(BankOf({ValidExercise(), Edited(R"(["goes"])", R"(["went"])")}));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.message(),
            "test/bank.json: exercises[1] (id \"sva-001\"): answer \"went\" is not among the "
            "options");
}

TEST(ExerciseBankTest, RefusesUnknownSubcategory) {
  ExpectRefused(BankOf({Edited("subject-verb-agreement", "grammar-misc")}),
                "exercises[0] (id \"sva-001\"): unknown subcategory \"grammar-misc\"");
}

TEST(ExerciseBankTest, RefusesUnknownType) {
  ExpectRefused(BankOf({Edited("fill_blank", "crossword")}),
                "exercises[0] (id \"sva-001\"): unknown type \"crossword\"");
}

TEST(ExerciseBankTest, RefusesBadLevel) {
  ExpectRefused(BankOf({Edited(R"("A2")", R"("D1")")}),
                "exercises[0] (id \"sva-001\"): level \"D1\" is not one of A1 A2 B1 B2 C1 C2");
  ExpectRefused(BankOf({Edited(R"("A2")", R"("a2")")}), "level \"a2\"");
}

TEST(ExerciseBankTest, RefusesFillBlankWithoutBlank) {
  ExpectRefused(BankOf({Edited("She ___ to work", "She to work")}),
                "exercises[0] (id \"sva-001\"): fill_blank prompt has no blank \"___\"");
}

TEST(ExerciseBankTest, RefusesBadChoices) {
  ExpectRefused(BankOf({Edited(R"(["go", "goes"])", R"(["goes"])")}),
                "fill_blank needs at least 2 options, has 1");
  ExpectRefused(BankOf({Edited(R"(["goes"])", "[]")}), "fill_blank needs at least 1 answer");
  ExpectRefused(BankOf({Edited(R"(["go", "goes"])", R"(["goes", "Goes."])")}),
                "options \"goes\" and \"Goes.\" are the same after normalization");
  ExpectRefused(BankOf({Edited(R"(["go", "goes"])", R"(["go", "goes", " "])")}),
                "option \" \" is empty after normalization");
}

TEST(ExerciseBankTest, TypedAndSpokenRules) {
  const std::string correction =
      R"({"id": "sva-001", "subcategory_id": "subject-verb-agreement",
          "type": "sentence_correction", "level": "B1", "prompt": "Correct the sentence: He go.",
          "options": [], "answers": ["He goes."], "explanation": "Add -s."})";
  EXPECT_TRUE(Load(BankOf({correction})).ok());
  ExpectRefused(BankOf({Replaced(correction, R"(["He goes."])", "[]")}),
                "sentence_correction needs at least 1 answer");

  const std::string speaking =
      R"({"id": "hes-001", "subcategory_id": "hesitation", "type": "speaking_prompt",
          "level": "B1", "prompt": "Talk for 30 seconds.", "options": [], "answers": [],
          "explanation": "Keep going."})";
  EXPECT_TRUE(Load(BankOf({ValidExercise(), speaking})).ok());
  ExpectRefused(
      BankOf({ValidExercise(), Replaced(speaking, R"("options": [])", R"("options": ["a", "b"])")}),
      "exercises[1] (id \"hes-001\"): speaking_prompt takes no options");
}

TEST(ExerciseBankTest, RefusesShortCoverage) {
  const std::vector<CoverageRule> rules = {{"subject-verb-agreement", 2}, {"hesitation", 0}};
  ExpectRefused(BankOf({ValidExercise()}),
                "coverage: subcategory \"subject-verb-agreement\" has 1 exercise, needs at least 2",
                rules);
  ExpectRefused(BankOf({}), "subcategory \"subject-verb-agreement\" has 0 exercises", SmallRules());
  EXPECT_TRUE(Load(BankOf({ValidExercise(), ValidExercise("sva-002")}), rules).ok());
}

// A bank of sva-001 and sva-002 with `retired` as its "retired" member.
std::string WithRetired(const std::string& retired) {
  std::string bank = BankOf({ValidExercise(), ValidExercise("sva-002")});
  return Replaced(bank, R"("exercises")", R"("retired": )" + retired + R"(, "exercises")");
}

TEST(ExerciseBankTest, RetiredIdsNameTheirSuccessor) {
  auto bank = ExerciseBank::FromJson(WithRetired(R"({"mw-005": "sva-002", "sva-003": "sva-001"})"),
                                     kSource, SmallRules());
  ASSERT_TRUE(bank.ok()) << bank.status().ToString();
  EXPECT_EQ(bank->Successor("mw-005"), bank->Find("sva-002"));
  EXPECT_EQ(bank->Successor("sva-003"), bank->Find("sva-001"));
  EXPECT_EQ(bank->Find("mw-005"), nullptr);  // not offered, not found as a live item
  EXPECT_EQ(bank->Successor("sva-001"), nullptr);  // live, not retired
  EXPECT_EQ(bank->Successor("zz-999"), nullptr);
  EXPECT_EQ(bank->size(), 2u);
  EXPECT_TRUE(Load(WithRetired("{}")).ok());
  EXPECT_EQ(ExerciseBank().Successor("mw-005"), nullptr);
}

TEST(ExerciseBankTest, RefusesBadRetired) {
  ExpectRefused(WithRetired("[]"), "top level: field \"retired\" must be an object");
  ExpectRefused(WithRetired(R"({"MW-5": "sva-001"})"), "retired \"MW-5\": id must be");
  ExpectRefused(WithRetired(R"({"sva-002": "sva-001"})"),
                "retired \"sva-002\": is an exercise's id (a retired id is never reused)");
  ExpectRefused(WithRetired(R"({"mw-005": null})"),
                "retired \"mw-005\": must name the exercise that took its place");
  ExpectRefused(WithRetired(R"({"mw-005": "prep-014"})"),
                "retired \"mw-005\": successor \"prep-014\" is not an exercise in the bank");
  // A successor must be live: a chain through another retired id is refused.
  ExpectRefused(WithRetired(R"({"mw-005": "mw-006", "mw-006": "sva-001"})"),
                "successor \"mw-006\" is not an exercise");
}

// ---- IsAcceptedAnswer ----

Exercise Typed(std::vector<std::string> answers) {
  Exercise ex;
  ex.id = "t-001";
  ex.type = std::string(kSentenceCorrection);
  ex.answers = std::move(answers);
  return ex;
}

TEST(IsAcceptedAnswerTest, ExactAndNormalizedMatches) {
  const Exercise ex = Typed({"It's a lovely day.", "It is a lovely day."});
  EXPECT_TRUE(IsAcceptedAnswer(ex, "It's a lovely day."));
  EXPECT_TRUE(IsAcceptedAnswer(ex, "  it's A LOVELY day  "));
  EXPECT_TRUE(IsAcceptedAnswer(ex, "It's\ta   lovely\n day!"));
  EXPECT_TRUE(IsAcceptedAnswer(ex, "It is a lovely day?"));
  EXPECT_TRUE(IsAcceptedAnswer(ex, "It\xE2\x80\x99s a lovely day."));  // typographic apostrophe
}

TEST(IsAcceptedAnswerTest, RefusesDifferentAnswers) {
  const Exercise ex = Typed({"It's a lovely day."});
  EXPECT_FALSE(IsAcceptedAnswer(ex, "Its a lovely day."));
  EXPECT_FALSE(IsAcceptedAnswer(ex, "It's a lovely day today."));
  EXPECT_FALSE(IsAcceptedAnswer(ex, "It's alovely day."));
  EXPECT_FALSE(IsAcceptedAnswer(ex, ""));
  EXPECT_FALSE(IsAcceptedAnswer(ex, "   "));
}

TEST(IsAcceptedAnswerTest, InnerPunctuationCounts) {
  const Exercise ex = Typed({"However, I didn't agree with him."});
  EXPECT_TRUE(IsAcceptedAnswer(ex, "however, i didn't agree with him"));
  EXPECT_FALSE(IsAcceptedAnswer(ex, "However I didn't agree with him."));
}

TEST(IsAcceptedAnswerTest, SpokenExercisesAcceptAnything) {
  Exercise ex = Typed({});
  ex.type = std::string(kSpeakingPrompt);
  EXPECT_TRUE(IsAcceptedAnswer(ex, ""));
  EXPECT_TRUE(IsAcceptedAnswer(ex, "anything at all"));
}

TEST(NormalizeAnswerTest, Examples) {
  EXPECT_EQ(NormalizeAnswer("  Hello,   World!  "), "hello, world");
  EXPECT_EQ(NormalizeAnswer("Really?!"), "really");
  EXPECT_EQ(NormalizeAnswer("at 10 a.m."), "at 10 a.m");
  EXPECT_EQ(NormalizeAnswer("Caf\xC3\xA9"), "caf\xC3\xA9");  // non-ASCII left alone
  EXPECT_EQ(NormalizeAnswer(" . "), "");
}

}  // namespace
}  // namespace errata
