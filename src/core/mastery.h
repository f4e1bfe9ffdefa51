// Mastery of an error point: a memory model after FSRS-4.5 (see docs/ranking.md).
// An error point is a skill (learner x subcategory). Practice attempts are
// reviews: correct ones are successes, wrong ones failures. A fresh error in
// conversation is evidence of a lapse and acts as a failure.
// Pure functions of their arguments; no clocks, no I/O.
#pragma once

#include "core/clock.h"
#include "core/profile.h"

namespace errata {

// Retrievability R in [0, 1] at `now`: the predicted chance the learner gets
// the point right. FSRS power-law forgetting curve R = (1 + F t / S)^-0.5 with
// F = 19/81, so R = 0.9 when t = S. 0 for a point never practised.
double Retrievability(const MemoryState& m, Micros now);

// The state after a practice attempt at `at` (attempts older than the last
// review count at the last review's time).
MemoryState AfterAttempt(const MemoryState& m, bool correct, Micros at);

// The state once conversation errors seen up to `last_error` are folded in:
// an error after the last review (and after the last folded lapse) is a
// lapse: stability falls as after a failure, but the review clock does not
// move, so retrievability drops at once. A point never practised stays new.
// Idempotent: folding the same error twice changes nothing.
MemoryState WithLapses(const MemoryState& m, Micros last_error);

// The mastery reported to clients: retrievability at `now` after lapses.
// Practice and errors after `now` (an as_of in the past) do not count, as
// far as the stored state can tell them apart (mastery.cc).
double Mastery(const ErrorPoint& point, Micros now);

}  // namespace errata
