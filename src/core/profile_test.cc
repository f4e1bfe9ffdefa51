// Tests of core/profile.h and core/delta_set.h.
#include "core/profile.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "core/delta_set.h"
#include "core/ids.h"
#include "core/model.h"

namespace errata {
namespace {

constexpr Micros kDay = kMicrosPerDay;
constexpr Micros kHalfLife = 14 * kDay;
constexpr Micros kT0 = 1795463657LL * kMicrosPerSecond;  // 2026-11-23T19:54:17Z

// ---------------------------------------------------------------- LogAdd2

TEST(LogAdd2Test, NoDecayIsTheIdentity) {
  EXPECT_EQ(LogAdd2(kNoDecay, 3.5), 3.5);
  EXPECT_EQ(LogAdd2(3.5, kNoDecay), 3.5);
  EXPECT_EQ(LogAdd2(kNoDecay, kNoDecay), kNoDecay);
}

TEST(LogAdd2Test, AddsInLinearSpace) {
  EXPECT_DOUBLE_EQ(LogAdd2(3, 3), 4);                         // 8 + 8 = 16
  EXPECT_DOUBLE_EQ(LogAdd2(0, 1), std::log2(3.0));            // 1 + 2 = 3
  EXPECT_DOUBLE_EQ(LogAdd2(10, 0), std::log2(1024.0 + 1.0));  // 1024 + 1
  EXPECT_DOUBLE_EQ(LogAdd2(1, 0), LogAdd2(0, 1));
}

TEST(LogAdd2Test, DoesNotOverflowForHugeExponents) {
  // 2^5000 overflows a double; the log-add must not.
  const double v = LogAdd2(5000, 5000);
  EXPECT_TRUE(std::isfinite(v));
  EXPECT_DOUBLE_EQ(v, 5001);
  EXPECT_DOUBLE_EQ(LogAdd2(5000, -5000), 5000);  // the small side vanishes
}

// ---------------------------------------------------------------- DecayedCount

TEST(DecayedCountTest, NoErrorsCountZero) { EXPECT_EQ(DecayedCount(kNoDecay, kT0, kHalfLife), 0); }

TEST(DecayedCountTest, AnErrorCountsOneWhenNewAndHalfAfterOneHalfLife) {
  const double d = DecayTerm(kT0, kHalfLife);
  EXPECT_NEAR(DecayedCount(d, kT0, kHalfLife), 1.0, 1e-9);
  EXPECT_NEAR(DecayedCount(d, kT0 + kHalfLife, kHalfLife), 0.5, 1e-9);
  EXPECT_NEAR(DecayedCount(d, kT0 + 2 * kHalfLife, kHalfLife), 0.25, 1e-9);
  EXPECT_NEAR(DecayedCount(d, kT0 + kHalfLife / 2, kHalfLife), std::sqrt(0.5), 1e-9);
}

TEST(DecayedCountTest, ErrorsAddUp) {
  ErrorDelta d;
  d.Add(kT0, kHalfLife);
  d.Add(kT0, kHalfLife);
  d.Add(kT0 - kHalfLife, kHalfLife);
  EXPECT_NEAR(DecayedCount(d.decay_log2, kT0, kHalfLife), 2.5, 1e-9);
  EXPECT_NEAR(DecayedCount(d.decay_log2, kT0 + kHalfLife, kHalfLife), 1.25, 1e-9);
}

TEST(DecayedCountTest, HalfLifeIsAParameter) {
  ErrorDelta d;
  d.Add(kT0, 7 * kDay);
  EXPECT_NEAR(DecayedCount(d.decay_log2, kT0 + 7 * kDay, 7 * kDay), 0.5, 1e-9);
  EXPECT_NEAR(DecayedCount(d.decay_log2, kT0 + 14 * kDay, 7 * kDay), 0.25, 1e-9);
}

// A half-life of 0 is a caller's bug (the CLI refuses it): debug builds stop at
// the assert; release builds take 1 us, so the sums stay finite, not inf/NaN
// (which is not JSON).
TEST(DecayedCountTest, AZeroHalfLifeNeverDivides) {
  double term = 0, count = 0;
  EXPECT_DEBUG_DEATH(term = DecayTerm(kT0, 0), "half_life");
  EXPECT_DEBUG_DEATH(count = DecayedCount(DecayTerm(kT0, 1), kT0, 0), "half_life");
#ifdef NDEBUG
  EXPECT_TRUE(std::isfinite(term)) << term;
  EXPECT_EQ(term, DecayTerm(kT0, 1));
  EXPECT_EQ(count, 1);
  EXPECT_TRUE(std::isfinite(DecayTerm(kT0, -5)));
#endif
}

TEST(RecentScoreTest, ATimeBeforeTheLastErrorCountsEachErrorAtMostOnce) {
  ErrorDelta d;
  d.Add(kT0, kHalfLife);
  d.Add(kT0 - kHalfLife, kHalfLife);
  ErrorPoint p;
  p.count = d.count;
  p.last_seen = d.last_seen;
  p.decay_log2 = d.decay_log2;
  EXPECT_NEAR(RecentScore(p, kT0 + kHalfLife, kHalfLife), 0.75, 1e-9);
  // Before the last error, the score is the one at it; 60 years before, it
  // was 2^1564 (Infinity) and made the answer invalid JSON.
  EXPECT_NEAR(RecentScore(p, kT0, kHalfLife), 1.5, 1e-9);
  EXPECT_NEAR(RecentScore(p, kT0 - kDay, kHalfLife), 1.5, 1e-9);
  EXPECT_NEAR(RecentScore(p, 0, kHalfLife), 1.5, 1e-9);
  EXPECT_EQ(RecentScore(ErrorPoint{}, 0, kHalfLife), 0);
}

// ---------------------------------------------------------------- ErrorDelta

std::vector<Micros> SomeTimes() {
  return {kT0 - 40 * kDay, kT0 - 3 * kDay,  kT0,           kT0 - 17 * kDay + 12345,
          kT0 - kDay,      kT0 - 90 * kDay, kT0 - 3 * kDay};
}

TEST(ErrorDeltaTest, AddTracksCountFirstAndLastSeen) {
  ErrorDelta d;
  for (Micros t : SomeTimes()) d.Add(t, kHalfLife);
  EXPECT_EQ(d.count, 7);
  EXPECT_EQ(d.first_seen, kT0 - 90 * kDay);
  EXPECT_EQ(d.last_seen, kT0);
  double expected = 0;
  for (Micros t : SomeTimes()) expected += std::exp2(-static_cast<double>(kT0 - t) / kHalfLife);
  EXPECT_NEAR(DecayedCount(d.decay_log2, kT0, kHalfLife), expected, 1e-9);
}

TEST(ErrorDeltaTest, MergingInAnyOrderGivesTheSameResult) {
  const std::vector<Micros> times = SomeTimes();
  ErrorDelta all;
  for (Micros t : times) all.Add(t, kHalfLife);

  std::mt19937 rng(42);
  for (int trial = 0; trial < 50; ++trial) {
    // Split the errors at random into up to 4 deltas, then merge them in a random order.
    std::vector<ErrorDelta> parts(4);
    std::vector<Micros> shuffled = times;
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    for (Micros t : shuffled) parts[rng() % parts.size()].Add(t, kHalfLife);
    std::shuffle(parts.begin(), parts.end(), rng);
    ErrorDelta merged;
    for (const auto& p : parts) merged.Merge(p);
    EXPECT_EQ(merged.count, all.count);
    EXPECT_EQ(merged.first_seen, all.first_seen);
    EXPECT_EQ(merged.last_seen, all.last_seen);
    EXPECT_NEAR(merged.decay_log2, all.decay_log2, 1e-9);
    EXPECT_NEAR(DecayedCount(merged.decay_log2, kT0, kHalfLife),
                DecayedCount(all.decay_log2, kT0, kHalfLife), 1e-9);
  }
}

TEST(ErrorDeltaTest, MergingAnEmptyDeltaChangesNothing) {
  ErrorDelta d;
  d.Add(kT0, kHalfLife);
  const ErrorDelta before = d;
  d.Merge(ErrorDelta{});
  EXPECT_EQ(d.count, before.count);
  EXPECT_EQ(d.first_seen, before.first_seen);
  EXPECT_EQ(d.last_seen, before.last_seen);
  EXPECT_EQ(d.decay_log2, before.decay_log2);

  ErrorDelta empty;
  empty.Merge(before);  // into an empty delta: takes the other's times, not 0
  EXPECT_EQ(empty.count, 1);
  EXPECT_EQ(empty.first_seen, kT0);
  EXPECT_EQ(empty.last_seen, kT0);
}

// ---------------------------------------------------------------- DeltaSet

ErrorRecord Err(const std::string& sub, Micros at) {
  ErrorRecord e;
  e.subcategory_id = sub;
  e.category = "Grammar";
  e.subcategory = sub + " name";
  e.created_at = at;
  return e;
}

TEST(DeltaSetTest, MergesPerUserAndSubcategory) {
  DeltaSet set(kHalfLife);
  EXPECT_TRUE(set.empty());
  set.Add("u1", Err("verb-tense", kT0));
  set.Add("u1", Err("verb-tense", kT0 - kDay));
  set.Add("u1", Err("prepositions", kT0));
  set.Add("u2", Err("verb-tense", kT0));
  ASSERT_EQ(set.size(), 3u);
  const auto& d = set.deltas();
  EXPECT_EQ(d[0].user_id, "u1");
  EXPECT_EQ(d[0].subcategory_id, "verb-tense");
  EXPECT_EQ(d[0].subcategory, "verb-tense name");
  EXPECT_EQ(d[0].category, "Grammar");
  EXPECT_EQ(d[0].count, 2);
  EXPECT_EQ(d[0].first_seen, kT0 - kDay);
  EXPECT_EQ(d[0].last_seen, kT0);
  EXPECT_EQ(d[1].subcategory_id, "prepositions");
  EXPECT_EQ(d[1].count, 1);
  EXPECT_EQ(d[2].user_id, "u2");
  EXPECT_EQ(d[2].count, 1);
  set.clear();
  EXPECT_TRUE(set.empty());
  set.Add("u1", Err("verb-tense", kT0));
  EXPECT_EQ(set.deltas()[0].count, 1);  // the index was cleared too
}

TEST(DeltaSetTest, KeysDoNotCollideAcrossTheSeparator) {
  DeltaSet set(kHalfLife);
  set.Add("ab", Err("c", kT0));
  set.Add("a", Err("bc", kT0));
  EXPECT_EQ(set.size(), 2u);
}

TEST(DeltaSetTest, AddAllAddsEveryErrorOfAnUtterance) {
  Utterance u;
  u.user_id = "u1";
  u.errors = {Err("verb-tense", kT0), Err("verb-tense", kT0), Err("spelling", kT0)};
  DeltaSet set(kHalfLife);
  set.AddAll(u);
  ASSERT_EQ(set.size(), 2u);
  EXPECT_EQ(set.deltas()[0].count, 2);
  EXPECT_EQ(set.deltas()[1].count, 1);
  EXPECT_NEAR(DecayedCount(set.deltas()[0].decay_log2, kT0, kHalfLife), 2.0, 1e-9);
}

// ---------------------------------------------------------------- Profile

ErrorDelta Delta(const std::string& sub, std::vector<Micros> times) {
  ErrorDelta d{"u1", sub, "Grammar", sub + " name"};
  for (Micros t : times) d.Add(t, kHalfLife);
  return d;
}

TEST(ProfileTest, ApplyCreatesAndAccumulatesPoints) {
  Profile p;
  p.Apply(Delta("verb-tense", {kT0 - 5 * kDay, kT0 - 2 * kDay}));
  ASSERT_EQ(p.points.size(), 1u);
  const ErrorPoint* vt = p.Find("verb-tense");
  ASSERT_NE(vt, nullptr);
  EXPECT_EQ(vt->category(), "Grammar");
  EXPECT_EQ(vt->subcategory(), "verb-tense name");
  EXPECT_EQ(vt->count, 2);

  p.Apply(Delta("verb-tense", {kT0, kT0 - 9 * kDay}));
  ASSERT_EQ(p.points.size(), 1u);
  vt = p.Find("verb-tense");
  EXPECT_EQ(vt->count, 4);
  EXPECT_EQ(vt->first_seen, kT0 - 9 * kDay);
  EXPECT_EQ(vt->last_seen, kT0);
  const double expected = std::exp2(-5.0 / 14) + std::exp2(-2.0 / 14) + 1 + std::exp2(-9.0 / 14);
  EXPECT_NEAR(DecayedCount(vt->decay_log2, kT0, kHalfLife), expected, 1e-9);

  p.Apply(Delta("spelling", {kT0}));
  EXPECT_EQ(p.points.size(), 2u);
  EXPECT_EQ(p.TotalErrors(), 5);
  EXPECT_EQ(p.Find("nope"), nullptr);
}

// As of a time before the newest errors: the counts are the window's, the
// memory, examples before as_of and correct answers the learner's now.
TEST(ProfileAsOfTest, TakesTheWindowsCountsAndTheLearnersState) {
  Profile full;
  full.user_known = true;
  full.Apply(Delta("verb-tense", {kT0 - 10 * kDay, kT0}));
  full.Apply(Delta("articles", {kT0}));
  full.points[0].memory = MemoryState{.stability_days = 3, .reviews = 1};
  full.AddExamples({Example{.error_id = "e1", .subcategory_id = "verb-tense", .created_at = kT0},
                    Example{.error_id = "e0", .subcategory_id = "verb-tense",
                            .created_at = kT0 - 10 * kDay}});
  full.AddRecentCorrect({"x1", kT0});
  EXPECT_EQ(NewestError(full), kT0);
  EXPECT_EQ(NewestError(Profile{}), 0);

  Profile window;
  window.Apply(Delta("verb-tense", {kT0 - 10 * kDay}));
  const Profile at = ProfileAsOf(full, window, kT0 - kDay);
  EXPECT_TRUE(at.user_known);
  ASSERT_EQ(at.points.size(), 1u);
  EXPECT_EQ(at.points[0].count, 1);
  EXPECT_EQ(at.points[0].last_seen, kT0 - 10 * kDay);
  EXPECT_EQ(at.points[0].memory->reviews, 1);
  ASSERT_EQ(at.examples.size(), 1u);
  EXPECT_EQ(at.examples[0].error_id, "e0");
  ASSERT_EQ(at.recent_correct.size(), 1u);
  EXPECT_EQ(NewestError(at), kT0 - 10 * kDay);
}

TEST(MemoryBoxTest, IsAValue) {
  MemoryBox a;
  EXPECT_EQ(a.get(), MemoryState{});
  a = MemoryState{.stability_days = 3, .reviews = 2};
  MemoryBox b = a;
  b = MemoryState{.stability_days = 9, .reviews = 5};
  EXPECT_EQ(a->stability_days, 3);  // the copy was deep
  EXPECT_EQ(a->reviews, 2);
  EXPECT_EQ(b->stability_days, 9);
  a = b;
  EXPECT_EQ(a->reviews, 5);
  a = MemoryState{};  // back to the default
  EXPECT_EQ(a.get(), MemoryState{});
  EXPECT_EQ(b->reviews, 5);
}

// The layout the cache's memory budget rests on (docs/profile-memory.md).
TEST(ProfileTest, APointIsSixWords) { EXPECT_EQ(sizeof(ErrorPoint), 48u); }

TEST(ProfileTest, MemoryBytesCountsWhatTheProfileOwns) {
  Profile p;
  EXPECT_EQ(p.MemoryBytes(), sizeof(Profile));
  p.Apply(Delta("verb-tense", {kT0}));
  p.Apply(Delta("articles", {kT0}));
  p.ShrinkToFit();
  const size_t two_points = p.MemoryBytes();
  EXPECT_EQ(two_points, sizeof(Profile) + 2 * sizeof(ErrorPoint));  // names are shared
  p.Find("articles")->memory = MemoryState{.stability_days = 2, .reviews = 1};
  EXPECT_EQ(p.MemoryBytes(), two_points + sizeof(MemoryState));
  const std::string content(1000, 'x');
  p.AddExamples({Example{"e1", "articles", content, "a", "an", 0, 1, kT0}});
  p.ShrinkToFit();
  EXPECT_GE(p.MemoryBytes(), two_points + sizeof(MemoryState) + sizeof(Example) + 1000);
  EXPECT_LT(p.MemoryBytes(), two_points + sizeof(MemoryState) + sizeof(Example) + 1100);
}

TEST(ProfileTest, ApplyLeavesMemoryAlone) {
  Profile p;
  p.Apply(Delta("verb-tense", {kT0}));
  p.Find("verb-tense")->memory = MemoryState{.stability_days = 7, .reviews = 3};
  p.Apply(Delta("verb-tense", {kT0 + kDay}));
  EXPECT_EQ(p.Find("verb-tense")->memory->stability_days, 7);
  EXPECT_EQ(p.Find("verb-tense")->memory->reviews, 3);
}

TEST(ProfileTest, ApplyingDeltasInAnyOrderGivesTheSameProfile) {
  const std::vector<ErrorDelta> deltas = {Delta("a", {kT0 - 3 * kDay}), Delta("a", {kT0, kT0}),
                                          Delta("a", {kT0 - 30 * kDay}), Delta("b", {kT0 - kDay})};
  std::vector<size_t> order(deltas.size());
  std::iota(order.begin(), order.end(), 0);
  Profile reference;
  for (const auto& d : deltas) reference.Apply(d);
  do {
    Profile p;
    for (size_t i : order) p.Apply(deltas[i]);
    for (const char* sub : {"a", "b"}) {
      const ErrorPoint* got = p.Find(sub);
      const ErrorPoint* want = reference.Find(sub);
      ASSERT_NE(got, nullptr);
      EXPECT_EQ(got->count, want->count);
      EXPECT_EQ(got->first_seen, want->first_seen);
      EXPECT_EQ(got->last_seen, want->last_seen);
      EXPECT_NEAR(got->decay_log2, want->decay_log2, 1e-9);
    }
  } while (std::next_permutation(order.begin(), order.end()));
}

TEST(ProfileTest, ApplyOfAnEmptyDeltaOnANewPointKeepsItsTimesUnset) {
  Profile p;
  p.Apply(ErrorDelta{"u1", "a", "Grammar", "A"});
  ASSERT_NE(p.Find("a"), nullptr);
  EXPECT_EQ(p.Find("a")->count, 0);
  p.Apply(Delta("a", {kT0 - kDay}));
  EXPECT_EQ(p.Find("a")->first_seen, kT0 - kDay);  // not min(0, ...)
  EXPECT_EQ(p.Find("a")->last_seen, kT0 - kDay);
}

// ---------------------------------------------------------------- ordering

ErrorPoint Point(const std::string& name, int64_t count, Micros last_seen) {
  ErrorPoint p;
  p.names = PointNames(name, "", name);
  p.count = count;
  p.last_seen = last_seen;
  return p;
}

TEST(FrequencyOrderTest, CountThenLastSeenThenName) {
  // Higher count first, whatever the recency.
  EXPECT_TRUE(FrequencyOrder(Point("z", 5, kT0 - 99 * kDay), Point("a", 4, kT0)));
  EXPECT_FALSE(FrequencyOrder(Point("a", 4, kT0), Point("z", 5, kT0 - 99 * kDay)));
  // Equal count: more recent first.
  EXPECT_TRUE(FrequencyOrder(Point("z", 3, kT0), Point("a", 3, kT0 - 1)));
  EXPECT_FALSE(FrequencyOrder(Point("a", 3, kT0 - 1), Point("z", 3, kT0)));
  // Equal count and time: by name.
  EXPECT_TRUE(FrequencyOrder(Point("Articles", 3, kT0), Point("Spelling", 3, kT0)));
  EXPECT_FALSE(FrequencyOrder(Point("Spelling", 3, kT0), Point("Articles", 3, kT0)));
  // Irreflexive.
  EXPECT_FALSE(FrequencyOrder(Point("a", 3, kT0), Point("a", 3, kT0)));
}

// Display names are not unique ("Phrasal verbs" under Grammar and under
// Vocabulary), so the id ends the order: the same points give the same order
// whichever order the profile holds them in (a cache's and a load's differ).
TEST(FrequencyOrderTest, TheIdBreaksATieOfNames) {
  auto point = [](const std::string& id) {
    ErrorPoint p;
    p.names = PointNames(id, "", "Phrasal verbs");
    p.count = 3;
    p.last_seen = kT0;
    return p;
  };
  const ErrorPoint g = point("grammar.phrasal-verbs"), v = point("vocabulary.phrasal-verbs");
  EXPECT_TRUE(FrequencyOrder(g, v));
  EXPECT_FALSE(FrequencyOrder(v, g));
  for (bool flip : {false, true}) {
    Profile p;
    p.points.push_back(point(flip ? "vocabulary.phrasal-verbs" : "grammar.phrasal-verbs"));
    p.points.push_back(point(flip ? "grammar.phrasal-verbs" : "vocabulary.phrasal-verbs"));
    const auto top = TopByFrequency(p, 2);
    ASSERT_EQ(top.size(), 2u);
    EXPECT_EQ(top[0]->subcategory_id(), "grammar.phrasal-verbs") << "flip " << flip;
  }
}

TEST(TopByFrequencyTest, OrdersAndTruncatesAndSkipsZeroCounts) {
  Profile p;
  p.points = {Point("c", 2, kT0), Point("zero", 0, kT0 + kDay), Point("a", 5, kT0 - kDay),
              Point("b", 2, kT0 + 1), Point("d", 2, kT0)};
  auto names = [](const std::vector<const ErrorPoint*>& v) {
    std::vector<std::string> out;
    for (const auto* e : v) out.push_back(e->subcategory_id());
    return out;
  };
  EXPECT_EQ(names(TopByFrequency(p, 10)), (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(names(TopByFrequency(p, 2)), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(TopByFrequency(p, 0).empty());
  EXPECT_TRUE(TopByFrequency(Profile{}, 5).empty());
}

// ---------------------------------------------------------------- examples

// prefix + i, built by appending (GCC 12 warns falsely on "literal" + std::string).
std::string Id(const char* prefix, int i) {
  std::string s = prefix;
  s += std::to_string(i);
  return s;
}

Example Ex(const std::string& id, Micros at) {
  Example e;
  e.error_id = id;
  e.created_at = at;
  return e;
}

TEST(ProfileExamplesTest, AddExamplesKeepsTheNewest30NewestFirst) {
  Profile p;
  std::vector<Example> batch;
  for (int i = 0; i < 40; ++i) batch.push_back(Ex(Id("e", i), kT0 + i * 1000));
  std::mt19937 rng(7);
  std::shuffle(batch.begin(), batch.end(), rng);
  p.AddExamples(batch);
  ASSERT_EQ(p.examples.size(), kMaxExamples);
  ASSERT_EQ(kMaxExamples, 30u);
  EXPECT_EQ(p.examples.front().error_id, "e39");
  EXPECT_EQ(p.examples.back().error_id, "e10");
  for (size_t i = 1; i < p.examples.size(); ++i) {
    EXPECT_GT(p.examples[i - 1].created_at, p.examples[i].created_at);
  }
}

TEST(ProfileExamplesTest, AddExamplesAcrossCallsMixesOldAndNew) {
  Profile p;
  std::vector<Example> old_ones, new_ones;
  for (int i = 0; i < 30; ++i) old_ones.push_back(Ex(Id("old", i), kT0 + i));
  p.AddExamples(old_ones);
  // Five newer and five older than everything kept.
  for (int i = 0; i < 5; ++i) new_ones.push_back(Ex(Id("new", i), kT0 + 100 + i));
  for (int i = 0; i < 5; ++i) new_ones.push_back(Ex(Id("ancient", i), kT0 - 100 - i));
  p.AddExamples(new_ones);
  ASSERT_EQ(p.examples.size(), 30u);
  EXPECT_EQ(p.examples.front().error_id, "new4");
  EXPECT_EQ(p.examples[5].error_id, "old29");
  EXPECT_EQ(p.examples.back().error_id, "old5");  // old0..old4 and every "ancient" dropped
  for (const auto& e : p.examples) EXPECT_EQ(e.error_id.find("ancient"), std::string::npos);
}

TEST(ProfileExamplesTest, AddExamplesBelowTheCapKeepsAll) {
  Profile p;
  p.AddExamples({Ex("b", kT0), Ex("a", kT0 + 1)});
  ASSERT_EQ(p.examples.size(), 2u);
  EXPECT_EQ(p.examples[0].error_id, "a");
  p.AddExamples({});
  EXPECT_EQ(p.examples.size(), 2u);
}

TEST(ProfileRecentCorrectTest, NewestFirstAndCapped) {
  Profile p;
  for (int i = 0; i < 120; ++i) p.AddRecentCorrect({Id("x-", i), kT0 + i});
  ASSERT_EQ(p.recent_correct.size(), kMaxRecentCorrect);
  EXPECT_EQ(p.recent_correct.front().exercise_id, "x-119");
  EXPECT_EQ(p.recent_correct.back().exercise_id, "x-20");
}

// What a store load returns of the examples written: created_at DESC, then
// error_id DESC, the first 30 (sqlite_store.cc, postgres_store.cc, the
// reverse key scan of rocksdb_store.cc).
std::vector<Example> LoadedExamples(std::vector<Example> written) {
  std::sort(written.begin(), written.end(), [](const Example& a, const Example& b) {
    return std::tie(a.created_at, a.error_id) > std::tie(b.created_at, b.error_id);
  });
  if (written.size() > kMaxExamples) written.resize(kMaxExamples);
  return written;
}

void ExpectSameExamples(const std::vector<Example>& got, const std::vector<Example>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].error_id, want[i].error_id) << "at " << i;
    EXPECT_EQ(got[i].created_at, want[i].created_at) << "at " << i;
  }
}

// An utterance's errors share its created_at, and their ids are UUIDv7 of
// that time: in the store they tie on time and sort by their random bits.
std::vector<Example> UtteranceExamples(Micros at, int errors) {
  std::vector<Example> out;
  for (int i = 0; i < errors; ++i) out.push_back(Ex(NewUuidV7(at), at));
  return out;
}

TEST(ProfileExamplesTest, TiesOnCreatedAtKeepTheStoresOrder) {
  std::mt19937 rng(11);
  for (int round = 0; round < 20; ++round) {
    Profile p;
    std::vector<Example> written;
    // Utterances of 1-4 errors, some at the same time as an earlier one.
    for (int u = 0; u < 12; ++u) {
      const Micros at = kT0 + static_cast<Micros>(rng() % 4) * 1000;
      std::vector<Example> batch = UtteranceExamples(at, 1 + static_cast<int>(rng() % 4));
      p.AddExamples(batch);
      written.insert(written.end(), batch.begin(), batch.end());
    }
    ExpectSameExamples(p.examples, LoadedExamples(written));
  }
}

TEST(ProfileExamplesTest, MoreThan30InOneUtteranceKeepTheStores30) {
  Profile p;
  const std::vector<Example> older = UtteranceExamples(kT0 - 1000, 5);
  p.AddExamples(older);
  const std::vector<Example> big = UtteranceExamples(kT0, 45);
  p.AddExamples(big);
  std::vector<Example> written = older;
  written.insert(written.end(), big.begin(), big.end());
  ExpectSameExamples(p.examples, LoadedExamples(written));
  // The next utterance pushes out the lowest ids of the big one, not its last.
  const std::vector<Example> next = UtteranceExamples(kT0 + 1000, 3);
  p.AddExamples(next);
  written.insert(written.end(), next.begin(), next.end());
  ExpectSameExamples(p.examples, LoadedExamples(written));
}

// What a store load returns of the correct answers written: answered_at DESC,
// the first 100 (the times here are distinct: a tie is broken by attempt id,
// which RecentCorrect does not hold).
std::vector<RecentCorrect> LoadedRecentCorrect(std::vector<RecentCorrect> written) {
  std::stable_sort(
      written.begin(), written.end(),
      [](const RecentCorrect& a, const RecentCorrect& b) { return a.answered_at > b.answered_at; });
  if (written.size() > kMaxRecentCorrect) written.resize(kMaxRecentCorrect);
  return written;
}

void ExpectSameRecent(const std::vector<RecentCorrect>& got,
                      const std::vector<RecentCorrect>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].exercise_id, want[i].exercise_id) << "at " << i;
    EXPECT_EQ(got[i].answered_at, want[i].answered_at) << "at " << i;
  }
}

TEST(ProfileRecentCorrectTest, ABackDatedAnswerGoesWhereItsTimePutsIt) {
  Profile p;
  std::vector<RecentCorrect> written;
  auto answer = [&](const RecentCorrect& rc) {
    p.AddRecentCorrect(rc);
    written.push_back(rc);
    ExpectSameRecent(p.recent_correct, LoadedRecentCorrect(written));
  };
  answer({"early", kT0});
  for (int i = 0; i < 110; ++i) answer({Id("x-", i), kT0 + (i + 1) * kDay});
  // Older than all 100 kept: the store keeps it out.
  answer({"older-than-all", kT0 + kDay / 2});
  // Between kept answers: it goes in its place, and the oldest goes.
  answer({"in-the-middle", kT0 + 50 * kDay + 1});
  EXPECT_EQ(p.recent_correct.back().exercise_id, "x-11");
  // Newer than all: first.
  answer({"newest", kT0 + 200 * kDay});
  EXPECT_EQ(p.recent_correct.front().exercise_id, "newest");
}

TEST(ProfileRecentCorrectTest, AnswersInAnyOrderKeepTheStoresHundred) {
  std::mt19937 rng(5);
  for (int round = 0; round < 20; ++round) {
    Profile p;
    std::vector<RecentCorrect> written;
    std::vector<Micros> times(150);
    std::iota(times.begin(), times.end(), kT0);
    std::shuffle(times.begin(), times.end(), rng);
    for (size_t i = 0; i < times.size(); ++i) {
      const RecentCorrect rc{Id("x-", static_cast<int>(i)), times[i]};
      p.AddRecentCorrect(rc);
      written.push_back(rc);
    }
    ExpectSameRecent(p.recent_correct, LoadedRecentCorrect(written));
  }
}

}  // namespace
}  // namespace errata
