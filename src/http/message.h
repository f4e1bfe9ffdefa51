// The request and response types handlers see. Handlers never touch sockets:
// they get a Request and answer through a Respond callback, which may be
// called later from another thread (after a group commit).
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/container/small_vector.hpp>
#include <boost/beast/http/string_body.hpp>

#include <functional>
#include <memory>

#include "stream/event_sink.h"
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
  // For a streaming response (Server-Sent Events): the session writes a 200
  // with `content_type` and chunked encoding, then calls `stream` with the
  // connection's sink; chunks pushed into it go to the client until either
  // side closes. `body` is ignored.
  std::function<void(std::shared_ptr<EventSink>)> stream;
};

// Answers a request, exactly once, from any thread.
using Respond = std::function<void(Response)>;

// The path parameters a route captured, in pattern order ("{id}" -> value).
// No route has more than two, so they live inside the request's context.
using PathParams = boost::container::small_vector<std::string_view, 2>;

}  // namespace errata::http
