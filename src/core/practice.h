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

std::vector<PracticeItem> SelectPractice(const Profile& profile, const ExerciseBank& bank,
                                         const PracticeRequest& request);

constexpr Micros kRecentCorrectWindow = kMicrosPerDay;

}  // namespace errata
