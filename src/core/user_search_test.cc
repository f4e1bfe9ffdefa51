#include "core/user_search.h"

#include <gtest/gtest.h>

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

TEST(UserSearchTest, RanksBestFirstAndLimits) {
  std::vector<User> users = {U("1", "Mario", "mario@x.org"), U("2", "Maria", "maria@x.org"),
                             U("3", "Bob", "bob@x.org"), U("2", "Maria", "maria@x.org")};
  auto out = RankUserMatches("maria", users, 10);
  ASSERT_EQ(out.size(), 2u);  // Maria once (exact), then Mario (a typo away)
  EXPECT_EQ(out[0].user_id, "2");
  EXPECT_EQ(out[1].user_id, "1");
  EXPECT_EQ(RankUserMatches("maria", users, 1).size(), 1u);
}

}  // namespace
}  // namespace errata
