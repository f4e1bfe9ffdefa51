#include "core/search_fold.h"

#include <string>
#include <vector>

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include "core/text.h"

namespace errata {
namespace {

// Latin letters NFKD leaves whole (no base letter and mark to split), as
// the ASCII a reader of the name would type. Lower and upper case both:
// the fold comes after.
const char* LatinWithoutDecomposition(UChar32 c) {
  switch (c) {
    case 0x00C6: case 0x00E6: return "ae";  // Æ æ
    case 0x00D0: case 0x00F0: return "d";   // Ð ð
    case 0x00D8: case 0x00F8: return "o";   // Ø ø
    case 0x00DE: case 0x00FE: return "th";  // Þ þ
    case 0x0110: case 0x0111: return "d";   // Đ đ
    case 0x0126: case 0x0127: return "h";   // Ħ ħ
    case 0x0131: return "i";                // ı
    case 0x0141: case 0x0142: return "l";   // Ł ł
    case 0x014A: case 0x014B: return "n";   // Ŋ ŋ
    case 0x0152: case 0x0153: return "oe";  // Œ œ
    case 0x0166: case 0x0167: return "t";   // Ŧ ŧ
    default: return nullptr;
  }
}

// SearchFold of a text with a byte beyond ASCII, by ICU.
std::string FoldWithIcu(std::string_view s) {
  UErrorCode err = U_ZERO_ERROR;
  const icu::Normalizer2* nfkd = icu::Normalizer2::getNFKDInstance(err);
  if (U_FAILURE(err)) return AsciiLower(s);
  const icu::UnicodeString decomposed = nfkd->normalize(
      icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size()))), err);
  if (U_FAILURE(err)) return AsciiLower(s);
  icu::UnicodeString kept;
  for (int32_t i = 0; i < decomposed.length();) {
    const UChar32 c = decomposed.char32At(i);
    i += U16_LENGTH(c);
    if (u_charType(c) == U_NON_SPACING_MARK) continue;
    if (const char* ascii = LatinWithoutDecomposition(c)) {
      kept.append(icu::UnicodeString(ascii, -1, icu::UnicodeString::kInvariant));
    } else {
      kept.append(c);
    }
  }
  kept.foldCase();
  std::string out;
  kept.toUTF8String(out);
  return out;
}

// The fold of each code point from U+0080 to U+2FFF (Latin, Greek,
// Cyrillic, Armenian, Hebrew, Arabic, the Indic scripts...: the names of
// nearly every learner), worked out by FoldWithIcu once, on first use.
// Folding a name code point by code point gives FoldWithIcu's answer: NFKD
// decomposes each code point on its own, the marks go, and case folding
// looks at no context. The one exception is NFKD's reordering of a run of
// combining marks, which only matters for the marks that stay (not
// non-spacing): a code point whose decomposition holds one is marked, and
// a name holding it goes to ICU whole, as does any code point from U+3000.
class FoldTable {
 public:
  static constexpr UChar32 kEnd = 0x3000;

  FoldTable() : entries_(kEnd - 0x80) {
    UErrorCode err = U_ZERO_ERROR;
    const icu::Normalizer2* nfkd = icu::Normalizer2::getNFKDInstance(err);
    if (U_FAILURE(err)) return;  // no entry: ICU folds each text whole
    for (UChar32 c = 0x80; c < kEnd; ++c) {
      if (U_IS_SURROGATE(c)) continue;
      const icu::UnicodeString one(c);
      const icu::UnicodeString d = nfkd->normalize(one, err);
      if (U_FAILURE(err)) {
        err = U_ZERO_ERROR;
        continue;
      }
      bool reorders = false;
      for (int32_t i = 0; i < d.length();) {
        const UChar32 m = d.char32At(i);
        i += U16_LENGTH(m);
        if (u_getCombiningClass(m) != 0 && u_charType(m) != U_NON_SPACING_MARK) reorders = true;
      }
      if (reorders) continue;
      std::string utf8;
      one.toUTF8String(utf8);
      Entry& e = entries_[c - 0x80];
      e.text = FoldWithIcu(utf8);
      e.fast = true;
    }
  }

  // Appends the fold of `c` (U+0080 to kEnd) to *out; false when the text
  // holding it must go to ICU whole.
  bool Append(UChar32 c, std::string* out) const {
    const Entry& e = entries_[c - 0x80];
    if (!e.fast) return false;
    out->append(e.text);
    return true;
  }

  static const FoldTable& Get() {
    static const FoldTable table;
    return table;
  }

 private:
  struct Entry {
    bool fast = false;
    std::string text;
  };
  std::vector<Entry> entries_;
};

// SearchFold of a text with a byte beyond ASCII: by the table, or by ICU.
std::string FoldBeyondAscii(std::string_view s) {
  const FoldTable& table = FoldTable::Get();
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const auto byte = static_cast<unsigned char>(s[i]);
    if (byte < 0x80) {
      out.push_back(byte >= 'A' && byte <= 'Z' ? static_cast<char>(byte - 'A' + 'a')
                                               : static_cast<char>(byte));
      ++i;
      continue;
    }
    const int32_t c = fold_detail::NextCodePoint(s, &i);
    if (c < 0 || c >= FoldTable::kEnd || !table.Append(c, &out)) return FoldWithIcu(s);
  }
  return out;
}

}  // namespace

std::string SearchFoldWithIcu(std::string_view s) { return FoldWithIcu(s); }

bool IsAscii(std::string_view s) {
  unsigned char any = 0;  // no early exit: the loop vectorises
  for (unsigned char c : s) any |= c;
  return any < 0x80;
}

size_t MalformedUtf8Length(std::string_view s, size_t i) {
  const size_t from = i;
  fold_detail::NextCodePoint(s, &i);
  return i - from;
}

std::string ValidUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t run = 0;  // the well-formed bytes since the last bad one
  for (size_t i = 0; i < s.size();) {
    if (const size_t n = Utf8SequenceLength(s, i); n != 0) {
      i += n;
      continue;
    }
    out.append(s.data() + run, i - run).append("\xEF\xBF\xBD");
    i += MalformedUtf8Length(s, i);
    run = i;
  }
  return out.append(s.data() + run, s.size() - run);
}

std::string SearchFold(std::string_view s, bool* ascii) {
  if (IsAscii(s)) {
    if (ascii != nullptr) *ascii = true;
    return AsciiLower(s);
  }
  std::string out = FoldBeyondAscii(s);
  if (ascii != nullptr) *ascii = IsAscii(out);
  return out;
}

bool IsWordCodePoint(int32_t c) {
  if (c < 0x80) return IsAsciiAlnum(static_cast<char>(c));
  return u_isalnum(c) != 0;
}

namespace fold_detail {
int32_t NextCodePoint(std::string_view s, size_t* i) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  int32_t at = static_cast<int32_t>(*i);
  UChar32 c;
  U8_NEXT(p, at, static_cast<int32_t>(s.size()), c);
  *i = static_cast<size_t>(at);
  return c;
}
}  // namespace fold_detail

}  // namespace errata
