#include "core/mastery.h"

#include <algorithm>
#include <cmath>

namespace errata {
namespace {

// FSRS-shaped weights, close to FSRS-4.5's published defaults but errata's own
// (see docs/ranking.md): to be fitted once practice logs exist.
constexpr double kDecay = -0.5;
constexpr double kFactor = 19.0 / 81.0;
constexpr double kInitialStabilityGood = 3.1262;  // w2: first review correct
constexpr double kInitialStabilityAgain = 0.4072;  // w0: first review failed
constexpr double kW8 = 1.4903, kW9 = 0.1352, kW10 = 0.9549;   // success
constexpr double kW11 = 2.1700, kW12 = 0.0652, kW13 = 0.3340, kW14 = 1.2596;  // failure
constexpr double kMinStability = 0.1;

double Clamp(double v, double lo, double hi) { return std::max(lo, std::min(hi, v)); }

double ElapsedDays(const MemoryState& m, Micros now) {
  return std::max<double>(0, static_cast<double>(now - m.last_review) / kMicrosPerDay);
}

double StabilityAfterSuccess(double s, double d, double r) {
  return s * (1 + std::exp(kW8) * (11 - d) * std::pow(s, -kW9) * (std::exp(kW10 * (1 - r)) - 1));
}

double StabilityAfterFailure(double s, double d, double r) {
  const double next =
      kW11 * std::pow(d, -kW12) * (std::pow(s + 1, kW13) - 1) * std::exp(kW14 * (1 - r));
  return Clamp(std::min(next, s), kMinStability, s);
}

// Stability and difficulty after a failure at `at`; the caller moves the clock.
MemoryState Fail(MemoryState m, Micros at) {
  const double r = Retrievability(m, at);
  m.stability_days = StabilityAfterFailure(m.stability_days, m.difficulty, r);
  m.difficulty = Clamp(m.difficulty + 1.0, 1, 10);
  m.lapses += 1;
  return m;
}

}  // namespace

double Retrievability(const MemoryState& m, Micros now) {
  if (m.stability_days <= 0) return 0;
  return std::pow(1 + kFactor * ElapsedDays(m, now) / m.stability_days, kDecay);
}

MemoryState AfterAttempt(const MemoryState& in, bool correct, Micros at) {
  MemoryState m = in;
  at = std::max(at, m.last_review);
  m.reviews += 1;
  if (m.stability_days <= 0) {  // first review
    m.stability_days = correct ? kInitialStabilityGood : kInitialStabilityAgain;
    m.difficulty = correct ? 5 : 6.5;
    m.last_review = at;
    if (correct) m.last_correct = at;
    else m.lapses += 1;
    return m;
  }
  if (!correct) {
    m = Fail(m, at);
    m.last_review = at;
    return m;
  }
  const double r = Retrievability(m, at);
  m.stability_days = StabilityAfterSuccess(m.stability_days, m.difficulty, r);
  m.difficulty = Clamp(m.difficulty - 0.3, 1, 10);
  m.last_review = at;
  m.last_correct = at;
  return m;
}

// A conversation error is a failure of recall, but not a practice session: the
// learner did not see the right answer. So stability falls and the review
// clock stays where the last practice left it, which makes R drop at once.
MemoryState WithLapses(const MemoryState& m, Micros last_error) {
  if (m.stability_days <= 0 || last_error <= std::max(m.last_review, m.last_lapse)) return m;
  MemoryState out = Fail(m, last_error);
  out.last_lapse = last_error;
  return out;
}

// `now` may be an as_of in the past. What happened after it does not count,
// but the state is only the latest one, not a history, so this is the best
// answer it allows (docs/ranking.md, next to the note on `recent`):
//  - practice after `now`: the latest review known to be no later is a
//    correct answer at last_correct, when the reviews after it all failed;
//    it is counted with the stored stability, which those failures lowered,
//    so recall errs low. With none known (before the only practice, or the
//    last review was itself correct), the point counts as not practised: 0.
//  - errors: only the last or the first error time is known; the latest of
//    them no later than `now` is folded in as a lapse, none after it.
double Mastery(const ErrorPoint& p, Micros now) {
  MemoryState m = p.memory;
  if (m.stability_days <= 0) return 0;
  if (m.last_review > now) {
    if (m.last_correct <= 0 || m.last_correct > now) return 0;
    m.last_review = m.last_correct;
    return Retrievability(m, now);
  }
  if (p.count > 0 && p.last_seen <= now) return Retrievability(WithLapses(m, p.last_seen), now);
  if (p.count > 1 && p.first_seen <= now) return Retrievability(WithLapses(m, p.first_seen), now);
  return Retrievability(m, now);
}

}  // namespace errata
