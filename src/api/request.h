// Reading requests: the JSON body, typed fields and query parameters, each
// failure a Status naming the field. Handlers read top to bottom:
//   Fields f(body);  auto name = f.String("username");  if (!f.ok()) return fail(f.status());
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/status.h"
#include "http/message.h"

namespace errata::api {

// Parses the body as one JSON object. Invalid JSON or UTF-8 -> InvalidArgument
// with field "" and a message starting "invalid JSON".
Result<boost::json::object> ParseObject(std::string_view body);

// The seed routes' body: one JSON object, or nullopt with *error set to the
// 422 FastAPI gave, at loc ["body"]: "json_invalid" for text that is no JSON,
// "missing" for an empty body or `null`, and "model_attributes_type" for
// JSON of another type (`[]`).
std::optional<boost::json::object> ParseSeedBody(std::string_view body, http::Response* error);

// Typed access to an object's fields; remembers the first error. Unknown
// fields are ignored. `prefix` names the object in errors ("errors[2].").
class Fields {
 public:
  explicit Fields(const boost::json::object& object, std::string prefix = "")
      : o_(object), prefix_(std::move(prefix)) {}

  enum Need { kRequired, kOptional };
  // A string (absent or null for an optional field -> nullopt).
  std::optional<std::string> String(std::string_view key, Need need = kRequired,
                                    size_t max_len = 100'000);
  // A UUID, returned in canonical lower-case form.
  std::optional<std::string> Uuid(std::string_view key, Need need = kRequired);
  std::optional<int64_t> Int(std::string_view key, Need need = kRequired);
  std::optional<bool> Bool(std::string_view key, Need need = kRequired);
  // An ISO-8601 date-time.
  std::optional<Micros> Time(std::string_view key, Need need = kRequired);
  const boost::json::array* Array(std::string_view key, Need need = kRequired);
  const boost::json::object* Object(std::string_view key, Need need = kRequired);

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  void Fail(std::string_view key, std::string msg);

 private:
  const boost::json::value* Get(std::string_view key, Need need);
  const boost::json::object& o_;
  std::string prefix_;
  Status status_;
};

// The decoded value of query parameter `key`, or nullopt when absent, for
// /v1. Given more than once it is an InvalidArgument naming `key`: which
// value the client meant is unknown, and taking one silently hid the
// mistake ("n=5&n=50" answered 5).
Result<std::optional<std::string>> QueryParam(std::string_view query, std::string_view key);

// The same for the seed routes: given more than once, the last value, as
// the original service's FastAPI (Starlette's QueryParams) read it.
std::optional<std::string> LastQueryParam(std::string_view query, std::string_view key);

// `text` as a decimal number: digits only (no sign, no space), within
// uint64_t. strtoull read "-1" as 2^64 - 1 and " 5" as 5.
std::optional<uint64_t> ParseUnsigned(std::string_view text);

}  // namespace errata::api
