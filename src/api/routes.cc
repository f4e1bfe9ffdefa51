#include "api/handlers.h"

namespace errata::api {

http::Router BuildRouter(Services& s) {
  using boost::beast::http::verb;
  using Fn = void (*)(const Ctx&, Services&, Respond);
  struct Row {
    verb method;
    const char* pattern;
    Fn handler;
  };
  static const Row kRoutes[] = {
      // The original service's routes, kept byte-compatible for its clients.
      {verb::post, "/users/", PostUserSeed},
      {verb::post, "/conversations/", PostConversationSeed},
      {verb::post, "/utterances/", PostUtteranceSeed},
      {verb::post, "/simulate-and-generate", SimulateAndGenerate},
      {verb::get, "/generate-exercise", GenerateExercise},
      // The versioned API.
      {verb::post, "/v1/users", PostUser},
      {verb::get, "/v1/users/search", SearchUsers},  // shadows /v1/users/{id}
      {verb::get, "/v1/users/{id}", GetUser},
      {verb::delete_, "/v1/users/{id}", EraseUser},
      {verb::patch, "/v1/users/{id}", PatchUser},
      {verb::post, "/v1/conversations", PostConversation},
      {verb::get, "/v1/conversations/{id}", GetConversation},
      {verb::post, "/v1/utterances", PostUtterance},
      {verb::post, "/v1/ingest", PostIngest},
      {verb::get, "/v1/users/{id}/conversations", ListUserConversations},
      {verb::get, "/v1/users/{id}/export", ExportLearner},
      {verb::get, "/v1/users/{id}/errors/top", GetTopErrors},
      {verb::get, "/v1/users/{id}/errors/timeline", GetTimeline},
      {verb::get, "/v1/users/{id}/exercises", GetExercises},
      {verb::post, "/v1/users/{id}/attempts", PostAttempt},
      {verb::get, "/v1/users/{id}/stream", GetStream},
      {verb::get, "/v1/taxonomy", GetTaxonomy},
      // Operations.
      {verb::get, "/healthz", Healthz},
      {verb::get, "/readyz", Readyz},
      {verb::get, "/metrics", GetMetrics},
      // This API's documentation (docs/openapi.md).
      {verb::get, "/openapi.json", GetOpenApi},
      {verb::get, "/docs", GetDocs},
      {verb::get, "/docs/assets/{file}", GetDocsAsset},
      // The learner dashboard (docs/dashboard.md).
      {verb::get, "/dashboard", GetDashboard},
      {verb::get, "/dashboard/assets/{file}", GetDashboardAsset},
  };
  http::Router router;
  for (const Row& row : kRoutes) {
    Fn fn = row.handler;
    router.Add({row.method, row.pattern,
                [fn, &s](const Ctx& c, Respond r) { fn(c, s, std::move(r)); }});
  }
  return router;
}

}  // namespace errata::api
