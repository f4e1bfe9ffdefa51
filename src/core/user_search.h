// Finding a learner by email or name, tolerant of typos: the dashboard's
// search box. Pure ranking of candidates the store supplies.
#pragma once

#include <string_view>
#include <vector>

#include "core/model.h"

namespace errata {

// How well `query` matches a user: 0 an exact or prefix match of the email,
// its local part or the username (case-insensitive); 1 a substring; 2 + d
// for a typo at restricted edit distance d (within the bound for the query's
// length); -1 no match.
int UserMatchScore(std::string_view query, const User& user);

// The matching users, best first (then by username), at most `limit`; each
// user once.
std::vector<User> RankUserMatches(std::string_view query, std::vector<User> candidates,
                                  size_t limit);

}  // namespace errata
