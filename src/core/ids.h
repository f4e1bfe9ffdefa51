// UUIDs as errata uses them: canonical lower-case text, new ones UUIDv7 (time-ordered).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"

namespace errata {

// Returns the canonical lower-case form of a UUID given as 36 characters
// (8-4-4-4-12 hex digits, any case), or nullopt when `text` is not one.
std::optional<std::string> CanonicalUuid(std::string_view text);

// A new UUIDv7 (RFC 9562) for the instant `now`: 48 bits of Unix milliseconds,
// then random bits. Thread-safe (a per-thread generator).
std::string NewUuidV7(Micros now);

// UUIDv7s for one instant that sort in the order they are made: RFC 9562
// 6.2, method 2 (monotonic random). The first id's 74 bits after the version
// and variant are random, with the top one clear (the RFC's rollover guard);
// each next id is the one before plus 1, carried across the version and
// variant bits. An utterance's errors get their ids from one sequence, so
// that every read listing them by id (a replay's answer, the conversation
// view, the export) gives them in the order the request sent them; with an
// independent random tail each, ids of one millisecond sorted at random.
// Not thread-safe: one sequence per utterance.
class UuidV7Sequence {
 public:
  explicit UuidV7Sequence(Micros now);
  // A sequence whose first id has these bits after the version (`rand_a`, 12
  // bits) and after the variant (`rand_b`, 62 bits): tests of the carry.
  UuidV7Sequence(Micros now, uint64_t rand_a, uint64_t rand_b);
  std::string Next();

 private:
  uint64_t ms_;
  uint64_t rand_a_;  // < 2^12
  uint64_t rand_b_;  // < 2^62
};

// A UUID's 16 bytes, in the order its text gives them (so byte order sorts
// like the lower-case text). UuidToBytes is false when `text` is not a UUID
// in the shape CanonicalUuid accepts.
inline constexpr size_t kUuidBytes = 16;
bool UuidToBytes(std::string_view text, char out[kUuidBytes]);
// Appends the canonical lower-case text of 16 bytes.
void AppendUuidText(const char bytes[kUuidBytes], std::string* out);

}  // namespace errata
