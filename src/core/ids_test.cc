#include "core/ids.h"

#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace errata {
namespace {

constexpr Micros kT = 1795463657LL * kMicrosPerSecond;  // 2026-11-23T19:54:17Z

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

TEST(CanonicalUuidTest, KeepsCanonicalLowerCase) {
  const std::string id = "0192f5e8-7a3b-7c4d-8e5f-0123456789ab";
  EXPECT_EQ(CanonicalUuid(id), id);
}

TEST(CanonicalUuidTest, LowerCasesUpperAndMixedCase) {
  EXPECT_EQ(CanonicalUuid("0192F5E8-7A3B-7C4D-8E5F-0123456789AB"),
            "0192f5e8-7a3b-7c4d-8e5f-0123456789ab");
  EXPECT_EQ(CanonicalUuid("AbCdEf01-2345-6789-aBcD-eF0123456789"),
            "abcdef01-2345-6789-abcd-ef0123456789");
}

TEST(CanonicalUuidTest, RejectsBadShapes) {
  for (const char* bad : {
           "", "not-a-uuid",
           "0192f5e8-7a3b-7c4d-8e5f-0123456789a",    // 35 characters
           "0192f5e8-7a3b-7c4d-8e5f-0123456789abc",  // 37
           "0192f5e87a3b7c4d8e5f0123456789ab",       // no dashes
           "0192f5e8-7a3b-7c4d-8e5f0-123456789ab",   // dash moved
           "0192f5e87-a3b-7c4d-8e5f-0123456789ab",   // dash moved
           "0192f5e8_7a3b_7c4d_8e5f_0123456789ab",   // wrong separator
           "0192f5g8-7a3b-7c4d-8e5f-0123456789ab",   // 'g'
           "0192f5e8-7a3b-7c4d-8e5f-0123456789a ",   // space
           "{0192f5e8-7a3b-7c4d-8e5f-0123456789a}",  // braces
           "0192f5e8-7a3b-7c4d-8e5f--123456789ab",   // extra dash in place of a digit
       }) {
    EXPECT_EQ(CanonicalUuid(bad), std::nullopt) << '"' << bad << '"';
  }
}

TEST(NewUuidV7Test, IsCanonicalWithVersion7AndRfcVariant) {
  for (int i = 0; i < 1000; ++i) {
    const std::string id = NewUuidV7(kT + i * 997);
    ASSERT_EQ(id.size(), 36u) << id;
    EXPECT_EQ(CanonicalUuid(id), id) << "not canonical lower case: " << id;
    EXPECT_EQ(id[14], '7') << id;                                          // version nibble
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;  // variant 10xx
    for (size_t j = 0; j < id.size(); ++j) {
      if (j == 8 || j == 13 || j == 18 || j == 23) {
        EXPECT_EQ(id[j], '-');
      } else {
        EXPECT_TRUE(IsLowerHex(id[j])) << id;
      }
    }
  }
}

TEST(NewUuidV7Test, LeadsWithTheUnixMilliseconds) {
  // 0x0123456789ab milliseconds, plus some microseconds that must be dropped.
  const Micros t = 0x0123456789abLL * 1000 + 999;
  const std::string id = NewUuidV7(t);
  EXPECT_EQ(id.substr(0, 13), "01234567-89ab") << id;
  EXPECT_EQ(NewUuidV7(0).substr(0, 13), "00000000-0000");
  // The first 12 hex digits read back as the milliseconds of `now`.
  const std::string now_id = NewUuidV7(kT);
  const std::string hex = now_id.substr(0, 8) + now_id.substr(9, 4);
  EXPECT_EQ(std::stoull(hex, nullptr, 16), static_cast<unsigned long long>(kT / 1000));
}

TEST(NewUuidV7Test, IsTimeOrderedAcrossMilliseconds) {
  std::string previous = NewUuidV7(kT);
  for (int ms = 1; ms <= 2000; ++ms) {
    const std::string next = NewUuidV7(kT + ms * 1000LL);
    EXPECT_LT(previous, next) << "at +" << ms << " ms";
    previous = next;
  }
  // Far apart in time, too (the 48-bit field is big-endian).
  EXPECT_LT(NewUuidV7(kT), NewUuidV7(kT + 365LL * kMicrosPerDay));
  EXPECT_LT(NewUuidV7(1000), NewUuidV7(kT));
}

TEST(NewUuidV7Test, IsUniqueOver10kInTheSameMillisecond) {
  std::set<std::string> seen;
  for (int i = 0; i < 10'000; ++i) seen.insert(NewUuidV7(kT));
  EXPECT_EQ(seen.size(), 10'000u);
}

TEST(NewUuidV7Test, RandomBitsDiffer) {
  // Two ids in the same millisecond share the time prefix but not the rest.
  const std::string a = NewUuidV7(kT), b = NewUuidV7(kT);
  EXPECT_EQ(a.substr(0, 13), b.substr(0, 13));
  EXPECT_NE(a.substr(14), b.substr(14));
}

}  // namespace
}  // namespace errata
