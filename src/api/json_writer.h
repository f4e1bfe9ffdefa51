// JsonWriter: appends JSON text to a string, without building a document.
// The hot read routes (GET /generate-exercise, GET /v1/users/{id}/exercises)
// write their bodies with it: building a boost::json DOM and serialising it
// cost ~120k instructions per response, most of it allocation (docs/read-path.md).
// Everything else keeps boost::json, which is simpler to read.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace errata::api {

class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}

  JsonWriter& BeginObject() { return Open('{'); }
  JsonWriter& EndObject() { return Close('}'); }
  JsonWriter& BeginArray() { return Open('['); }
  JsonWriter& EndArray() { return Close(']'); }
  // The next member's name, one of errata's own (written without escaping);
  // a value must follow.
  JsonWriter& Key(std::string_view name);

  JsonWriter& String(std::string_view s);
  // A time as a string, "2026-11-23T19:54:17.123456Z" (FormatTime).
  JsonWriter& Time(int64_t micros);
  JsonWriter& Int(int64_t v);
  // Shortest text that reads back as `v`; null if `v` is not finite.
  JsonWriter& Double(double v);
  JsonWriter& Bool(bool v);
  JsonWriter& Null();
  // A value already in JSON text (a pre-rendered fragment), written as is.
  JsonWriter& Raw(std::string_view json);
  // JSON text ending in a member name and its colon, written as is, commas
  // included (`,"count":`): a value must follow. For runs of fixed member
  // names on hot paths, where the writer's state is known.
  JsonWriter& Fragment(std::string_view json) {
    out_->append(json);
    need_comma_ = false;
    return *this;
  }
  // Bytes written so far: where the next ones go.
  size_t size() const { return out_->size(); }
  // Writes again, byte for byte, the n bytes this writer wrote at `at`: the
  // caller's members after a comma, or a whole value after one.
  JsonWriter& Again(size_t at, size_t n) {
    out_->append(*out_, at, n);
    need_comma_ = true;
    return *this;
  }

 private:
  JsonWriter& Open(char c);
  JsonWriter& Close(char c);
  void Separate();

  std::string* out_;
  bool need_comma_ = false;
};

// Appends `s` as a JSON string literal (quotes included) to *out.
void AppendJsonString(std::string* out, std::string_view s);

}  // namespace errata::api
