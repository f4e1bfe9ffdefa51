// UUIDs as errata uses them: canonical lower-case text, new ones UUIDv7 (time-ordered).
#pragma once

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

// A UUID's 16 bytes, in the order its text gives them (so byte order sorts
// like the lower-case text). UuidToBytes is false when `text` is not a UUID
// in the shape CanonicalUuid accepts.
inline constexpr size_t kUuidBytes = 16;
bool UuidToBytes(std::string_view text, char out[kUuidBytes]);
// Appends the canonical lower-case text of 16 bytes.
void AppendUuidText(const char bytes[kUuidBytes], std::string* out);

}  // namespace errata
