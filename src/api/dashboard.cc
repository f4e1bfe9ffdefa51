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

std::string AssetPath(const Services& s, std::string_view file) {
  std::string dir = s.config.assets_dir.empty() ? "." : s.config.assets_dir;
  if (dir.back() != '/') dir += '/';
  return dir + "dashboard/" + std::string(file);
}

// A plain file name: [A-Za-z0-9._-]+, not starting with '.', no "..".
bool SafeName(std::string_view name) {
  if (name.empty() || name.size() > 128 || name.front() == '.') return false;
  if (name.find("..") != std::string_view::npos) return false;
  for (char ch : name) {
    const bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                    ch == '.' || ch == '_' || ch == '-';
    if (!ok) return false;
  }
  return true;
}

// The Content-Type for a served asset; empty for extensions not served
// (index.html is served only as /dashboard).
std::string_view AssetType(std::string_view name) {
  auto ends = [&](std::string_view ext) { return name.ends_with(ext); };
  if (ends(".js") || ends(".mjs")) return "application/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".map")) return "application/json";
  if (ends(".png")) return "image/png";
  if (ends(".svg")) return "image/svg+xml";
  return "";
}

bool ReadWhole(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return false;
  *out = std::move(ss).str();
  return true;
}

http::Response Detail(int status, std::string_view detail) {
  return {status, boost::json::serialize(boost::json::object{{"detail", detail}})};
}

}  // namespace

void GetDashboard(const Ctx&, Services& s, Respond respond) {
  const std::string lib = AssetPath(s, kChartLib);
  const std::string page = AssetPath(s, kPage);
  std::string body;
  const bool have_lib = static_cast<bool>(std::ifstream(lib));
  if (!have_lib || !ReadWhole(page, &body)) {
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
  if (!SafeName(name) || type.empty() || !ReadWhole(AssetPath(s, name), &body)) {
    return respond(Detail(404, "Not Found"));
  }
  http::Response r{200, std::move(body), std::string(type)};
  r.headers.emplace_back("Cache-Control",
                         std::string(name.starts_with("chart.") ? kLongCache : kNoCache));
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  respond(std::move(r));
}

}  // namespace errata::api
