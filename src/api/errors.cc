#include "api/errors.h"

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
  if (!field.empty()) loc.emplace_back(json::string(field));
  json::object item{{"loc", std::move(loc)}, {"msg", msg}, {"type", type}};
  return {422, json::serialize(json::object{{"detail", json::array{std::move(item)}}})};
}

http::Response ErrorResponse(Flavor flavor, const Status& s) {
  const int status = HttpStatus(flavor, s.code());
  if (flavor == Flavor::kV1) return V1Error(status, V1Code(s.code()), s.message(), s.field());
  if (s.code() == Status::Code::kInvalidArgument) {
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
