// Router: the route table and path matching. Routes are data: method,
// pattern ("/v1/users/{id}/errors/top"), a name for metrics and docs, and the
// handler. Matching is by exact segments; "{x}" matches one segment.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.h"

namespace errata::http {

struct RouteContext {
  const Request& request;
  PathParams params;
  std::string_view query;       // without the '?'
  const std::string& request_id;
};

using Handler = std::function<void(const RouteContext&, Respond)>;

struct Route {
  boost::beast::http::verb method;
  std::string pattern;
  Handler handler;
};

class Router {
 public:
  void Add(Route route);

  enum class Match { kFound, kNoRoute, kWrongMethod };
  // Finds the route for `method` and `path`; on kFound sets *index and *params;
  // on kWrongMethod sets *allow to the methods the path accepts ("GET, HEAD,
  // POST"), each once. A HEAD finds the GET route. Where patterns overlap,
  // the path takes the routes of the most specific: a literal segment beats
  // a parameter in its place, whatever the table's order.
  Match Find(boost::beast::http::verb method, std::string_view path, size_t* index,
             PathParams* params, std::string* allow) const;

  const Route& route(size_t i) const { return routes_[i]; }
  const std::vector<Route>& routes() const { return routes_; }
  // "GET /v1/users/{id}" for each route, in order: metric labels and docs.
  std::vector<std::string> Names() const;

 private:
  std::vector<Route> routes_;
  std::vector<std::vector<std::string>> segments_;
  std::vector<uint32_t> parameter_bits_;  // per route: which segments are parameters
  std::vector<size_t> order_;             // route indexes, most specific pattern first
};

}  // namespace errata::http
