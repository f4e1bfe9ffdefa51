// The ranking's promise (the issue text): "more frequent and more recent ranks
// higher; mastered points fall; a relapse rises". Each clause is a property test.
#include "core/ranking.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/last_bits_test_util.h"
#include "core/mastery.h"

namespace errata {
namespace {

constexpr Micros kDay = kMicrosPerDay;
constexpr Micros kNow = 1795463657LL * kMicrosPerSecond;  // 2026-11-23T19:54:17Z
const RankingParams kParams;

// A point with one error at each of `times`.
ErrorPoint Point(const std::string& id, const std::vector<Micros>& times) {
  ErrorDelta d{"u", id, "Grammar", id};
  for (Micros t : times) d.Add(t, kParams.half_life);
  Profile p;
  p.Apply(d);
  return p.points[0];
}

// `n` errors, all at `at`.
ErrorPoint PointN(const std::string& id, int n, Micros at) {
  return Point(id, std::vector<Micros>(n, at));
}

// A new conversation error on `p` at `at` (count+1, last_seen, decay).
ErrorPoint WithError(ErrorPoint p, Micros at) {
  ErrorDelta d{"u", p.subcategory_id(), p.category(), p.subcategory()};
  d.Add(at, kParams.half_life);
  Profile prof;
  prof.points.push_back(p);
  prof.Apply(d);
  return prof.points[0];
}

double Priority(const ErrorPoint& p, Micros now = kNow) {
  return RankPoint(p, now, kParams).priority;
}

TEST(RankingTest, DefaultParamsAreTheDocumentedOnes) {
  EXPECT_EQ(kParams.half_life, 14 * kDay);
  EXPECT_EQ(kParams.frequency_weight, 0.5);
  EXPECT_EQ(kParams.mastered_floor, 0.25);
}

TEST(RankingTest, WeightIsRecentPlusHalfLog2OfOnePlusCount) {
  // One error now, never practised: 1 + 0.5 * log2(2) = 1.5.
  const RankedPoint one = RankPoint(PointN("a", 1, kNow), kNow, kParams);
  EXPECT_NEAR(one.weight, 1.5, 1e-9);
  EXPECT_EQ(one.recall, 0);
  EXPECT_NEAR(one.priority, 1.5, 1e-9);
  // Three errors, one half-life ago: 3 * 0.5 + 0.5 * log2(4) = 2.5.
  const RankedPoint three = RankPoint(PointN("b", 3, kNow - 14 * kDay), kNow, kParams);
  EXPECT_NEAR(three.weight, 2.5, 1e-9);
  EXPECT_NEAR(three.priority, 2.5, 1e-9);
}

TEST(RankingTest, ATimeBeforeTheErrorsRanksAsAtTheLastError) {
  // An as_of of 1970 against errors of now: finite, and as at the last error.
  const RankedPoint early = RankPoint(PointN("a", 3, kNow - 14 * kDay), 0, kParams);
  const RankedPoint at = RankPoint(PointN("a", 3, kNow - 14 * kDay), kNow - 14 * kDay, kParams);
  EXPECT_TRUE(std::isfinite(early.priority));
  EXPECT_NEAR(early.weight, 3 + 0.5 * 2, 1e-9);
  EXPECT_EQ(early.priority, at.priority);
}

TEST(RankingTest, PriorityIsWeightTimesOneMinusThreeQuartersOfRecall) {
  ErrorPoint p = PointN("a", 4, kNow - 30 * kDay);
  p.memory =
      AfterAttempt(AfterAttempt(MemoryState{}, true, kNow - 20 * kDay), true, kNow - 10 * kDay);
  const RankedPoint r = RankPoint(p, kNow, kParams);
  EXPECT_GT(r.recall, 0);
  EXPECT_LT(r.recall, 1);
  EXPECT_NEAR(r.recall, Mastery(p, kNow), 1e-12);
  EXPECT_NEAR(r.priority, r.weight * (1 - 0.75 * r.recall), 1e-12);
}

TEST(RankingTest, AFullyRecalledPointKeepsAQuarterOfItsWeight) {
  ErrorPoint p = PointN("a", 3, kNow - 5 * kDay);
  p.memory = AfterAttempt(MemoryState{}, true, kNow);  // just answered: recall 1
  const RankedPoint r = RankPoint(p, kNow, kParams);
  EXPECT_DOUBLE_EQ(r.recall, 1.0);
  EXPECT_NEAR(r.priority, 0.25 * r.weight, 1e-12);
}

TEST(RankingTest, MoreFrequentRanksHigher) {
  for (Micros when : {kNow, kNow - 3 * kDay, kNow - 60 * kDay}) {
    for (int n = 1; n < 10; ++n) {
      EXPECT_GT(Priority(PointN("a", n + 1, when)), Priority(PointN("b", n, when)))
          << n << " errors at -" << (kNow - when) / kDay << " days";
    }
  }
  // The count alone, with the same recent score: the all-time term still orders them.
  ErrorPoint a = PointN("a", 2, kNow - kDay), b = a;
  a.count = 9;
  EXPECT_GT(Priority(a), Priority(b));
}

TEST(RankingTest, MoreRecentRanksHigher) {
  for (int n : {1, 3, 10}) {
    for (int days : {1, 7, 14, 60}) {
      EXPECT_GT(Priority(PointN("a", n, kNow - days * kDay)),
                Priority(PointN("b", n, kNow - (days + 1) * kDay)))
          << n << " errors, " << days << " vs " << days + 1 << " days ago";
    }
  }
}

TEST(RankingTest, RecentErrorsOutweighOldOnes) {
  // 2 errors yesterday beat 4 errors three months ago.
  EXPECT_GT(Priority(PointN("a", 2, kNow - kDay)), Priority(PointN("b", 4, kNow - 90 * kDay)));
}

// Spaced correct practice after the last error: mastered.
ErrorPoint Mastered(ErrorPoint p) {
  for (int days : {18, 12, 6, 2}) p.memory = AfterAttempt(p.memory, true, kNow - days * kDay);
  return p;
}

TEST(RankingTest, MasteredPointsFall) {
  const std::vector<Micros> errors = {kNow - 25 * kDay, kNow - 22 * kDay, kNow - 20 * kDay,
                                      kNow - 20 * kDay};
  const ErrorPoint unpractised = Point("unpractised", errors);
  const ErrorPoint practised = Mastered(Point("practised", errors));
  const RankedPoint u = RankPoint(unpractised, kNow, kParams);
  const RankedPoint m = RankPoint(practised, kNow, kParams);
  EXPECT_DOUBLE_EQ(m.weight, u.weight);  // same errors
  EXPECT_GT(m.recall, 0.9);
  EXPECT_LT(m.priority, u.priority);
  EXPECT_LT(m.priority, 0.4 * u.priority);
  // Each further spaced success lowers it (or keeps it) as long as no error comes back.
  double last = u.priority;
  ErrorPoint p = Point("p", errors);
  for (int days : {18, 12, 6, 2}) {
    p.memory = AfterAttempt(p.memory, true, kNow - days * kDay);
    const double now_priority = Priority(p);
    EXPECT_LT(now_priority, last) << days;
    last = now_priority;
  }
  // And it falls below a less frequent point that was never practised.
  EXPECT_LT(m.priority, Priority(Point("fewer", {kNow - 20 * kDay, kNow - 20 * kDay})));

  Profile prof;
  prof.points = {practised, unpractised};
  const auto ranked = RankProfile(prof, kNow, kParams);
  ASSERT_EQ(ranked.size(), 2u);
  EXPECT_EQ(ranked[0].point->subcategory_id(), "unpractised");
}

TEST(RankingTest, ARelapseRises) {
  const std::vector<Micros> errors = {kNow - 25 * kDay, kNow - 22 * kDay, kNow - 20 * kDay,
                                      kNow - 20 * kDay};
  const ErrorPoint practised = Mastered(Point("practised", errors));
  const ErrorPoint relapsed = WithError(practised, kNow);  // said wrong again, just now
  EXPECT_EQ(relapsed.count, practised.count + 1);
  EXPECT_EQ(relapsed.last_seen, kNow);

  const RankedPoint before = RankPoint(practised, kNow, kParams);
  const RankedPoint after = RankPoint(relapsed, kNow, kParams);
  EXPECT_GT(after.weight, before.weight);  // one more, and recent, error
  EXPECT_LT(after.recall, before.recall);  // the lapse shows at once
  EXPECT_GT(after.priority, before.priority);
  // More than the extra error alone would give: the lapse itself counts.
  EXPECT_GT(after.priority, after.weight * (1 - 0.75 * before.recall));

  // Against its twin that did not relapse, it ranks first.
  ErrorPoint twin = practised;
  twin.names = PointNames("a-twin", twin.category(), "a-twin");  // would win a tie by name
  Profile prof;
  prof.points = {twin, relapsed};
  EXPECT_EQ(RankProfile(prof, kNow, kParams)[0].point->subcategory_id(), "practised");
}

TEST(RankingTest, ARelapseLongAfterPracticeLowersRecallMore) {
  const ErrorPoint practised = Mastered(PointN("a", 4, kNow - 20 * kDay));
  double last_recall = 1;
  for (int days : {0, 5, 20}) {
    const Micros at = kNow + days * kDay;
    const RankedPoint r = RankPoint(WithError(practised, at), at, kParams);
    EXPECT_LT(r.recall, last_recall) << days;
    EXPECT_GT(r.priority, RankPoint(practised, at, kParams).priority) << days;
    last_recall = r.recall;
  }
}

TEST(RankingTest, RankingIsPure) {
  // Lapses are folded on the fly and idempotently: ranking twice gives the same numbers.
  const ErrorPoint relapsed = WithError(Mastered(PointN("a", 3, kNow - 20 * kDay)), kNow - kDay);
  const RankedPoint a = RankPoint(relapsed, kNow, kParams);
  const RankedPoint b = RankPoint(relapsed, kNow, kParams);
  EXPECT_EQ(a.priority, b.priority);
  EXPECT_EQ(a.recall, b.recall);
}

TEST(RankingTest, PriorityDecaysWithTimeWhenNothingHappens) {
  const ErrorPoint p = PointN("a", 3, kNow - kDay);
  EXPECT_GT(Priority(p, kNow), Priority(p, kNow + 7 * kDay));
  EXPECT_GT(Priority(p, kNow + 7 * kDay), Priority(p, kNow + 70 * kDay));
  // It never falls below the all-time term.
  EXPECT_GT(Priority(p, kNow + 3650 * kDay), 0.5 * std::log2(4.0) - 1e-9);
}

TEST(RankProfileTest, SortsByPriorityAndSkipsPointsWithoutErrors) {
  Profile prof;
  prof.points = {PointN("old", 5, kNow - 90 * kDay), PointN("new", 2, kNow),
                 PointN("mid", 3, kNow - 7 * kDay)};
  ErrorPoint zero;
  zero.names = PointNames("zero", "", "zero");
  prof.points.push_back(zero);
  const auto ranked = RankProfile(prof, kNow, kParams);
  ASSERT_EQ(ranked.size(), 3u);
  for (size_t i = 1; i < ranked.size(); ++i) {
    EXPECT_GE(ranked[i - 1].priority, ranked[i].priority);
  }
  for (const auto& r : ranked) EXPECT_NE(r.point->subcategory_id(), "zero");
  EXPECT_EQ(ranked[0].point->subcategory_id(), "mid");  // 3*2^-0.5 + 1 = 3.12 > 2 + 0.79
  EXPECT_EQ(ranked[1].point->subcategory_id(), "new");
  EXPECT_EQ(ranked[2].point->subcategory_id(), "old");
  // Points refer into the profile.
  EXPECT_EQ(ranked[2].point, &prof.points[0]);
}

TEST(RankProfileTest, TiesFollowTheFrequencyOrder) {
  Profile prof;
  prof.points = {PointN("b-second", 2, kNow - kDay), PointN("a-first", 2, kNow - kDay)};
  const auto ranked = RankProfile(prof, kNow, kParams);
  ASSERT_EQ(ranked.size(), 2u);
  EXPECT_EQ(ranked[0].priority, ranked[1].priority);
  EXPECT_EQ(ranked[0].point->subcategory(), "a-first");
}

// Same count, last seen and display name: the id decides, not the profile's order.
TEST(RankProfileTest, TheIdEndsTheTies) {
  for (bool flip : {false, true}) {
    ErrorPoint g = PointN("grammar.phrasal-verbs", 2, kNow - kDay);
    ErrorPoint v = PointN("vocabulary.phrasal-verbs", 2, kNow - kDay);
    g.names = PointNames("grammar.phrasal-verbs", "Grammar", "Phrasal verbs");
    v.names = PointNames("vocabulary.phrasal-verbs", "Vocabulary", "Phrasal verbs");
    Profile prof;
    prof.points.push_back(flip ? v : g);
    prof.points.push_back(flip ? g : v);
    const auto ranked = RankProfile(prof, kNow, kParams);
    ASSERT_EQ(ranked.size(), 2u);
    EXPECT_EQ(ranked[0].point->subcategory_id(), "grammar.phrasal-verbs") << "flip " << flip;
  }
}

// LogAdd2 is not associative in floating point: the same errors merged in
// another order (a cache's deltas, a store's SQL) can differ in the last bits
// of decay_log2. Priorities that close rank as equal, so the tie-break, not the
// rounding, orders them (docs/ranking.md).
TEST(RankProfileTest, PrioritiesDifferingInTheLastBitsTie) {
  const testutil::LastBitsPoints points(kNow, kParams.half_life);
  ASSERT_TRUE(points.found());
  auto point = [&](const std::string& id, bool left) { return points.Point(id, left); };
  for (bool left : {false, true}) {
    Profile prof;
    prof.points = {point("z-point", left), point("a-point", !left)};
    ASSERT_NE(prof.points[0].decay_log2, prof.points[1].decay_log2);
    const auto ranked = RankProfile(prof, kNow, kParams);
    ASSERT_EQ(ranked.size(), 2u);
    EXPECT_EQ(ranked[0].point->subcategory_id(), "a-point") << "left " << left;
    EXPECT_EQ(RankKey(ranked[0].priority), RankKey(ranked[1].priority));
  }
  // Real differences still count.
  EXPECT_LT(RankKey(1.0), RankKey(1.0 + 1e-6));
}

TEST(RankingTest, ParamsAreUsed) {
  const ErrorPoint p = PointN("a", 3, kNow - 7 * kDay);
  RankingParams slow = kParams;
  slow.half_life = 70 * kDay;
  EXPECT_GT(RankPoint(p, kNow, slow).weight, RankPoint(p, kNow, kParams).weight);
  RankingParams no_freq = kParams;
  no_freq.frequency_weight = 0;
  EXPECT_NEAR(RankPoint(p, kNow, no_freq).weight, 3 * std::exp2(-0.5), 1e-9);
  ErrorPoint m = p;
  m.memory = AfterAttempt(MemoryState{}, true, kNow);
  RankingParams floor_half = kParams;
  floor_half.mastered_floor = 0.5;
  EXPECT_NEAR(RankPoint(m, kNow, floor_half).priority, 0.5 * RankPoint(m, kNow, kParams).weight,
              1e-9);
}

}  // namespace
}  // namespace errata
