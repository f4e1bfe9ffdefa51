#include "core/ranking.h"

#include <algorithm>
#include <cmath>

#include "core/mastery.h"

namespace errata {

RankedPoint RankPoint(const ErrorPoint& p, Micros now, const RankingParams& params) {
  RankedPoint r;
  r.point = &p;
  r.weight = RecentScore(p, now, params.half_life) +
             params.frequency_weight * std::log2(1.0 + static_cast<double>(p.count));
  r.recall = Mastery(p, now);
  r.priority = r.weight * (1.0 - (1.0 - params.mastered_floor) * r.recall);
  return r;
}

std::vector<RankedPoint> RankProfile(const Profile& profile, Micros now,
                                     const RankingParams& params) {
  std::vector<RankedPoint> out;
  out.reserve(profile.points.size());
  for (const auto& p : profile.points) {
    if (p.count > 0) out.push_back(RankPoint(p, now, params));
  }
  std::sort(out.begin(), out.end(), [](const RankedPoint& a, const RankedPoint& b) {
    const double ka = RankKey(a.priority), kb = RankKey(b.priority);
    if (ka != kb) return ka > kb;
    return FrequencyOrder(*a.point, *b.point);
  });
  return out;
}

}  // namespace errata
