#include "core/m2.h"

#include <charconv>

#include "core/search_fold.h"

namespace errata {
namespace {

std::vector<std::string_view> SplitOn(std::string_view s, std::string_view sep) {
  std::vector<std::string_view> out;
  for (size_t pos = 0;;) {
    const size_t at = s.find(sep, pos);
    out.push_back(s.substr(pos, at - pos));
    if (at == std::string_view::npos) return out;
    pos = at + sep.size();
  }
}

bool ToInt(std::string_view s, int* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

Status Bad(size_t line, const std::string& why) {
  return Status::InvalidArgument("line " + std::to_string(line) + ": " + why);
}

Result<M2Edit> ParseEdit(std::string_view body, size_t line, size_t n_tokens) {
  const auto fields = SplitOn(body, "|||");
  if (fields.size() != 6) return Bad(line, "an A line needs 6 fields separated by |||");
  const auto span = SplitOn(fields[0], " ");
  M2Edit e;
  e.line = line;
  if (span.size() != 2 || !ToInt(span[0], &e.start) || !ToInt(span[1], &e.end)) {
    return Bad(line, "bad span \"" + std::string(fields[0]) + "\"");
  }
  if (!ToInt(fields[5], &e.annotator) || e.annotator < 0) return Bad(line, "bad annotator id");
  e.type = std::string(fields[1]);
  e.correction = std::string(fields[2]);
  e.noop = e.type == "noop";
  if (e.noop) return e;
  if (e.type.empty()) return Bad(line, "empty error type");
  if (e.start < 0 || e.end < e.start || static_cast<size_t>(e.end) > n_tokens) {
    return Bad(line, "span outside the sentence");
  }
  return e;
}

}  // namespace

std::string M2Sentence::Text() const { return Tokens(0, static_cast<int>(tokens.size())); }

std::string M2Sentence::Tokens(int start, int end) const {
  std::string out;
  for (int i = start; i < end; ++i) {
    if (i > start) out.push_back(' ');
    out += tokens[i];
  }
  return out;
}

std::pair<size_t, size_t> M2Sentence::ByteSpan(int start, int end) const {
  size_t pos = 0;
  for (int i = 0; i < start; ++i) pos += tokens[i].size() + 1;
  if (start == end) {
    // An insertion at the end goes after the last token, not after a space that isn't there.
    if (start > 0 && static_cast<size_t>(start) == tokens.size()) --pos;
    return {pos, pos};
  }
  size_t len = 0;
  for (int i = start; i < end; ++i) len += tokens[i].size() + (i > start ? 1 : 0);
  return {pos, pos + len};
}

Result<std::vector<M2Sentence>> ParseM2(std::string_view file) {
  // Bytes that are not UTF-8 become U+FFFD, as in every text errata takes in:
  // PostgreSQL refuses them, and an answer that echoed them would not be JSON.
  // A UTF-8 byte order mark, which Windows editors write, is not part of
  // the first line: with it, "S ..." did not start with "S ".
  if (file.starts_with("\xEF\xBB\xBF")) file.remove_prefix(3);
  std::string valid;
  if (!IsAscii(file)) valid = ValidUtf8(file);
  const std::string_view text = valid.empty() ? file : std::string_view(valid);
  std::vector<M2Sentence> out;
  bool in_block = false;
  size_t line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {
      in_block = false;
    } else if (line.starts_with("S ") || line == "S") {
      if (in_block) return Bad(line_no, "S line without a blank line before it");
      M2Sentence s;
      s.line = line_no;
      if (line.size() > 2) {
        for (auto t : SplitOn(line.substr(2), " ")) s.tokens.emplace_back(t);
      }
      out.push_back(std::move(s));
      in_block = true;
    } else if (line.starts_with("A ")) {
      if (!in_block) return Bad(line_no, "A line outside a sentence block");
      auto edit = ParseEdit(line.substr(2), line_no, out.back().tokens.size());
      if (!edit.ok()) return edit.status();
      out.back().edits.push_back(std::move(*edit));
    } else {
      return Bad(line_no, "expected an S line, an A line or a blank line");
    }
  }
  return out;
}

}  // namespace errata
