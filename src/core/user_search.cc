#include "core/user_search.h"

#include <algorithm>
#include <string>
#include <unordered_set>

#include "core/taxonomy.h"
#include "core/text.h"

namespace errata {
namespace {

int Score(const std::string& q, const std::string& field) {
  if (field.empty()) return -1;
  if (field.starts_with(q)) return 0;
  if (field.find(q) != std::string::npos) return 1;
  const size_t bound = std::max<size_t>(1, TypoBound(q.size()));
  // Compare with the field's prefix of the query's length too: "mari" ~ "maria@…".
  size_t d = OsaDistance(q, field, bound);
  // And with the field's prefixes around the query's length: a typo in what
  // was typed so far ("marsela" ~ "marisela.o…": a letter left out).
  for (size_t len = q.size() > 1 ? q.size() - 1 : 1; len <= q.size() + 1; ++len) {
    if (len < field.size()) d = std::min(d, OsaDistance(q, field.substr(0, len), bound));
  }
  return d <= bound ? 2 + static_cast<int>(d) : -1;
}

}  // namespace

int UserMatchScore(std::string_view query, const User& user) {
  const std::string q = AsciiLower(query);
  if (q.empty()) return -1;
  const std::string email = AsciiLower(user.email.value_or(""));
  const std::string local = email.substr(0, email.find('@'));
  int best = -1;
  for (const std::string& field : {email, local, AsciiLower(user.username)}) {
    const int s = Score(q, field);
    if (s >= 0 && (best < 0 || s < best)) best = s;
  }
  return best;
}

std::vector<User> RankUserMatches(std::string_view query, std::vector<User> candidates,
                                  size_t limit) {
  std::vector<std::pair<int, User>> scored;
  std::unordered_set<std::string> seen;
  for (auto& u : candidates) {
    if (!seen.insert(u.user_id).second) continue;
    const int s = UserMatchScore(query, u);
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

}  // namespace errata
