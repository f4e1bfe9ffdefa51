#include "api/request.h"

#include <gtest/gtest.h>

#include "api/errors.h"

namespace errata::api {
namespace {

// /v1's QueryParam, given each parameter at most once.
std::optional<std::string> Param(std::string_view query, std::string_view key) {
  auto got = QueryParam(query, key);
  EXPECT_TRUE(got.ok()) << got.status().ToString();
  return got.ok() ? *got : std::nullopt;
}

TEST(QueryParamTest, FindsDecodedValues) {
  EXPECT_EQ(Param("user_id=abc&top_n=5", "top_n"), "5");
  EXPECT_EQ(Param("user_id=abc&top_n=5", "user_id"), "abc");
  EXPECT_EQ(Param("a=x%20y+z", "a"), "x y z");
  EXPECT_EQ(Param("a=1", "b"), std::nullopt);
  EXPECT_EQ(Param("flag", "flag"), "");
  // Names are decoded too; a plain name is compared in place.
  EXPECT_EQ(Param("top%5Fn=7&n=2", "top_n"), "7");
  EXPECT_EQ(Param("top%5Fn=7&n=2", "n"), "2");
  EXPECT_EQ(Param("my+key=v", "my key"), "v");
  EXPECT_EQ(Param("nn=1&n=3", "n"), "3");
}

// A parameter given twice: /v1 refuses it, naming it, as no one can tell
// which value was meant (the first won, silently); the seed routes take the
// last, as the original service's FastAPI did.
TEST(QueryParamTest, ARepeatedParameterIsRefusedOnV1AndTheLastOnTheSeedRoutes) {
  for (std::string_view query : {"n=5&n=50", "n=5&x=1&n", "n=5&%6E=6"}) {
    auto got = QueryParam(query, "n");
    ASSERT_FALSE(got.ok()) << query;
    EXPECT_EQ(got.status().code(), Status::Code::kInvalidArgument);
    EXPECT_EQ(got.status().field(), "n");
    EXPECT_EQ(got.status().message(), "n must be given once");
  }
  EXPECT_EQ(Param("n=5&nn=6&m=5", "n"), "5");
  EXPECT_EQ(LastQueryParam("top_n=5&top_n=50", "top_n"), "50");
  EXPECT_EQ(LastQueryParam("top_n=5&top_n", "top_n"), "");
  EXPECT_EQ(LastQueryParam("top_n=5&x=1", "top_n"), "5");
  EXPECT_EQ(LastQueryParam("x=1", "top_n"), std::nullopt);
}

TEST(QueryParamTest, ValuesAreAlwaysUtf8) {
  EXPECT_EQ(Param("q=%C3%A9t%C3%A9", "q"), "été");
  EXPECT_EQ(Param("q=caf\xC3\xA9", "q"), "café");  // raw UTF-8 in the target
  // %FF, a cut sequence, raw bytes: U+FFFD, never the bytes themselves.
  EXPECT_EQ(Param("q=%FF", "q"), "\uFFFD");
  EXPECT_EQ(Param("q=a%C3", "q"), "a\uFFFD");
  EXPECT_EQ(Param("q=\xFFx", "q"), "\uFFFDx");
}

TEST(FieldsTest, ReportsTheFirstBadField) {
  auto o = ParseObject(R"({"name": 3, "id": "nope"})");
  ASSERT_TRUE(o.ok());
  Fields f(*o);
  EXPECT_FALSE(f.String("name").has_value());
  EXPECT_FALSE(f.Uuid("id").has_value());
  EXPECT_FALSE(f.ok());
  EXPECT_EQ(f.status().field(), "name");
}

TEST(FieldsTest, MissingRequiredAndOptional) {
  auto o = ParseObject(R"({"x": null})");
  Fields f(*o);
  EXPECT_FALSE(f.String("x", Fields::kOptional).has_value());
  EXPECT_TRUE(f.ok());
  EXPECT_FALSE(f.String("y").has_value());
  EXPECT_EQ(f.status().field(), "y");
}

// An absent member is FastAPI's "missing"; a null one is a value of the
// wrong type to it, so it is told apart.
TEST(FieldsTest, AbsentAndNullRequiredFieldsAreToldApart) {
  auto o = ParseObject(R"({"x": null})");
  Fields absent(*o, "errors[0].");
  EXPECT_FALSE(absent.String("y").has_value());
  EXPECT_EQ(absent.status().message(), MissingField("errors[0].y").message());
  EXPECT_EQ(absent.status().field(), "errors[0].y");
  Fields null(*o);
  EXPECT_FALSE(null.String("x").has_value());
  EXPECT_EQ(null.status().message(), "x must not be null");
  EXPECT_EQ(null.status().field(), "x");
}

// PostgreSQL refused U+0000 in text at commit; SQLite and RocksDB stored it.
TEST(FieldsTest, RefusesNulInText) {
  auto o = ParseObject(R"({"a": "x\u0000y", "b": "\u0000", "c": "x", "id": "\u0000"})");
  ASSERT_TRUE(o.ok());
  for (const char* key : {"a", "b", "id"}) {
    Fields f(*o, "errors[2].");
    EXPECT_FALSE((std::string_view(key) == "id" ? f.Uuid(key) : f.String(key, Fields::kOptional))
                     .has_value());
    EXPECT_EQ(f.status().field(), std::string("errors[2].") + key);
    EXPECT_EQ(f.status().message(), std::string("errors[2].") + key + " must not contain U+0000 (NUL)");
  }
  Fields f(*o);
  EXPECT_EQ(f.String("c"), "x");
  EXPECT_TRUE(f.ok());
}

// The seed routes' 422s for a body that is no JSON object, as FastAPI's.
TEST(ParseSeedBodyTest, TellsInvalidJsonFromAnotherType) {
  http::Response error;
  EXPECT_TRUE(ParseSeedBody(R"({"a": 1})", &error).has_value());
  EXPECT_FALSE(ParseSeedBody("{", &error).has_value());
  EXPECT_EQ(error.status, 422);
  EXPECT_EQ(error.body, R"({"detail":[{"loc":["body"],"msg":"JSON decode error","type":"json_invalid"}]})");
  for (const char* body : {"", "null", " null "}) {
    EXPECT_FALSE(ParseSeedBody(body, &error).has_value());
    EXPECT_EQ(error.body, R"({"detail":[{"loc":["body"],"msg":"Field required","type":"missing"}]})")
        << body;
  }
  for (const char* body : {"[]", "[1]", "\"x\"", "3", "false"}) {
    EXPECT_FALSE(ParseSeedBody(body, &error).has_value());
    EXPECT_EQ(error.body,
              R"({"detail":[{"loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from","type":"model_attributes_type"}]})")
        << body;
  }
}

TEST(FieldsTest, IntegersMayBeWrittenAsWholeDoubles) {
  // JSON Schema's integer, and Python's json.dumps of a float holding one.
  auto o = ParseObject(R"({"a": 4.0, "b": 1e3, "c": -0.0, "d": 4.5, "e": 1e19, "f": "4"})");
  ASSERT_TRUE(o.ok());
  {
    Fields f(*o);
    EXPECT_EQ(f.Int("a"), 4);
    EXPECT_EQ(f.Int("b"), 1000);
    EXPECT_EQ(f.Int("c"), 0);
    EXPECT_TRUE(f.ok());
  }
  for (const char* key : {"d", "e", "f"}) {
    Fields f(*o);
    EXPECT_FALSE(f.Int(key).has_value()) << key;
    EXPECT_EQ(f.status().field(), key);
  }
}

TEST(FieldsTest, TimesLieBetween1970And9999) {
  auto o = ParseObject(R"({"a": "1970-01-01T00:00:00Z", "z": "9999-12-31T23:59:59.999999Z",
                           "b": "1969-12-31T23:59:59.999999Z", "c": "1970-01-01T00:30:00+01:00",
                           "d": "1900-01-01", "e": "9999-12-31T23:59:59-23:59"})");
  ASSERT_TRUE(o.ok());
  Fields f(*o);
  EXPECT_EQ(f.Time("a"), std::optional<Micros>(0));
  EXPECT_EQ(f.Time("z"), std::optional<Micros>(kLastTime));
  EXPECT_EQ(FormatTime(kLastTime), "9999-12-31T23:59:59.999999Z");
  EXPECT_TRUE(f.ok());
  for (const char* key : {"b", "c", "d", "e"}) {
    Fields g(*o);
    EXPECT_FALSE(g.Time(key).has_value()) << key;
    ASSERT_FALSE(g.ok()) << key;
    EXPECT_EQ(g.status().field(), key);
    EXPECT_EQ(g.status().message(),
              std::string(key) + " must be from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z");
  }
}

TEST(FieldsTest, LengthsCountCharactersNotBytes) {
  std::string accents, longer;
  for (int i = 0; i < 200; ++i) accents += "\u00e9";  // 200 characters, 400 bytes
  longer = accents + "e";
  boost::json::object o{{"a", accents}, {"b", longer}};
  Fields f(o);
  EXPECT_EQ(f.String("a", Fields::kRequired, 200), accents);
  EXPECT_TRUE(f.ok());
  EXPECT_FALSE(f.String("b", Fields::kRequired, 200).has_value());
  EXPECT_EQ(f.status().message(), "b is longer than 200 characters");
}

TEST(ParseUnsignedTest, DigitsOnlyWithinSixtyFourBits) {
  EXPECT_EQ(ParseUnsigned("0"), std::optional<uint64_t>(0));
  EXPECT_EQ(ParseUnsigned("18446744073709551615"), std::optional<uint64_t>(UINT64_MAX));
  for (const char* bad : {"", "-1", "+1", " 5", "5 ", "18446744073709551616", "1.5", "0x10", "1e3"}) {
    EXPECT_FALSE(ParseUnsigned(bad).has_value()) << '"' << bad << '"';
  }
}

TEST(ParseObjectTest, RejectsInvalidJsonAndUtf8) {
  EXPECT_FALSE(ParseObject("{").ok());
  EXPECT_FALSE(ParseObject("[1]").ok());
  EXPECT_FALSE(ParseObject("{\"a\":\"\xff\xfe\"}").ok());
  EXPECT_TRUE(ParseObject("{\"a\":\"caf\xc3\xa9\"}").ok());
}

}  // namespace
}  // namespace errata::api

namespace errata::api {
namespace {
TEST(QueryParamTest, WorksOnAViewIntoALongerString) {
  const std::string target = "/x?user_id=abc&top_n=5 HTTP/1.1";
  const std::string_view query = std::string_view(target).substr(3, 19);
  EXPECT_EQ(Param(query, "top_n"), "5");
}
}  // namespace
}  // namespace errata::api
