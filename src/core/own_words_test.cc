#include "core/own_words.h"
#include "core/exercise_bank.h"
#include "core/text.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace errata {
namespace {

constexpr Micros kT0 = 1795463657LL * kMicrosPerSecond;

Example Make(const std::string& content, const std::string& original, const std::string& correction,
             int64_t start = -1, int64_t end = -1,
             const std::string& sub = "subject-verb-agreement", const std::string& id = "e1") {
  Example e;
  e.error_id = id;
  e.subcategory_id = sub;
  e.content = content;
  e.original = original;
  e.correction = correction;
  e.span_start = start;
  e.span_end = end;
  e.created_at = kT0;
  return e;
}

// "She go to school every day." with "go" at [4, 6).
Example SheGo() { return Make("She go to school every day.", "go", "goes", 4, 6); }

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// ---------------------------------------------------------------- ExamplesOf

TEST(ExamplesOfTest, TakesErrorsWithACorrection) {
  Utterance u;
  u.content = "She go to school.";
  ErrorRecord with;
  with.error_id = "e1";
  with.subcategory_id = "subject-verb-agreement";
  with.original = "go";
  with.correction = "goes";
  with.span = Span{4, 6};
  with.created_at = kT0;
  ErrorRecord without;  // no correction: nothing to practise from
  without.error_id = "e2";
  without.subcategory_id = "pronouns";
  ErrorRecord no_original;
  no_original.error_id = "e3";
  no_original.subcategory_id = "articles-determiners";
  no_original.correction = "the";
  u.errors = {with, without, no_original};
  const auto ex = ExamplesOf(u);
  ASSERT_EQ(ex.size(), 2u);
  EXPECT_EQ(ex[0].error_id, "e1");
  EXPECT_EQ(ex[0].subcategory_id, "subject-verb-agreement");
  EXPECT_EQ(ex[0].content, "She go to school.");
  EXPECT_EQ(ex[0].original, "go");
  EXPECT_EQ(ex[0].correction, "goes");
  EXPECT_EQ(ex[0].span_start, 4);
  EXPECT_EQ(ex[0].span_end, 6);
  EXPECT_EQ(ex[0].created_at, kT0);
  EXPECT_EQ(ex[1].error_id, "e3");
  EXPECT_EQ(ex[1].original, "");
  EXPECT_EQ(ex[1].span_start, -1);
  EXPECT_EQ(ex[1].span_end, -1);
}

TEST(ExamplesOfTest, NoContentNoExamples) {
  Utterance u;
  ErrorRecord e;
  e.correction = "goes";
  e.original = "go";
  u.errors = {e};
  EXPECT_TRUE(ExamplesOf(u).empty());
}

// ---------------------------------------------------------------- CorrectWhatYouSaid

TEST(CorrectWhatYouSaidTest, BuildsTheCorrectedSentenceFromTheSpan) {
  const auto x = CorrectWhatYouSaid(SheGo());
  ASSERT_TRUE(x.has_value());
  EXPECT_EQ(x->id, "own:subject-verb-agreement:e1:fix");
  EXPECT_EQ(x->subcategory_id, "subject-verb-agreement");
  EXPECT_EQ(x->type, "sentence_correction");
  EXPECT_EQ(x->answers, (std::vector<std::string>{"She goes to school every day."}));
  EXPECT_NE(x->prompt.find("She go to school every day."), std::string::npos) << x->prompt;
  EXPECT_TRUE(x->options.empty());
  EXPECT_NE(x->explanation.find("goes"), std::string::npos);
  EXPECT_FALSE(x->level.empty());
}

TEST(CorrectWhatYouSaidTest, TheSpanWinsOverTheOriginalsFirstOccurrence) {
  // "go" occurs twice; the span points at the second.
  const auto x = CorrectWhatYouSaid(Make("I go and she go.", "go", "goes", 13, 15));
  ASSERT_TRUE(x.has_value());
  EXPECT_EQ(x->answers[0], "I go and she goes.");
}

TEST(CorrectWhatYouSaidTest, FindsTheOriginalWithoutASpan) {
  const auto x = CorrectWhatYouSaid(Make("She go to school every day.", "go", "goes"));
  ASSERT_TRUE(x.has_value());
  EXPECT_EQ(x->answers[0], "She goes to school every day.");
}

// Without a span the words are found whole, never inside another word:
// "a" is not the "a" of "have", and "go" is not the start of "good".
TEST(CorrectWhatYouSaidTest, FindsTheOriginalOnlyAsWholeWords) {
  const auto x = CorrectWhatYouSaid(Make("I have a apple", "a", "an", -1, -1, "articles-determiners"));
  ASSERT_TRUE(x.has_value());
  EXPECT_EQ(x->answers[0], "I have an apple");
  const auto blank = FillTheBlank(Make("I have a apple", "a", "an", -1, -1, "articles-determiners"), 1);
  ASSERT_TRUE(blank.has_value());
  EXPECT_EQ(blank->prompt, "I have ___ apple");
  auto fixed = [](const Example& e) {
    const auto x = CorrectWhatYouSaid(e);
    return x ? x->answers[0] : std::string("(none)");
  };
  EXPECT_EQ(fixed(Make("It is good, I go.", "go", "went")), "It is good, I went.");
  // Beyond ASCII: a letter is part of the word, a curly quote is not.
  EXPECT_EQ(fixed(Make("Café a apple", "a", "an")), "Café an apple");
  EXPECT_EQ(fixed(Make("He said \u201cgo\u201d.", "go", "went")), "He said \u201cwent\u201d.");
  // Words found only inside others: no exercise.
  EXPECT_FALSE(CorrectWhatYouSaid(Make("I ate bananas", "banana", "bananas")).has_value());
  EXPECT_FALSE(FillTheBlank(Make("I ate bananas", "banana", "apple"), 1).has_value());
  EXPECT_FALSE(CorrectWhatYouSaid(Make("Thea left", "the", "a")).has_value());
}

TEST(CorrectWhatYouSaidTest, ASpanOutsideTheSentenceFallsBackToTheOriginal) {
  const auto x = CorrectWhatYouSaid(Make("She go to school.", "go", "goes", 40, 42));
  ASSERT_TRUE(x.has_value());
  EXPECT_EQ(x->answers[0], "She goes to school.");
}

TEST(CorrectWhatYouSaidTest, NothingToPlaceGivesNothing) {
  EXPECT_FALSE(CorrectWhatYouSaid(Make("She go to school.", "went", "goes")).has_value());
  EXPECT_FALSE(CorrectWhatYouSaid(Make("She go to school.", "", "goes")).has_value());
  // A "correction" equal to what was said is no exercise.
  EXPECT_FALSE(CorrectWhatYouSaid(Make("She goes to school.", "goes", "goes", 4, 8)).has_value());
}

// IsAcceptedAnswer folds case, a final . ! or ? and ’ vs ' (docs/exercise-bank.md),
// so an error in only those would have the learner's own wrong sentence accepted
// as the correction: no exercise.
TEST(CorrectWhatYouSaidTest, NoExerciseHingesOnCaseFinalPunctuationOrTheApostrophesShape) {
  const std::vector<Example> refused = {
      Make("I speak english at work", "english", "English", 8, 15, "capitalization"),
      Make("I went home", "home", "home.", 7, 11, "punctuation"),
      Make("I went home", "", ".", 11, 11, "punctuation"),  // a missing full stop
      Make("Is it yours.", ".", "?", 11, 12, "punctuation"),
      Make("It\u2019s mine", "It\u2019s", "It's", 0, 4, "punctuation"),
      Make("i like tea", "i", "I", -1, -1, "capitalization"),
  };
  for (const Example& e : refused) {
    EXPECT_FALSE(CorrectWhatYouSaid(e).has_value()) << e.content << " -> " << e.correction;
  }
  // A missing apostrophe is a real correction: "dont" is not "don't" once normalised.
  const auto dont = CorrectWhatYouSaid(Make("I dont know", "dont", "don\u2019t", 2, 6, "punctuation"));
  ASSERT_TRUE(dont.has_value());
  EXPECT_FALSE(IsAcceptedAnswer(*dont, "I dont know"));
  EXPECT_TRUE(IsAcceptedAnswer(*dont, "I don't know"));
}

TEST(CorrectWhatYouSaidTest, ADeletionLeavesNoDoubleSpace) {
  // U:DET: "the" is unnecessary.
  const auto x =
      CorrectWhatYouSaid(Make("I like the music.", "the", "", 7, 10, "articles-determiners"));
  ASSERT_TRUE(x.has_value());
  EXPECT_EQ(x->answers[0], "I like music.");
  const auto first = CorrectWhatYouSaid(Make("The music is loud.", "The", "", 0, 3));
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->answers[0], "music is loud.");
}

TEST(CorrectWhatYouSaidTest, AnInsertionBecomesItsOwnWord) {
  // M:DET: "a" is missing before "cat". An M2 insertion is an empty span at the start
  // of the next token (core/m2.h ByteSpan; import counts it in characters), here [7, 7).
  const auto x = CorrectWhatYouSaid(Make("I have cat.", "", "a", 7, 7, "articles-determiners"));
  ASSERT_TRUE(x.has_value());
  EXPECT_EQ(x->answers[0], "I have a cat.");
}

// Spans count characters: "José go to school." has "go" at characters [5, 7),
// bytes [6, 8).
TEST(CorrectWhatYouSaidTest, SpansCountCharactersNotBytes) {
  const auto x = CorrectWhatYouSaid(Make("José go to school.", "go", "goes", 5, 7));
  ASSERT_TRUE(x.has_value());
  EXPECT_EQ(x->answers[0], "José goes to school.");
  const auto blank = FillTheBlank(Make("José go to school.", "go", "goes", 5, 7), 1);
  ASSERT_TRUE(blank.has_value());
  EXPECT_EQ(blank->prompt, "José ___ to school.");
  // Cyrillic, CJK and an emoji (one character, four bytes) before the span.
  const auto far = CorrectWhatYouSaid(Make("Юля 😀 go home.", "go", "goes", 6, 8));
  ASSERT_TRUE(far.has_value());
  EXPECT_EQ(far->answers[0], "Юля 😀 goes home.");
}

// A span whose text is not the learner's words (byte offsets from an older
// import, UTF-16 units from a client) gives way to finding the words; a span
// beyond the content, with no words to find, places nothing.
TEST(CorrectWhatYouSaidTest, ASpanThatMissesTheWordsGivesWayToThem) {
  const auto x = CorrectWhatYouSaid(Make("José go to school.", "go", "goes", 6, 8));
  ASSERT_TRUE(x.has_value());
  EXPECT_EQ(x->answers[0], "José goes to school.");
  EXPECT_FALSE(CorrectWhatYouSaid(Make("abc", "", "x", 500, 9'000'000'000)).has_value());
  // Words not found: the span is trusted.
  const auto trusted = CorrectWhatYouSaid(Make("She go home.", "went", "goes", 4, 6));
  ASSERT_TRUE(trusted.has_value());
  EXPECT_EQ(trusted->answers[0], "She goes home.");
}

TEST(Utf8Test, LengthAndOffsetCountCodePoints) {
  const std::string s = "aé😀b";  // 1 + 2 + 4 + 1 bytes
  EXPECT_EQ(Utf8Length(s), 4u);
  EXPECT_EQ(Utf8Offset(s, 0), 0u);
  EXPECT_EQ(Utf8Offset(s, 1), 1u);
  EXPECT_EQ(Utf8Offset(s, 2), 3u);
  EXPECT_EQ(Utf8Offset(s, 3), 7u);
  EXPECT_EQ(Utf8Offset(s, 4), 8u);
  EXPECT_EQ(Utf8Offset(s, 5), std::string::npos);
  EXPECT_EQ(Utf8Offset("", 0), 0u);
  EXPECT_EQ(Utf8Length(""), 0u);
}

TEST(Utf8Test, PrefixCutsBetweenCharacters) {
  const std::string s = "a\u00e9\u20ac\U0001F600b";  // 1 + 2 + 3 + 4 + 1 bytes
  EXPECT_EQ(Utf8Prefix(s, 100), s);
  EXPECT_EQ(Utf8Prefix(s, s.size()), s);
  EXPECT_EQ(Utf8Prefix(s, 0), "");
  EXPECT_EQ(Utf8Prefix(s, 1), "a");
  EXPECT_EQ(Utf8Prefix(s, 2), "a");  // not half of the é
  EXPECT_EQ(Utf8Prefix(s, 3), "a\u00e9");
  EXPECT_EQ(Utf8Prefix(s, 5), "a\u00e9");
  EXPECT_EQ(Utf8Prefix(s, 6), "a\u00e9\u20ac");
  EXPECT_EQ(Utf8Prefix(s, 9), "a\u00e9\u20ac");
  EXPECT_EQ(Utf8Prefix(s, 10), "a\u00e9\u20ac\U0001F600");
  // Stray continuation bytes (not UTF-8 to begin with): no more than a character's worth backs off.
  EXPECT_EQ(Utf8Prefix("ab\x80\x80\x80\x80\x80", 6), "ab\x80");
}

// ---------------------------------------------------------------- FillTheBlank

bool NoCaseInsensitiveDuplicates(const std::vector<std::string>& options) {
  std::set<std::string> seen;
  for (const auto& o : options) {
    if (!seen.insert(Lower(o)).second) return false;
  }
  return true;
}

TEST(FillTheBlankTest, BlanksTheSpanAndOffersTheCorrectionAndTheLearnersForm) {
  const auto x = FillTheBlank(SheGo(), 1);
  ASSERT_TRUE(x.has_value());
  EXPECT_EQ(x->id, "own:subject-verb-agreement:e1:blank");
  EXPECT_EQ(x->type, "fill_blank");
  EXPECT_EQ(x->subcategory_id, "subject-verb-agreement");
  EXPECT_EQ(x->prompt, "She ___ to school every day.");
  EXPECT_EQ(x->answers, (std::vector<std::string>{"goes"}));
  const auto& o = x->options;
  EXPECT_NE(std::find(o.begin(), o.end(), "goes"), o.end());
  EXPECT_NE(std::find(o.begin(), o.end(), "go"), o.end());  // the learner's own wrong form
  EXPECT_GE(o.size(), 2u);
  EXPECT_LE(o.size(), 4u);
  EXPECT_TRUE(NoCaseInsensitiveDuplicates(o));
}

TEST(FillTheBlankTest, FindsTheOriginalWithoutASpan) {
  const auto x = FillTheBlank(Make("We arrived in Monday.", "in", "on", -1, -1, "prepositions"), 3);
  ASSERT_TRUE(x.has_value());
  EXPECT_EQ(x->prompt, "We arrived ___ Monday.");
  EXPECT_EQ(x->answers[0], "on");
  const auto& o = x->options;
  EXPECT_NE(std::find(o.begin(), o.end(), "in"), o.end());
  EXPECT_NE(std::find(o.begin(), o.end(), "on"), o.end());
}

TEST(FillTheBlankTest, OptionsAreNeverDuplicatedIgnoringCase) {
  const std::vector<Example> examples = {
      Make("The cat is here.", "The", "the", 0, 3, "capitalization"),  // same word, other case
      Make("I saw a elephant.", "a", "an", 6, 7, "articles-determiners"),
      Make("I saw An elephant.", "An", "an", 6, 8, "articles-determiners"),
      Make("He walk home.", "walk", "walked", 3, 7, "verb-tense"),
      Make("She go home.", "go", "GOES", 4, 6),
      SheGo(),
  };
  for (const auto& e : examples) {
    for (uint64_t seed = 0; seed < 50; ++seed) {
      const auto x = FillTheBlank(e, seed);
      if (!x) continue;
      EXPECT_TRUE(NoCaseInsensitiveDuplicates(x->options)) << e.content << " seed " << seed;
      EXPECT_EQ(x->answers, (std::vector<std::string>{e.correction}));
      EXPECT_NE(std::find(x->options.begin(), x->options.end(), e.correction), x->options.end());
      EXPECT_LE(x->options.size(), 4u);
    }
  }
}

TEST(FillTheBlankTest, TheAnswerIsTheCorrectionWhateverTheSeed) {
  std::set<std::vector<std::string>> orders;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    const auto x =
        FillTheBlank(Make("I saw a elephant.", "a", "an", 6, 7, "articles-determiners"), seed);
    ASSERT_TRUE(x.has_value());
    EXPECT_EQ(x->answers, (std::vector<std::string>{"an"}));
    EXPECT_EQ(x->prompt, "I saw ___ elephant.");
    orders.insert(x->options);
  }
  EXPECT_GT(orders.size(), 1u) << "the seed should shuffle the options";
}

TEST(FillTheBlankTest, TheSameSeedGivesTheSameOptions) {
  const auto a = FillTheBlank(SheGo(), 12345);
  const auto b = FillTheBlank(SheGo(), 12345);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->options, b->options);
}

// The options' order is a function of the seed alone, on any standard library
// (std::shuffle's is implementation-defined): pinned.
TEST(FillTheBlankTest, TheSeedsOrderIsPinned) {
  const auto x = FillTheBlank(SheGo(), 1);
  ASSERT_TRUE(x.has_value());
  EXPECT_EQ(x->options, (std::vector<std::string>{"going", "goed", "go", "goes"}));
  const auto y = FillTheBlank(Make("We arrived in Monday.", "in", "on", -1, -1, "prepositions"), 2);
  ASSERT_TRUE(y.has_value());
  EXPECT_EQ(y->options, (std::vector<std::string>{"on", "at", "in", "of"}));
}

TEST(FillTheBlankTest, ADeletionHasNoBlank) {
  EXPECT_FALSE(FillTheBlank(Make("I like the music.", "the", "", 7, 10, "articles-determiners"), 1)
                   .has_value());
}

TEST(FillTheBlankTest, NothingToPlaceGivesNothing) {
  EXPECT_FALSE(FillTheBlank(Make("She go to school.", "went", "goes"), 1).has_value());
  EXPECT_FALSE(FillTheBlank(Make("She go to school.", "", "goes"), 1).has_value());
}

TEST(FillTheBlankTest, NoBlankWhenTheCorrectionIsWhatWasSaid) {
  // M2 "UNK" edits (an error nobody corrected) carry the original words as the correction;
  // a blank whose answer is the learner's own wrong form would teach the error.
  const Example unk = Make("I got the leter .", "leter", "leter", 10, 15, "unclassified");
  EXPECT_FALSE(CorrectWhatYouSaid(unk).has_value());
  for (uint64_t seed = 0; seed < 5; ++seed) {
    EXPECT_FALSE(FillTheBlank(unk, seed).has_value()) << "seed " << seed;
  }
}

TEST(FillTheBlankTest, NoBlankHingesOnCaseFinalPunctuationOrTheApostrophesShape) {
  const std::vector<Example> refused = {
      Make("I speak english at work", "english", "English", 8, 15, "capitalization"),
      Make("I went home", "home", "home.", 7, 11, "punctuation"),
      Make("I went home", "", ".", 11, 11, "punctuation"),
      Make("It\u2019s mine", "It\u2019s", "It's", 0, 4, "punctuation"),
      Make("The cat is here.", "The", "the", 0, 3, "capitalization"),
  };
  for (const Example& e : refused) {
    for (uint64_t seed = 0; seed < 5; ++seed) {
      EXPECT_FALSE(FillTheBlank(e, seed).has_value()) << e.content << " -> " << e.correction;
    }
  }
}

// Options are distinct as IsAcceptedAnswer reads them, so only the correction
// is accepted; and a word that is not plain letters gets no made-up inflections
// ("don\u2019ted", "home.ed").
TEST(FillTheBlankTest, OnlyTheCorrectionIsAcceptedAndPunctuatedWordsAreNotInflected) {
  const std::vector<Example> examples = {
      Make("I dont know", "dont", "don\u2019t", 2, 6, "punctuation"),
      Make("I dont know", "dont", "don't", 2, 6, "punctuation"),
      Make("Its my book", "Its", "It's", 0, 3, "punctuation"),
      Make("I saw An elephant.", "An", "an", 6, 8, "articles-determiners"),
      Make("I saw a elephant.", "a", "an", 6, 7, "articles-determiners"),
      Make("He walk home.", "walk", "walked", 3, 7, "verb-tense"),
      SheGo(),
  };
  for (const Example& e : examples) {
    for (uint64_t seed = 0; seed < 20; ++seed) {
      const auto x = FillTheBlank(e, seed);
      if (!x) continue;
      size_t accepted = 0;
      for (const auto& o : x->options) {
        accepted += IsAcceptedAnswer(*x, o);
        if (o == e.correction || o == e.original) continue;
        // A distractor is a word of the correction's class or an inflection of it.
        EXPECT_TRUE(std::all_of(o.begin(), o.end(), [](char c) { return std::isalpha(c); }))
            << o;
      }
      EXPECT_EQ(accepted, 1u) << e.content << " seed " << seed;
    }
  }
  const auto dont = FillTheBlank(Make("I dont know", "dont", "don\u2019t", 2, 6, "punctuation"), 1);
  ASSERT_TRUE(dont.has_value());
  auto options = dont->options;
  std::sort(options.begin(), options.end());
  EXPECT_EQ(options, (std::vector<std::string>{"dont", "don\u2019t"}));
}

TEST(FillTheBlankTest, AnInsertionBlanksAWordOfItsOwn) {
  const auto x = FillTheBlank(Make("I have cat.", "", "a", 7, 7, "articles-determiners"), 1);
  ASSERT_TRUE(x.has_value());
  EXPECT_EQ(x->prompt, "I have ___ cat.");
  EXPECT_EQ(x->answers[0], "a");
}

// ---------------------------------------------------------------- ids

TEST(OwnExerciseSubcategoryTest, ParsesGeneratedIds) {
  EXPECT_EQ(OwnExerciseSubcategory("own:verb-tense:0192f5e8-7a3b-7c4d-8e5f-0123456789ab:fix"),
            "verb-tense");
  EXPECT_EQ(OwnExerciseSubcategory("own:prepositions:e1:blank"), "prepositions");
  // A generated exercise's id reads back as its subcategory.
  EXPECT_EQ(OwnExerciseSubcategory(CorrectWhatYouSaid(SheGo())->id), "subject-verb-agreement");
  EXPECT_EQ(OwnExerciseSubcategory(FillTheBlank(SheGo(), 1)->id), "subject-verb-agreement");
}

TEST(OwnExerciseSubcategoryTest, RejectsOtherIds) {
  for (const char* bad : {"sva-001", "", "own:", "own:abc", "own::e1:fix", "OWN:verb-tense:e1:fix",
                          "xown:verb-tense:e1:fix", "own:totally-made-up:zzz",
                          "own:verb-tense:e1:fixx", "own:verb-tense::fix", "own:verb-tense:fix",
                          "own:a:b:c:fix", "own:../../x:"}) {
    EXPECT_EQ(OwnExerciseSubcategory(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace errata
