#include "core/user_search.h"

#include <algorithm>
#include <iterator>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/search_fold.h"
#include "core/taxonomy.h"

namespace errata {
namespace {

// The rows of Score's dynamic programme, reused from candidate to candidate.
struct Scratch {
  std::vector<size_t> before, prev, cur;
};

// The most edits a query of `length` characters may be from a field: none
// for one or two characters, where one edit would match almost any field
// (a one-character query was one edit from every name's first letter).
size_t QueryTypoBound(size_t length) {
  return length <= 2 ? 0 : std::max<size_t>(1, TypoBound(length));
}

// `q` (folded, not empty) against `field` (folded): 0 a prefix, 1 a
// substring, 2 + d for a restricted edit distance d within the query's
// typo bound, to the whole field or to its prefix of the query's length
// give or take one ("mari" ~ "maria@…", "marsela" ~ "marisela.o…"); -1 none.
// Lengths and distances count characters: bytes for ASCII, code points
// otherwise (Score converts), so a typo in "Иванова" is one, not two.
//
// One dynamic programme gives all of these distances: its cell (i, j) is the
// distance between q's first i characters and the field's first j, so the last
// row holds the distance to each prefix of the field up to the longest one
// wanted. Only the band |i - j| <= bound is computed: a cell outside it is
// more than `bound`, and stands as bound + 1 (which changes no cell within
// the bound, and keeps every other one above it).
template <typename Ch>
int ScoreIn(std::basic_string_view<Ch> q, std::basic_string_view<Ch> field, Scratch* s) {
  if (field.empty()) return -1;
  if (field.starts_with(q)) return 0;
  if (field.find(q) != std::basic_string_view<Ch>::npos) return 1;
  const size_t bound = QueryTypoBound(q.size());
  if (bound == 0) return -1;  // no typo: the prefix or substring was the match
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

// The code points of UTF-8 `s` (a bad byte as U+FFFD).
std::u32string CodePoints(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const int32_t c = fold_detail::NextCodePoint(s, &i);
    out.push_back(c >= 0 ? static_cast<char32_t>(c) : U'\uFFFD');
  }
  return out;
}

// A query or a field, folded (SearchFold): its UTF-8, whether that is all
// ASCII, and its code points when a comparison needs them (the query's
// always; a field's when it or the query is not ASCII).
struct Folded {
  std::string_view text;
  bool ascii;
  std::u32string_view points;
  size_t beyond_ascii = 0;  // the query's code points beyond ASCII

  // From code point `k`, which starts at byte `begin`.
  Folded From(size_t begin, size_t k) const {
    return Folded{text.substr(begin), ascii, points.substr(std::min(k, points.size())), 0};
  }
};

int Score(const Folded& q, const Folded& field, Scratch* s) {
  if (q.ascii && field.ascii) return ScoreIn(q.text, field.text, s);
  // Each of the query's code points beyond ASCII costs an edit against an
  // ASCII field: a Cyrillic query skips the Latin names without a programme.
  if (field.ascii && q.beyond_ascii > QueryTypoBound(q.points.size())) return -1;
  return ScoreIn(q.points, field.points, s);
}

// UserMatchScore with the query folded already.
int FoldedQueryScore(const Folded& q, const User& user, Scratch* s) {
  if (q.text.empty()) return -1;
  bool email_ascii, name_ascii;
  const std::string email_text = SearchFold(user.email.value_or(""), &email_ascii);
  const std::string name_text = SearchFold(user.username, &name_ascii);
  const std::u32string email_points = q.ascii && email_ascii ? U"" : CodePoints(email_text);
  const std::u32string name_points = q.ascii && name_ascii ? U"" : CodePoints(name_text);
  const Folded email{email_text, email_ascii, email_points};
  const Folded local{email.text.substr(0, email.text.find('@')), email.ascii,
                     email.points.substr(0, email.points.find(U'@'))};
  const Folded name{name_text, name_ascii, name_points};
  int best = -1;
  for (const Folded& field : {email, local, name}) {
    const int score = Score(q, field, s);
    if (score >= 0 && (best < 0 || score < best)) best = score;
    if (best == 0) return best;
  }
  if (best == 1) return best;  // a later word's prefix is a substring: no better
  // A typo at the start of a later word of the name or the local part.
  auto later = [&](const Folded& field, size_t begin, size_t k) {
    const int score = Score(q, field.From(begin, k), s);
    if (score >= 2 && (best < 0 || score < best)) best = score;
    return best == 2;
  };
  for (const Folded& field : {name, local}) {
    bool done = false;
    if (field.ascii) {  // bytes are code points
      const std::string_view t = field.text;
      for (size_t i = 1; i < t.size() && !done; ++i) {
        if (!IsAsciiAlnum(t[i - 1]) && IsAsciiAlnum(t[i])) done = later(field, i, i);
      }
    } else {
      bool in_word = true;  // the field's own start is not a later word
      size_t k = 0;         // the code point's index
      ForEachCodePoint(field.text, [&](size_t begin, size_t, bool word) {
        const bool starts = word && !in_word;
        in_word = word;
        if (starts && !done) done = later(field, begin, k);
        ++k;
      });
    }
    if (done) return best;
  }
  return best;
}

// Folds the query, and scores users against it.
class Matcher {
 public:
  explicit Matcher(std::string_view query)
      : text_(SearchFold(query, &ascii_)),
        points_(CodePoints(text_)),
        beyond_ascii_(static_cast<size_t>(
            std::count_if(points_.begin(), points_.end(), [](char32_t c) { return c >= 0x80; }))) {}
  int Score(const User& user) {
    return FoldedQueryScore(Folded{text_, ascii_, points_, beyond_ascii_}, user, &scratch_);
  }

 private:
  bool ascii_ = true;  // declared first: text_'s initializer sets it
  std::string text_;
  std::u32string points_;
  size_t beyond_ascii_;
  Scratch scratch_;
};

}  // namespace

int UserMatchScore(std::string_view query, const User& user) {
  return Matcher(query).Score(user);
}

std::vector<User> RankUserMatches(std::string_view query, std::vector<User> candidates,
                                  size_t limit) {
  std::vector<std::pair<int, User>> scored;
  std::unordered_set<std::string> seen;
  Matcher matcher(query);
  for (auto& u : candidates) {
    if (!seen.insert(u.user_id).second) continue;
    const int s = matcher.Score(u);
    if (s >= 0) scored.emplace_back(s, std::move(u));
  }
  std::sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first < b.first;
    if (a.second.username != b.second.username) return a.second.username < b.second.username;
    // Names repeat, and std::sort is not stable: without the (unique) id two
    // such learners came in the candidates' order, which stores differ in.
    return a.second.user_id < b.second.user_id;
  });
  std::vector<User> out;
  for (size_t i = 0; i < scored.size() && i < limit; ++i) out.push_back(std::move(scored[i].second));
  return out;
}

std::vector<std::string> NameTrigrams(std::string_view name) {
  const std::string folded = SearchFold(name);
  std::vector<std::string> out;
  size_t run = 0;            // code points so far in the current word
  size_t starts[3] = {};     // where the last three began (a ring)
  ForEachCodePoint(folded, [&](size_t begin, size_t end, bool word) {
    run = word ? run + 1 : 0;
    starts[run % 3] = begin;
    if (run >= 3) {
      const size_t first = starts[(run - 2) % 3];
      out.push_back(folded.substr(first, end - first));
    }
  });
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<std::string> UserTrigrams(std::string_view username,
                                      const std::optional<std::string>& email) {
  std::vector<std::string> out = NameTrigrams(username);
  if (!email) return out;
  const std::string_view address = *email;
  std::vector<std::string> local = NameTrigrams(address.substr(0, address.find('@')));
  if (local.empty()) return out;
  std::vector<std::string> both;
  both.reserve(out.size() + local.size());
  std::set_union(out.begin(), out.end(), local.begin(), local.end(), std::back_inserter(both));
  return both;
}

bool GainsTrigramsOverAsciiNameRule(std::string_view username,
                                    const std::optional<std::string>& email) {
  return email.has_value() || !IsAscii(username);
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
