// Small text helpers shared by the domain and the stores.
#pragma once

#include <string>
#include <string_view>

namespace errata {

// `s` with ASCII letters in lower case; other bytes (UTF-8 included) as they
// are. What errata means by case-insensitive: emails, usernames, search.
inline std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// An ASCII letter or digit.
inline bool IsAsciiAlnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

}  // namespace errata
