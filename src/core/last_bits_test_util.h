// Test helper: two error points whose priorities differ in the last bits
// only. LogAdd2 is not associative in floating point, so the same three
// errors merged in the two groupings ((x + y) + z and x + (y + z)) can give
// decay_log2s a few ulps apart: a cache's deltas and a store's SQL do this
// for real. Ranking and practice must tie such points (docs/ranking.md).
#pragma once

#include <string>

#include <gtest/gtest.h>

#include "core/profile.h"

namespace errata::testutil {

class LastBitsPoints {
 public:
  // Three error times before `now` whose log-sums differ with the grouping.
  LastBitsPoints(Micros now, Micros half_life) : h_(half_life) {
    constexpr Micros kDay = 86'400'000'000LL;
    a_ = now - 40 * kDay;
    b_ = now - 3 * kDay;
    c_ = now - 17 * kDay;
    for (int k = 0; k < 100000 && !found_; ++k) {
      const double x = DecayTerm(a_, h_), y = DecayTerm(b_, h_), z = DecayTerm(c_, h_);
      found_ = LogAdd2(LogAdd2(x, y), z) != LogAdd2(x, LogAdd2(y, z));
      if (!found_) c_ += 997;
    }
  }
  bool found() const { return found_; }

  // The point `id` ("Grammar" / "Same name") with the three errors, merged
  // left ((a + b) + c) or right (a + (b + c)).
  ErrorPoint Point(const std::string& id, bool left) const {
    ErrorDelta one{"u", id, "Grammar", "Same name"}, two = one, three = one;
    one.Add(a_, h_);
    two.Add(b_, h_);
    three.Add(c_, h_);
    if (left) {
      one.Merge(two);
      one.Merge(three);
    } else {
      two.Merge(three);
      one.Merge(two);
    }
    Profile p;
    p.Apply(one);
    return p.points[0];
  }

 private:
  Micros h_, a_, b_, c_;
  bool found_ = false;
};

}  // namespace errata::testutil
