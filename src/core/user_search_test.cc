#include "core/user_search.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "core/taxonomy.h"

namespace errata {
namespace {

User U(std::string id, std::string name, std::string email) {
  return User{std::move(id), std::move(name), std::move(email), 0};
}

TEST(UserSearchTest, ScoresPrefixSubstringAndTypos) {
  const User maria = U("1", "Maria Lopez", "maria.lopez@example.com");
  EXPECT_EQ(UserMatchScore("maria", maria), 0);
  EXPECT_EQ(UserMatchScore("MARIA.LOPEZ@EXAMPLE.COM", maria), 0);
  EXPECT_EQ(UserMatchScore("lopez", maria), 1);
  EXPECT_EQ(UserMatchScore("mraia", maria), 3);       // a transposition
  EXPECT_EQ(UserMatchScore("maria.lopes", maria), 3);  // one substitution
  EXPECT_EQ(UserMatchScore("mria.lo", maria), 3);      // a letter left out, typing
  EXPECT_EQ(UserMatchScore("maaria.l", maria), 3);     // a letter doubled, typing
  EXPECT_EQ(UserMatchScore("zzzzzz", maria), -1);
  EXPECT_EQ(UserMatchScore("", maria), -1);
}

TEST(UserSearchTest, ScoresTyposAtTheStartOfALaterWord) {
  const User m = U("1", "Margarethe Lindqvist", "m.lindqvist-berg@example.com");
  EXPECT_EQ(UserMatchScore("lindqvst", m), 3);    // a letter left out, surname
  EXPECT_EQ(UserMatchScore("lindqvist", m), 1);   // a substring stays a substring
  EXPECT_EQ(UserMatchScore("bergg", m), 3);       // a later word of the email's local part
  EXPECT_EQ(UserMatchScore("margrethe", m), 3);   // the first word, as before
  EXPECT_EQ(UserMatchScore("indqvist", m), 1);    // inside a word: a substring only
  EXPECT_EQ(UserMatchScore("ndqvst", m), -1);     // a typo inside a word is no match
}

TEST(UserSearchTest, CaseAndAccentsDoNotMatterInAnyScript) {
  const User jose = U("1", "José García", "jgarcia@example.com");
  EXPECT_EQ(UserMatchScore("jose garcia", jose), 0);
  EXPECT_EQ(UserMatchScore("JOSÉ", jose), 0);
  EXPECT_EQ(UserMatchScore("garcia", jose), 1);
  EXPECT_EQ(UserMatchScore("garsia", jose), 3);  // a typo in the later word
  const User lukasz = U("2", "Łukasz Wójcik", "");
  EXPECT_EQ(UserMatchScore("lukasz", lukasz), 0);
  EXPECT_EQ(UserMatchScore("wojcik", lukasz), 1);
  // A typo is one character whatever its bytes: "Иванова" has 14.
  const User yulia = U("3", "Юлия Иванова", "");
  EXPECT_EQ(UserMatchScore("ЮЛИЯ", yulia), 0);
  EXPECT_EQ(UserMatchScore("иваова", yulia), 3);   // a letter left out
  EXPECT_EQ(UserMatchScore("ивнаова", yulia), 3);  // two letters swapped
  EXPECT_EQ(UserMatchScore("юлиа", yulia), 3);     // one substituted
  EXPECT_EQ(UserMatchScore("петрова", yulia), -1);
  // A letter of another script in the query is one typo against a Latin
  // name; more than the bound are no match.
  EXPECT_EQ(UserMatchScore("josю", jose), 3);
  EXPECT_EQ(UserMatchScore("Ivanova", U("4", "Иванова Ivanova", "")), 1);
  EXPECT_EQ(UserMatchScore("Иванова", U("5", "Ivanova", "ivanova@example.com")), -1);
}

TEST(UserSearchTest, NameTrigramsAreTheRunsOfThreeWithinWords) {
  EXPECT_EQ(NameTrigrams("Margarethe Lindqvist"),
            (std::vector<std::string>{"are", "arg", "dqv", "eth", "gar", "ind", "ist", "lin",
                                      "mar", "ndq", "qvi", "ret", "rga", "the", "vis"}));
  EXPECT_EQ(NameTrigrams("Jo Ann-Ann"), (std::vector<std::string>{"ann"}));
  EXPECT_EQ(NameTrigrams("José"), (std::vector<std::string>{"jos", "ose"}));
  EXPECT_EQ(NameTrigrams("Łukasz Wójcik"),
            (std::vector<std::string>{"asz", "cik", "jci", "kas", "luk", "ojc", "uka", "woj"}));
  EXPECT_EQ(NameTrigrams("Юлия Ли"), (std::vector<std::string>{"лия", "юли"}));
  EXPECT_EQ(NameTrigrams("王小明"), (std::vector<std::string>{"王小明"}));
  EXPECT_EQ(NameTrigrams("O'Neil 42b"), (std::vector<std::string>{"42b", "eil", "nei"}));
  EXPECT_TRUE(NameTrigrams("").empty());
  EXPECT_TRUE(NameTrigrams("li yu").empty());
}

TEST(UserSearchTest, UserTrigramsAddTheEmailsLocalPart) {
  using V = std::vector<std::string>;
  EXPECT_EQ(UserTrigrams("Ann", std::string("ann.berg-x@example.com")), (V{"ann", "ber", "erg"}));
  EXPECT_EQ(UserTrigrams("Ann", std::nullopt), V{"ann"});
  EXPECT_EQ(UserTrigrams("", std::string("Zoë@x.org")), V{"zoe"});
  EXPECT_EQ(UserTrigrams("", std::string("no-at-sign")), (V{"ign", "sig"}));
  EXPECT_TRUE(UserTrigrams("", std::nullopt).empty());
  EXPECT_TRUE(GainsTrigramsOverAsciiNameRule("Ann", std::string("a@x.org")));
  EXPECT_TRUE(GainsTrigramsOverAsciiNameRule("José", std::nullopt));
  EXPECT_FALSE(GainsTrigramsOverAsciiNameRule("Ann Berg", std::nullopt));
  EXPECT_FALSE(GainsTrigramsOverAsciiNameRule("", std::nullopt));
}

TEST(UserSearchTest, MostSharedTrigramsCountsListsAndBreaksTiesById) {
  const std::vector<std::vector<std::string>> holders{
      {"b", "a", "c"}, {"c", "a"}, {"c", "d"}, {}};
  EXPECT_EQ(MostSharedTrigrams(holders, 10), (std::vector<std::string>{"c", "a", "b", "d"}));
  EXPECT_EQ(MostSharedTrigrams(holders, 2), (std::vector<std::string>{"c", "a"}));
  EXPECT_TRUE(MostSharedTrigrams({}, 5).empty());
}

TEST(UserSearchTest, MostSharedTrigramsLeavesOutCommonTrigrams) {
  std::vector<std::vector<std::string>> holders(3);
  for (size_t i = 0; i <= kTrigramCommon; ++i) holders[0].push_back(fmt::format("a{:05}", i));
  holders[1] = {"z", "a00001"};
  holders[2] = {"z"};
  // Without the rule, a00001 (in the common list and another) would tie z.
  EXPECT_EQ(MostSharedTrigrams(holders, 2), (std::vector<std::string>{"z", "a00001"}));
  holders[0].pop_back();  // no longer common: it counts
  EXPECT_EQ(MostSharedTrigrams(holders, 1), (std::vector<std::string>{"a00001"}));
}

TEST(UserSearchTest, RanksBestFirstAndLimits) {
  std::vector<User> users = {U("1", "Mario", "mario@x.org"), U("2", "Maria", "maria@x.org"),
                             U("3", "Bob", "bob@x.org"), U("2", "Maria", "maria@x.org")};
  auto out = RankUserMatches("maria", users, 10);
  ASSERT_EQ(out.size(), 2u);  // Maria once (exact), then Mario (a typo away)
  EXPECT_EQ(out[0].user_id, "2");
  EXPECT_EQ(out[1].user_id, "1");
  EXPECT_EQ(RankUserMatches("maria", users, 1).size(), 1u);
}

// Names repeat: learners of the same name and score come by id, whatever
// order the store gave them in, so `limit` cuts the same ones each time.
TEST(UserSearchTest, TheIdBreaksATieOfScoreAndName) {
  std::vector<User> users = {U("c", "Maria", "maria@x.org"), U("b", "Maria", "maria@y.org"),
                             U("a", "Maria", "maria@z.org")};
  auto out = RankUserMatches("maria", users, 10);
  std::vector<std::string> ids;
  for (const User& u : out) ids.push_back(u.user_id);
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(UserSearchTest, AQueryOfOneOrTwoCharactersHasNoTypos) {
  std::vector<User> users = {U("1", "Maria", "maria@x.org"), U("2", "Bob", "bob@x.org")};
  auto ids = [&](std::string_view q) {
    std::vector<std::string> out;
    for (const User& u : RankUserMatches(q, users, 10)) out.push_back(u.user_id);
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(ids("b"), V{"2"});        // a prefix
  EXPECT_EQ(ids("x"), (V{"2", "1"}));  // a substring (the domain), ties by name
  EXPECT_EQ(ids("q"), V{});           // one edit from every first letter: no match
  EXPECT_EQ(ids("\xF0\x9F\x98\x80"), V{});
  EXPECT_EQ(ids("ob"), V{"2"});       // a substring
  EXPECT_EQ(ids("bx"), V{});          // one edit from "bo": no match at two characters
  EXPECT_EQ(ids("bxb"), V{"2"});      // three characters take one
}

// The score as first written: a distance computation per field and per
// prefix length. UserMatchScore computes them all in one banded pass; the
// two must agree on every input.
int ReferenceScore(const std::string& q, const std::string& field) {
  if (field.empty()) return -1;
  if (field.starts_with(q)) return 0;
  if (field.find(q) != std::string::npos) return 1;
  if (q.size() <= 2) return -1;  // no typos in a query this short
  const size_t bound = std::max<size_t>(1, TypoBound(q.size()));
  size_t d = OsaDistance(q, field, bound);
  for (size_t len = q.size() > 1 ? q.size() - 1 : 1; len <= q.size() + 1; ++len) {
    if (len < field.size()) d = std::min(d, OsaDistance(q, field.substr(0, len), bound));
  }
  return d <= bound ? 2 + static_cast<int>(d) : -1;
}

int ReferenceUserScore(const std::string& q, const User& u) {
  const std::string email = u.email.value_or("");
  const std::string local = email.substr(0, email.find('@'));
  int best = -1;
  for (const std::string& field : {email, local, u.username}) {
    const int s = ReferenceScore(q, field);
    if (s >= 0 && (best < 0 || s < best)) best = s;
  }
  if (best == 0 || best == 1) return best;
  // A typo at the start of a later word (after a space or a dot here).
  for (const std::string& field : {u.username, local}) {
    for (size_t i = 1; i < field.size(); ++i) {
      if (field[i - 1] != ' ' && field[i - 1] != '.') continue;
      if (field[i] == ' ' || field[i] == '.') continue;
      const int s = ReferenceScore(q, field.substr(i));
      if (s >= 2 && (best < 0 || s < best)) best = s;
    }
  }
  return best;
}

TEST(UserSearchTest, AgreesWithOneDistancePerPrefixOnRandomStrings) {
  std::mt19937 rng(20261206);
  // Few letters, so that near misses (typos within the bound) are common.
  auto word = [&](size_t min_len, size_t max_len) {
    std::string w(std::uniform_int_distribution<size_t>(min_len, max_len)(rng), 'a');
    for (char& c : w) c = "abcd"[std::uniform_int_distribution<int>(0, 3)(rng)];
    return w;
  };
  int typos = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string q = word(1, 20);
    std::string name = word(0, 24);
    if (i % 3 == 0) {  // the query with a few edits, often within the bound
      name = q;
      for (int e = std::uniform_int_distribution<int>(1, 4)(rng); e > 0 && !name.empty(); --e) {
        const size_t at = std::uniform_int_distribution<size_t>(0, name.size() - 1)(rng);
        switch (e % 3) {
          case 0: name.erase(at, 1); break;
          case 1: name.insert(at, 1, 'd'); break;
          default: if (at + 1 < name.size()) std::swap(name[at], name[at + 1]);
        }
      }
      name += word(0, 6);
    }
    if (i % 5 == 1) name = word(1, 6) + " " + name;  // the query in a later word
    std::string local = word(0, 8);
    if (i % 7 == 2) local = word(1, 4) + "." + (i % 3 == 0 ? name : local);
    const User u{"id", name, local + "@" + word(1, 6), 0};
    const int want = ReferenceUserScore(q, u);
    ASSERT_EQ(UserMatchScore(q, u), want) << "query " << q << ", user " << name << " " << *u.email;
    typos += want >= 2;
  }
  EXPECT_GT(typos, 1000);  // the typo paths were exercised
}

}  // namespace
}  // namespace errata
