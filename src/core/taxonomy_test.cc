#include "core/taxonomy.h"

#include <fstream>
#include <thread>
#include <vector>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "core/text.h"

namespace errata {
namespace {

using How = Resolution::How;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

const Taxonomy& Shipped() {
  static const Taxonomy* taxonomy = [] {
    std::string text = ReadFile(std::string(ERRATA_SOURCE_DIR) + "/data/taxonomy.json");
    Result<Taxonomy> t = Taxonomy::FromJson(text, "data/taxonomy.json");
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return new Taxonomy(std::move(t.value()));
  }();
  return *taxonomy;
}

struct Case {
  const char* category;
  const char* subcategory;
  const char* code;
  const char* id;
  How how;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << "(" << c.category << " | " << c.subcategory << " | " << c.code << ")";
}

class ResolveTest : public ::testing::TestWithParam<Case> {};

TEST_P(ResolveTest, ResolvesToExpectedId) {
  const Case& c = GetParam();
  Result<Resolution> r = Shipped().Resolve(c.category, c.subcategory, c.code);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->subcategory_id, c.id);
  EXPECT_STREQ(HowName(r->how), HowName(c.how));
  EXPECT_EQ(r->known, c.how != How::kNew);
  if (r->known) {
    const Subcategory* sub = Shipped().Find(r->subcategory_id);
    ASSERT_NE(sub, nullptr);
    EXPECT_EQ(r->subcategory, sub->name);
    EXPECT_EQ(r->category, sub->category_name);
  }
}

INSTANTIATE_TEST_SUITE_P(Table, ResolveTest, ::testing::Values(
    // Exact display names, as clients post them.
    Case{"Grammar", "Subject-Verb Agreement", "", "subject-verb-agreement", How::kExact},
    Case{"Grammar", "Pronouns", "", "pronouns", How::kExact},
    Case{"Vocabulary", "Word Choice", "", "word-choice", How::kExact},
    Case{"Grammar", "Articles & Determiners", "", "articles-determiners", How::kExact},
    Case{"", "Rhythm & Sentence Stress", "", "rhythm-sentence-stress", How::kExact},
    Case{"Fluency", "Self-Correction", "", "self-correction", How::kExact},
    Case{"Other", "Unclassified", "", "unclassified", How::kExact},
    Case{"Grammar", "Word Choice", "", "word-choice", How::kExact},  // category ignored
    // Display variants.
    Case{"Grammar", "subject verb agreement", "", "subject-verb-agreement", How::kNormalized},
    Case{"Grammar", "Subject-Verb-Agreement", "", "subject-verb-agreement", How::kNormalized},
    Case{"Grammar", "SUBJECT_VERB_AGREEMENT", "", "subject-verb-agreement", How::kNormalized},
    Case{"Vocabulary", "  word   choice ", "", "word-choice", How::kNormalized},
    Case{"", "articles and determiners", "", "articles-determiners", How::kNormalized},
    Case{"", "articles-determiners", "", "articles-determiners", How::kNormalized},
    Case{"", "ARTICLES&DETERMINERS", "", "articles-determiners", How::kNormalized},
    Case{"", "self correction", "", "self-correction", How::kNormalized},
    Case{"", "verb-tense", "", "verb-tense", How::kNormalized},
    Case{"", "Speech rate.", "", "speech-rate", How::kNormalized},
    Case{"", "noun_number", "", "noun-number", How::kNormalized},
    // Aliases.
    Case{"", "SVA", "", "subject-verb-agreement", How::kAlias},
    Case{"", "agreement", "", "subject-verb-agreement", How::kAlias},
    Case{"", "tense", "", "verb-tense", How::kAlias},
    Case{"", "Tenses", "", "verb-tense", How::kAlias},
    Case{"", "articles", "", "articles-determiners", How::kAlias},
    Case{"", "Determiners", "", "articles-determiners", How::kAlias},
    Case{"", "article usage", "", "articles-determiners", How::kAlias},
    Case{"", "Preposition", "", "prepositions", How::kAlias},
    Case{"", "phrasal verb particles", "", "prepositions", How::kAlias},
    Case{"", "Particles", "", "prepositions", How::kAlias},
    Case{"", "Pronoun", "", "pronouns", How::kAlias},
    Case{"", "plurals", "", "noun-number", How::kAlias},
    Case{"", "run-on sentences", "", "sentence-structure", How::kAlias},
    Case{"", "Fragments", "", "sentence-structure", How::kAlias},
    Case{"", "omission", "", "missing-word", How::kAlias},
    Case{"", "collocations", "", "collocation", How::kAlias},
    Case{"", "idiom", "", "idioms", How::kAlias},
    Case{"", "Formality", "", "register", How::kAlias},
    Case{"", "stress", "", "word-stress", How::kAlias},
    Case{"", "fillers", "", "filler-words", How::kAlias},
    Case{"", "capitalisation", "", "capitalization", How::kAlias},
    Case{"Other", "Other", "", "unclassified", How::kAlias},
    // Codes: ERRANT with and without operation prefixes.
    Case{"", "", "R:VERB:SVA", "subject-verb-agreement", How::kCode},
    Case{"", "", "VERB:SVA", "subject-verb-agreement", How::kCode},
    Case{"", "", "M:DET", "articles-determiners", How::kCode},
    Case{"", "", "U:PREP", "prepositions", How::kCode},
    Case{"", "", "R:VERB:TENSE", "verb-tense", How::kCode},
    Case{"", "", "r:verb:form", "verb-form", How::kCode},
    Case{"", "", "R:NOUN:NUM", "noun-number", How::kCode},
    Case{"", "", "R:NOUN:POSS", "possessives", How::kCode},
    Case{"", "", "R:PRON", "pronouns", How::kCode},
    Case{"", "", "R:WO", "word-order", How::kCode},
    Case{"", "", "M:CONJ", "conjunctions-linking", How::kCode},
    Case{"", "", "R:SPELL", "spelling", How::kCode},
    Case{"", "", "M:PUNCT", "punctuation", How::kCode},
    Case{"", "", "R:ORTH", "capitalization", How::kCode},
    Case{"", "", "R:ADJ:FORM", "word-form", How::kCode},
    Case{"", "", "R:MORPH", "word-form", How::kCode},
    Case{"", "", "R:NOUN", "word-choice", How::kCode},
    Case{"", "", "R:ADV", "word-choice", How::kCode},
    Case{"", "", "R:PART", "prepositions", How::kCode},
    Case{"", "", "R:CONTR", "punctuation", How::kCode},
    Case{"", "", "R:OTHER", "sentence-structure", How::kCode},
    Case{"", "", "M:OTHER", "missing-word", How::kCode},
    Case{"", "", "U:OTHER", "redundancy", How::kCode},
    Case{"", "", "UNK", "unclassified", How::kCode},
    // Codes: NUCLE / CoNLL-2014.
    Case{"", "", "SVA", "subject-verb-agreement", How::kCode},
    Case{"", "", "Vt", "verb-tense", How::kCode},
    Case{"", "", "Vm", "modal-verbs", How::kCode},
    Case{"", "", "V0", "missing-word", How::kCode},
    Case{"", "", "ArtOrDet", "articles-determiners", How::kCode},
    Case{"", "", "Prep", "prepositions", How::kCode},
    Case{"", "", "Nn", "noun-number", How::kCode},
    Case{"", "", "Pref", "pronouns", How::kCode},
    Case{"", "", "WOadv", "word-order", How::kCode},
    Case{"", "", "Trans", "conjunctions-linking", How::kCode},
    Case{"", "", "Sfrag", "sentence-structure", How::kCode},
    Case{"", "", "Rloc-", "redundancy", How::kCode},
    Case{"", "", "Wci", "collocation", How::kCode},
    Case{"", "", "Wtone", "register", How::kCode},
    Case{"", "", "Mec", "spelling", How::kCode},
    Case{"", "", "Um", "unclassified", How::kCode},
    Case{"", "", "Wa", "spelling", How::kCode},
    Case{"", "", "Others", "unclassified", How::kCode},
    // A known code wins over free-text names; an unknown one defers to them.
    Case{"Grammar", "tense trouble", "R:VERB:TENSE", "verb-tense", How::kCode},
    Case{"Vocabulary", "Word Choice", "R:PREP", "prepositions", How::kCode},
    Case{"Grammar", "Pronouns", "X:NOPE", "pronouns", How::kExact},
    // Codes given in place of the subcategory.
    Case{"Grammar", "R:VERB:SVA", "", "subject-verb-agreement", How::kCode},
    Case{"", "ArtOrDet", "", "articles-determiners", How::kAlias},  // also an alias
    Case{"", "Vt", "", "verb-tense", How::kCode},
    Case{"", "M:OTHER", "", "missing-word", How::kCode},
    Case{"", "NOUN:INFL", "", "word-form", How::kCode},
    // Typos.
    Case{"Grammar", "Subjet-Verb Agreement", "", "subject-verb-agreement", How::kTypo},
    Case{"Grammar", "Prepositons", "", "prepositions", How::kTypo},
    Case{"Vocabulary", "Colocation", "", "collocation", How::kTypo},
    Case{"Mechanics", "Punctuaton", "", "punctuation", How::kTypo},
    Case{"", "Pronuns", "", "pronouns", How::kTypo},
    Case{"", "Intonaiton", "", "intonation", How::kTypo},
    Case{"", "Conjuctions & Linking", "", "conjunctions-linking", How::kTypo},
    Case{"", "Rythm and Sentence Stress", "", "rhythm-sentence-stress", How::kTypo},
    // Typographic characters: dashes, no-break spaces, full-width letters.
    Case{"Grammar", "run\u2013on", "", "sentence-structure", How::kAlias},
    Case{"Grammar", "Run\u2011on", "", "sentence-structure", How::kAlias},
    Case{"Grammar", "Subject\u2014Verb Agreement", "", "subject-verb-agreement", How::kNormalized},
    Case{"Pronunciation", "th\u00a0sound", "", "consonant-sounds", How::kAlias},
    Case{"", "\uff36\uff45\uff52\uff42 \uff34\uff45\uff4e\uff53\uff45", "", "verb-tense",
         How::kNormalized},
    Case{"", "Prepo\u00adsitions\u200b", "", "prepositions", How::kNormalized},
    Case{"Grammar", "Subjet\u2013Verb Agreement", "", "subject-verb-agreement", How::kTypo},
    // An unknown one keeps the id it always had; its category is found
    // through the fold.
    Case{"Grammar", "Foo\u2013Bar", "", "grammar.foo\u2013bar", How::kNew},
    Case{"Grammar\u00a0", "Gerunds", "", "grammar.gerunds", How::kNew},
    Case{"\uff27rammar", "Gerunds", "", "grammar.gerunds", How::kNew},
    // Near misses that must NOT merge.
    Case{"Grammar", "Nouns", "", "grammar.nouns", How::kNew},
    Case{"Grammar", "Tension", "", "grammar.tension", How::kNew},
    Case{"", "Tension", "", "other.tension", How::kNew},
    Case{"Grammar", "Gerunds", "", "grammar.gerunds", How::kNew},
    Case{"Grammar", "Verbs", "", "grammar.verbs", How::kNew},
    Case{"", "Sense", "", "other.sense", How::kNew},
    Case{"", "Tome", "", "other.tome", How::kNew},
    Case{"Pronunciation", "Voice", "", "pronunciation.voice", How::kNew},
    Case{"", "Herd Forms", "", "other.herd-forms", How::kNew},  // verb/word forms tie
    // New subcategories: category display and id rules.
    Case{"grammar", "Tense & Aspect", "", "grammar.tense-and-aspect", How::kNew},
    Case{"Discourse", "Topic Shifts", "", "discourse.topic-shifts", How::kNew},
    Case{"  Task Response ", "Off topic!", "", "task-response.off-topic", How::kNew}));

// A new subcategory's id, sent back as a label (a client stores ids), is that
// id, as a built-in id is: otherwise ("Grammar", "grammar.phrasal-verbs") made
// grammar.grammar-phrasal-verbs and split the learner's point in two.
TEST_P(ResolveTest, ANewIdResolvesToItself) {
  const Case& c = GetParam();
  if (c.how != How::kNew) return;
  for (const char* category : {c.category, "", "Vocabulary", "Somewhere Else"}) {
    Result<Resolution> r = Shipped().Resolve(category, c.id, "");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->subcategory_id, c.id) << "category \"" << category << "\"";
    EXPECT_EQ(r->how, How::kNew);
    EXPECT_FALSE(r->known);
  }
}

TEST(TaxonomyTest, ANewIdResolvesToItselfBeforeAnyName) {
  // "Choice" is new under Vocabulary; its id's words, "vocabulary choice", are an
  // alias of word-choice, which the id must not become.
  Result<Resolution> r = Shipped().Resolve("Vocabulary", "Choice", "");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->subcategory_id, "vocabulary.choice");
  r = Shipped().Resolve("Vocabulary", "vocabulary.choice", "");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->subcategory_id, "vocabulary.choice");
  EXPECT_EQ(r->category, "Vocabulary");
  // The category is the id's: a known one by its name, else the given one if it
  // is that slug, else the slug.
  r = Shipped().Resolve("", "grammar.phrasal-verbs", "");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->subcategory_id, "grammar.phrasal-verbs");
  EXPECT_EQ(r->category, "Grammar");
  r = Shipped().Resolve(" Task Response", "task-response.off-topic", "");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->category, "Task Response");
  r = Shipped().Resolve("Grammar", "task-response.off-topic", "");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->subcategory_id, "task-response.off-topic");
  EXPECT_EQ(r->category, "task-response");
  // A code still wins, as over a built-in id.
  r = Shipped().Resolve("", "grammar.phrasal-verbs", "R:VERB:SVA");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->subcategory_id, "subject-verb-agreement");
  // Not an id's shape: a label as before.
  for (const char* label : {"Grammar.Gerunds", "grammar..gerunds", "a.b.c", ".gerunds", "gerunds."}) {
    r = Shipped().Resolve("Grammar", label, "");
    ASSERT_TRUE(r.ok()) << label;
    EXPECT_NE(r->subcategory_id, label);
  }
}

TEST(TaxonomyTest, NonMergesKeepDisplayAndKnownFlag) {
  Result<Resolution> r = Shipped().Resolve("Grammar", "Nouns", "");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->known);
  EXPECT_EQ(r->category, "Grammar");
  EXPECT_EQ(r->subcategory, "Nouns");
  r = Shipped().Resolve("grammar", "  Tense & Aspect ", "");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->category, "Grammar");
  EXPECT_EQ(r->subcategory, "Tense & Aspect");
  r = Shipped().Resolve("  Task Response ", "Off topic!", "");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->category, "Task Response");
  r = Shipped().Resolve("", "Gerunds", "");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->category, "Other");
}

TEST(TaxonomyTest, RefusesEmptyAndUnknownInputs) {
  Result<Resolution> r = Shipped().Resolve("", "", "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  r = Shipped().Resolve("Grammar", "  ", "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().field(), "subcategory");
  r = Shipped().Resolve("", "", "R:NOPE");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().field(), "code");
  EXPECT_NE(r.status().message().find("unknown error code"), std::string::npos);
  r = Shipped().Resolve("Grammar", "", "X:Y");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().field(), "code");
  r = Shipped().Resolve("Grammar", "!!!", "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().field(), "subcategory");
  r = Shipped().Resolve("???", "Gerunds", "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().field(), "category");
}

// Messages quote client input cut to 64 bytes; the cut falls between
// characters, or a 422 answer would carry invalid UTF-8 (not JSON).
TEST(TaxonomyTest, QuotedInputIsCutBetweenCharacters) {
  for (const std::string lead : {"x", "xy", "xyz"}) {
    std::string code = lead;
    for (int i = 0; i < 40; ++i) code += "\u00e9";  // two bytes each
    const Result<Resolution> resolved = Shipped().Resolve("", "", code);
    const Result<Taxonomy> loaded = Taxonomy::FromJson("{\"" + code + "\": 1}", "t.json");
    for (const Status& status : {resolved.status(), loaded.status()}) {
      ASSERT_FALSE(status.ok());
      const std::string& m = status.message();
      for (size_t i = 0; i < m.size();) {
        const size_t n = Utf8SequenceLength(m, i);
        ASSERT_NE(n, 0u) << "invalid UTF-8 at byte " << i << " of " << m;
        i += n;
      }
      EXPECT_NE(m.find("...\""), std::string::npos) << m;
    }
  }
}

TEST(TaxonomyTest, FindVersionAndShape) {
  const Taxonomy& t = Shipped();
  EXPECT_EQ(t.version(), "2026.11.1");
  EXPECT_EQ(t.size(), 35u);
  ASSERT_EQ(t.categories().size(), 6u);
  EXPECT_EQ(t.categories()[0].id, "grammar");
  EXPECT_EQ(t.categories()[0].subcategory_ids.size(), 14u);
  const Subcategory* sva = t.Find("subject-verb-agreement");
  ASSERT_NE(sva, nullptr);
  EXPECT_EQ(sva->name, "Subject-Verb Agreement");
  EXPECT_EQ(sva->category_id, "grammar");
  EXPECT_EQ(sva->category_name, "Grammar");
  EXPECT_FALSE(sva->description.empty());
  EXPECT_EQ(t.Find("Subject-Verb Agreement"), nullptr);  // ids only
  EXPECT_EQ(t.Find("nope"), nullptr);
  ASSERT_NE(t.FindCategory("fluency"), nullptr);
  EXPECT_EQ(t.FindCategory("fluency")->name, "Fluency");
}

TEST(TaxonomyTest, ResolvesConcurrently) {
  std::vector<std::thread> threads;
  std::vector<int> wrong(8, 0);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([i, &wrong] {
      for (int n = 0; n < 500; ++n) {
        Result<Resolution> a = Shipped().Resolve("", "Prepositons", "");
        Result<Resolution> b = Shipped().Resolve("", "", "M:OTHER");
        if (!a.ok() || a->subcategory_id != "prepositions" || !b.ok() ||
            b->subcategory_id != "missing-word") {
          ++wrong[i];
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int w : wrong) EXPECT_EQ(w, 0);
}

// Typo answers are remembered (a bounded memo): asked again, and after the
// memo filled and started over, the answers stay the same, misses included.
TEST(TaxonomyTest, TypoAnswersStayTheSameThroughTheMemo) {
  auto fresh = Taxonomy::FromJson(ReadFile(std::string(ERRATA_SOURCE_DIR) + "/data/taxonomy.json"),
                                  "data/taxonomy.json");
  ASSERT_TRUE(fresh.ok());
  const Taxonomy& t = *fresh;
  auto first = t.Resolve("", "Prepositons", "");
  auto miss = t.Resolve("Grammar", "Tense Tension Tangle", "");
  ASSERT_TRUE(first.ok() && miss.ok());
  EXPECT_EQ(first->how, Resolution::How::kTypo);
  EXPECT_EQ(miss->how, Resolution::How::kNew);
  for (size_t i = 0; i < Taxonomy::kTypoMemoCapacity + 10; ++i) {
    auto r = t.Resolve("", "Prepositons" + std::string(1 + i % 3, 'q') + std::to_string(i), "");
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->known) << i;  // too far from every term
  }
  for (int again = 0; again < 2; ++again) {
    auto a = t.Resolve("", "Prepositons", "");
    auto b = t.Resolve("Grammar", "Tense Tension Tangle", "");
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->subcategory_id, "prepositions");
    EXPECT_EQ(a->how, Resolution::How::kTypo);
    EXPECT_EQ(b->how, Resolution::How::kNew);
    EXPECT_EQ(b->subcategory_id, miss->subcategory_id);
  }
}

TEST(TaxonomyTest, HelpersBehave) {
  EXPECT_EQ(NormalizeLabel("  Articles &Determiners--x__y. "), "articles and determiners x y");
  EXPECT_EQ(SlugifyLabel("Tense & Aspect"), "tense-and-aspect");
  EXPECT_EQ(OsaDistance("colocation", "collocation", 2), 1u);
  EXPECT_EQ(OsaDistance("intonaiton", "intonation", 2), 1u);  // one transposition
  EXPECT_EQ(OsaDistance("nouns", "pronouns", 1), 2u);          // capped at bound + 1
  EXPECT_EQ(TypoBound(4), 0u);
  EXPECT_EQ(TypoBound(5), 1u);
  EXPECT_EQ(TypoBound(9), 2u);
  EXPECT_EQ(TypoBound(16), 3u);
  EXPECT_STREQ(HowName(How::kNew), "new");
}

// A minimal valid document with `subs` as the grammar subcategories.
std::string Doc(const std::string& subs) {
  return R"({"version": "1", "categories": [{"id": "grammar", "name": "Grammar",
             "subcategories": [)" + subs + "]}]}";
}
const char* kTense = R"({"id": "verb-tense", "name": "Verb Tense", "description": "d",
                          "aliases": ["tense"], "codes": ["VERB:TENSE"]})";

void ExpectRefused(const std::string& json, const std::string& needle) {
  Result<Taxonomy> t = Taxonomy::FromJson(json, "test.json");
  ASSERT_FALSE(t.ok()) << "accepted: " << json;
  EXPECT_EQ(t.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(t.status().message().rfind("test.json: ", 0), 0u) << t.status().message();
  EXPECT_NE(t.status().message().find(needle), std::string::npos) << t.status().message();
}

TEST(TaxonomyTest, AcceptsMinimalDocument) {
  Result<Taxonomy> t = Taxonomy::FromJson(Doc(kTense), "test.json");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->size(), 1u);
}

TEST(TaxonomyTest, RefusesBrokenDocuments) {
  ExpectRefused("{\"version\": ", "invalid JSON");
  ExpectRefused("[]", "top level");
  ExpectRefused(R"({"categories": []})", "\"version\"");
  ExpectRefused(R"({"version": "1", "categories": []})", "categories");
  ExpectRefused(Doc(std::string(kTense) + "," + kTense),
                "subcategories[1] (id \"verb-tense\"): duplicate id");
  ExpectRefused(Doc(std::string(kTense) + R"(, {"id": "tenses", "name": "Tenses",
                "description": "d", "aliases": ["Tense"]})"),
                "subcategories[1] (id \"tenses\"): duplicate alias \"Tense\"");
  ExpectRefused(Doc(std::string(kTense) + R"(, {"id": "x", "name": "X", "description": "d",
                "aliases": ["verb tense"]})"), "duplicate alias \"verb tense\"");
  ExpectRefused(Doc(std::string(kTense) + R"(, {"id": "x", "name": "Tense", "description": "d"})"),
                "(id \"x\"): duplicate name \"Tense\"");
  ExpectRefused(Doc(std::string(kTense) + R"(, {"id": "x", "name": "X", "description": "d",
                "codes": ["verb:tense"]})"), "duplicate code \"verb:tense\"");
  ExpectRefused(Doc(R"({"id": "x", "description": "d"})"),
                "subcategories[0] (id \"x\"): missing or empty \"name\"");
  ExpectRefused(Doc(R"({"id": "x", "name": "X"})"), "missing or empty \"description\"");
  ExpectRefused(Doc(R"({"id": "Verb_Tense", "name": "X", "description": "d"})"), "kebab");
  ExpectRefused(Doc(R"({"id": "x", "name": "X", "description": "d", "alias": []})"),
                "unknown key \"alias\"");
  ExpectRefused(Doc(R"({"id": "x", "name": "X", "description": "d", "aliases": ["", 3]})"),
                "\"aliases\"");
  ExpectRefused(Doc(R"({"id": "x", "name": "X", "description": "d", "aliases": ["--"]})"),
                "empty once normalised");
  // Such a label would be read as a new subcategory's id, never as this one.
  ExpectRefused(Doc(R"({"id": "x", "name": "X", "description": "d", "aliases": ["e.g"]})"),
                "alias \"e.g\" has the shape of a new subcategory's id");
  ExpectRefused(Doc(R"({"id": "x", "name": "x.y", "description": "d"})"),
                "name \"x.y\" has the shape");
  ExpectRefused(Doc(R"({"id": "x", "name": "X", "description": "d", "codes": ["a.b"]})"),
                "code \"a.b\" has the shape");
  // In any case: a client sends "a.b" of a code "A.B", as codes match in any case.
  ExpectRefused(Doc(R"({"id": "x", "name": "X", "description": "d", "codes": ["A.B"]})"),
                "code \"A.B\" has the shape");
  ExpectRefused(Doc(R"({"id": "x", "name": "X", "description": "d", "aliases": ["E.g"]})"),
                "alias \"E.g\" has the shape");
}

}  // namespace
}  // namespace errata
