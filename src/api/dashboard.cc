// The learner dashboard: GET /dashboard (web/dashboard/index.html) and
// GET /dashboard/assets/{file} (its script, style sheet and Chart.js, which the
// build copies from npm's chart.js into <assets-dir>/dashboard; see
// web/dashboard, cmake/dashboard_assets.cmake and docs/dashboard.md). The page
// itself only calls the public /v1 API.
#include <boost/json.hpp>

#include <cstdio>
#include <fstream>
#include <string>
#include <string_view>

#include "api/assets.h"
#include "api/handlers.h"
#include "core/hash.h"

namespace errata::api {
namespace {

// The files /dashboard cannot work without: the page, its script and style
// sheet, and the chart library npm installs (the one a build without npm
// lacks). Served without any one of them, the page was blank or unstyled.
constexpr std::string_view kPage = "index.html";
constexpr std::string_view kChartLib = "chart.umd.min.js";
constexpr std::string_view kNeeded[] = {kPage, "app.js", "style.css", kChartLib};

// The page's own code changes with every build; only the pinned library may
// be cached for long.
constexpr std::string_view kNoCache = "no-cache";
constexpr std::string_view kLongCache = "public, max-age=3600";

// Everything the page loads comes from this server; Chart.js sets inline
// styles on its canvas, hence 'unsafe-inline' for styles only.
constexpr std::string_view kCsp =
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'";

http::Response Detail(int status, std::string_view detail) {
  return {status, boost::json::serialize(boost::json::object{{"detail", detail}})};
}

// A strong validator of the file's bytes: "no-cache" makes a browser ask
// again on every load, and with If-None-Match the answer is a 304 without
// the file, until a build changes it.
std::string ETag(std::string_view body) {
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx",
                static_cast<unsigned long long>(Fingerprint().Add(body).value()));
  return "\"" + std::string(hex) + "\"";
}

// If-None-Match lists entity tags (weak ones as W/"..."), or is "*"; it
// compares weakly (RFC 9110, 13.1.2).
bool NoneMatchHits(const http::Request& req, std::string_view etag) {
  const auto header = req.find(boost::beast::http::field::if_none_match);
  if (header == req.end()) return false;
  std::string_view list(header->value().data(), header->value().size());
  while (!list.empty()) {
    const size_t comma = list.find(',');
    std::string_view tag = list.substr(0, comma);
    list = comma == std::string_view::npos ? "" : list.substr(comma + 1);
    while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t')) tag.remove_prefix(1);
    while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t')) tag.remove_suffix(1);
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == "*" || tag == etag) return true;
  }
  return false;
}

// The file as a 200 with its ETag, or a 304 (no body) when the client has
// it already.
http::Response Asset(const http::Request& req, std::string body, std::string_view type,
                     std::string_view cache_control) {
  std::string etag = ETag(body);
  http::Response r{200, std::move(body), std::string(type)};
  if (NoneMatchHits(req, etag)) {
    r.status = 304;
    r.body.clear();
  }
  r.headers.emplace_back("ETag", std::move(etag));
  r.headers.emplace_back("Cache-Control", std::string(cache_control));
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return r;
}

}  // namespace

// The 503 names the missing file within the assets directory, not its
// absolute path: the answer goes to anyone, and the server's layout is not
// theirs to know (the log at startup and --assets-dir tell the operator).
void GetDashboard(const Ctx& c, Services& s, Respond respond) {
  std::string body;
  for (const std::string_view file : kNeeded) {
    const std::string path = AssetPath(s, "dashboard", file);
    const bool there = file == kPage ? ReadWholeFile(path, &body) : std::ifstream(path).good();
    if (!there) {
      return respond(Detail(
          503, "the /dashboard assets were not built: dashboard/" + std::string(file) +
                   " is missing from the assets directory (build with npm available so that "
                   "chart.js is installed, or point --assets-dir at a built share/errata); the "
                   "API itself is up"));
    }
  }
  http::Response r = Asset(c.request, std::move(body), "text/html; charset=utf-8", kNoCache);
  r.headers.emplace_back("Content-Security-Policy", std::string(kCsp));
  respond(std::move(r));
}

void GetDashboardAsset(const Ctx& c, Services& s, Respond respond) {
  const std::string_view name = c.params[0];
  const std::string_view type = AssetType(name);
  std::string body;
  if (!SafeAssetName(name) || type.empty() || !ReadWholeFile(AssetPath(s, "dashboard", name), &body)) {
    return respond(Detail(404, "Not Found"));
  }
  respond(Asset(c.request, std::move(body), type,
                name.starts_with("chart.") ? kLongCache : kNoCache));
}

}  // namespace errata::api
