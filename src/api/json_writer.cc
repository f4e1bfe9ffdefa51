#include "api/json_writer.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstring>

#include "core/clock.h"
#include "core/search_fold.h"
#include "core/text.h"

namespace errata::api {

namespace {

// kPlain[c]: byte c goes out as is inside a JSON string. Bytes from 0x80
// are checked to be UTF-8 first (AppendJsonString).
constexpr auto kPlain = [] {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x80; ++c) t[c] = c != '"' && c != '\\';
  return t;
}();

}  // namespace

void AppendJsonString(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t p = 0;
  for (;;) {
    // A run of bytes that go out as they are: plain ASCII, and well-formed
    // UTF-8 beyond it.
    const size_t run = p;
    for (;;) {
      while (p != s.size() && kPlain[static_cast<unsigned char>(s[p])]) ++p;
      if (p == s.size() || static_cast<unsigned char>(s[p]) < 0x80) break;
      const size_t n = Utf8SequenceLength(s, p);
      if (n == 0) break;
      p += n;
    }
    out->append(s.data() + run, p - run);
    if (p == s.size()) break;
    const auto c = static_cast<unsigned char>(s[p]);
    if (c >= 0x80) {
      // Not UTF-8: U+FFFD for it, as ValidUtf8 cuts it, so that a query
      // parameter's %FF cannot make the answer invalid JSON (RFC 8259, 8.1).
      out->append("\xEF\xBF\xBD");
      p += MalformedUtf8Length(s, p);
      continue;
    }
    ++p;
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      default: {
        const char esc[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out->append(esc, sizeof(esc));
      }
    }
  }
  out->push_back('"');
}

void JsonWriter::Separate() {
  if (need_comma_) out_->push_back(',');
  need_comma_ = true;
}

JsonWriter& JsonWriter::Open(char c) {
  Separate();
  out_->push_back(c);
  need_comma_ = false;
  return *this;
}

JsonWriter& JsonWriter::Close(char c) {
  out_->push_back(c);
  need_comma_ = true;
  return *this;
}

JsonWriter& JsonWriter::Key(std::string_view name) {
  // errata's own member names: nothing to escape. One append, not four: a
  // practice item has nine members (BENCHMARKS.md, "Session 5").
  char buf[64];
  if (name.size() + 4 > sizeof(buf)) {
    Separate();
    out_->push_back('"');
    out_->append(name);
    out_->append("\":");
  } else {
    size_t n = 0;
    if (need_comma_) buf[n++] = ',';
    buf[n++] = '"';
    std::memcpy(buf + n, name.data(), name.size());
    n += name.size();
    buf[n++] = '"';
    buf[n++] = ':';
    out_->append(buf, n);
  }
  need_comma_ = false;
  return *this;
}

JsonWriter& JsonWriter::String(std::string_view s) {
  Separate();
  AppendJsonString(out_, s);
  return *this;
}

JsonWriter& JsonWriter::Time(int64_t micros) {
  Separate();
  out_->push_back('"');
  AppendTime(out_, micros);
  out_->push_back('"');
  return *this;
}

JsonWriter& JsonWriter::Int(int64_t v) {
  Separate();
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out_->append(buf, r.ptr);
  return *this;
}

JsonWriter& JsonWriter::Double(double v) {
  Separate();
  if (!std::isfinite(v)) {
    out_->append("null");
    return *this;
  }
  char buf[32];
  // A whole number of at most five digits (a mastery of 0 or 1, most often)
  // is written as the integer: the same text as to_chars's shortest form,
  // for a tenth of its cost. From 100000 on, to_chars may choose 1e+05, and
  // -0.0 keeps its sign there, so both are left to it.
  if (std::fabs(v) < 1e5 && v == std::trunc(v) && !(v == 0 && std::signbit(v))) {
    const auto r = std::to_chars(buf, buf + sizeof(buf), static_cast<int64_t>(v));
    out_->append(buf, r.ptr);
    return *this;
  }
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out_->append(buf, r.ptr);
  return *this;
}

JsonWriter& JsonWriter::Bool(bool v) {
  Separate();
  out_->append(v ? "true" : "false");
  return *this;
}

JsonWriter& JsonWriter::Null() {
  Separate();
  out_->append("null");
  return *this;
}

JsonWriter& JsonWriter::Raw(std::string_view json) {
  Separate();
  out_->append(json);
  return *this;
}

}  // namespace errata::api
