// Time in errata: microseconds since the Unix epoch, UTC, as a plain integer.
// Parsing and formatting of ISO-8601 (RFC 3339) timestamps. No I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace errata {

using Micros = int64_t;

constexpr Micros kMicrosPerSecond = 1'000'000;
constexpr Micros kMicrosPerDay = 86'400 * kMicrosPerSecond;
// The times errata takes in: 1970-01-01T00:00:00Z (a record's UUIDv7 counts
// milliseconds from it) to 9999-12-31T23:59:59.999999Z (the last with a
// four-digit year, which an RFC 3339 date-time needs).
constexpr Micros kFirstTime = 0;
constexpr Micros kLastTime = 253'402'300'799'999'999;

// The current wall-clock time. The only function here that reads a clock.
Micros NowMicros();

// Formats as "2026-11-23T19:54:17.123456Z".
std::string FormatTime(Micros t);
// The same text, appended to *out (no allocation of its own).
void AppendTime(std::string* out, Micros t);

// Parses RFC 3339 / ISO-8601 date-times: "2026-11-23T19:54:17Z", with optional fraction
// (up to 9 digits, kept to microseconds) and "Z", "+hh:mm" or "-hh:mm" offset; a bare date
// "2026-11-23" is midnight UTC; a date-time without offset is taken as UTC.
// Returns nullopt on anything else.
std::optional<Micros> ParseTime(std::string_view text);

}  // namespace errata
