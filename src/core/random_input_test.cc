// The domain's parsers and folds on random input (seeded): what they promise
// holds for any bytes, and nothing reads out of bounds (run under the
// sanitizer build of docs/fuzzing.md to see that last part).
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/ids.h"
#include "core/m2.h"
#include "core/search_fold.h"
#include "core/taxonomy.h"

namespace errata {
namespace {

constexpr int kRounds = 20'000;

bool IsUtf8(std::string_view s) { return ValidUtf8(s) == s; }

// Random text that is mostly near something valid: pieces of real inputs,
// UTF-8 of every length, and bytes that do not make UTF-8.
class Noise {
 public:
  explicit Noise(uint64_t seed) : rng_(seed) {}

  std::string Text(size_t max_pieces = 8) {
    static const std::vector<std::string> kPieces = {
        "a", "Z", " ", "-", ":", "|||", "\n", "\r\n", "S ", "A ", "0", "9", "-1", "T", "Z",
        "2026-12-07", "T10:00:00", ".123456", "+14:00", "é", "€", "😀", "日本", "\u0301",
        "\xff", "\xc3", "\xe2\x82", "\xed\xa0\x80", "\xc0\xaf", "\xf4\x90\x80\x80", "\0",
        "Grammar", "Subject-Verb Agreement", "R:VERB:SVA", "M:", "U:", "sva", "run–on",
        "01a250b6-9298-79b9-8e6a-018b1141f571", "{", "}", "REQUIRED", "-NONE-", "noop"};
    std::string out;
    const size_t n = Below(max_pieces + 1);
    for (size_t i = 0; i < n; ++i) {
      if (Below(8) == 0) {
        out.push_back(static_cast<char>(Below(256)));
      } else {
        out += kPieces[Below(kPieces.size())];
      }
    }
    return out;
  }

  size_t Below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }

 private:
  std::mt19937_64 rng_;
};

TEST(RandomInputTest, ValidUtf8IsUtf8AndLeavesUtf8Alone) {
  Noise noise(1);
  for (int i = 0; i < kRounds; ++i) {
    const std::string s = noise.Text();
    const std::string v = ValidUtf8(s);
    ASSERT_EQ(ValidUtf8(v), v) << s;
    if (IsUtf8(s)) {
      ASSERT_EQ(v, s);
    }
  }
}

TEST(RandomInputTest, SearchFoldAndTypographyFoldGiveUtf8) {
  Noise noise(2);
  for (int i = 0; i < kRounds; ++i) {
    const std::string s = noise.Text();
    ASSERT_TRUE(IsUtf8(SearchFold(s))) << s;
    const std::string v = ValidUtf8(s);
    ASSERT_TRUE(IsUtf8(FoldTypography(v))) << s;
    ASSERT_TRUE(IsUtf8(NormalizeLabel(v))) << s;
  }
}

TEST(RandomInputTest, ACanonicalUuidIsCanonical) {
  Noise noise(3);
  const std::string id = "01a250b6-9298-79b9-8e6a-018b1141f571";
  int valid = 0;
  for (int i = 0; i < kRounds; ++i) {
    std::string s = noise.Below(2) == 0 ? id : noise.Text(3);
    if (!s.empty() && noise.Below(2) == 0) s[noise.Below(s.size())] = noise.Text(1).c_str()[0];
    const auto c = CanonicalUuid(s);
    if (!c) continue;
    ++valid;
    ASSERT_EQ(c->size(), 36u) << s;
    ASSERT_EQ(CanonicalUuid(*c), *c) << s;
    char bytes[kUuidBytes];
    ASSERT_TRUE(UuidToBytes(*c, bytes)) << s;
    std::string back;
    AppendUuidText(bytes, &back);
    ASSERT_EQ(back, *c) << s;
  }
  EXPECT_GT(valid, kRounds / 10);  // the checks above ran
}

TEST(RandomInputTest, AParsedTimeFormatsAndParsesBackToItself) {
  Noise noise(4);
  const std::vector<std::string> times = {"2026-12-07T10:00:00Z", "1970-01-01T00:00:00.5Z",
                                          "2026-12-07T10:00:00+02:00", "9999-12-31T23:59:59Z"};
  int parsed = 0;
  for (int i = 0; i < kRounds; ++i) {
    std::string s = times[noise.Below(times.size())];
    switch (noise.Below(3)) {
      case 0: s[noise.Below(s.size())] = static_cast<char>(noise.Below(128)); break;
      case 1: s.insert(noise.Below(s.size() + 1), noise.Text(2)); break;
      default: s = noise.Text(6);
    }
    const auto t = ParseTime(s);
    if (!t) continue;
    ++parsed;
    const std::string text = FormatTime(*t);
    ASSERT_EQ(ParseTime(text), t) << s << " -> " << text;
  }
  EXPECT_GT(parsed, kRounds / 20);
}

TEST(RandomInputTest, M2ParsesOrFailsAndEverySpanIsInsideItsText) {
  Noise noise(5);
  const std::string good =
      "S I has a apple .\nA 1 2|||R:VERB:SVA|||have|||REQUIRED|||-NONE-|||0\n"
      "A 3 4|||R:NOUN|||an apple|||REQUIRED|||-NONE-|||1\n\nS Fine .\n"
      "A -1 -1|||noop|||-NONE-|||REQUIRED|||-NONE-|||0\n";
  int parsed = 0;
  for (int i = 0; i < kRounds / 4; ++i) {
    std::string s = good;
    for (size_t k = noise.Below(4) + 1; k > 0; --k) {
      const size_t at = noise.Below(s.size() + 1);
      switch (noise.Below(3)) {
        case 0: s.insert(at, noise.Text(3)); break;
        case 1: s.erase(at, noise.Below(8)); break;
        default: if (at < s.size()) s[at] = static_cast<char>(noise.Below(256));
      }
    }
    auto r = ParseM2(s);
    if (!r.ok()) continue;
    ++parsed;
    for (const M2Sentence& sentence : *r) {
      const std::string text = sentence.Text();
      ASSERT_TRUE(IsUtf8(text)) << s;
      for (const M2Edit& e : sentence.edits) {
        ASSERT_TRUE(IsUtf8(e.correction)) << s;
        if (e.noop) continue;
        const auto [from, to] = sentence.ByteSpan(e.start, e.end);
        ASSERT_LE(from, to) << s;
        ASSERT_LE(to, text.size()) << s;
      }
    }
  }
  EXPECT_GT(parsed, kRounds / 40);
}

TEST(RandomInputTest, ResolvedLabelsNameAKnownPointOrANewOneWithAnId) {
  Result<Taxonomy> t = Taxonomy::FromJson(R"({"version": "t", "categories": [
      {"id": "grammar", "name": "Grammar", "subcategories": [
        {"id": "subject-verb-agreement", "name": "Subject-Verb Agreement",
         "description": "d", "aliases": ["sva"], "codes": ["VERB:SVA"]}]},
      {"id": "other", "name": "Other", "subcategories": [
        {"id": "unclassified", "name": "Unclassified", "description": "d",
         "aliases": [], "codes": ["OTHER"]}]}]})", "test.json");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  Noise noise(6);
  int known = 0, fresh = 0;
  for (int i = 0; i < kRounds; ++i) {
    // The labels come from JSON, which is UTF-8.
    const std::string category = ValidUtf8(noise.Text(2));
    const std::string subcategory = ValidUtf8(noise.Text(4));
    const std::string code = ValidUtf8(noise.Text(2));
    auto r = t->Resolve(category, subcategory, code);
    if (!r.ok()) continue;
    ASSERT_FALSE(r->subcategory_id.empty());
    ASSERT_TRUE(IsUtf8(r->subcategory_id));
    ASSERT_EQ(r->known, t->Find(r->subcategory_id) != nullptr) << subcategory;
    ++(r->known ? known : fresh);
  }
  EXPECT_GT(known, kRounds / 100);
  EXPECT_GT(fresh, kRounds / 100);
}

}  // namespace
}  // namespace errata
