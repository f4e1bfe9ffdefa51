#include "http/router.h"

#include <array>
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

}  // namespace

void Router::Add(Route route) {
  const PathSegments parts = SplitPath(route.pattern);
  if (parts.count > kMaxSegments) throw std::logic_error("route has too many segments: " + route.pattern);
  segments_.emplace_back(parts.at.begin(), parts.at.begin() + parts.count);
  routes_.push_back(std::move(route));
}

Router::Match Router::Find(boost::beast::http::verb method, std::string_view path, size_t* index,
                           PathParams* params, std::string* allow) const {
  using boost::beast::http::verb;
  // HEAD is GET without the body (RFC 9110, 9.3.2): it takes the GET route.
  const verb wanted = method == verb::head ? verb::get : method;
  const PathSegments parts = SplitPath(path);
  bool path_known = false;
  allow->clear();
  for (size_t i = 0; i < routes_.size(); ++i) {
    if (!Matches(segments_[i], parts, params)) continue;
    if (routes_[i].method == wanted) {
      *index = i;
      return Match::kFound;
    }
    path_known = true;
    if (!allow->empty()) *allow += ", ";
    *allow += std::string(boost::beast::http::to_string(routes_[i].method));
    if (routes_[i].method == verb::get) *allow += ", HEAD";
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
