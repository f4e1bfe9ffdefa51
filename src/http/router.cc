#include "http/router.h"

namespace errata::http {
namespace {

// Splits "/a/b/" into {"a", "b", ""}: a trailing slash is a segment of its own,
// so "/users/" and "/users" are different routes, as in the original service.
template <typename S>
std::vector<S> Split(std::string_view path) {
  std::vector<S> out;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  size_t start = 0;
  for (;;) {
    const size_t slash = path.find('/', start);
    out.emplace_back(path.substr(start, slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

bool Matches(const std::vector<std::string>& pattern, const std::vector<std::string_view>& path,
             PathParams* params) {
  if (pattern.size() != path.size()) return false;
  params->clear();
  for (size_t i = 0; i < pattern.size(); ++i) {
    const std::string& p = pattern[i];
    if (!p.empty() && p.front() == '{') {
      if (path[i].empty()) return false;
      params->push_back(path[i]);
    } else if (p != path[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

void Router::Add(Route route) {
  segments_.push_back(Split<std::string>(route.pattern));
  routes_.push_back(std::move(route));
}

Router::Match Router::Find(boost::beast::http::verb method, std::string_view path, size_t* index,
                           PathParams* params, std::string* allow) const {
  const auto parts = Split<std::string_view>(path);
  bool path_known = false;
  allow->clear();
  for (size_t i = 0; i < routes_.size(); ++i) {
    if (!Matches(segments_[i], parts, params)) continue;
    if (routes_[i].method == method) {
      *index = i;
      return Match::kFound;
    }
    path_known = true;
    if (!allow->empty()) *allow += ", ";
    *allow += std::string(boost::beast::http::to_string(routes_[i].method));
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
