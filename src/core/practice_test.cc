#include "core/practice.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "app/data.h"
#include "core/last_bits_test_util.h"
#include "core/mastery.h"

namespace errata {
namespace {

constexpr Micros kDay = kMicrosPerDay;
constexpr Micros kHour = 3600 * kMicrosPerSecond;
constexpr Micros kNow = 1795463657LL * kMicrosPerSecond;  // 2026-11-23T19:54:17Z

// A small bank: 8 verb-tense items (levels and types mixed), 6 prepositions, 3 spelling.
std::string SmallBankJson() {
  std::string items;
  auto add = [&items](const std::string& id, const std::string& sub, const std::string& type,
                      const std::string& level) {
    if (!items.empty()) items += ",";
    std::string options = "[]", answers = "[\"x y\"]", prompt = "Correct: x z " + id;
    if (type == "fill_blank") {
      options = "[\"x\", \"y\"]";
      answers = "[\"x\"]";
      prompt = "A ___ for " + id;
    }
    items += "{\"id\":\"" + id + "\",\"subcategory_id\":\"" + sub + "\",\"type\":\"" + type +
             "\",\"level\":\"" + level + "\",\"prompt\":\"" + prompt + "\",\"options\":" + options +
             ",\"answers\":" + answers + ",\"explanation\":\"Because.\"}";
  };
  for (int i = 1; i <= 8; ++i) {
    add("vt-00" + std::to_string(i), "verb-tense", i % 2 ? "sentence_correction" : "fill_blank",
        i <= 4 ? "A2" : "B1");
  }
  for (int i = 1; i <= 6; ++i) {
    add("pr-00" + std::to_string(i), "prepositions", i % 2 ? "fill_blank" : "sentence_correction",
        i <= 3 ? "A2" : "B2");
  }
  for (int i = 1; i <= 3; ++i)
    add("sp-00" + std::to_string(i), "spelling", "sentence_correction", "B1");
  return "{\"version\":\"test\",\"exercises\":[" + items + "]}";
}

const ExerciseBank& SmallBank() {
  static const ExerciseBank* bank = [] {
    const std::vector<CoverageRule> rules = {
        {"verb-tense", 0}, {"prepositions", 0}, {"spelling", 0}, {"idioms", 0}};
    auto b = ExerciseBank::FromJson(SmallBankJson(), "small bank", rules);
    EXPECT_TRUE(b.ok()) << b.status().message();
    return new ExerciseBank(b.ok() ? *b : ExerciseBank());
  }();
  return *bank;
}

ErrorPoint Point(const std::string& id, int count, Micros at) {
  ErrorDelta d{"u", id, "Grammar", id};
  for (int i = 0; i < count; ++i) d.Add(at, RankingParams{}.half_life);
  Profile p;
  p.Apply(d);
  return p.points[0];
}

// verb-tense (5 errors yesterday) > prepositions (3, last week) > spelling (1, long ago).
Profile ThreePoints() {
  Profile p;
  p.user_known = true;
  p.points = {Point("spelling", 1, kNow - 60 * kDay), Point("verb-tense", 5, kNow - kDay),
              Point("prepositions", 3, kNow - 7 * kDay)};
  return p;
}

PracticeRequest Request(size_t n, uint64_t seed = 1) {
  PracticeRequest r;
  r.n = n;
  r.seed = seed;
  r.now = kNow;
  return r;
}

std::vector<std::string> Ids(const std::vector<PracticeItem>& items) {
  std::vector<std::string> out;
  for (const auto& i : items) out.push_back(i.exercise->id);
  return out;
}

std::map<std::string, size_t> PerSubcategory(const std::vector<PracticeItem>& items) {
  std::map<std::string, size_t> out;
  for (const auto& i : items) out[i.exercise->subcategory_id]++;
  return out;
}

Example OwnExample(const std::string& id, Micros at) {
  Example e;
  e.error_id = id;
  e.subcategory_id = "verb-tense";
  e.content = "Yesterday I go to the park.";
  e.original = "go";
  e.correction = "went";
  e.span_start = 12;
  e.span_end = 14;
  e.created_at = at;
  return e;
}

TEST(SelectPracticeTest, EmptyProfileOrZeroNGivesNothing) {
  EXPECT_TRUE(SelectPractice(Profile{}, SmallBank(), Request(10)).empty());
  EXPECT_TRUE(SelectPractice(ThreePoints(), SmallBank(), Request(0)).empty());
}

TEST(SelectPracticeTest, GivesNItemsWhenThereAreEnough) {
  for (size_t n : {1, 2, 5, 6, 10}) {
    const auto items = SelectPractice(ThreePoints(), SmallBank(), Request(n));
    EXPECT_EQ(items.size(), n);
    const std::vector<std::string> ids = Ids(items);
    EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size()) << "duplicates";
  }
}

TEST(SelectPracticeTest, NoSubcategoryGetsMoreThanHalfWhenTwoHaveCandidates) {
  for (size_t n : {2, 3, 4, 5, 6, 7, 10}) {
    for (uint64_t seed = 0; seed < 10; ++seed) {
      const auto items = SelectPractice(ThreePoints(), SmallBank(), Request(n, seed));
      const size_t cap = (n + 1) / 2;
      for (const auto& [sub, k] : PerSubcategory(items)) {
        EXPECT_LE(k, cap) << sub << " n=" << n << " seed=" << seed;
      }
    }
  }
  // The top point reaches the cap when it has the items.
  const auto items = SelectPractice(ThreePoints(), SmallBank(), Request(6));
  EXPECT_EQ(PerSubcategory(items)["verb-tense"], 3u);
}

TEST(SelectPracticeTest, CapHoldsWithTwoPointsEvenIfThatLeavesTheSetShort) {
  Profile p;
  p.points = {Point("verb-tense", 5, kNow - kDay), Point("spelling", 1, kNow - kDay)};
  const auto items = SelectPractice(p, SmallBank(), Request(10));
  const auto per = PerSubcategory(items);
  EXPECT_EQ(per.at("verb-tense"), 5u);  // ceil(10 / 2)
  EXPECT_EQ(per.at("spelling"), 3u);    // all it has
  EXPECT_EQ(items.size(), 8u);
}

TEST(SelectPracticeTest, OneSubcategoryWithCandidatesMayFillTheWholeSet) {
  Profile p;
  // idioms has no bank items and no examples: no candidates.
  p.points = {Point("verb-tense", 2, kNow - 3 * kDay), Point("idioms", 9, kNow)};
  const auto items = SelectPractice(p, SmallBank(), Request(6));
  ASSERT_EQ(items.size(), 6u);
  for (const auto& i : items) EXPECT_EQ(i.exercise->subcategory_id, "verb-tense");
}

std::vector<std::string> PointIds(const std::vector<RankedPoint>& points) {
  std::vector<std::string> out;
  for (const auto& r : points) out.push_back(r.point->subcategory_id());
  return out;
}

TEST(SelectPracticeTest, PointsWithNothingToOfferAreListedAsUncovered) {
  Profile p;
  // idioms ranks first and has no bank items and no examples.
  p.points = {Point("verb-tense", 2, kNow - 3 * kDay), Point("idioms", 9, kNow),
              Point("prepositions", 1, kNow - 30 * kDay)};
  std::vector<RankedPoint> uncovered;
  const auto items = SelectPractice(p, SmallBank(), Request(6), &uncovered);
  ASSERT_EQ(items.size(), 6u);
  ASSERT_EQ(PointIds(uncovered), std::vector<std::string>{"idioms"});
  EXPECT_EQ(uncovered[0].point->count, 9);
  EXPECT_GT(uncovered[0].priority, items[0].because.priority);
}

TEST(SelectPracticeTest, NothingIsUncoveredWhenEveryPointHasItems) {
  std::vector<RankedPoint> uncovered;
  EXPECT_EQ(SelectPractice(ThreePoints(), SmallBank(), Request(100), &uncovered).size(), 17u);
  EXPECT_TRUE(uncovered.empty());
  EXPECT_EQ(SelectPractice(ThreePoints(), SmallBank(), Request(2), &uncovered).size(), 2u);
  EXPECT_TRUE(uncovered.empty());
}

TEST(SelectPracticeTest, FiltersAndRecentAnswersCanLeaveAPointUncovered) {
  Profile p;
  p.points = {Point("verb-tense", 5, kNow - kDay), Point("spelling", 1, kNow - 60 * kDay)};
  // No spelling item is at level A2, and no verb-tense item at C1.
  PracticeRequest r = Request(10);
  r.level = "A2";
  std::vector<RankedPoint> uncovered;
  EXPECT_EQ(PerSubcategory(SelectPractice(p, SmallBank(), r, &uncovered)),
            (std::map<std::string, size_t>{{"verb-tense", 4}}));
  EXPECT_EQ(PointIds(uncovered), std::vector<std::string>{"spelling"});
  // Every spelling item answered correctly within the day.
  uncovered.clear();
  for (const char* id : {"sp-001", "sp-002", "sp-003"}) p.AddRecentCorrect({id, kNow - kHour});
  SelectPractice(p, SmallBank(), Request(10), &uncovered);
  EXPECT_EQ(PointIds(uncovered), std::vector<std::string>{"spelling"});
}

TEST(SelectPracticeTest, HigherPriorityPointsGetItemsFirst) {
  const Profile p = ThreePoints();
  const auto ranked = RankProfile(p, kNow, RankingParams{});
  ASSERT_EQ(ranked[0].point->subcategory_id(), "verb-tense");
  for (uint64_t seed = 0; seed < 5; ++seed) {
    const auto items = SelectPractice(p, SmallBank(), Request(3, seed));
    ASSERT_EQ(items.size(), 3u);
    EXPECT_EQ(items[0].exercise->subcategory_id, "verb-tense");
    EXPECT_EQ(PerSubcategory(items).count("spelling"), 0u) << "the lowest point came in too early";
  }
  const auto one = SelectPractice(p, SmallBank(), Request(1));
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].exercise->subcategory_id, "verb-tense");
}

TEST(SelectPracticeTest, PicksGoToTheHighestPriorityPerItemAlreadyTaken) {
  // Priorities: verb-tense 6.05, prepositions 3.12, spelling 0.55 (see ranking_test.cc).
  // verb-tense's second item scores 6.05 / 2 = 3.03 < 3.12, so prepositions comes second.
  const auto items = SelectPractice(ThreePoints(), SmallBank(), Request(4));
  std::vector<std::string> subs;
  for (const auto& i : items) subs.push_back(i.exercise->subcategory_id);
  EXPECT_EQ(subs,
            (std::vector<std::string>{"verb-tense", "prepositions", "verb-tense", "prepositions"}));
  // A point far ahead takes items up to the cap before the next gets a second one.
  Profile p;
  p.points = {Point("verb-tense", 30, kNow), Point("prepositions", 1, kNow - 30 * kDay),
              Point("spelling", 1, kNow - 30 * kDay)};
  const auto per = PerSubcategory(SelectPractice(p, SmallBank(), Request(8)));
  EXPECT_EQ(per.at("verb-tense"), 4u);
}

TEST(SelectPracticeTest, EachItemSaysWhichPointItPractises) {
  const Profile p = ThreePoints();
  for (const auto& item : SelectPractice(p, SmallBank(), Request(8))) {
    ASSERT_NE(item.because.point, nullptr);
    EXPECT_EQ(item.because.point->subcategory_id(), item.exercise->subcategory_id);
    EXPECT_EQ(item.because.point, p.Find(item.exercise->subcategory_id));
    EXPECT_GT(item.because.priority, 0);
    EXPECT_EQ(std::string(item.source), "bank");
  }
}

TEST(SelectPracticeTest, NothingAnsweredCorrectlyInTheLast24Hours) {
  Profile p;
  p.points = {Point("verb-tense", 3, kNow - kDay)};
  auto all = [&p](uint64_t seed) {
    const auto ids = Ids(SelectPractice(p, SmallBank(), Request(100, seed)));
    return std::set<std::string>(ids.begin(), ids.end());
  };
  ASSERT_EQ(all(1).size(), 8u);
  p.AddRecentCorrect({"vt-003", kNow - 23 * kHour});
  p.AddRecentCorrect({"vt-005", kNow - 1});
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const auto ids = all(seed);
    EXPECT_EQ(ids.size(), 6u);
    EXPECT_EQ(ids.count("vt-003"), 0u);
    EXPECT_EQ(ids.count("vt-005"), 0u);
  }
}

TEST(SelectPracticeTest, OfferedAgainAfter24Hours) {
  Profile p;
  p.points = {Point("verb-tense", 3, kNow - 3 * kDay)};
  p.AddRecentCorrect({"vt-003", kNow - 25 * kHour});
  p.AddRecentCorrect({"vt-004", kNow - 24 * kHour});  // exactly a day
  const auto ids = Ids(SelectPractice(p, SmallBank(), Request(100)));
  EXPECT_EQ(ids.size(), 8u);
  EXPECT_NE(std::find(ids.begin(), ids.end(), "vt-003"), ids.end());
  EXPECT_NE(std::find(ids.begin(), ids.end(), "vt-004"), ids.end());
}

// An as_of in the past: an answer after it had not been given yet, so it does
// not hide the exercise (its elapsed time is negative, not "within a day").
TEST(SelectPracticeTest, AnAnswerAfterAsOfDoesNotCount) {
  Profile p;
  p.points = {Point("verb-tense", 3, kNow - 3 * kDay)};
  p.AddRecentCorrect({"vt-003", kNow + kHour});
  p.AddRecentCorrect({"vt-004", kNow + 30 * kDay});
  p.AddRecentCorrect({"vt-005", kNow});  // at as_of: within the day
  const auto ids = Ids(SelectPractice(p, SmallBank(), Request(100)));
  EXPECT_EQ(ids.size(), 7u);
  EXPECT_NE(std::find(ids.begin(), ids.end(), "vt-003"), ids.end());
  EXPECT_NE(std::find(ids.begin(), ids.end(), "vt-004"), ids.end());
  EXPECT_EQ(std::find(ids.begin(), ids.end(), "vt-005"), ids.end());
}

TEST(SelectPracticeTest, OwnWordsItemsComeBeforeBankItemsOfTheSamePoint) {
  Profile p = ThreePoints();
  p.AddExamples({OwnExample("e1", kNow - kDay)});
  for (uint64_t seed = 0; seed < 10; ++seed) {
    const auto items = SelectPractice(p, SmallBank(), Request(6, seed));
    ASSERT_EQ(items.size(), 6u);
    std::map<std::string, bool> bank_seen;
    size_t own = 0;
    for (const auto& i : items) {
      const std::string src = i.source;
      if (src == "own_words") {
        ++own;
        EXPECT_FALSE(bank_seen[i.exercise->subcategory_id]) << "own-words item after a bank item";
        EXPECT_EQ(i.exercise->id.rfind("own:verb-tense:e1:", 0), 0u) << i.exercise->id;
      } else {
        EXPECT_EQ(src, "bank");
        bank_seen[i.exercise->subcategory_id] = true;
      }
    }
    EXPECT_EQ(own, 2u);  // "correct what you said" and the blank
    EXPECT_EQ(std::string(items[0].source), "own_words");
  }
}

TEST(SelectPracticeTest, OwnWordsAnsweredCorrectlyAreNotOfferedAgain) {
  Profile p = ThreePoints();
  p.AddExamples({OwnExample("e1", kNow - kDay)});
  p.AddRecentCorrect({"own:verb-tense:e1:fix", kNow - kHour});
  const auto ids = Ids(SelectPractice(p, SmallBank(), Request(10)));
  EXPECT_EQ(std::find(ids.begin(), ids.end(), "own:verb-tense:e1:fix"), ids.end());
  EXPECT_NE(std::find(ids.begin(), ids.end(), "own:verb-tense:e1:blank"), ids.end());
}

TEST(SelectPracticeTest, TheSameSeedGivesTheSameSelection) {
  Profile p = ThreePoints();
  p.AddExamples({OwnExample("e1", kNow - kDay)});
  for (uint64_t seed : {0ull, 1ull, 42ull, 0xdeadbeefull}) {
    const auto a = SelectPractice(p, SmallBank(), Request(7, seed));
    const auto b = SelectPractice(p, SmallBank(), Request(7, seed));
    ASSERT_EQ(Ids(a), Ids(b));
    for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].exercise->options, b[i].exercise->options);
  }
}

// docs/ranking.md promises the same set for the same profile, as_of and seed;
// std::shuffle would make it depend on the standard library. Pinned.
TEST(SelectPracticeTest, TheSeedsSelectionIsPinned) {
  EXPECT_EQ(Ids(SelectPractice(ThreePoints(), SmallBank(), Request(6, 1))),
            (std::vector<std::string>{"vt-001", "pr-001", "vt-004", "vt-008", "pr-003", "pr-005"}));
  EXPECT_EQ(Ids(SelectPractice(ThreePoints(), SmallBank(), Request(6, 42))),
            (std::vector<std::string>{"vt-005", "pr-006", "vt-004", "vt-003", "pr-004", "pr-001"}));
}

// Two points with the same three errors, merged in the two groupings LogAdd2
// is not associative over: their priorities differ in the last bits only.
// The picks go by the ranking's tie-break (the id), not by the rounding.
TEST(SelectPracticeTest, PrioritiesDifferingInTheLastBitsTie) {
  const testutil::LastBitsPoints points(kNow, RankingParams{}.half_life);
  ASSERT_TRUE(points.found());
  auto point = [&](const std::string& id, bool left) { return points.Point(id, left); };
  for (bool left : {false, true}) {
    Profile p;
    p.points = {point("verb-tense", left), point("prepositions", !left)};
    ASSERT_NE(p.points[0].decay_log2, p.points[1].decay_log2);
    const auto items = SelectPractice(p, SmallBank(), Request(1));
    ASSERT_EQ(items.size(), 1u);
    EXPECT_EQ(items[0].exercise->subcategory_id, "prepositions") << "left " << left;
  }
}

TEST(SelectPracticeTest, DifferentSeedsUsuallyDiffer) {
  std::set<std::vector<std::string>> selections;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    selections.insert(Ids(SelectPractice(ThreePoints(), SmallBank(), Request(6, seed))));
  }
  EXPECT_GE(selections.size(), 10u);
}

TEST(SelectPracticeTest, LevelFilterAppliesToBankItems) {
  Profile p = ThreePoints();
  p.AddExamples({OwnExample("e1", kNow - kDay)});
  PracticeRequest r = Request(10);
  r.level = "A2";
  const auto items = SelectPractice(p, SmallBank(), r);
  ASSERT_FALSE(items.empty());
  size_t bank = 0;
  for (const auto& i : items) {
    if (std::string(i.source) == "bank") {
      ++bank;
      EXPECT_EQ(i.exercise->level, "A2") << i.exercise->id;
    }
  }
  EXPECT_GT(bank, 0u);
  r.level = "C2";  // no bank item at C2: only the own-words items are left
  for (const auto& i : SelectPractice(p, SmallBank(), r)) {
    EXPECT_EQ(std::string(i.source), "own_words") << i.exercise->id;
  }
}

TEST(SelectPracticeTest, TypesFilterApplies) {
  Profile p = ThreePoints();
  p.AddExamples({OwnExample("e1", kNow - kDay)});
  PracticeRequest r = Request(10);
  r.types = {"fill_blank"};
  const auto items = SelectPractice(p, SmallBank(), r);
  ASSERT_FALSE(items.empty());
  bool own_seen = false;
  for (const auto& i : items) {
    EXPECT_EQ(i.exercise->type, "fill_blank") << i.exercise->id;
    own_seen |= std::string(i.source) == "own_words";
  }
  EXPECT_TRUE(own_seen);  // the own-words blank passes the filter
  r.types = {"fill_blank", "sentence_correction"};
  r.level = "B2";
  for (const auto& i : SelectPractice(p, SmallBank(), r)) {
    if (std::string(i.source) == "bank") {
      EXPECT_EQ(i.exercise->level, "B2");
    }
  }
}

TEST(SelectPracticeTest, MasteredPointsGiveWayToUnpractisedOnes) {
  Profile p;
  p.points = {Point("verb-tense", 4, kNow - 20 * kDay), Point("prepositions", 4, kNow - 20 * kDay)};
  // Equal errors: "prepositions" would win the tie by name. Practise it until mastered,
  // and verb-tense comes first.
  for (int days : {18, 12, 6, 2}) {
    p.Find("prepositions")->memory =
        AfterAttempt(p.Find("prepositions")->memory, true, kNow - days * kDay);
  }
  const auto items = SelectPractice(p, SmallBank(), Request(1));
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].exercise->subcategory_id, "verb-tense");
}

TEST(SelectPracticeTest, WorksWithTheBuiltInBank) {
  auto data = app::LoadDomainData("", "");
  ASSERT_TRUE(data.ok()) << data.status().message();
  Profile p;
  p.points = {Point("subject-verb-agreement", 6, kNow - kDay),
              Point("articles-determiners", 3, kNow - 2 * kDay),
              Point("spelling", 2, kNow - 10 * kDay)};
  for (uint64_t seed = 0; seed < 5; ++seed) {
    const auto items = SelectPractice(p, data->bank, Request(10, seed));
    ASSERT_EQ(items.size(), 10u);
    for (const auto& [sub, k] : PerSubcategory(items)) EXPECT_LE(k, 5u) << sub;
    for (const auto& i : items) {
      const Exercise* x = data->bank.Find(i.exercise->id);
      ASSERT_NE(x, nullptr) << i.exercise->id;
      EXPECT_EQ(x->subcategory_id, i.exercise->subcategory_id);
    }
    EXPECT_EQ(items[0].exercise->subcategory_id, "subject-verb-agreement");
  }
}

}  // namespace
}  // namespace errata
