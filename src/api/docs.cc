// The API's own documentation: GET /openapi.json (data/openapi.json, built
// into the binary), GET /docs (swagger-ui over it) and GET /docs/assets/{file}
// (swagger-ui's files, which the build copies from npm's swagger-ui-dist into
// <assets-dir>/docs; see web/docs and docs/openapi.md).
#include <boost/json.hpp>

#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "api/errors.h"
#include "api/handlers.h"

extern const char kEmbeddedOpenApi[];
extern const unsigned long kEmbeddedOpenApi_size;

namespace errata::api {
namespace {

constexpr std::string_view kDocsPage = R"html(<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>errata API</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: "/openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      presets: [SwaggerUIBundle.presets.apis],
      layout: "BaseLayout"
    });
  </script>
</body>
</html>
)html";

// The file /docs cannot work without.
constexpr std::string_view kBundle = "swagger-ui-bundle.js";

std::string AssetPath(const Services& s, std::string_view file) {
  std::string dir = s.config.assets_dir.empty() ? "." : s.config.assets_dir;
  if (dir.back() != '/') dir += '/';
  return dir + "docs/" + std::string(file);
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

// The Content-Type for a served asset; empty for extensions not served.
std::string_view AssetType(std::string_view name) {
  auto ends = [&](std::string_view ext) { return name.ends_with(ext); };
  if (ends(".js")) return "application/javascript; charset=utf-8";
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

http::Response SeedDetail(int status, std::string_view detail) {
  return {status, boost::json::serialize(boost::json::object{{"detail", detail}})};
}

}  // namespace

std::string_view OpenApiDocument() {
  return {kEmbeddedOpenApi, static_cast<size_t>(kEmbeddedOpenApi_size)};
}

Status CheckOpenApiDocument() {
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(OpenApiDocument(), ec);
  if (ec) {
    return Status::InvalidArgument("data/openapi.json (built in) is not valid JSON: " + ec.message());
  }
  const auto* o = doc.if_object();
  if (o == nullptr || !o->contains("openapi") || !o->contains("paths")) {
    return Status::InvalidArgument("data/openapi.json (built in) is not an OpenAPI document");
  }
  return Status::Ok();
}

void GetOpenApi(const Ctx&, Services&, Respond respond) {
  respond({200, std::string(OpenApiDocument())});
}

void GetDocs(const Ctx&, Services& s, Respond respond) {
  const std::string bundle = AssetPath(s, kBundle);
  if (std::ifstream probe(bundle); !probe) {
    return respond(SeedDetail(
        503, "the /docs assets were not built: " + bundle +
                 " is missing (build with npm available so that swagger-ui-dist is installed, or "
                 "point --assets-dir at a built share/errata); the document itself is at /openapi.json"));
  }
  http::Response r{200, std::string(kDocsPage), "text/html; charset=utf-8"};
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  respond(std::move(r));
}

void GetDocsAsset(const Ctx& c, Services& s, Respond respond) {
  const std::string_view name = c.params[0];
  const std::string_view type = AssetType(name);
  std::string body;
  if (!SafeName(name) || type.empty() || !ReadWhole(AssetPath(s, name), &body)) {
    return respond(SeedDetail(404, "Not Found"));
  }
  http::Response r{200, std::move(body), std::string(type)};
  r.headers.emplace_back("Cache-Control", "public, max-age=3600");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  respond(std::move(r));
}

}  // namespace errata::api
