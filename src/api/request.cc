#include "api/request.h"

#include <charconv>
#include <cmath>

#include <boost/json/parse.hpp>

#include "api/errors.h"
#include "core/ids.h"
#include "core/search_fold.h"
#include "core/text.h"

namespace errata::api {
namespace json = boost::json;

Result<json::object> ParseObject(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return Status::InvalidArgument("invalid JSON: " + ec.message());
  if (!v.is_object()) return Status::InvalidArgument("invalid JSON: the body must be an object");
  return std::move(v.as_object());
}

std::optional<json::object> ParseSeedBody(std::string_view body, http::Response* error) {
  boost::system::error_code ec;
  json::value v = body.empty() ? json::value() : json::parse(body, ec);
  if (!ec && v.is_null()) {  // FastAPI reads an empty body as null, and null as no body
    *error = SeedValidationError("body", "", "Field required", "missing");
    return std::nullopt;
  }
  if (ec) {
    *error = SeedValidationError("body", "", "JSON decode error", "json_invalid");
    return std::nullopt;
  }
  if (!v.is_object()) {
    *error = SeedValidationError(
        "body", "", "Input should be a valid dictionary or object to extract fields from",
        "model_attributes_type");
    return std::nullopt;
  }
  return std::move(v.as_object());
}

void Fields::Fail(std::string_view key, std::string msg) {
  if (status_.ok()) status_ = Status::InvalidArgument(std::move(msg), prefix_ + std::string(key));
}

const json::value* Fields::Get(std::string_view key, Need need) {
  if (!status_.ok()) return nullptr;
  const json::value* v = o_.if_contains(key);
  if (v == nullptr) {
    if (need == kRequired) status_ = MissingField(prefix_ + std::string(key));
    return nullptr;
  }
  if (v->is_null()) {
    // Not "missing" to FastAPI, which answers a null as a value of the wrong type.
    if (need == kRequired) Fail(key, prefix_ + std::string(key) + " must not be null");
    return nullptr;
  }
  return v;
}

std::optional<std::string> Fields::String(std::string_view key, Need need, size_t max_len) {
  const json::value* v = Get(key, need);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) {
    Fail(key, prefix_ + std::string(key) + " must be a string");
    return std::nullopt;
  }
  // Limits count characters, as the OpenAPI document's maxLength does: "é"
  // is one, in two bytes. No text has more characters than bytes.
  const json::string& text = v->as_string();
  if (text.size() > max_len && Utf8Length(text) > max_len) {
    Fail(key, prefix_ + std::string(key) + " is longer than " + std::to_string(max_len) +
                  " characters");
    return std::nullopt;
  }
  // PostgreSQL's text cannot hold U+0000 and refused it at commit, while
  // SQLite and RocksDB stored it: refused here, the answer is one for every
  // store, and names the field.
  if (text.find('\0') != json::string::npos) {
    Fail(key, prefix_ + std::string(key) + " must not contain U+0000 (NUL)");
    return std::nullopt;
  }
  return std::string(v->as_string());
}

std::optional<std::string> Fields::Uuid(std::string_view key, Need need) {
  auto s = String(key, need, 64);
  if (!s) return std::nullopt;
  auto id = CanonicalUuid(*s);
  if (!id) Fail(key, prefix_ + std::string(key) + " must be a valid UUID");
  return id;
}

std::optional<int64_t> Fields::Int(std::string_view key, Need need) {
  const json::value* v = Get(key, need);
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64() && v->as_uint64() <= INT64_MAX) return static_cast<int64_t>(v->as_uint64());
  // 4.0 is an integer to JSON Schema (and to pydantic), and is what
  // Python's json.dumps writes for a float that holds one. The bounds are
  // doubles that convert exactly (-2^63 and 2^63, the latter excluded).
  if (v->is_double()) {
    const double d = v->as_double();
    if (d == std::trunc(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
      return static_cast<int64_t>(d);
    }
  }
  Fail(key, prefix_ + std::string(key) + " must be an integer");
  return std::nullopt;
}

std::optional<bool> Fields::Bool(std::string_view key, Need need) {
  const json::value* v = Get(key, need);
  if (v == nullptr) return std::nullopt;
  if (v->is_bool()) return v->as_bool();
  Fail(key, prefix_ + std::string(key) + " must be true or false");
  return std::nullopt;
}

std::optional<Micros> Fields::Time(std::string_view key, Need need) {
  auto s = String(key, need, 64);
  if (!s) return std::nullopt;
  auto t = ParseTime(*s);
  if (!t) {
    Fail(key, prefix_ + std::string(key) + " must be an ISO-8601 date-time");
  } else if (*t < kFirstTime || *t > kLastTime) {
    // A record's id is a UUIDv7 of its time, which counts milliseconds from
    // 1970 in 48 bits: an earlier time wraps, and its id would sort after
    // every other. A year past 9999 could not be written back as RFC 3339.
    Fail(key, prefix_ + std::string(key) + " must be from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z");
    t.reset();
  }
  return t;
}

const json::array* Fields::Array(std::string_view key, Need need) {
  const json::value* v = Get(key, need);
  if (v == nullptr) return nullptr;
  if (!v->is_array()) {
    Fail(key, prefix_ + std::string(key) + " must be an array");
    return nullptr;
  }
  return &v->as_array();
}

const json::object* Fields::Object(std::string_view key, Need need) {
  const json::value* v = Get(key, need);
  if (v == nullptr) return nullptr;
  if (!v->is_object()) {
    Fail(key, prefix_ + std::string(key) + " must be an object");
    return nullptr;
  }
  return &v->as_object();
}

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool Encoded(std::string_view s) { return s.find_first_of("%+") != std::string_view::npos; }

// Decodes %XX escapes and '+' (a space in forms). A malformed escape stays as
// is. Bytes that do not make UTF-8 (%FF) become U+FFFD, so that no handler
// echoes them into an answer that would then not be JSON.
std::string Decode(std::string_view s) {
  if (!Encoded(s)) return IsAscii(s) ? std::string(s) : ValidUtf8(s);
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 &&
               HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  if (!IsAscii(out)) return ValidUtf8(out);
  return out;
}

// The last value of `key` in `query`, still encoded ("" for a bare name),
// and in *times how many times it is given. Hand-written: Boost.URL 1.81's
// parse_query read past the end of a query that is a view into a longer
// buffer (see request_test.cc).
std::optional<std::string_view> FindQueryParam(std::string_view query, std::string_view key,
                                               int* times) {
  std::optional<std::string_view> last;
  *times = 0;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t eq = pair.find('=');
    const std::string_view name = pair.substr(0, eq);
    // Most names are plain: compare them in place, without decoding a copy.
    if (Encoded(name) ? Decode(name) != key : name != key) continue;
    ++*times;
    last = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
  }
  return last;
}
}  // namespace

Result<std::optional<std::string>> QueryParam(std::string_view query, std::string_view key) {
  int times = 0;
  const auto raw = FindQueryParam(query, key, &times);
  if (times > 1) {
    return Status::InvalidArgument(std::string(key) + " must be given once", std::string(key));
  }
  return raw ? std::optional<std::string>(Decode(*raw)) : std::nullopt;
}

std::optional<std::string> LastQueryParam(std::string_view query, std::string_view key) {
  int times = 0;
  const auto raw = FindQueryParam(query, key, &times);
  return raw ? std::optional<std::string>(Decode(*raw)) : std::nullopt;
}

std::optional<uint64_t> ParseUnsigned(std::string_view text) {
  uint64_t v = 0;
  const char* end = text.data() + text.size();
  const auto [p, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || p != end) return std::nullopt;
  return v;
}

}  // namespace errata::api
