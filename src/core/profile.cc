#include "core/profile.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace errata {

double LogAdd2(double a, double b) {
  if (a == kNoDecay) return b;
  if (b == kNoDecay) return a;
  const double hi = std::max(a, b);
  const double lo = std::min(a, b);
  return hi + std::log2(1.0 + std::exp2(lo - hi));
}

double DecayTerm(Micros t, Micros half_life) {
  // A half-life of 0 would make every sum inf or NaN, which no answer can
  // carry as JSON and no store can merge. Callers validate it (the CLI's
  // --half-life-days); this keeps a missed one finite in release builds.
  assert(half_life > 0 && "half_life must be positive");
  return static_cast<double>(t) / static_cast<double>(std::max<Micros>(half_life, 1));
}

double DecayedCount(double decay_log2, Micros now, Micros half_life) {
  if (decay_log2 == kNoDecay) return 0;
  return std::exp2(decay_log2 - DecayTerm(now, half_life));
}

double RecentScore(const ErrorPoint& p, Micros now, Micros half_life) {
  return DecayedCount(p.decay_log2, std::max(now, p.last_seen), half_life);
}

void ErrorDelta::Add(Micros t, Micros half_life) {
  first_seen = count == 0 ? t : std::min(first_seen, t);
  last_seen = count == 0 ? t : std::max(last_seen, t);
  ++count;
  decay_log2 = LogAdd2(decay_log2, DecayTerm(t, half_life));
}

void ErrorDelta::Merge(const ErrorDelta& o) {
  if (o.count == 0) return;
  first_seen = count == 0 ? o.first_seen : std::min(first_seen, o.first_seen);
  last_seen = count == 0 ? o.last_seen : std::max(last_seen, o.last_seen);
  count += o.count;
  decay_log2 = LogAdd2(decay_log2, o.decay_log2);
}

ErrorPoint* Profile::Find(std::string_view id) {
  for (auto& p : points) {
    if (p.subcategory_id() == id) return &p;
  }
  return nullptr;
}

const ErrorPoint* Profile::Find(std::string_view id) const {
  return const_cast<Profile*>(this)->Find(id);
}

void Profile::Apply(const ErrorDelta& d) {
  ErrorPoint* p = Find(d.subcategory_id);
  if (p == nullptr) {
    points.push_back(ErrorPoint{PointNames(d.subcategory_id, d.category, d.subcategory)});
    p = &points.back();
  }
  if (d.count == 0) return;
  p->first_seen = p->count == 0 ? d.first_seen : std::min(p->first_seen, d.first_seen);
  p->last_seen = p->count == 0 ? d.last_seen : std::max(p->last_seen, d.last_seen);
  p->count += d.count;
  p->decay_log2 = LogAdd2(p->decay_log2, d.decay_log2);
}

namespace {
// The stores' order (created_at DESC, error_id DESC): a cached profile must
// keep and drop the same examples a load would. Every store compares ids as
// their lower-case text or its bytes, which sort alike.
bool NewerExample(const Example& a, const Example& b) {
  if (a.created_at != b.created_at) return a.created_at > b.created_at;
  return a.error_id > b.error_id;
}
}  // namespace

void Profile::AddExamples(const std::vector<Example>& more) {
  if (more.empty()) return;
  examples.insert(examples.end(), more.begin(), more.end());
  std::sort(examples.begin(), examples.end(), NewerExample);
  if (examples.size() > kMaxExamples) examples.resize(kMaxExamples);
}

void Profile::AddRecentCorrect(const RecentCorrect& rc) {
  // After the answers of the same time: the stores break that tie by attempt
  // id, which the profile does not hold (see RecentCorrect).
  auto at = std::upper_bound(recent_correct.begin(), recent_correct.end(), rc.answered_at,
                             [](Micros t, const RecentCorrect& r) { return t > r.answered_at; });
  if (at - recent_correct.begin() >= static_cast<ptrdiff_t>(kMaxRecentCorrect)) return;
  recent_correct.insert(at, rc);
  if (recent_correct.size() > kMaxRecentCorrect) recent_correct.pop_back();
}

int64_t Profile::TotalErrors() const {
  int64_t n = 0;
  for (const auto& p : points) n += p.count;
  return n;
}

void Profile::ShrinkToFit() {
  points.shrink_to_fit();
  examples.shrink_to_fit();
  recent_correct.shrink_to_fit();
}

namespace {
// The heap block a string owns beyond its own object (none while it is short
// enough to live inside it).
size_t HeapBytes(const std::string& s) {
  return s.capacity() > std::string().capacity() ? s.capacity() + 1 : 0;
}
}  // namespace

size_t Profile::MemoryBytes() const {
  size_t n = sizeof(Profile) + points.capacity() * sizeof(ErrorPoint) +
             examples.capacity() * sizeof(Example) +
             recent_correct.capacity() * sizeof(RecentCorrect);
  for (const auto& p : points) {
    if (p.memory.boxed()) n += sizeof(MemoryState);
  }
  for (const auto& e : examples) {
    n += HeapBytes(e.error_id) + HeapBytes(e.subcategory_id) + HeapBytes(e.content) +
         HeapBytes(e.original) + HeapBytes(e.correction);
  }
  for (const auto& rc : recent_correct) n += HeapBytes(rc.exercise_id);
  return n;
}

Micros NewestError(const Profile& profile) {
  Micros newest = 0;
  for (const auto& p : profile.points) {
    if (p.count > 0) newest = std::max(newest, p.last_seen);
  }
  return newest;
}

Profile ProfileAsOf(const Profile& full, Profile counts, Micros as_of) {
  counts.user_known = full.user_known;
  for (auto& p : counts.points) {
    if (const ErrorPoint* now = full.Find(p.subcategory_id())) p.memory = now->memory;
  }
  // The cache keeps the newest kMaxExamples: an as_of before all of them
  // has fewer own-words exercises than the learner then had.
  for (const Example& e : full.examples) {
    if (e.created_at <= as_of) counts.examples.push_back(e);
  }
  counts.recent_correct = full.recent_correct;
  return counts;
}

bool FrequencyOrder(const ErrorPoint& a, const ErrorPoint& b) {
  if (a.count != b.count) return a.count > b.count;
  if (a.last_seen != b.last_seen) return a.last_seen > b.last_seen;
  if (a.subcategory() != b.subcategory()) return a.subcategory() < b.subcategory();
  // Names repeat ("Phrasal verbs" under two categories) and the sorts are not
  // stable: without the id the order would follow the profile's, which a
  // cache and a store's load do not share.
  return a.subcategory_id() < b.subcategory_id();
}

std::vector<const ErrorPoint*> TopByFrequency(const Profile& profile, size_t n) {
  std::vector<const ErrorPoint*> out;
  out.reserve(profile.points.size());
  for (const auto& p : profile.points) {
    if (p.count > 0) out.push_back(&p);
  }
  const size_t k = std::min(n, out.size());
  std::partial_sort(out.begin(), out.begin() + k, out.end(),
                    [](const ErrorPoint* a, const ErrorPoint* b) { return FrequencyOrder(*a, *b); });
  out.resize(k);
  return out;
}

}  // namespace errata
