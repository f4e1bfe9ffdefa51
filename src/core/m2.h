// The M2 format of annotated learner corpora (CoNLL-2014, BEA-2019): blocks of
// one "S tokens..." line and zero or more
// "A start end|||TYPE|||correction|||REQUIRED|||-NONE-|||annotator" lines.
// Parsing only; no I/O.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace errata {

struct M2Edit {
  int start = 0;  // token span [start, end)
  int end = 0;
  std::string type;        // "R:VERB:SVA", "UNK", ...
  std::string correction;  // empty for a deletion
  int annotator = 0;
  bool noop = false;       // "A -1 -1|||noop|||...": nothing to correct
  size_t line = 0;
};

struct M2Sentence {
  std::vector<std::string> tokens;
  std::vector<M2Edit> edits;
  size_t line = 0;  // of the S line, from 1

  std::string Text() const;  // tokens joined by single spaces
  // Byte offsets in Text() of the token span [start, end).
  std::pair<size_t, size_t> ByteSpan(int start, int end) const;
  std::string Tokens(int start, int end) const;
};

// Parses a whole file. A malformed line fails the parse with its line number.
// Bytes that are not UTF-8 are read as U+FFFD.
Result<std::vector<M2Sentence>> ParseM2(std::string_view text);

}  // namespace errata
