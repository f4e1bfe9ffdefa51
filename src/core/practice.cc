#include "core/practice.h"

#include <algorithm>
#include <random>
#include <unordered_set>

#include "core/own_words.h"

namespace errata {
namespace {

struct Candidates {
  RankedPoint rank;
  std::vector<PracticeItem> items;
  size_t next = 0;
};

bool TypeWanted(const PracticeRequest& r, const std::string& type) {
  return r.types.empty() || std::find(r.types.begin(), r.types.end(), type) != r.types.end();
}

std::unordered_set<std::string> RecentlyCorrect(const Profile& p, Micros now) {
  std::unordered_set<std::string> out;
  for (const auto& rc : p.recent_correct) {
    if (now - rc.answered_at < kRecentCorrectWindow) out.insert(rc.exercise_id);
  }
  return out;
}

void AddOwnWords(const Profile& p, const RankedPoint& rank, const PracticeRequest& r,
                 std::mt19937_64& rng, Candidates* c) {
  for (const Example& e : p.examples) {
    if (e.subcategory_id != rank.point->subcategory_id) continue;
    for (auto x : {CorrectWhatYouSaid(e), FillTheBlank(e, rng())}) {
      if (x && TypeWanted(r, x->type)) c->items.push_back({std::move(*x), "own_words", rank});
    }
  }
}

void AddBank(const ExerciseBank& bank, const RankedPoint& rank, const PracticeRequest& r,
             std::mt19937_64& rng, Candidates* c) {
  std::vector<const Exercise*> pool;
  for (const Exercise* x : bank.ForSubcategory(rank.point->subcategory_id)) {
    if ((r.level.empty() || x->level == r.level) && TypeWanted(r, x->type)) pool.push_back(x);
  }
  std::shuffle(pool.begin(), pool.end(), rng);
  for (const Exercise* x : pool) c->items.push_back({*x, "bank", rank});
}

std::vector<Candidates> Gather(const Profile& p, const ExerciseBank& bank,
                               const PracticeRequest& r, std::mt19937_64& rng) {
  const auto skip = RecentlyCorrect(p, r.now);
  std::vector<Candidates> out;
  for (const RankedPoint& rank : RankProfile(p, r.now, r.ranking)) {
    Candidates c{rank, {}, 0};
    AddOwnWords(p, rank, r, rng, &c);
    AddBank(bank, rank, r, rng, &c);
    std::erase_if(c.items, [&skip](const PracticeItem& i) { return skip.count(i.exercise.id); });
    if (!c.items.empty()) out.push_back(std::move(c));
  }
  return out;
}

}  // namespace

std::vector<PracticeItem> SelectPractice(const Profile& profile, const ExerciseBank& bank,
                                         const PracticeRequest& r) {
  std::mt19937_64 rng(r.seed);
  std::vector<Candidates> points = Gather(profile, bank, r, rng);
  const size_t cap = points.size() >= 2 ? (r.n + 1) / 2 : r.n;
  std::vector<PracticeItem> out;
  while (out.size() < r.n) {
    // The point with the highest priority per item already taken.
    Candidates* best = nullptr;
    double best_score = -1;
    for (auto& c : points) {
      if (c.next >= c.items.size() || c.next >= cap) continue;
      const double score = c.rank.priority / static_cast<double>(1 + c.next);
      if (score > best_score) {
        best = &c;
        best_score = score;
      }
    }
    if (best == nullptr) break;
    out.push_back(best->items[best->next++]);
  }
  return out;
}

}  // namespace errata
