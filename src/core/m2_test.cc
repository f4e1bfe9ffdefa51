#include "core/m2.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace errata {
namespace {

// Five blocks: two annotators, an insertion, a deletion, a U: edit that carries a
// correction, a noop, non-ASCII tokens, and a sentence with no edits.
constexpr const char* kM2 =
    "S This are a good sentences .\n"                          // line 1
    "A 1 2|||R:VERB:SVA|||is|||REQUIRED|||-NONE-|||0\n"        // 2
    "A 4 5|||R:NOUN:NUM|||sentence|||REQUIRED|||-NONE-|||0\n"  // 3
    "A 1 2|||R:VERB:SVA|||is|||REQUIRED|||-NONE-|||1\n"        // 4
    "\n"                                                       // 5
    "S I have cat .\n"                                         // 6
    "A 2 2|||M:DET|||a|||REQUIRED|||-NONE-|||0\n"              // 7
    "\n"                                                       // 8
    "S I like the music very much .\n"                         // 9
    "A 2 3|||U:DET||||||REQUIRED|||-NONE-|||0\n"               // 10
    "A 4 5|||U:ADV|||a lot|||REQUIRED|||-NONE-|||1\n"          // 11
    "\n"                                                       // 12
    "S Everything is fine .\n"                                 // 13
    "A -1 -1|||noop|||-NONE-|||REQUIRED|||-NONE-|||0\n"        // 14
    "\n"                                                       // 15
    "S Je suis très contente , naïve café .\n"                 // 16
    "A 2 3|||R:SPELL|||trés|||REQUIRED|||-NONE-|||0\n"         // 17
    "A 5 7|||UNK|||naive coffee|||REQUIRED|||-NONE-|||0\n"     // 18
    "\n"                                                       // 19
    "S No edits here .\n";                                     // 20

TEST(ParseM2Test, ParsesBlocks) {
  auto parsed = ParseM2(kM2);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  const auto& s = *parsed;
  ASSERT_EQ(s.size(), 6u);
  EXPECT_EQ(s[0].line, 1u);
  EXPECT_EQ(s[1].line, 6u);
  EXPECT_EQ(s[2].line, 9u);
  EXPECT_EQ(s[3].line, 13u);
  EXPECT_EQ(s[4].line, 16u);
  EXPECT_EQ(s[5].line, 20u);
  EXPECT_EQ(s[0].tokens, (std::vector<std::string>{"This", "are", "a", "good", "sentences", "."}));
  EXPECT_EQ(s[0].Text(), "This are a good sentences .");
  EXPECT_EQ(s[0].edits.size(), 3u);
  EXPECT_EQ(s[1].edits.size(), 1u);
  EXPECT_EQ(s[2].edits.size(), 2u);
  EXPECT_EQ(s[3].edits.size(), 1u);
  EXPECT_EQ(s[4].edits.size(), 2u);
  EXPECT_TRUE(s[5].edits.empty());
}

TEST(ParseM2Test, ReadsEditFields) {
  auto parsed = ParseM2(kM2);
  ASSERT_TRUE(parsed.ok());
  const M2Edit& sva = (*parsed)[0].edits[0];
  EXPECT_EQ(sva.start, 1);
  EXPECT_EQ(sva.end, 2);
  EXPECT_EQ(sva.type, "R:VERB:SVA");
  EXPECT_EQ(sva.correction, "is");
  EXPECT_EQ(sva.annotator, 0);
  EXPECT_FALSE(sva.noop);
  EXPECT_EQ(sva.line, 2u);
  // The second annotator's edit on the same tokens.
  const M2Edit& other = (*parsed)[0].edits[2];
  EXPECT_EQ(other.annotator, 1);
  EXPECT_EQ(other.line, 4u);
}

TEST(ParseM2Test, InsertionDeletionAndUnnecessaryWithCorrection) {
  auto parsed = ParseM2(kM2);
  ASSERT_TRUE(parsed.ok());
  const M2Edit& ins = (*parsed)[1].edits[0];
  EXPECT_EQ(ins.start, 2);
  EXPECT_EQ(ins.end, 2);
  EXPECT_EQ(ins.type, "M:DET");
  EXPECT_EQ(ins.correction, "a");
  const M2Edit& del = (*parsed)[2].edits[0];
  EXPECT_EQ(del.type, "U:DET");
  EXPECT_EQ(del.correction, "");
  EXPECT_EQ((*parsed)[2].Tokens(del.start, del.end), "the");
  const M2Edit& u = (*parsed)[2].edits[1];
  EXPECT_EQ(u.type, "U:ADV");
  EXPECT_EQ(u.correction, "a lot");  // kept as given, spaces and all
  EXPECT_EQ(u.annotator, 1);
}

TEST(ParseM2Test, Noop) {
  auto parsed = ParseM2(kM2);
  ASSERT_TRUE(parsed.ok());
  const M2Edit& noop = (*parsed)[3].edits[0];
  EXPECT_TRUE(noop.noop);
  EXPECT_EQ(noop.start, -1);
  EXPECT_EQ(noop.end, -1);
  EXPECT_EQ(noop.type, "noop");
  EXPECT_EQ(noop.annotator, 0);
  EXPECT_EQ(noop.line, 14u);
}

TEST(ParseM2Test, NonAsciiTokensAndByteOffsets) {
  auto parsed = ParseM2(kM2);
  ASSERT_TRUE(parsed.ok());
  const M2Sentence& s = (*parsed)[4];
  ASSERT_EQ(s.tokens.size(), 8u);
  EXPECT_EQ(s.tokens[2], "très");
  EXPECT_EQ(s.edits[0].correction, "trés");
  const std::string text = s.Text();
  EXPECT_EQ(text, "Je suis très contente , naïve café .");
  auto [a, b] = s.ByteSpan(2, 3);
  EXPECT_EQ(a, 8u);
  EXPECT_EQ(b, 8u + std::string("très").size());  // bytes, not code points
  EXPECT_EQ(text.substr(a, b - a), "très");
  auto [c, d] = s.ByteSpan(5, 7);
  EXPECT_EQ(text.substr(c, d - c), "naïve café");
  EXPECT_EQ(s.Tokens(5, 7), "naïve café");
}

TEST(ParseM2Test, BytesThatAreNotUtf8AreReadAsReplacementCharacters) {
  auto r = ParseM2("S I \xff go \xc3 .\nA 2 3|||R:VERB:SVA|||goes\xff|||REQUIRED|||-NONE-|||0\n");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].Text(), "I \uFFFD go \uFFFD .");
  ASSERT_EQ((*r)[0].edits.size(), 1u);
  EXPECT_EQ((*r)[0].edits[0].correction, "goes\uFFFD");
  EXPECT_EQ((*r)[0].Tokens(2, 3), "go");
}

TEST(M2SentenceTest, ByteSpanMatchesTokensForEverySpan) {
  auto parsed = ParseM2("S Él dijo que the naïve résumé is ok .\n");
  ASSERT_TRUE(parsed.ok());
  const M2Sentence& s = (*parsed)[0];
  const std::string text = s.Text();
  const int n = static_cast<int>(s.tokens.size());
  for (int i = 0; i < n; ++i) {
    for (int j = i + 1; j <= n; ++j) {
      auto [a, b] = s.ByteSpan(i, j);
      ASSERT_LE(b, text.size());
      EXPECT_EQ(text.substr(a, b - a), s.Tokens(i, j)) << i << ".." << j;
    }
  }
}

TEST(M2SentenceTest, AnInsertionIsAnEmptySpanAtTheNextToken) {
  M2Sentence s;
  s.tokens = {"I", "have", "cat", "."};
  EXPECT_EQ(s.ByteSpan(2, 2), (std::pair<size_t, size_t>{7, 7}));  // where "cat" starts
  EXPECT_EQ(s.ByteSpan(0, 0), (std::pair<size_t, size_t>{0, 0}));
  EXPECT_EQ(s.Tokens(2, 2), "");
}

TEST(M2SentenceTest, AnInsertionAtTheEndIsAtTheEndOfTheText) {
  // "A 3 3|||M:PUNCT|||.|||..." on "I like cats": the span must lie within Text().
  M2Sentence s;
  s.tokens = {"I", "like", "cats"};
  const std::string text = s.Text();
  EXPECT_EQ(s.ByteSpan(3, 3), (std::pair<size_t, size_t>{text.size(), text.size()}));
}

TEST(M2SentenceTest, TokensJoinsWithSingleSpaces) {
  M2Sentence s;
  s.tokens = {"a", "b", "c"};
  EXPECT_EQ(s.Tokens(0, 3), "a b c");
  EXPECT_EQ(s.Tokens(1, 2), "b");
  EXPECT_EQ(s.Text(), "a b c");
  EXPECT_EQ(s.ByteSpan(1, 3), (std::pair<size_t, size_t>{2, 5}));
}

TEST(ParseM2Test, AcceptsCrlfExtraBlankLinesAndNoFinalNewline) {
  auto parsed =
      ParseM2("\r\n\r\nS A b .\r\nA 1 2|||R:SPELL|||B|||REQUIRED|||-NONE-|||0\r\n\r\n\r\nS c d");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[0].tokens, (std::vector<std::string>{"A", "b", "."}));
  EXPECT_EQ((*parsed)[0].edits[0].correction, "B");
  EXPECT_EQ((*parsed)[0].line, 3u);
  EXPECT_EQ((*parsed)[1].tokens, (std::vector<std::string>{"c", "d"}));
  EXPECT_EQ((*parsed)[1].line, 7u);
}

TEST(ParseM2Test, ALeadingByteOrderMarkIsSkipped) {
  // Windows editors save UTF-8 with a BOM; it failed line 1 as no S line.
  auto parsed = ParseM2("\xEF\xBB\xBFS He go .\nA 1 2|||R:VERB:SVA|||goes|||REQUIRED|||-NONE-|||0\n");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  ASSERT_EQ(parsed->size(), 1u);
  EXPECT_EQ((*parsed)[0].tokens, (std::vector<std::string>{"He", "go", "."}));
  EXPECT_EQ((*parsed)[0].line, 1u);
  EXPECT_EQ((*parsed)[0].edits.size(), 1u);
  // With CRLF and nothing else beyond ASCII (the BOM is the only non-ASCII).
  auto crlf = ParseM2("\xEF\xBB\xBFS a b\r\n");
  ASSERT_TRUE(crlf.ok()) << crlf.status().message();
  EXPECT_EQ((*crlf)[0].Text(), "a b");
  // Only at the start: a BOM inside a sentence is a character of its token.
  auto inner = ParseM2("S a \xEF\xBB\xBF b\n");
  ASSERT_TRUE(inner.ok());
  EXPECT_EQ((*inner)[0].tokens[1], "\xEF\xBB\xBF");
  // A BOM alone is an empty file.
  auto alone = ParseM2("\xEF\xBB\xBF");
  ASSERT_TRUE(alone.ok());
  EXPECT_TRUE(alone->empty());
}

TEST(ParseM2Test, EmptyInputHasNoSentences) {
  auto parsed = ParseM2("");
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->empty());
  auto blank = ParseM2("\n\n");
  ASSERT_TRUE(blank.ok());
  EXPECT_TRUE(blank->empty());
}

// The parse fails, and the message names `line`.
void ExpectBadLine(const std::string& text, size_t line) {
  auto parsed = ParseM2(text);
  ASSERT_FALSE(parsed.ok()) << text;
  EXPECT_EQ(parsed.status().code(), Status::Code::kInvalidArgument);
  const std::string want = "line " + std::to_string(line) + ":";
  EXPECT_NE(parsed.status().message().find(want), std::string::npos)
      << "message \"" << parsed.status().message() << "\" does not name " << want;
}

TEST(ParseM2Test, MalformedLinesNameTheirLineNumber) {
  const std::string good = "S I has a cat .\nA 1 2|||R:VERB:SVA|||have|||REQUIRED|||-NONE-|||0\n\n";
  // Five fields.
  ExpectBadLine(good + "S x y\nA 0 1|||R:SPELL|||z|||REQUIRED|||-NONE-\n", 5);
  // Seven fields.
  ExpectBadLine(good + "S x y\nA 0 1|||R:SPELL|||z|||REQUIRED|||-NONE-|||0|||extra\n", 5);
  // A bad span.
  ExpectBadLine(good + "S x y\nA zero 1|||R:SPELL|||z|||REQUIRED|||-NONE-|||0\n", 5);
  ExpectBadLine(good + "S x y\nA 0|||R:SPELL|||z|||REQUIRED|||-NONE-|||0\n", 5);
  // A span outside the sentence, or reversed.
  ExpectBadLine(good + "S x y\nA 1 3|||R:SPELL|||z|||REQUIRED|||-NONE-|||0\n", 5);
  ExpectBadLine(good + "S x y\nA 2 1|||R:SPELL|||z|||REQUIRED|||-NONE-|||0\n", 5);
  ExpectBadLine(good + "S x y\nA -1 1|||R:SPELL|||z|||REQUIRED|||-NONE-|||0\n", 5);
  // A bad annotator.
  ExpectBadLine(good + "S x y\nA 0 1|||R:SPELL|||z|||REQUIRED|||-NONE-|||-1\n", 5);
  ExpectBadLine(good + "S x y\nA 0 1|||R:SPELL|||z|||REQUIRED|||-NONE-|||one\n", 5);
  // An empty type.
  ExpectBadLine(good + "S x y\nA 0 1||||||z|||REQUIRED|||-NONE-|||0\n", 5);
  // An A line with no sentence.
  ExpectBadLine("A 0 1|||R:SPELL|||z|||REQUIRED|||-NONE-|||0\n", 1);
  ExpectBadLine(good + "A 0 1|||R:SPELL|||z|||REQUIRED|||-NONE-|||0\n", 4);
  // Two S lines without a blank line between them.
  ExpectBadLine(good + "S x y\nS z\n", 5);
  // Anything else.
  ExpectBadLine(good + "hello\n", 4);
  ExpectBadLine(good + "S x\n\nX 1 2\n", 6);
}

TEST(ParseM2Test, ANoopNeedsSixFieldsToo) {
  ExpectBadLine("S a b\nA -1 -1|||noop|||-NONE-|||REQUIRED|||-NONE-\n", 2);
  ExpectBadLine("S a b\nA -1 -1|||noop|||-NONE-|||REQUIRED|||-NONE-|||x\n", 2);
}

}  // namespace
}  // namespace errata
