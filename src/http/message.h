// The request and response types handlers see. Handlers never touch sockets:
// they get a Request and answer through a Respond callback, which may be
// called later from another thread (after a group commit).
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace errata::http {

using Request = boost::beast::http::request<boost::beast::http::string_body>;

struct Response {
  Response() = default;
  Response(int s, std::string b, std::string type = "application/json")
      : status(s), body(std::move(b)), content_type(std::move(type)) {}
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
};

// Answers a request, exactly once, from any thread.
using Respond = std::function<void(Response)>;

// The path parameters a route captured, in pattern order ("{id}" -> value).
using PathParams = std::vector<std::string_view>;

}  // namespace errata::http
