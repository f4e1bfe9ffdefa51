// A learner's error profile: per subcategory, how often, how recently, and how
// well practised. Pure data and arithmetic; the cache and stores hold these.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/point_names.h"

namespace errata {

// The recency-weighted count is kept as log2(sum_i 2^(t_i / h)), t_i the error
// times and h the half-life, both in microseconds. Adding an error is a
// log-add, which is commutative, so deltas from any number of writers merge
// in any order, and the value never overflows. The score at time t is
// 2^(decay_log2 - t / h): each error counts 1 when new and 1/2 after h.
constexpr double kNoDecay = -std::numeric_limits<double>::infinity();

// log2(2^a + 2^b), exact for either side being kNoDecay.
double LogAdd2(double a, double b);
// The decay term of one error at time t. half_life > 0 (asserted; a release
// build takes 1 us for less, so nothing divides by zero).
double DecayTerm(Micros t, Micros half_life);
// The recency-weighted count at time `now`.
double DecayedCount(double decay_log2, Micros now, Micros half_life);

// The memory model state of one error point (see core/mastery.h).
struct MemoryState {
  double stability_days = 0;  // 0: never practised
  double difficulty = 5;      // 1 (easy) .. 10 (hard)
  Micros last_review = 0;     // last attempt, or 0
  int64_t reviews = 0;
  int64_t lapses = 0;
  Micros last_correct = 0;
  Micros last_lapse = 0;      // the latest conversation error folded in as a lapse

  bool operator==(const MemoryState&) const = default;
};

// A MemoryState held out of line, with value semantics: most points are
// never practised, and their default state then costs 8 bytes, not 56.
class MemoryBox {
 public:
  MemoryBox() = default;
  MemoryBox(const MemoryState& m) { *this = m; }  // NOLINT: a value, implicitly
  MemoryBox(const MemoryBox& o) : state_(o.state_ ? new MemoryState(*o.state_) : nullptr) {}
  MemoryBox(MemoryBox&&) noexcept = default;
  MemoryBox& operator=(const MemoryBox& o) { return *this = o.get(); }
  MemoryBox& operator=(MemoryBox&&) noexcept = default;
  MemoryBox& operator=(const MemoryState& m) {
    if (state_) {
      *state_ = m;
    } else if (!(m == MemoryState{})) {
      state_.reset(new MemoryState(m));
    }
    return *this;
  }

  const MemoryState& get() const { return state_ ? *state_ : kDefault; }
  operator const MemoryState&() const { return get(); }  // NOLINT: reads as the state
  const MemoryState* operator->() const { return &get(); }
  // Whether a state is held out of line (the point was practised).
  bool boxed() const { return state_ != nullptr; }

 private:
  static constexpr MemoryState kDefault{};
  std::unique_ptr<MemoryState> state_;
};

// One of the learner's own errors with its correction, kept to build
// "correct what you said" exercises.
struct Example {
  std::string error_id;
  std::string subcategory_id;
  std::string content;  // the utterance
  std::string original;
  std::string correction;
  int64_t span_start = -1;  // character offsets into content (Span), or -1
  int64_t span_end = -1;
  Micros created_at = 0;
};

// A recent correct practice answer: such exercises are not offered for 24 h.
// It holds no attempt id (the stores' loads do not return one), so answers
// of the same microsecond may sit in another order than a load's
// (answered_at DESC, attempt_id DESC), and at the 100th place another of
// them may be kept. The 24 h filter reads them as a set.
struct RecentCorrect {
  std::string exercise_id;
  Micros answered_at = 0;
};

constexpr size_t kMaxExamples = 30;
constexpr size_t kMaxRecentCorrect = 100;

// What a batch of writes adds to one (user, subcategory).
struct ErrorDelta {
  std::string user_id;
  std::string subcategory_id;
  std::string category;
  std::string subcategory;
  int64_t count = 0;
  Micros first_seen = 0;
  Micros last_seen = 0;
  double decay_log2 = kNoDecay;

  // Folds one more error at time t into this delta.
  void Add(Micros t, Micros half_life);
  // Folds another delta for the same key into this one.
  void Merge(const ErrorDelta& other);
};

// 48 bytes: a cache of a million learners holds tens of millions of them
// (docs/profile-memory.md).
struct ErrorPoint {
  PointNames names;
  int64_t count = 0;
  Micros first_seen = 0;
  Micros last_seen = 0;
  double decay_log2 = kNoDecay;
  MemoryBox memory;

  const std::string& subcategory_id() const { return names.subcategory_id(); }
  const std::string& category() const { return names.category(); }
  const std::string& subcategory() const { return names.subcategory(); }
};

// The point's recency-weighted count (its `recent_score`) at time `now`. A
// time before the point's last error is taken as that error's time: the sum
// cannot take later errors back out, so each counts as new at most, and the
// score stays within the count. Without that, an as_of years before an error
// gave 2^(years / half-life): Infinity.
double RecentScore(const ErrorPoint& p, Micros now, Micros half_life);

// All of one learner's error points. Small (tens of points), so a vector.
struct Profile {
  std::vector<ErrorPoint> points;
  bool user_known = false;  // the learner exists in the store
  std::vector<Example> examples;              // newest first, at most kMaxExamples
  std::vector<RecentCorrect> recent_correct;  // newest first, at most kMaxRecentCorrect

  // Adds examples (any order), keeping the first kMaxExamples in the order
  // a store loads them: created_at DESC, then error_id DESC.
  void AddExamples(const std::vector<Example>& more);
  // Adds a correct answer where its answered_at puts it (it may be
  // back-dated), keeping the newest kMaxRecentCorrect.
  void AddRecentCorrect(const RecentCorrect& rc);

  ErrorPoint* Find(std::string_view subcategory_id);
  const ErrorPoint* Find(std::string_view subcategory_id) const;
  // Adds a delta (creating the point if new).
  void Apply(const ErrorDelta& delta);
  int64_t TotalErrors() const;
  // Frees the vectors' spare room (before a profile is cached for long).
  void ShrinkToFit();
  // An estimate of the memory the profile holds: the object, its vectors'
  // room and the strings they own on the heap. Interned names are shared
  // and not counted. The cache's memory budget sums these.
  size_t MemoryBytes() const;
};

// The newest error time of the profile's points: 0 when it has none.
Micros NewestError(const Profile& profile);

// The learner as they stood at `as_of`, for an as_of before their newest
// error: `counts` are the points of their errors up to as_of
// (Store::ProfileBetween(kFirstTime, as_of)), and each takes its memory state
// from `full`, the profile as it is now; so do the examples made up to as_of
// and the recent correct answers (the practice selection and Mastery skip
// the answers after as_of themselves). A profile keeps sums, not histories:
// the later errors cannot be taken out of it, only counted again without them.
Profile ProfileAsOf(const Profile& full, Profile counts, Micros as_of);

// The seed route's order: count desc, then last seen desc, then subcategory
// name, then subcategory id (unique in a profile, so the order is total).
bool FrequencyOrder(const ErrorPoint& a, const ErrorPoint& b);

// The first n points in FrequencyOrder (points with count 0 left out).
std::vector<const ErrorPoint*> TopByFrequency(const Profile& profile, size_t n);

}  // namespace errata
