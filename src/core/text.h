// Small text helpers shared by the domain and the stores.
#pragma once

#include <cstddef>
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

// The length of the well-formed UTF-8 sequence at s[i] (1 to 4), or 0 when
// the bytes there are not one (Unicode 15, table 3-7: no overlong forms, no
// surrogates, nothing above U+10FFFF). Inline, for loops over text that is
// mostly ASCII; ValidUtf8 (search_fold.h) says what replaces a bad one.
inline size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto at = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const size_t avail = s.size() - i;
  const unsigned c = at(0);
  if (c < 0x80) return 1;
  const auto cont = [&](size_t k) { return k < avail && (at(k) & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if ((c == 0xE0 && at(1) < 0xA0) || (c == 0xED && at(1) > 0x9F)) return 0;
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if ((c == 0xF0 && at(1) < 0x90) || (c == 0xF4 && at(1) > 0x8F)) return 0;
    return 4;
  }
  return 0;
}

// The characters (code points) of UTF-8 text: its bytes that do not
// continue a sequence. Spans count them (Span, core/model.h).
inline size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// The byte offset where character `index` of UTF-8 text starts (s.size()
// for index == Utf8Length(s)), or npos when the text is shorter.
inline size_t Utf8Offset(std::string_view s, size_t index) {
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;
    if (index-- == 0) return i;
  }
  return index == 0 ? s.size() : std::string_view::npos;
}

// The longest prefix of `s` of at most `max_bytes` bytes that does not end
// inside a UTF-8 character: what a message may quote of client input. A cut
// through a character leaves invalid UTF-8, which JSON cannot carry (Boost's
// serializer writes the stray bytes as they are). Backs off at most three
// bytes, the most a character continues, so text that was not UTF-8 anyway
// is still cut near the limit.
inline std::string_view Utf8Prefix(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  size_t end = max_bytes;
  while (end > 0 && max_bytes - end < 3 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) {
    --end;
  }
  return s.substr(0, end);
}

// An ASCII letter or digit.
inline bool IsAsciiAlnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

}  // namespace errata
