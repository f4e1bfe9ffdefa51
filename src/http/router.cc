#include "http/router.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <stdexcept>

namespace errata::http {
namespace {

// The most segments a route has; a longer path matches nothing.
constexpr size_t kMaxSegments = 8;

// A path's segments, without allocating: "/a/b/" is {"a", "b", ""}. A
// trailing slash is a segment of its own, so "/users/" and "/users" are
// different routes, as in the original service. count > kMaxSegments when
// the path is longer than any route.
struct PathSegments {
  std::array<std::string_view, kMaxSegments> at;
  size_t count = 0;
};

PathSegments SplitPath(std::string_view path) {
  PathSegments out;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  for (size_t start = 0;;) {
    const size_t slash = path.find('/', start);
    if (out.count == kMaxSegments) {
      out.count = kMaxSegments + 1;
      break;
    }
    out.at[out.count++] = path.substr(start, slash - start);
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

bool Matches(const std::vector<std::string>& pattern, const PathSegments& path,
             PathParams* params) {
  if (pattern.size() != path.count) return false;
  params->clear();
  for (size_t i = 0; i < pattern.size(); ++i) {
    const std::string& p = pattern[i];
    if (!p.empty() && p.front() == '{') {
      if (path.at[i].empty()) return false;
      params->push_back(path.at[i]);
    } else if (p != path.at[i]) {
      return false;
    }
  }
  return true;
}

// A pattern's parameters as bits, the first segment highest: of two
// patterns that match one path, the one with the smaller value has a
// literal where the other first has a parameter.
uint32_t ParameterBits(const PathSegments& parts) {
  uint32_t bits = 0;
  for (size_t i = 0; i < parts.count; ++i) {
    if (!parts.at[i].empty() && parts.at[i].front() == '{') bits |= 1u << (kMaxSegments - 1 - i);
  }
  return bits;
}

// Appends `method` to an Allow list unless it is there.
void AddAllowed(std::string* allow, std::string_view method) {
  for (size_t at = 0; at < allow->size();) {
    const size_t comma = std::min(allow->find(", ", at), allow->size());
    if (std::string_view(*allow).substr(at, comma - at) == method) return;
    at = comma + 2;
  }
  if (!allow->empty()) *allow += ", ";
  *allow += method;
}

}  // namespace

void Router::Add(Route route) {
  const PathSegments parts = SplitPath(route.pattern);
  if (parts.count > kMaxSegments) throw std::logic_error("route has too many segments: " + route.pattern);
  segments_.emplace_back(parts.at.begin(), parts.at.begin() + parts.count);
  parameter_bits_.push_back(ParameterBits(parts));
  routes_.push_back(std::move(route));
  // Stable: routes of one pattern keep the table's order.
  const size_t i = routes_.size() - 1;
  order_.insert(std::upper_bound(order_.begin(), order_.end(), i,
                                 [this](size_t a, size_t b) {
                                   return parameter_bits_[a] < parameter_bits_[b];
                                 }),
                i);
}

Router::Match Router::Find(boost::beast::http::verb method, std::string_view path, size_t* index,
                           PathParams* params, std::string* allow) const {
  using boost::beast::http::verb;
  // HEAD is GET without the body (RFC 9110, 9.3.2): it takes the GET route.
  const verb wanted = method == verb::head ? verb::get : method;
  const PathSegments parts = SplitPath(path);
  bool path_known = false;
  uint32_t pattern_bits = 0;
  allow->clear();
  // Most specific patterns first. Only the first pattern that matches the
  // path counts: "/v1/users/search" shadows "/v1/users/{id}", so DELETE on
  // it is a 405 that allows GET and HEAD, not an erasure of a user "search"
  // (whose Allow also listed the methods of {id}: "GET, HEAD, GET, HEAD,
  // DELETE, PATCH").
  for (const size_t i : order_) {
    if (path_known && parameter_bits_[i] != pattern_bits) break;
    if (!Matches(segments_[i], parts, params)) continue;
    if (routes_[i].method == wanted) {
      *index = i;
      return Match::kFound;
    }
    path_known = true;
    pattern_bits = parameter_bits_[i];
    AddAllowed(allow, boost::beast::http::to_string(routes_[i].method));
    if (routes_[i].method == verb::get) AddAllowed(allow, "HEAD");
  }
  return path_known ? Match::kWrongMethod : Match::kNoRoute;
}

std::vector<std::string> Router::Names() const {
  std::vector<std::string> out;
  for (const auto& r : routes_) {
    out.push_back(std::string(boost::beast::http::to_string(r.method)) + " " + r.pattern);
  }
  return out;
}

}  // namespace errata::http
