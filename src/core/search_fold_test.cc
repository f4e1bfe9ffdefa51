#include "core/search_fold.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "core/text.h"
#include "core/user_search.h"

namespace errata {
namespace {

TEST(SearchFoldTest, FoldsCaseAndAccentsInAnyScript) {
  EXPECT_EQ(SearchFold("José García"), "jose garcia");
  EXPECT_EQ(SearchFold("ŁUKASZ Wójcik"), "lukasz wojcik");
  EXPECT_EQ(SearchFold("Søren Kierkegaard"), "soren kierkegaard");
  EXPECT_EQ(SearchFold("Straße"), "strasse");
  EXPECT_EQ(SearchFold("Nguyễn Thị Ánh"), "nguyen thi anh");
  EXPECT_EQ(SearchFold("Đặng Đức"), "dang duc");
  EXPECT_EQ(SearchFold("İlkay Işık"), "ilkay isik");
  EXPECT_EQ(SearchFold("Æsa Œuvre Þór"), "aesa oeuvre thor");
  EXPECT_EQ(SearchFold("Юлия Иванова"), "юлия иванова");
  EXPECT_EQ(SearchFold("Ελένη"), "ελενη");
  EXPECT_EQ(SearchFold("王伟"), "王伟");
  EXPECT_EQ(SearchFold("ｊｏｓｅ"), "jose");     // full-width letters
  EXPECT_EQ(SearchFold("e\u0301"), "e");        // an accent typed as a combining mark
}

TEST(SearchFoldTest, AsciiComesBackAsAsciiLowerGivesIt) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(1, 127), len(0, 24);
  for (int i = 0; i < 2000; ++i) {
    std::string s(static_cast<size_t>(len(rng)), ' ');
    for (char& c : s) c = static_cast<char>(byte(rng));
    ASSERT_EQ(SearchFold(s), AsciiLower(s)) << s;
  }
}

// SearchFold folds the code points below U+3000 by a table it fills from
// ICU; it must give what ICU gives for the whole text, marks and all.
TEST(SearchFoldTest, TheTableAgreesWithIcuOnWholeTexts) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> len(1, 12), kind(0, 9);
  std::uniform_int_distribution<uint32_t> any(0x80, 0x2FFF), mark(0x0300, 0x036F), ascii(0x20, 0x7E);
  const std::vector<uint32_t> tricky = {0x0345, 0x0F73, 0x0F75, 0x0F81, 0x0F39, 0x1E9E, 0x0130,
                                        0x00DF, 0x0587, 0x1FBE, 0x2126, 0x212A, 0x3000, 0xAC00};
  for (int n = 0; n < 50000; ++n) {
    std::u32string text;
    for (int k = len(rng); k > 0; --k) {
      const int what = kind(rng);
      text.push_back(what < 4   ? any(rng)
                     : what < 6 ? mark(rng)
                     : what < 9 ? ascii(rng)
                                : tricky[any(rng) % tricky.size()]);
    }
    std::string utf8;
    for (char32_t c : text) {
      if (c >= 0xD800 && c <= 0xDFFF) c = 0xFFFD;
      if (c < 0x80) {
        utf8.push_back(static_cast<char>(c));
      } else if (c < 0x800) {
        utf8.push_back(static_cast<char>(0xC0 | (c >> 6)));
        utf8.push_back(static_cast<char>(0x80 | (c & 0x3F)));
      } else {
        utf8.push_back(static_cast<char>(0xE0 | (c >> 12)));
        utf8.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
        utf8.push_back(static_cast<char>(0x80 | (c & 0x3F)));
      }
    }
    ASSERT_EQ(SearchFold(utf8), SearchFoldWithIcu(utf8)) << utf8;
  }
}

TEST(SearchFoldTest, BytesThatAreNotUtf8BecomeReplacementCharacters) {
  EXPECT_EQ(SearchFold("A\xff" "B"), "a\uFFFD" "b");
  EXPECT_EQ(SearchFold("\xc3"), "\uFFFD");  // a code point cut short
  std::vector<bool> words;
  ForEachCodePoint("a\xff\xc3\xa9", [&](size_t, size_t, bool w) { words.push_back(w); });
  EXPECT_EQ(words, (std::vector<bool>{true, false, true}));
}

TEST(SearchFoldTest, Utf8SequenceLengthAgreesWithIcu) {
  // Every lead byte with every two bytes after it, and a fourth byte that
  // continues or does not: valid exactly when ICU's U8_NEXT reads one code
  // point, of the same length.
  for (int a = 0x80; a < 0x100; ++a) {
    for (int b = 0; b < 0x100; ++b) {
      for (int c = 0; c < 0x100; ++c) {
        for (const int d : {0x41, 0x80, 0xBF}) {
          const char bytes[] = {static_cast<char>(a), static_cast<char>(b),
                                static_cast<char>(c), static_cast<char>(d)};
          const std::string_view s(bytes, 4);
          size_t i = 0;
          const bool icu = fold_detail::NextCodePoint(s, &i) >= 0;
          const size_t n = Utf8SequenceLength(s, 0);
          ASSERT_EQ(n != 0, icu) << a << " " << b << " " << c << " " << d;
          if (icu) {
            ASSERT_EQ(n, i) << a << " " << b << " " << c << " " << d;
          }
        }
      }
    }
  }
  EXPECT_EQ(Utf8SequenceLength("\xe2\x82", 0), 0u);  // cut short by the end
  EXPECT_EQ(Utf8SequenceLength("a", 0), 1u);
}

TEST(SearchFoldTest, WordsAreLettersAndDigitsOfAnyScript) {
  EXPECT_TRUE(IsWordCodePoint('a'));
  EXPECT_TRUE(IsWordCodePoint('7'));
  EXPECT_TRUE(IsWordCodePoint(0x044E));   // ю
  EXPECT_TRUE(IsWordCodePoint(0x738B));   // 王
  EXPECT_FALSE(IsWordCodePoint('-'));
  EXPECT_FALSE(IsWordCodePoint('\''));
  EXPECT_FALSE(IsWordCodePoint(0x00B7));  // middle dot
  EXPECT_FALSE(IsWordCodePoint(0x1F600)); // an emoji
}

// The rule before session 18: runs of ASCII letters and digits of the
// ASCII-lower-case name.
std::vector<std::string> AsciiRuleTrigrams(std::string_view name) {
  const std::string lower = AsciiLower(name);
  std::vector<std::string> out;
  size_t run = 0;
  for (size_t i = 0; i < lower.size(); ++i) {
    run = IsAsciiAlnum(lower[i]) ? run + 1 : 0;
    if (run >= 3) out.push_back(lower.substr(i - 2, 3));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// What lets each store's upgrade only add trigrams: every trigram of the
// earlier rule is one of the new rule's, for any name.
TEST(SearchFoldTest, EveryTrigramOfTheAsciiRuleIsKept) {
  const std::vector<std::string> pieces = {
      "a", "B", "c", "x", "Z", "0", "9", " ", "-", "'", ".", "é", "É", "ł", "Ł", "ß", "æ",
      "ø", "ю", "Ж", "王", "\u0301", "ｊ", "ﬁ", "·", "\xff", "\xc3", "İ", "ı", "Đ"};
  std::mt19937 rng(18);
  std::uniform_int_distribution<size_t> pick(0, pieces.size() - 1), len(0, 16);
  for (int i = 0; i < 20000; ++i) {
    std::string name;
    for (size_t k = len(rng); k > 0; --k) name += pieces[pick(rng)];
    const std::vector<std::string> now = NameTrigrams(name);
    for (const std::string& g : AsciiRuleTrigrams(name)) {
      ASSERT_TRUE(std::binary_search(now.begin(), now.end(), g)) << name << " lost " << g;
    }
  }
}

}  // namespace
}  // namespace errata
