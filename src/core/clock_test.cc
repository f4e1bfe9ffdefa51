#include "core/clock.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace errata {
namespace {

constexpr Micros kSecond = kMicrosPerSecond;
// 2026-11-23T19:54:17Z in seconds since the epoch (Python: calendar.timegm).
constexpr Micros kRef = 1795463657 * kSecond;

TEST(ClockTest, EpochParsesToZeroAndFormatsBack) {
  EXPECT_EQ(ParseTime("1970-01-01T00:00:00Z"), std::optional<Micros>(0));
  EXPECT_EQ(FormatTime(0), "1970-01-01T00:00:00.000000Z");
}

TEST(ClockTest, ParsesAKnownInstant) {
  EXPECT_EQ(ParseTime("2026-11-23T19:54:17Z"), kRef);
  EXPECT_EQ(FormatTime(kRef), "2026-11-23T19:54:17.000000Z");
}

TEST(ClockTest, FormatAlwaysHasSixFractionDigitsAndZ) {
  EXPECT_EQ(FormatTime(kRef + 123), "2026-11-23T19:54:17.000123Z");
  EXPECT_EQ(FormatTime(kRef + 999'999), "2026-11-23T19:54:17.999999Z");
}

TEST(ClockTest, FormatThenParseRoundTrips) {
  const Micros samples[] = {0,
                            1,
                            kRef,
                            kRef + 123'456,
                            -1,                       // 1969-12-31T23:59:59.999999Z
                            -kMicrosPerDay - 7,       // before the epoch, not a whole second
                            951825600 * kSecond,      // 2000-02-29T12:00:00Z
                            253402300799 * kSecond,   // 9999-12-31T23:59:59Z
                            -62135596800 * kSecond};  // 0001-01-01T00:00:00Z
  for (Micros t : samples) {
    const std::string text = FormatTime(t);
    EXPECT_EQ(ParseTime(text), t) << text;
  }
  // And every day over four years (one leap day), at an odd time of day.
  const Micros start = *ParseTime("2023-01-01T13:07:59.654321Z");
  for (int d = 0; d < 4 * 366; ++d) {
    const Micros t = start + d * kMicrosPerDay;
    EXPECT_EQ(ParseTime(FormatTime(t)), t) << FormatTime(t);
  }
}

TEST(ClockTest, FormatsTimesBeforeTheEpoch) {
  EXPECT_EQ(FormatTime(-1), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(FormatTime(-kMicrosPerDay), "1969-12-31T00:00:00.000000Z");
}

TEST(ClockTest, OffsetsAreConvertedToUtc) {
  EXPECT_EQ(ParseTime("2026-11-23T21:54:17+02:00"), kRef);
  EXPECT_EQ(ParseTime("2026-11-23T14:24:17-05:30"), kRef);
  EXPECT_EQ(ParseTime("2026-11-23T19:54:17+00:00"), kRef);
  EXPECT_EQ(ParseTime("2026-11-23T19:54:17-00:00"), kRef);
  // An offset that crosses midnight and a month end.
  EXPECT_EQ(ParseTime("2026-12-01T01:00:00+02:00"), ParseTime("2026-11-30T23:00:00Z"));
}

TEST(ClockTest, NoOffsetMeansUtc) { EXPECT_EQ(ParseTime("2026-11-23T19:54:17"), kRef); }

TEST(ClockTest, LowerCaseSeparatorsAndSpaceAreAccepted) {
  EXPECT_EQ(ParseTime("2026-11-23t19:54:17z"), kRef);
  EXPECT_EQ(ParseTime("2026-11-23 19:54:17Z"), kRef);
}

TEST(ClockTest, FractionsAreKeptToMicroseconds) {
  EXPECT_EQ(ParseTime("2026-11-23T19:54:17.5Z"), kRef + 500'000);
  EXPECT_EQ(ParseTime("2026-11-23T19:54:17.000001Z"), kRef + 1);
  EXPECT_EQ(ParseTime("2026-11-23T19:54:17.123456Z"), kRef + 123'456);
  // Nanosecond digits beyond the microsecond are dropped, not rounded.
  EXPECT_EQ(ParseTime("2026-11-23T19:54:17.123456789Z"), kRef + 123'456);
  EXPECT_EQ(ParseTime("2026-11-23T21:54:17.25+02:00"), kRef + 250'000);
}

TEST(ClockTest, BareDateIsMidnightUtc) {
  EXPECT_EQ(ParseTime("2026-11-23"), kRef - (19 * 3600 + 54 * 60 + 17) * kSecond);
  EXPECT_EQ(ParseTime("1970-01-02"), kMicrosPerDay);
}

TEST(ClockTest, LeapYears) {
  EXPECT_EQ(ParseTime("2024-02-29"), 1709164800 * kSecond);
  EXPECT_EQ(ParseTime("2000-02-29T12:00:00Z"), 951825600 * kSecond);  // divisible by 400
  EXPECT_EQ(*ParseTime("2024-03-01") - *ParseTime("2024-02-28"), 2 * kMicrosPerDay);
  EXPECT_EQ(*ParseTime("2023-03-01") - *ParseTime("2023-02-28"), kMicrosPerDay);
  EXPECT_EQ(ParseTime("2023-02-29"), std::nullopt);
  EXPECT_EQ(ParseTime("1900-02-29"), std::nullopt);  // divisible by 100, not by 400
  EXPECT_EQ(ParseTime("2100-02-29"), std::nullopt);
}

TEST(ClockTest, InvalidDatesAreRejected) {
  for (const char* bad : {"2026-13-01", "2026-00-10", "2026-02-30", "2026-04-31", "2026-01-00",
                          "2026-01-32", "2026-13-01T00:00:00Z", "2026-02-30T10:00:00Z"}) {
    EXPECT_EQ(ParseTime(bad), std::nullopt) << bad;
  }
}

TEST(ClockTest, InvalidTimesAreRejected) {
  for (const char* bad :
       {"2026-11-23T24:00:00Z", "2026-11-23T19:60:00Z", "2026-11-23T19:54:61Z", "2026-11-23T19:54Z",
        "2026-11-23T19:54", "2026-11-23T", "2026-11-23T1:2:3Z", "2026-11-23X19:54:17Z"}) {
    EXPECT_EQ(ParseTime(bad), std::nullopt) << bad;
  }
}

TEST(ClockTest, InvalidFractionsAndOffsetsAreRejected) {
  for (const char* bad :
       {"2026-11-23T19:54:17.Z",            // no digits
        "2026-11-23T19:54:17.1234567890Z",  // 10 digits
        "2026-11-23T19:54:17+2:00", "2026-11-23T19:54:17+0200", "2026-11-23T19:54:17+24:00",
        "2026-11-23T19:54:17+02:60", "2026-11-23T19:54:17+02:00Z", "2026-11-23T19:54:17ZZ",
        "2026-11-23T19:54:17 Z", "2026-11-23T19:54:17UTC"}) {
    EXPECT_EQ(ParseTime(bad), std::nullopt) << bad;
  }
}

TEST(ClockTest, GarbageIsRejected) {
  for (const char* bad :
       {"", "garbage", "2026", "2026-11", "26-11-23", "2026-1-23", "2026/11/23", "２０２６-11-23",
        " 2026-11-23", "2026-11-23 ", "yesterday", "1795463657"}) {
    EXPECT_EQ(ParseTime(bad), std::nullopt) << bad;
  }
}

TEST(ClockTest, NowIsAfter2024AndMonotoneEnough) {
  const Micros a = NowMicros();
  const Micros b = NowMicros();
  EXPECT_GT(a, *ParseTime("2024-01-01"));
  EXPECT_GE(b, a - kSecond);  // wall clock; allow a small step back
}

}  // namespace
}  // namespace errata
