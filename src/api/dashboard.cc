// The learner dashboard: GET /dashboard (web/dashboard/index.html) and
// GET /dashboard/assets/{file} (its script, style sheet and Chart.js, which the
// build copies from npm's chart.js into <assets-dir>/dashboard; see
// web/dashboard, cmake/dashboard_assets.cmake and docs/dashboard.md). The page
// itself only calls the public /v1 API.
#include <boost/json.hpp>

#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "api/assets.h"
#include "api/handlers.h"

namespace errata::api {
namespace {

// The files /dashboard cannot work without: the page, and the chart library
// npm installs (the one a build without npm lacks).
constexpr std::string_view kPage = "index.html";
constexpr std::string_view kChartLib = "chart.umd.min.js";

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

}  // namespace

void GetDashboard(const Ctx&, Services& s, Respond respond) {
  const std::string lib = AssetPath(s, "dashboard", kChartLib);
  const std::string page = AssetPath(s, "dashboard", kPage);
  std::string body;
  const bool have_lib = static_cast<bool>(std::ifstream(lib));
  if (!have_lib || !ReadWholeFile(page, &body)) {
    return respond(Detail(
        503, "the /dashboard assets were not built: " + (have_lib ? page : lib) +
                 " is missing (build with npm available so that chart.js is installed, or point "
                 "--assets-dir at a built share/errata); the API itself is up"));
  }
  http::Response r{200, std::move(body), "text/html; charset=utf-8"};
  r.headers.emplace_back("Cache-Control", std::string(kNoCache));
  r.headers.emplace_back("Content-Security-Policy", std::string(kCsp));
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  respond(std::move(r));
}

void GetDashboardAsset(const Ctx& c, Services& s, Respond respond) {
  const std::string_view name = c.params[0];
  const std::string_view type = AssetType(name);
  std::string body;
  if (!SafeAssetName(name) || type.empty() || !ReadWholeFile(AssetPath(s, "dashboard", name), &body)) {
    return respond(Detail(404, "Not Found"));
  }
  http::Response r{200, std::move(body), std::string(type)};
  r.headers.emplace_back("Cache-Control",
                         std::string(name.starts_with("chart.") ? kLongCache : kNoCache));
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  respond(std::move(r));
}

}  // namespace errata::api
