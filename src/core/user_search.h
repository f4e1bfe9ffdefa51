// Finding a learner by email or name, tolerant of typos: the dashboard's
// search box. Pure ranking of candidates the store supplies.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/model.h"

namespace errata {

// How well `query` matches a user: 0 an exact or prefix match of the email,
// its local part or the username, each folded with the query so that case
// and accents do not matter (SearchFold); 1 a substring; 2 + d
// for a typo at restricted edit distance d (within the bound for the query's
// length) at the start of one of those fields or of a later word of the
// username or the local part ("lindqvst" ~ "Margarethe Lindqvist"); -1 no
// match.
int UserMatchScore(std::string_view query, const User& user);

// The matching users, best first (then by username, then by id), at most `limit`; each
// user once.
std::vector<User> RankUserMatches(std::string_view query, std::vector<User> candidates,
                                  size_t limit);

// Typos anywhere in a name (docs/user-search.md, "Trigrams"): each store
// keeps, for every learner with a name, the name's trigrams, and a search
// reads the learners holding each of the query's trigrams and takes the
// kTrigramCandidates that share the most as candidates. A trigram held by
// more than kTrigramCommon learners ("mar", "ann") tells too little to
// count: a store reads at most kTrigramCommon + 1 holders of each.
inline constexpr size_t kTrigramCommon = 1000;
inline constexpr size_t kTrigramCandidates = 50;

// The trigrams a name is found by: each run of three code points within a
// word of the folded name (SearchFold; words are runs of letters and digits
// of any script, and anything else separates them), as UTF-8, each once, in
// byte order. For an ASCII name, three bytes each.
//
// A trigram of a name with accents holds their base letters ("José" ->
// "jos", "ose"). Before session 18 only ASCII letters and digits made words
// ("José" -> "jos"): each store re-indexes such names on upgrade, and since
// every trigram of the earlier rule is one of this rule's, only adds.
std::vector<std::string> NameTrigrams(std::string_view name);

// The trigrams a learner is found by (each store's index): the name's
// (NameTrigrams) and, since session 18, those of the email's local part
// ("m.lindqvist-berg@…": lin, ind, ..., ber, erg), each once, in byte order.
std::vector<std::string> UserTrigrams(std::string_view username,
                                      const std::optional<std::string>& email);

// Whether UserTrigrams gives a learner trigrams session 17's rule (the
// ASCII name's alone) did not: a name beyond ASCII, or an email. Each
// store's upgrade indexes these learners again, and only adds: every
// trigram of the earlier rule is one of this one's.
bool GainsTrigramsOverAsciiNameRule(std::string_view username,
                                    const std::optional<std::string>& email);

// Given the learners holding each trigram (one list of ids per trigram),
// the `n` found in the most lists, most first, then by id. A list longer
// than kTrigramCommon is a common trigram's, and left out: a store reads
// only the first holders of one, so counting them would favour the learners
// whose ids sort first.
std::vector<std::string> MostSharedTrigrams(const std::vector<std::vector<std::string>>& holders,
                                            size_t n);

}  // namespace errata
