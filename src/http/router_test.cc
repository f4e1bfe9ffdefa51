#include "http/router.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace errata::http {
namespace {

using boost::beast::http::verb;

Router Routes() {
  Router r;
  for (auto [method, pattern] : {std::pair{verb::get, "/healthz"},
                                 {verb::post, "/users/"},
                                 {verb::get, "/v1/users/{id}"},
                                 {verb::delete_, "/v1/users/{id}"},
                                 {verb::get, "/v1/users/{id}/exercises"},
                                 {verb::get, "/v1/users/{id}/errors/{sub}"}}) {
    r.Add(Route{method, pattern, nullptr});
  }
  return r;
}

class RouterTest : public ::testing::Test {
 protected:
  Router::Match Find(verb method, std::string_view path) {
    return r.Find(method, path, &index, &params, &allow);
  }
  const Router r = Routes();
  size_t index = 99;
  PathParams params;
  std::string allow;
};

TEST_F(RouterTest, FindsTheRouteAndItsParameters) {
  ASSERT_EQ(Find(verb::get, "/v1/users/abc/exercises"), Router::Match::kFound);
  EXPECT_EQ(r.route(index).pattern, "/v1/users/{id}/exercises");
  ASSERT_EQ(params.size(), 1u);
  EXPECT_EQ(params[0], "abc");
  ASSERT_EQ(Find(verb::get, "/v1/users/u1/errors/tense"), Router::Match::kFound);
  EXPECT_EQ(r.route(index).pattern, "/v1/users/{id}/errors/{sub}");
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params[0], "u1");
  EXPECT_EQ(params[1], "tense");
  // The parameters of a route tried before (and not taken) are not kept.
  ASSERT_EQ(Find(verb::delete_, "/v1/users/u2"), Router::Match::kFound);
  EXPECT_EQ(r.route(index).method, verb::delete_);
  ASSERT_EQ(params.size(), 1u);
  EXPECT_EQ(params[0], "u2");
}

TEST_F(RouterTest, ATrailingSlashIsASegmentOfItsOwn) {
  EXPECT_EQ(Find(verb::post, "/users/"), Router::Match::kFound);
  EXPECT_EQ(Find(verb::post, "/users"), Router::Match::kNoRoute);
  EXPECT_EQ(Find(verb::get, "/healthz/"), Router::Match::kNoRoute);
  // An empty segment never fills a parameter.
  EXPECT_EQ(Find(verb::get, "/v1/users//exercises"), Router::Match::kNoRoute);
}

TEST_F(RouterTest, AKnownPathWithAnotherMethodListsTheMethodsItTakes) {
  EXPECT_EQ(Find(verb::put, "/v1/users/abc"), Router::Match::kWrongMethod);
  EXPECT_EQ(allow, "GET, HEAD, DELETE");
  EXPECT_EQ(Find(verb::post, "/healthz"), Router::Match::kWrongMethod);
  EXPECT_EQ(allow, "GET, HEAD");
  EXPECT_EQ(Find(verb::get, "/users/"), Router::Match::kWrongMethod);
  EXPECT_EQ(allow, "POST");
  EXPECT_EQ(Find(verb::get, "/nowhere"), Router::Match::kNoRoute);
}

// A literal segment shadows a parameter in its place, whatever the table's
// order: the path takes only the literal route's methods, each listed once.
TEST(RouterShadowTest, ALiteralSegmentShadowsAParameter) {
  Router r;
  for (auto [method, pattern] : {std::pair{verb::get, "/v1/users/{id}"},
                                 {verb::delete_, "/v1/users/{id}"},
                                 {verb::get, "/v1/users/search"},
                                 {verb::patch, "/v1/users/{id}"}}) {
    r.Add(Route{method, pattern, nullptr});
  }
  size_t index = 99;
  PathParams params;
  std::string allow;
  ASSERT_EQ(r.Find(verb::get, "/v1/users/search", &index, &params, &allow), Router::Match::kFound);
  EXPECT_EQ(r.route(index).pattern, "/v1/users/search");
  EXPECT_TRUE(params.empty());
  EXPECT_EQ(r.Find(verb::put, "/v1/users/search", &index, &params, &allow),
            Router::Match::kWrongMethod);
  EXPECT_EQ(allow, "GET, HEAD");  // was "GET, HEAD, DELETE, GET, HEAD, PATCH"
  EXPECT_EQ(r.Find(verb::delete_, "/v1/users/search", &index, &params, &allow),
            Router::Match::kWrongMethod);
  ASSERT_EQ(r.Find(verb::delete_, "/v1/users/abc", &index, &params, &allow), Router::Match::kFound);
  EXPECT_EQ(r.route(index).pattern, "/v1/users/{id}");
  ASSERT_EQ(params.size(), 1u);
  EXPECT_EQ(params[0], "abc");
  EXPECT_EQ(r.Find(verb::put, "/v1/users/abc", &index, &params, &allow), Router::Match::kWrongMethod);
  EXPECT_EQ(allow, "GET, HEAD, DELETE, PATCH");
}

TEST(RouterShadowTest, AMethodTwiceIsAllowedOnce) {
  Router r;
  r.Add(Route{verb::get, "/x", nullptr});
  r.Add(Route{verb::get, "/x", nullptr});
  size_t index = 99;
  PathParams params;
  std::string allow;
  ASSERT_EQ(r.Find(verb::post, "/x", &index, &params, &allow), Router::Match::kWrongMethod);
  EXPECT_EQ(allow, "GET, HEAD");
  ASSERT_EQ(r.Find(verb::get, "/x", &index, &params, &allow), Router::Match::kFound);
  EXPECT_EQ(index, 0u);  // the first of one pattern and method
}

TEST_F(RouterTest, AHeadTakesTheGetRoute) {
  ASSERT_EQ(Find(verb::head, "/v1/users/abc"), Router::Match::kFound);
  EXPECT_EQ(r.route(index).method, verb::get);
  EXPECT_EQ(r.route(index).pattern, "/v1/users/{id}");
  ASSERT_EQ(params.size(), 1u);
  EXPECT_EQ(params[0], "abc");
  // A path with no GET has no HEAD either.
  EXPECT_EQ(Find(verb::head, "/users/"), Router::Match::kWrongMethod);
  EXPECT_EQ(allow, "POST");
}

TEST_F(RouterTest, APathLongerThanAnyRouteMatchesNothing) {
  EXPECT_EQ(Find(verb::get, "/a/b/c/d/e/f/g/h/i/j/k"), Router::Match::kNoRoute);
  EXPECT_EQ(Find(verb::get, "/v1/users/abc/exercises/1/2/3/4/5"), Router::Match::kNoRoute);
  Router long_route;
  EXPECT_THROW(long_route.Add(Route{verb::get, "/a/b/c/d/e/f/g/h/i", nullptr}), std::logic_error);
}

}  // namespace
}  // namespace errata::http
