// Ranking of a learner's error points by how much practice on each would help
// now. Pure functions; the formula and a worked example are in docs/ranking.md.
//
//   weight   = recent(t) + frequency_weight * log2(1 + count)
//   recent   = sum over errors of 2^(-(t - t_i) / half_life)
//   recall   = FSRS retrievability of the point at t (0 if never practised),
//              after folding in conversation errors as lapses
//   priority = weight * (1 - (1 - mastered_floor) * recall)
#pragma once

#include <vector>

#include "core/clock.h"
#include "core/profile.h"

namespace errata {

struct RankingParams {
  Micros half_life = 14 * kMicrosPerDay;
  double frequency_weight = 0.5;  // how much the all-time count adds to the recent one
  double mastered_floor = 0.25;   // the share of weight a fully recalled point keeps
};

struct RankedPoint {
  const ErrorPoint* point = nullptr;
  double priority = 0;
  double weight = 0;
  double recall = 0;  // the mastery reported to clients
};

RankedPoint RankPoint(const ErrorPoint& p, Micros now, const RankingParams& params);

// A priority as rankings and practice picks compare it: rounded to a float
// (24 bits, about 7 digits). The same errors summed in another order (LogAdd2
// is not associative in floating point; a cache and a store merge deltas
// differently) differ in the last bits of a double, and must not reorder
// points that are equal: those then tie, and the tie-break decides. Rounding
// can still split two such values that straddle a float, but that takes a
// difference of the rounding's own size, not of a double's last bits.
inline double RankKey(double priority) { return static_cast<float>(priority); }

// Every point with errors, highest RankKey(priority) first (ties: the seed
// route's FrequencyOrder, which ends on the unique id).
std::vector<RankedPoint> RankProfile(const Profile& profile, Micros now,
                                     const RankingParams& params);

}  // namespace errata
