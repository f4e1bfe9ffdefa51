// Practice selection: a set of exercises for the learner's top priorities.
//  - own-words exercises come before bank items of the same point;
//  - no point gets more than ceil(n/2) items, unless fewer points have any;
//  - nothing answered correctly in the last 24 hours is offered again;
//  - `seed` makes the choice among bank items reproducible.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/exercise_bank.h"
#include "core/profile.h"
#include "core/ranking.h"

namespace errata {

struct PracticeRequest {
  size_t n = 10;
  std::string level;               // CEFR level of bank items; empty: any
  std::vector<std::string> types;  // exercise types; empty: any
  uint64_t seed = 0;
  Micros now = 0;
  RankingParams ranking;
};

struct PracticeItem {
  // The exercise: in the bank, or generated and owned by `own`. Valid while
  // the bank and this item live.
  const Exercise* exercise = nullptr;
  std::shared_ptr<const Exercise> own;
  const char* source = "bank";  // "own_words" or "bank"
  RankedPoint because;          // the error point this item practises
};

// With `uncovered`, the points the selection looked at, in priority order,
// that had nothing to offer under this request: no bank item at its level and
// types, no own-words example, or all of it answered correctly in the last
// day. Those are the learner's points an app may want to practise otherwise
// (its own generator, a speaking task). Points ranked below every pick that
// the selection never needed are not looked at, so not listed.
std::vector<PracticeItem> SelectPractice(const Profile& profile, const ExerciseBank& bank,
                                         const PracticeRequest& request,
                                         std::vector<RankedPoint>* uncovered = nullptr);

constexpr Micros kRecentCorrectWindow = kMicrosPerDay;

}  // namespace errata
