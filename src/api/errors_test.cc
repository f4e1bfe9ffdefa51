#include "api/errors.h"

#include <gtest/gtest.h>

namespace errata::api {
namespace {

// The seed routes answer as FastAPI (Pydantic v2) did: a list item in loc is
// its index, a number, and an absent field is "missing".
TEST(SeedErrorsTest, LocTakesTheFieldPathApart) {
  EXPECT_EQ(SeedValidationError("body", "errors[0].errorSubCategory", "m", "value_error").body,
            R"({"detail":[{"loc":["body","errors",0,"errorSubCategory"],"msg":"m","type":"value_error"}]})");
  EXPECT_EQ(SeedValidationError("body", "errors[12]", "m", "t").body,
            R"({"detail":[{"loc":["body","errors",12],"msg":"m","type":"t"}]})");
  EXPECT_EQ(SeedValidationError("query", "user_id", "m", "t").body,
            R"({"detail":[{"loc":["query","user_id"],"msg":"m","type":"t"}]})");
  EXPECT_EQ(SeedValidationError("body", "", "m", "t").body,
            R"({"detail":[{"loc":["body"],"msg":"m","type":"t"}]})");
}

TEST(SeedErrorsTest, AMissingFieldIsFastApisMissing) {
  const http::Response seed = ErrorResponse(Flavor::kSeed, MissingField("errors[1].errorCategory"));
  EXPECT_EQ(seed.status, 422);
  EXPECT_EQ(seed.body,
            R"({"detail":[{"loc":["body","errors",1,"errorCategory"],"msg":"Field required","type":"missing"}]})");
  // /v1 keeps its message, which names the field, and the field.
  EXPECT_EQ(ErrorResponse(Flavor::kV1, MissingField("user_id")).body,
            R"({"error":{"code":"invalid_argument","message":"Field required: user_id","field":"user_id"}})");
  // Any other invalid value stays a value_error.
  EXPECT_EQ(ErrorResponse(Flavor::kSeed, Status::InvalidArgument("bad", "email")).body,
            R"({"detail":[{"loc":["body","email"],"msg":"bad","type":"value_error"}]})");
}

}  // namespace
}  // namespace errata::api
