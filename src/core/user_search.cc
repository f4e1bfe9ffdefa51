#include "core/user_search.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/taxonomy.h"
#include "core/text.h"

namespace errata {
namespace {

// The rows of Score's dynamic programme, reused from candidate to candidate.
struct Scratch {
  std::vector<size_t> before, prev, cur;
};

// `q` (lower case, not empty) against `field` (lower case): 0 a prefix, 1 a
// substring, 2 + d for a restricted edit distance d within the query's
// typo bound, to the whole field or to its prefix of the query's length
// give or take one ("mari" ~ "maria@…", "marsela" ~ "marisela.o…"); -1 none.
//
// One dynamic programme gives all of these distances: its cell (i, j) is the
// distance between q's first i bytes and the field's first j, so the last
// row holds the distance to each prefix of the field up to the longest one
// wanted. Only the band |i - j| <= bound is computed: a cell outside it is
// more than `bound`, and stands as bound + 1 (which changes no cell within
// the bound, and keeps every other one above it).
int Score(std::string_view q, std::string_view field, Scratch* s) {
  if (field.empty()) return -1;
  if (field.starts_with(q)) return 0;
  if (field.find(q) != std::string_view::npos) return 1;
  const size_t bound = std::max<size_t>(1, TypoBound(q.size()));
  const size_t n = q.size(), m = field.size();
  const bool whole = (m > n ? m - n : n - m) <= bound;
  const size_t lo = n > 1 ? n - 1 : 1;  // the prefixes: lengths lo..hi
  const size_t hi = std::min(n + 1, m - 1);
  if (!whole && lo > hi) return -1;
  const size_t last = whole ? m : hi;
  const size_t far = bound + 1;
  s->before.assign(last + 1, far);
  s->prev.assign(last + 1, far);
  s->cur.assign(last + 1, far);
  for (size_t j = 0; j <= std::min(last, bound); ++j) s->prev[j] = j;
  for (size_t i = 1; i <= n; ++i) {
    size_t* cur = s->cur.data();
    const size_t* prev = s->prev.data();
    const size_t* before = s->before.data();
    const size_t first = i > bound ? i - bound : 1;  // the band: first..end
    const size_t end = std::min(last, i + bound);
    if (first > end) return -1;
    // The cell left of the band; the ones right of it were never written.
    cur[first - 1] = first == 1 ? i : far;
    size_t row_min = far;
    for (size_t j = first; j <= end; ++j) {
      const size_t cost = q[i - 1] == field[j - 1] ? 0 : 1;
      size_t d = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && q[i - 1] == field[j - 2] && q[i - 2] == field[j - 1]) {
        d = std::min(d, before[j - 2] + 1);
      }
      cur[j] = d;
      row_min = std::min(row_min, d);
    }
    // Row minima never fall: past the bound here, past it everywhere.
    if (row_min > bound) return -1;
    std::swap(s->before, s->prev);
    std::swap(s->prev, s->cur);
  }
  size_t d = whole ? s->prev[m] : far;
  for (size_t len = lo; len <= hi; ++len) d = std::min(d, s->prev[len]);
  return d <= bound ? 2 + static_cast<int>(d) : -1;
}

// UserMatchScore with the query in lower case already.
int LowerQueryScore(std::string_view q, const User& user, Scratch* s) {
  if (q.empty()) return -1;
  const std::string email = AsciiLower(user.email.value_or(""));
  const std::string_view local = std::string_view(email).substr(0, email.find('@'));
  const std::string name = AsciiLower(user.username);
  int best = -1;
  for (std::string_view field : {std::string_view(email), local, std::string_view(name)}) {
    const int score = Score(q, field, s);
    if (score >= 0 && (best < 0 || score < best)) best = score;
    if (best == 0) return best;
  }
  if (best == 1) return best;  // a later word's prefix is a substring: no better
  // A typo at the start of a later word of the name or the local part.
  for (std::string_view field : {std::string_view(name), local}) {
    for (size_t i = 1; i < field.size(); ++i) {
      if (IsAsciiAlnum(field[i - 1]) || !IsAsciiAlnum(field[i])) continue;
      const int score = Score(q, field.substr(i), s);
      if (score >= 2 && (best < 0 || score < best)) best = score;
      if (best == 2) return best;
    }
  }
  return best;
}

}  // namespace

int UserMatchScore(std::string_view query, const User& user) {
  Scratch s;
  return LowerQueryScore(AsciiLower(query), user, &s);
}

std::vector<User> RankUserMatches(std::string_view query, std::vector<User> candidates,
                                  size_t limit) {
  std::vector<std::pair<int, User>> scored;
  std::unordered_set<std::string> seen;
  const std::string q = AsciiLower(query);
  Scratch scratch;
  for (auto& u : candidates) {
    if (!seen.insert(u.user_id).second) continue;
    const int s = LowerQueryScore(q, u, &scratch);
    if (s >= 0) scored.emplace_back(s, std::move(u));
  }
  std::sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first < b.first;
    return a.second.username < b.second.username;
  });
  std::vector<User> out;
  for (size_t i = 0; i < scored.size() && i < limit; ++i) out.push_back(std::move(scored[i].second));
  return out;
}

std::vector<std::string> NameTrigrams(std::string_view name) {
  const std::string lower = AsciiLower(name);
  std::vector<std::string> out;
  size_t run = 0;  // letters and digits so far in the current word
  for (size_t i = 0; i < lower.size(); ++i) {
    run = IsAsciiAlnum(lower[i]) ? run + 1 : 0;
    if (run >= 3) out.push_back(lower.substr(i - 2, 3));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<std::string> MostSharedTrigrams(const std::vector<std::vector<std::string>>& holders,
                                            size_t n) {
  std::unordered_map<std::string_view, int> shared;
  for (const auto& list : holders) {
    if (list.size() > kTrigramCommon) continue;
    for (const std::string& id : list) ++shared[id];
  }
  std::vector<std::pair<int, std::string_view>> ranked;
  ranked.reserve(shared.size());
  for (const auto& [id, count] : shared) ranked.emplace_back(count, id);
  const size_t k = std::min(n, ranked.size());
  auto better = [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  };
  std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(k), ranked.end(),
                    better);
  std::vector<std::string> out;
  out.reserve(k);
  for (size_t i = 0; i < k; ++i) out.emplace_back(ranked[i].second);
  return out;
}

}  // namespace errata
