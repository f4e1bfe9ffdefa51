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
#include "api/assets.h"
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
  // Not about any learner: a cache may keep it, asking again before use, as
  // it changes with the binary (the API's own JSON is no-store).
  http::Response r{200, std::string(OpenApiDocument())};
  r.headers.emplace_back("Cache-Control", "no-cache");
  respond(std::move(r));
}

void GetDocs(const Ctx&, Services& s, Respond respond) {
  const std::string bundle = AssetPath(s, "docs", kBundle);
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
  if (!SafeAssetName(name) || type.empty() || !ReadWholeFile(AssetPath(s, "docs", name), &body)) {
    return respond(SeedDetail(404, "Not Found"));
  }
  http::Response r{200, std::move(body), std::string(type)};
  r.headers.emplace_back("Cache-Control", "public, max-age=3600");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  respond(std::move(r));
}

}  // namespace errata::api
