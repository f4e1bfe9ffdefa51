#include "api/errors.h"

#include <algorithm>
#include <charconv>

#include <boost/json.hpp>

namespace errata::api {
namespace json = boost::json;

namespace {

int HttpStatus(Flavor flavor, Status::Code code) {
  switch (code) {
    case Status::Code::kOk: return 200;
    case Status::Code::kInvalidArgument: return 422;
    case Status::Code::kNotFound: return 404;
    case Status::Code::kConflict: return flavor == Flavor::kSeed ? 400 : 409;
    case Status::Code::kUnavailable: return 503;
    case Status::Code::kInternal: return 500;
  }
  return 500;
}

const char* V1Code(Status::Code code) {
  switch (code) {
    case Status::Code::kOk: return "ok";
    case Status::Code::kInvalidArgument: return "invalid_argument";
    case Status::Code::kNotFound: return "not_found";
    case Status::Code::kConflict: return "conflict";
    case Status::Code::kUnavailable: return "unavailable";
    case Status::Code::kInternal: return "internal";
  }
  return "internal";
}

http::Response WithRetryAfter(http::Response r) {
  if (r.status == 503) r.headers.emplace_back("Retry-After", "1");
  return r;
}

// Appends the parts of a field path to loc: "errors[0].errorSubCategory"
// gives "errors", 0, "errorSubCategory", as Pydantic's loc names a list's item
// by its index, a number.
void AppendLoc(std::string_view field, json::array* loc) {
  for (size_t i = 0; i < field.size();) {
    const size_t end = std::min(field.find_first_of(".[]", i), field.size());
    const std::string_view part = field.substr(i, end - i);
    int64_t index = 0;
    const bool is_index = i > 0 && field[i - 1] == '[' &&
                          std::from_chars(part.data(), part.data() + part.size(), index).ec ==
                              std::errc();
    if (is_index) {
      loc->emplace_back(index);
    } else if (!part.empty()) {  // empty between "]" and "."
      loc->emplace_back(json::string(part));
    }
    i = end + 1;
  }
}

}  // namespace

http::Response V1Error(int status, std::string_view code, std::string_view message,
                       std::string_view field) {
  json::object err{{"code", code}, {"message", message}};
  if (!field.empty()) err["field"] = field;
  return WithRetryAfter({status, json::serialize(json::object{{"error", std::move(err)}})});
}

http::Response BadPathId(std::string_view parameter) {
  return ErrorResponse(Flavor::kV1, BadPathIdStatus(parameter));
}

Status BadPathIdStatus(std::string_view parameter) {
  return Status::InvalidArgument(std::string(parameter) + " must be a valid UUID",
                                 std::string(parameter));
}

http::Response SeedValidationError(std::string_view where, std::string_view field,
                                   std::string_view msg, std::string_view type) {
  json::array loc{json::string(where)};
  AppendLoc(field, &loc);
  json::object item{{"loc", std::move(loc)}, {"msg", msg}, {"type", type}};
  return {422, json::serialize(json::object{{"detail", json::array{std::move(item)}}})};
}

Status MissingField(std::string field) {
  std::string msg = "Field required: " + field;
  return Status::InvalidArgument(std::move(msg), std::move(field));
}

http::Response ErrorResponse(Flavor flavor, const Status& s) {
  const int status = HttpStatus(flavor, s.code());
  if (flavor == Flavor::kV1) return V1Error(status, V1Code(s.code()), s.message(), s.field());
  if (s.code() == Status::Code::kInvalidArgument) {
    if (s.message() == MissingField(s.field()).message()) {
      return SeedValidationError("body", s.field(), "Field required", "missing");
    }
    return SeedValidationError("body", s.field(), s.message(), "value_error");
  }
  return WithRetryAfter({status, json::serialize(json::object{{"detail", s.message()}})});
}

http::Response ServerError(int status, std::string_view code, std::string_view message,
                           std::string_view path) {
  if (path.starts_with("/v1/") || path == "/v1") return V1Error(status, code, message);
  return WithRetryAfter({status, json::serialize(json::object{{"detail", message}})});
}

}  // namespace errata::api
