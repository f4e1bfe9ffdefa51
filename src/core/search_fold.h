// What the learner search compares: names and emails folded so that case
// and accents do not matter, in any script ("José García" ~ "jose garcia",
// "ŁUKASZ" ~ "lukasz", "Юлия" ~ "юлия"). docs/user-search.md, "Beyond ASCII".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/text.h"

namespace errata {

// True when every byte of `s` is ASCII.
bool IsAscii(std::string_view s);

// `s` with each malformed UTF-8 sequence replaced by U+FFFD, as ICU's
// U8_NEXT delimits them; well-formed text comes back unchanged.
std::string ValidUtf8(std::string_view s);

// How many bytes the malformed UTF-8 sequence at s[i] takes, as U8_NEXT
// delimits it (at least 1): what one U+FFFD replaces. For a writer that
// checks runs with Utf8SequenceLength (text.h) and replaces as ValidUtf8 does.
size_t MalformedUtf8Length(std::string_view s, size_t i);

// `s` in the search's folded form, UTF-8: compatibility-decomposed (NFKD:
// "ﬁ" -> "fi", full-width letters -> ASCII), combining marks removed
// ("é" -> "e"), the Latin letters that have no decomposition spelled as
// ASCII ("ł" -> "l", "ø" -> "o", "æ" -> "ae", "đ" -> "d"), then case-folded
// ("ß" -> "ss", "Ю" -> "ю"). ASCII text comes back in lower case and
// nothing else, exactly as AsciiLower gives it. Bytes that are not UTF-8
// become U+FFFD. Uses ICU, through a table of the code points below U+3000
// (search_fold.cc). With `ascii`, says whether the result is ASCII.
std::string SearchFold(std::string_view s, bool* ascii = nullptr);

// SearchFold worked out by ICU alone, for the test that SearchFold's table
// of code points (search_fold.cc) agrees with it.
std::string SearchFoldWithIcu(std::string_view s);

// A letter or digit of any script (ICU's u_isalnum): what a word of a name
// is made of, for the search's trigrams and its later words.
bool IsWordCodePoint(int32_t c);

// Calls f(begin, end, is_word) for each code point of the UTF-8 `s`, in
// order (byte offsets). A malformed sequence is one code point that is not
// a word's.
template <typename F>
void ForEachCodePoint(std::string_view s, F&& f);

namespace fold_detail {
// The code point at s[*i] (advancing *i past it), or -1 for a malformed
// sequence (ICU's U8_NEXT: *i moves past its longest valid-looking part).
int32_t NextCodePoint(std::string_view s, size_t* i);
}  // namespace fold_detail

template <typename F>
void ForEachCodePoint(std::string_view s, F&& f) {
  for (size_t i = 0; i < s.size();) {
    const size_t begin = i;
    const auto byte = static_cast<unsigned char>(s[i]);
    if (byte < 0x80) {  // ASCII, without a call
      ++i;
      f(begin, i, IsAsciiAlnum(static_cast<char>(byte)));
      continue;
    }
    const int32_t c = fold_detail::NextCodePoint(s, &i);
    f(begin, i, c >= 0 && IsWordCodePoint(c));
  }
}

}  // namespace errata
