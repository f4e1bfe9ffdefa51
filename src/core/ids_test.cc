#include "core/ids.h"

#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <string>
#include <utility>
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

// What an id's 74 bits after its version and variant read as: rand_a, then
// rand_b (the text's digits with the version and variant bits taken out).
std::pair<uint64_t, uint64_t> Tail(const std::string& id) {
  const std::string hex = id.substr(15, 3) + id.substr(19, 4) + id.substr(24, 12);
  const uint64_t rand_a = std::stoull(hex.substr(0, 3), nullptr, 16);
  const uint64_t rand_b = std::stoull(hex.substr(3), nullptr, 16) & ((uint64_t{1} << 62) - 1);
  return {rand_a, rand_b};
}

void ExpectV7(const std::string& id) {
  EXPECT_EQ(CanonicalUuid(id), id) << id;
  EXPECT_EQ(id[14], '7') << id;
  EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;
}

TEST(UuidV7SequenceTest, EachIdIsThePreviousPlusOne) {
  UuidV7Sequence seq(kT);
  std::string previous = seq.Next();
  ExpectV7(previous);
  EXPECT_EQ(previous.substr(0, 13), NewUuidV7(kT).substr(0, 13));
  for (int i = 0; i < 1000; ++i) {
    const std::string next = seq.Next();
    ExpectV7(next);
    EXPECT_LT(previous, next) << "id " << i + 1;
    EXPECT_EQ(next.substr(0, 13), previous.substr(0, 13));
    auto [a0, b0] = Tail(previous);
    auto [a1, b1] = Tail(next);
    EXPECT_EQ(a1 * (uint64_t{1} << 62) + b1 - (a0 * (uint64_t{1} << 62) + b0), 1u)
        << previous << " then " << next;
    previous = next;
  }
}

TEST(UuidV7SequenceTest, StartsWithTheTopBitClearAndDiffersBetweenSequences) {
  std::set<std::string> firsts;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = UuidV7Sequence(kT).Next();
    EXPECT_LT(Tail(id).first, 0x800u) << id;  // room for 2^73 ids before a carry into the time
    firsts.insert(id);
  }
  EXPECT_EQ(firsts.size(), 1000u);
}

TEST(UuidV7SequenceTest, CarriesAcrossTheVersionAndVariantBits) {
  constexpr uint64_t kMaxB = (uint64_t{1} << 62) - 1;
  // rand_b's low byte, then its whole 62 bits into rand_a, then rand_a's
  // 12 bits into the milliseconds: still in order, still version 7 and the
  // RFC variant.
  struct Case {
    uint64_t a, b;
    const char* first;
    const char* second;
  } cases[] = {
      {0x000, 0xff, "-7000-8000-0000000000ff", "-7000-8000-000000000100"},
      {0x000, kMaxB, "-7000-bfff-ffffffffffff", "-7001-8000-000000000000"},
      {0x0ff, kMaxB, "-70ff-bfff-ffffffffffff", "-7100-8000-000000000000"},
      {0x7ff, kMaxB, "-77ff-bfff-ffffffffffff", "-7800-8000-000000000000"},
  };
  for (const Case& c : cases) {
    UuidV7Sequence seq(kT, c.a, c.b);
    const std::string one = seq.Next(), two = seq.Next(), three = seq.Next();
    EXPECT_EQ(one.substr(13), c.first);
    EXPECT_EQ(two.substr(13), c.second);
    EXPECT_EQ(one.substr(0, 13), two.substr(0, 13));
    EXPECT_LT(one, two);
    EXPECT_LT(two, three);
    ExpectV7(one);
    ExpectV7(two);
    ExpectV7(three);
  }
  // The last of the 74 bits: the next id is the next millisecond's first.
  UuidV7Sequence seq(kT, 0xfff, kMaxB);
  const std::string last = seq.Next(), next = seq.Next();
  EXPECT_EQ(last.substr(13), "-7fff-bfff-ffffffffffff");
  EXPECT_EQ(next.substr(13), "-7000-8000-000000000000");
  EXPECT_EQ(next.substr(0, 13), NewUuidV7(kT + 1000).substr(0, 13));
  EXPECT_LT(last, next);
}

TEST(UuidBytesTest, RoundTripsToCanonicalText) {
  char b[kUuidBytes];
  ASSERT_TRUE(UuidToBytes("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", b));
  const unsigned char want[kUuidBytes] = {0x01, 0x93, 0xa1, 0xb2, 0xc3, 0xd4, 0x7e, 0x5f,
                                          0x8a, 0x9b, 0x0c, 0x1d, 0x2e, 0x3f, 0x4a, 0x5b};
  EXPECT_EQ(std::string(b, kUuidBytes), std::string(reinterpret_cast<const char*>(want), 16));
  std::string text = "x";
  AppendUuidText(b, &text);
  EXPECT_EQ(text, "x0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
  // Upper case gives the same bytes, and the text comes back lower-case.
  char upper[kUuidBytes];
  ASSERT_TRUE(UuidToBytes("0193A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B", upper));
  EXPECT_EQ(std::string(upper, kUuidBytes), std::string(b, kUuidBytes));
  for (int i = 0; i < 1000; ++i) {
    const std::string id = NewUuidV7(kT + i);
    ASSERT_TRUE(UuidToBytes(id, b));
    std::string back;
    AppendUuidText(b, &back);
    EXPECT_EQ(back, id);
  }
}

TEST(UuidBytesTest, RejectsWhatCanonicalUuidRejects) {
  char b[kUuidBytes];
  for (const char* bad :
       {"", "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5", "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b0",
        "0193a1b2c3d4-7e5f-8a9b-0c1d2e3f4a5b-", "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5g",
        "g193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "0193a1b2-c3d4-7e5f-8a9b+0c1d2e3f4a5b",
        "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a:b", "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a b"}) {
    EXPECT_FALSE(UuidToBytes(bad, b)) << bad;
    EXPECT_EQ(CanonicalUuid(bad), std::nullopt) << bad;
  }
}

TEST(UuidBytesTest, BytesSortLikeTheText) {
  std::vector<std::string> ids;
  for (int i = 0; i < 500; ++i) ids.push_back(NewUuidV7(kT + (i % 7) * 1000));
  for (size_t i = 1; i < ids.size(); ++i) {
    char a[kUuidBytes], b[kUuidBytes];
    ASSERT_TRUE(UuidToBytes(ids[i - 1], a));
    ASSERT_TRUE(UuidToBytes(ids[i], b));
    const int bytes = std::string_view(a, kUuidBytes).compare(std::string_view(b, kUuidBytes));
    const int text = ids[i - 1].compare(ids[i]);
    EXPECT_EQ(bytes < 0, text < 0);
    EXPECT_EQ(bytes == 0, text == 0);
  }
}

}  // namespace
}  // namespace errata
