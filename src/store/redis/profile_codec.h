// How a learner's Profile is laid out in its Redis hash errata:p:{user}:
//
//   k            "1" the learner exists in the store, "0" not (yet)
//   s:{sub}      the point's subcategory display name (the point exists)
//   g:{sub}      its category display name
//   c:{sub}      count (HINCRBY)
//   f:{sub}      first_seen, µs        l:{sub}  last_seen, µs
//   d:{sub}      decay_log2 ("-inf" for none)
//   m:{sub}      memory state: stability|difficulty|last_review|reviews|lapses|last_correct|last_lapse
//   e:{t}:{id}   an example (JSON); t = 16 hex digits of the time, ordered
//   r:{t}:{id}   a recent correct answer: the exercise id
//
// The whole profile the cache serves is there (counts, memory, own-words
// examples and recent correct answers), so a hit needs no store read.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/model.h"
#include "core/profile.h"

namespace errata::redis {

std::string ProfileKey(std::string_view user_id);
std::string StateKey(std::string_view user_id);
inline constexpr const char* kGenerationKey = "errata:gen";
inline constexpr const char* kProfilePattern = "errata:p:*";

// The hash's fields and values, flattened (field, value, field, value, ...).
std::vector<std::string> EncodeProfile(const Profile& profile);
// The profile from HGETALL's field/value pairs. Points come sorted by id.
Profile DecodeProfile(const std::vector<std::pair<std::string, std::string>>& fields);

// Pieces of the apply script's arguments (see scripts.h).
std::string EncodeDouble(double v);
std::string EncodeMemory(const MemoryState& m);
std::string TimeKey(Micros t);  // 16 hex digits that order like t
std::string ExampleField(const Example& e);
std::string EncodeExample(const Example& e);
std::string RecentField(Micros answered_at, std::string_view id);

}  // namespace errata::redis
