#include "core/email.h"

#include <gtest/gtest.h>

#include <string>

namespace errata {
namespace {

TEST(IsValidEmailTest, AcceptsOrdinaryAddresses) {
  for (const char* ok : {"a@example.com", "Carol.Smith@example.co.uk", "user+tag@example.com",
                         "first_last-1@sub.domain.example", "x@y.io", "a@b.c", "UPPER@EXAMPLE.COM",
                         "o'brien@example.ie", "user@xn--bcher-kva.example", "a.b.c@example.com",
                         "1234@example.com"}) {
    EXPECT_TRUE(IsValidEmail(ok)) << ok;
  }
}

TEST(IsValidEmailTest, RejectsAddressesWithoutOneAt) {
  for (const char* bad :
       {"", "plainaddress", "example.com", "a@b@example.com", "@example.com", "a@@example.com"}) {
    EXPECT_FALSE(IsValidEmail(bad)) << bad;
  }
}

TEST(IsValidEmailTest, RejectsBadDomains) {
  for (const char* bad : {"a@", "a@localhost", "a@.com", "a@example.", "a@example..com",
                          "a@-example.com", "a@example"}) {
    EXPECT_FALSE(IsValidEmail(bad)) << bad;
  }
}

TEST(IsValidEmailTest, RejectsBadLocalParts) {
  for (const char* bad : {".a@example.com", "a.@example.com", "a..b@example.com"}) {
    EXPECT_FALSE(IsValidEmail(bad)) << bad;
  }
}

TEST(IsValidEmailTest, RejectsSpacesControlAndSpecialCharacters) {
  for (const char* bad :
       {"a b@example.com", " a@example.com", "a@example.com ", "a@exa mple.com", "a\t@example.com",
        "a\n@example.com", "a\x7f@example.com", "\"a\"@example.com", "a(b)@example.com",
        "a,b@example.com", "a;b@example.com", "<a@example.com>", "a@[127.0.0.1]",
        "a\\b@example.com"}) {
    EXPECT_FALSE(IsValidEmail(bad)) << bad;
  }
  EXPECT_FALSE(IsValidEmail(std::string("a\0b@example.com", 15)));
}

TEST(IsValidEmailTest, RejectsOverlongAddresses) {
  const std::string local64(64, 'a'), local65(65, 'a');
  EXPECT_TRUE(IsValidEmail(local64 + "@example.com"));
  EXPECT_FALSE(IsValidEmail(local65 + "@example.com"));
  // 254 characters in all is the limit.
  const std::string domain_label(60, 'd');
  std::string domain = domain_label + "." + domain_label + "." + domain_label + ".";
  const std::string prefix = "a@" + domain;  // 185 characters
  std::string at_limit = prefix + std::string(254 - prefix.size() - 4, 'e') + ".com";
  ASSERT_EQ(at_limit.size(), 254u);
  EXPECT_TRUE(IsValidEmail(at_limit));
  EXPECT_FALSE(IsValidEmail(at_limit + "m"));
}

}  // namespace
}  // namespace errata
