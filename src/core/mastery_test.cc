#include "core/mastery.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace errata {
namespace {

constexpr Micros kDay = kMicrosPerDay;
constexpr Micros kMinute = 60 * kMicrosPerSecond;
constexpr Micros kT0 = 1795463657LL * kMicrosPerSecond;  // 2026-11-23T19:54:17Z

// FSRS-4.5's forgetting curve, written out independently.
double Curve(double days, double stability) {
  return std::pow(1 + 19.0 / 81.0 * days / stability, -0.5);
}

MemoryState Reviewed(const std::vector<std::pair<Micros, bool>>& attempts) {
  MemoryState m;
  for (auto [at, correct] : attempts) m = AfterAttempt(m, correct, at);
  return m;
}

void ExpectSameState(const MemoryState& a, const MemoryState& b) {
  EXPECT_EQ(a.stability_days, b.stability_days);
  EXPECT_EQ(a.difficulty, b.difficulty);
  EXPECT_EQ(a.last_review, b.last_review);
  EXPECT_EQ(a.reviews, b.reviews);
  EXPECT_EQ(a.lapses, b.lapses);
  EXPECT_EQ(a.last_correct, b.last_correct);
  EXPECT_EQ(a.last_lapse, b.last_lapse);
}

// ---------------------------------------------------------------- Retrievability

TEST(RetrievabilityTest, NeverPractisedIsZero) {
  EXPECT_EQ(Retrievability(MemoryState{}, kT0), 0);
  EXPECT_EQ(Retrievability(MemoryState{}, 0), 0);
}

TEST(RetrievabilityTest, IsOneAtReviewAndPointNineAtStability) {
  MemoryState m;
  m.stability_days = 4;
  m.last_review = kT0;
  EXPECT_DOUBLE_EQ(Retrievability(m, kT0), 1.0);
  EXPECT_NEAR(Retrievability(m, kT0 + 4 * kDay), 0.9, 1e-12);
  m.stability_days = 37.5;
  EXPECT_NEAR(Retrievability(m, kT0 + static_cast<Micros>(37.5 * kDay)), 0.9, 1e-12);
}

TEST(RetrievabilityTest, FollowsThePowerLawCurve) {
  MemoryState m;
  m.stability_days = 3;
  m.last_review = kT0;
  for (double days : {0.5, 1.0, 3.0, 10.0, 100.0}) {
    EXPECT_NEAR(Retrievability(m, kT0 + static_cast<Micros>(days * kDay)), Curve(days, 3), 1e-9)
        << days;
  }
  // Decreasing in time, never below zero.
  double last = 2;
  for (int d = 0; d < 400; d += 7) {
    const double r = Retrievability(m, kT0 + d * kDay);
    EXPECT_LT(r, last);
    EXPECT_GT(r, 0);
    last = r;
  }
}

TEST(RetrievabilityTest, TimeBeforeTheLastReviewCountsAsZeroElapsed) {
  MemoryState m;
  m.stability_days = 3;
  m.last_review = kT0;
  EXPECT_DOUBLE_EQ(Retrievability(m, kT0 - 5 * kDay), 1.0);
}

// ---------------------------------------------------------------- AfterAttempt

TEST(AfterAttemptTest, FirstReviewSetsStability) {
  const MemoryState good = AfterAttempt(MemoryState{}, true, kT0);
  const MemoryState again = AfterAttempt(MemoryState{}, false, kT0);
  EXPECT_GT(good.stability_days, 0);
  EXPECT_GT(again.stability_days, 0);
  EXPECT_GT(good.stability_days, again.stability_days);  // a first success holds longer
  EXPECT_GT(again.difficulty, good.difficulty);
  EXPECT_EQ(good.reviews, 1);
  EXPECT_EQ(good.lapses, 0);
  EXPECT_EQ(good.last_correct, kT0);
  EXPECT_EQ(good.last_review, kT0);
  EXPECT_EQ(again.reviews, 1);
  EXPECT_EQ(again.lapses, 1);
  EXPECT_EQ(again.last_correct, 0);
  EXPECT_EQ(again.last_review, kT0);
  EXPECT_DOUBLE_EQ(Retrievability(good, kT0), 1.0);
}

TEST(AfterAttemptTest, SpacedCorrectAnswersGrowStabilityMoreThanMassedOnes) {
  const MemoryState massed = Reviewed({{kT0, true},
                                       {kT0 + 1 * kMinute, true},
                                       {kT0 + 2 * kMinute, true},
                                       {kT0 + 3 * kMinute, true}});
  const MemoryState spaced = Reviewed(
      {{kT0, true}, {kT0 + 3 * kDay, true}, {kT0 + 10 * kDay, true}, {kT0 + 30 * kDay, true}});
  const MemoryState once = Reviewed({{kT0, true}});
  EXPECT_EQ(massed.reviews, 4);
  EXPECT_EQ(spaced.reviews, 4);
  EXPECT_GT(spaced.stability_days, 2 * massed.stability_days)
      << "spaced " << spaced.stability_days << " massed " << massed.stability_days;
  // Massed repetition barely adds anything over a single review.
  EXPECT_LT(massed.stability_days, once.stability_days * 1.1);
  // Spacing keeps growing stability at every step.
  double s = 0;
  MemoryState m;
  for (Micros at : {kT0, kT0 + 3 * kDay, kT0 + 10 * kDay, kT0 + 30 * kDay}) {
    m = AfterAttempt(m, true, at);
    EXPECT_GT(m.stability_days, s);
    s = m.stability_days;
  }
}

TEST(AfterAttemptTest, ALaterSuccessGrowsStabilityMoreThanAnEarlyOne) {
  const MemoryState base = Reviewed({{kT0, true}});
  const MemoryState early = AfterAttempt(base, true, kT0 + 1 * kDay);
  const MemoryState late = AfterAttempt(base, true, kT0 + 6 * kDay);
  EXPECT_GT(late.stability_days, early.stability_days);
  EXPECT_GT(early.stability_days, base.stability_days);
}

TEST(AfterAttemptTest, FailuresLowerStabilityAndRaiseDifficulty) {
  const MemoryState strong =
      Reviewed({{kT0, true}, {kT0 + 4 * kDay, true}, {kT0 + 15 * kDay, true}});
  const MemoryState failed = AfterAttempt(strong, false, kT0 + 40 * kDay);
  EXPECT_LT(failed.stability_days, strong.stability_days);
  EXPECT_GT(failed.difficulty, strong.difficulty);
  EXPECT_EQ(failed.lapses, strong.lapses + 1);
  EXPECT_EQ(failed.reviews, strong.reviews + 1);
  EXPECT_EQ(failed.last_review, kT0 + 40 * kDay);
  EXPECT_EQ(failed.last_correct, strong.last_correct);  // a failure is not a correct answer
  // Right after the failure recall is 1 again (the learner just saw the answer), but it
  // falls faster than before the failure.
  EXPECT_LT(Retrievability(failed, kT0 + 45 * kDay), Retrievability(strong, kT0 + 20 * kDay));
}

TEST(AfterAttemptTest, RepeatedFailuresNeverRaiseStabilityAndStayPositive) {
  MemoryState m = Reviewed({{kT0, true}, {kT0 + 5 * kDay, true}});
  for (int i = 1; i <= 20; ++i) {
    const MemoryState next = AfterAttempt(m, false, kT0 + (5 + i) * kDay);
    EXPECT_LE(next.stability_days, m.stability_days);
    EXPECT_GT(next.stability_days, 0);
    m = next;
  }
  EXPECT_LE(m.difficulty, 10);
  EXPECT_DOUBLE_EQ(m.difficulty, 10);  // clamped
}

TEST(AfterAttemptTest, DifficultyIsClampedBelow) {
  MemoryState m;
  Micros at = kT0;
  for (int i = 0; i < 30; ++i) {
    m = AfterAttempt(m, true, at);
    at += 2 * kDay;
  }
  EXPECT_GE(m.difficulty, 1);
  EXPECT_DOUBLE_EQ(m.difficulty, 1);
}

TEST(AfterAttemptTest, AnAttemptOlderThanTheLastReviewCountsAtTheLastReview) {
  const MemoryState base = Reviewed({{kT0, true}, {kT0 + 5 * kDay, true}});
  const MemoryState late = AfterAttempt(base, true, kT0 + 1 * kDay);  // arrives out of order
  EXPECT_EQ(late.last_review, kT0 + 5 * kDay);                        // the clock does not go back
  EXPECT_EQ(late.last_correct, kT0 + 5 * kDay);
  ExpectSameState(late, AfterAttempt(base, true, kT0 + 5 * kDay));
}

// ---------------------------------------------------------------- WithLapses

TEST(WithLapsesTest, ANeverPractisedPointStaysNew) {
  const MemoryState m = WithLapses(MemoryState{}, kT0);
  ExpectSameState(m, MemoryState{});
  EXPECT_EQ(Retrievability(m, kT0 + kDay), 0);
}

TEST(WithLapsesTest, AnErrorBeforeTheLastReviewChangesNothing) {
  const MemoryState m = Reviewed({{kT0, true}, {kT0 + 3 * kDay, true}});
  ExpectSameState(WithLapses(m, kT0 + 2 * kDay), m);
  ExpectSameState(WithLapses(m, kT0 + 3 * kDay), m);  // at the same instant: not after
  ExpectSameState(WithLapses(m, 0), m);
}

TEST(WithLapsesTest, AnErrorAfterTheLastReviewLowersRecallAtOnce) {
  const MemoryState m = Reviewed({{kT0, true}, {kT0 + 3 * kDay, true}, {kT0 + 10 * kDay, true}});
  const Micros error_at = kT0 + 12 * kDay;
  const MemoryState lapsed = WithLapses(m, error_at);
  EXPECT_LT(lapsed.stability_days, m.stability_days);
  EXPECT_GT(lapsed.difficulty, m.difficulty);
  EXPECT_EQ(lapsed.lapses, m.lapses + 1);
  EXPECT_EQ(lapsed.last_lapse, error_at);
  // Not a practice session: the review clock and counters stay.
  EXPECT_EQ(lapsed.last_review, m.last_review);
  EXPECT_EQ(lapsed.reviews, m.reviews);
  EXPECT_EQ(lapsed.last_correct, m.last_correct);
  // So recall at the moment of the error is already lower.
  const double before = Retrievability(m, error_at);
  const double after = Retrievability(lapsed, error_at);
  EXPECT_LT(after, before);
  // And it keeps falling faster than without the lapse.
  EXPECT_LT(Retrievability(lapsed, error_at + 10 * kDay) / Retrievability(m, error_at + 10 * kDay),
            after / before);
}

TEST(WithLapsesTest, IsIdempotent) {
  const MemoryState m = Reviewed({{kT0, true}, {kT0 + 4 * kDay, true}});
  const Micros error_at = kT0 + 9 * kDay;
  const MemoryState once = WithLapses(m, error_at);
  const MemoryState twice = WithLapses(once, error_at);
  ExpectSameState(twice, once);
  // An older error folded after a newer one changes nothing either.
  ExpectSameState(WithLapses(once, kT0 + 5 * kDay), once);
}

TEST(WithLapsesTest, ALaterErrorIsAnotherLapse) {
  const MemoryState m = Reviewed({{kT0, true}, {kT0 + 4 * kDay, true}});
  const MemoryState first = WithLapses(m, kT0 + 9 * kDay);
  const MemoryState second = WithLapses(first, kT0 + 11 * kDay);
  EXPECT_EQ(second.lapses, first.lapses + 1);
  EXPECT_EQ(second.last_lapse, kT0 + 11 * kDay);
  EXPECT_LE(second.stability_days, first.stability_days);
}

TEST(WithLapsesTest, PracticeAfterALapseIsAReviewAgain) {
  const MemoryState m = Reviewed({{kT0, true}, {kT0 + 4 * kDay, true}});
  const MemoryState lapsed = WithLapses(m, kT0 + 9 * kDay);
  const MemoryState practised = AfterAttempt(lapsed, true, kT0 + 10 * kDay);
  EXPECT_EQ(practised.last_review, kT0 + 10 * kDay);
  EXPECT_GT(practised.stability_days, lapsed.stability_days);
  // The same error, folded again after the practice, is not a new lapse.
  ExpectSameState(WithLapses(practised, kT0 + 9 * kDay), practised);
}

// ---------------------------------------------------------------- Mastery

TEST(MasteryTest, IsRetrievabilityAfterLapses) {
  ErrorPoint p;
  p.count = 3;
  p.last_seen = kT0 - 20 * kDay;
  EXPECT_EQ(Mastery(p, kT0), 0);  // never practised

  p.memory = Reviewed({{kT0 - 15 * kDay, true}, {kT0 - 10 * kDay, true}});
  const Micros now = kT0;
  EXPECT_DOUBLE_EQ(Mastery(p, now), Retrievability(p.memory, now));  // error before practice

  p.last_seen = kT0 - 2 * kDay;  // an error after the practice: a lapse
  EXPECT_DOUBLE_EQ(Mastery(p, now), Retrievability(WithLapses(p.memory, p.last_seen), now));
  EXPECT_LT(Mastery(p, now), Retrievability(p.memory, now));
}

// An as_of before the point's only practice: it was not practised yet.
TEST(MasteryTest, BeforeTheFirstPracticeIsZero) {
  ErrorPoint p;
  p.count = 2;
  p.first_seen = kT0 - 40 * kDay;
  p.last_seen = kT0 - 30 * kDay;
  p.memory = Reviewed({{kT0 - 10 * kDay, true}});
  EXPECT_EQ(Mastery(p, kT0 - 20 * kDay), 0);
  EXPECT_EQ(Mastery(p, kT0 - 10 * kDay - 1), 0);
  EXPECT_DOUBLE_EQ(Mastery(p, kT0 - 10 * kDay), 1.0);  // answered at that instant
}

// The state keeps only its latest review. Before it, the latest review known
// to be no later than as_of is a correct answer at last_correct (the later ones
// failed), counted with the stored, lowered, stability; if none is known, 0.
TEST(MasteryTest, BeforeTheLastPracticeCountsOnlyPracticeKnownToPrecede) {
  ErrorPoint p;
  p.count = 1;
  p.first_seen = p.last_seen = kT0 - 60 * kDay;
  p.memory = Reviewed({{kT0 - 20 * kDay, true}, {kT0 - 12 * kDay, true}, {kT0 - 5 * kDay, false}});
  ASSERT_EQ(p.memory->last_correct, kT0 - 12 * kDay);
  const double s = p.memory->stability_days;
  EXPECT_NEAR(Mastery(p, kT0 - 8 * kDay), Curve(4, s), 1e-12);
  EXPECT_LT(Mastery(p, kT0 - 8 * kDay), 1);
  // Before last_correct the state tells nothing known to precede as_of.
  EXPECT_EQ(Mastery(p, kT0 - 15 * kDay), 0);
  // The last review correct: nothing earlier is known.
  p.memory = Reviewed({{kT0 - 20 * kDay, true}, {kT0 - 5 * kDay, true}});
  EXPECT_EQ(Mastery(p, kT0 - 8 * kDay), 0);
  EXPECT_GT(Mastery(p, kT0), 0.9);
}

// An error after as_of has not happened yet as of then: no lapse. One known to
// be before it (the first of several) still is.
TEST(MasteryTest, AnErrorAfterAsOfIsNoLapse) {
  ErrorPoint p;
  p.count = 1;
  p.memory = Reviewed({{kT0 - 10 * kDay, true}});
  p.first_seen = p.last_seen = kT0 - 1 * kDay;
  EXPECT_DOUBLE_EQ(Mastery(p, kT0 - 2 * kDay), Retrievability(p.memory, kT0 - 2 * kDay));
  EXPECT_DOUBLE_EQ(Mastery(p, kT0), Retrievability(WithLapses(p.memory, kT0 - kDay), kT0));
  p.count = 2;
  p.first_seen = kT0 - 5 * kDay;
  EXPECT_DOUBLE_EQ(Mastery(p, kT0 - 2 * kDay),
                   Retrievability(WithLapses(p.memory, kT0 - 5 * kDay), kT0 - 2 * kDay));
  EXPECT_LT(Mastery(p, kT0 - 2 * kDay), Retrievability(p.memory, kT0 - 2 * kDay));
}

TEST(MasteryTest, StaysWithinZeroAndOne) {
  ErrorPoint p;
  p.count = 1;
  p.last_seen = kT0;
  p.memory = Reviewed({{kT0 - 100 * kDay, false}});
  for (int d = 0; d < 1000; d += 37) {
    const double r = Mastery(p, kT0 + d * kDay);
    EXPECT_GE(r, 0);
    EXPECT_LE(r, 1);
  }
}

}  // namespace
}  // namespace errata
