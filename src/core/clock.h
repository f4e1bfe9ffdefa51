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
