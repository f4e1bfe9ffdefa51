#include "core/search_fold.h"

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

// SearchFold of a text with a byte beyond ASCII.
std::string FoldBeyondAscii(std::string_view s) {
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

}  // namespace

bool IsAscii(std::string_view s) {
  unsigned char any = 0;  // no early exit: the loop vectorises
  for (unsigned char c : s) any |= c;
  return any < 0x80;
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
