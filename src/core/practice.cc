#include "core/practice.h"

#include <algorithm>
#include <unordered_set>

#include "core/own_words.h"
#include "core/shuffle.h"

namespace errata {
namespace {

// A point's candidate exercises, best first: in the bank, or generated.
struct Candidate {
  const Exercise* exercise;
  std::shared_ptr<const Exercise> own;
  const char* source;
};
// SplitMix64: a tiny, fast generator; seeding costs nothing, unlike mt19937.
struct Rng {
  using result_type = uint64_t;
  explicit Rng(uint64_t seed) : state(seed) {}
  static constexpr uint64_t min() { return 0; }
  static constexpr uint64_t max() { return ~0ULL; }
  uint64_t operator()() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t state;
};

struct Candidates {
  RankedPoint rank;
  std::vector<Candidate> items;
  size_t next = 0;
};

bool TypeWanted(const PracticeRequest& r, const std::string& type) {
  return r.types.empty() || std::find(r.types.begin(), r.types.end(), type) != r.types.end();
}

std::unordered_set<std::string> RecentlyCorrect(const Profile& p, Micros now) {
  std::unordered_set<std::string> out;
  for (const auto& rc : p.recent_correct) {
    // An answer after `now` (an as_of in the past) was not given yet: a
    // negative age is not "within the day".
    if (rc.answered_at <= now && now - rc.answered_at < kRecentCorrectWindow) {
      out.insert(rc.exercise_id);
    }
  }
  return out;
}

void AddOwnWords(const Profile& p, const RankedPoint& rank, const PracticeRequest& r,
                 Rng& rng, Candidates* c) {
  for (const Example& e : p.examples) {
    if (e.subcategory_id != rank.point->subcategory_id()) continue;
    for (auto x : {CorrectWhatYouSaid(e), FillTheBlank(e, rng())}) {
      if (!x || !TypeWanted(r, x->type)) continue;
      auto own = std::make_shared<const Exercise>(std::move(*x));
      c->items.push_back({own.get(), own, "own_words"});
    }
  }
}

// The point's bank exercises go straight into the candidates, one allocation,
// and are shuffled there (the same permutation a separate pool would get).
// Shuffle, not std::shuffle: a seed must give the same set on any standard
// library (core/shuffle.h).
void AddBank(const ExerciseBank& bank, const RankedPoint& rank, const PracticeRequest& r,
             Rng& rng, Candidates* c) {
  const auto& all = bank.ForSubcategory(rank.point->subcategory_id());
  const size_t first = c->items.size();
  c->items.reserve(first + all.size());
  const bool filtered = !r.level.empty() || !r.types.empty();  // usually not
  for (const Exercise* x : all) {
    if (!filtered || ((r.level.empty() || x->level == r.level) && TypeWanted(r, x->type))) {
      c->items.push_back({x, nullptr, "bank"});
    }
  }
  Shuffle(c->items.begin() + static_cast<std::ptrdiff_t>(first), c->items.end(), rng);
}

// Builds the candidates of one point, or returns false when it has none.
bool Gather(const Profile& p, const ExerciseBank& bank, const PracticeRequest& r, Rng& rng,
            const std::unordered_set<std::string>& skip, const RankedPoint& rank, Candidates* c) {
  *c = Candidates{rank, {}, 0};
  AddOwnWords(p, rank, r, rng, c);
  AddBank(bank, rank, r, rng, c);
  if (!skip.empty()) {
    std::erase_if(c->items, [&skip](const Candidate& i) { return skip.count(i.exercise->id); });
  }
  return !c->items.empty();
}

}  // namespace

// Greedy: each pick goes to the point with the highest priority per item it
// already has. Points are gathered lazily in priority order, so a request
// touches only the points that can win a pick.
std::vector<PracticeItem> SelectPractice(const Profile& profile, const ExerciseBank& bank,
                                         const PracticeRequest& r,
                                         std::vector<RankedPoint>* uncovered) {
  Rng rng(r.seed);
  const auto ranked = RankProfile(profile, r.now, r.ranking);
  const auto skip = RecentlyCorrect(profile, r.now);
  std::vector<Candidates> points;
  points.reserve(ranked.size());  // `best` points into it across gathers
  size_t scanned = 0;
  // The cap needs to know whether a second point has candidates.
  auto gather_next = [&]() {
    while (scanned < ranked.size()) {
      Candidates c;
      if (Gather(profile, bank, r, rng, skip, ranked[scanned++], &c)) {
        points.push_back(std::move(c));
        return true;
      }
      if (uncovered != nullptr) uncovered->push_back(ranked[scanned - 1]);
    }
    return false;
  };
  gather_next();
  gather_next();
  const size_t cap = points.size() >= 2 ? (r.n + 1) / 2 : r.n;
  std::vector<PracticeItem> out;
  out.reserve(std::min<size_t>(r.n, 100));
  while (out.size() < r.n) {
    Candidates* best = nullptr;
    double best_score = -1;
    for (size_t i = 0;; ++i) {
      if (i == points.size()) {
        // Ungathered points rank no higher than ranked[scanned].
        if (scanned >= ranked.size() || (best && RankKey(ranked[scanned].priority) <= best_score)) {
          break;
        }
        if (!gather_next()) break;
      }
      Candidates& c = points[i];
      if (c.next >= c.items.size() || c.next >= cap) continue;
      // RankKey: points equal but for a double's last bits pick in rank order.
      const double score = RankKey(c.rank.priority) / static_cast<double>(1 + c.next);
      if (score > best_score) {
        best = &c;
        best_score = score;
      }
    }
    if (best == nullptr) break;
    const Candidate& pick = best->items[best->next++];
    out.push_back({pick.exercise, pick.own, pick.source, best->rank});
  }
  return out;
}

}  // namespace errata
