// The one mapping from Status to an HTTP error, in the two flavours errata
// speaks: the seed routes answer as the original FastAPI service did
// ({"detail": ...}), /v1 answers {"error": {"code", "message", "field"?}}.
#pragma once

#include <string_view>

#include "core/status.h"
#include "http/message.h"

namespace errata::api {

enum class Flavor { kSeed, kV1 };

// The response for a non-ok Status.
http::Response ErrorResponse(Flavor flavor, const Status& status);

// A /v1 error with an explicit HTTP status and code ("invalid_json").
http::Response V1Error(int status, std::string_view code, std::string_view message,
                       std::string_view field = "");

// The 422 for a path's id that is no UUID, naming the path parameter as
// the OpenAPI document does ("user_id", "conversation_id").
http::Response BadPathId(std::string_view parameter);
Status BadPathIdStatus(std::string_view parameter);

// A FastAPI-style 422: {"detail":[{"loc":[where, ...],"msg":...,"type":...}]}.
// `field` is a path as Status names it ("errors[0].errorSubCategory"); loc
// takes it apart as Pydantic does (["body","errors",0,"errorSubCategory"]).
http::Response SeedValidationError(std::string_view where, std::string_view field,
                                   std::string_view msg, std::string_view type);

// A required member that is absent, named by its path. /v1 answers
// its message ("Field required: errors[0].span.start") with the field; the
// seed routes answer Pydantic's {"type":"missing","msg":"Field required"}.
Status MissingField(std::string field);

// The renderer the HTTP server uses for errors it finds itself (404, 405, 413,
// 400): the flavour follows the path.
http::Response ServerError(int status, std::string_view code, std::string_view message,
                           std::string_view path);

}  // namespace errata::api
