// Every API handler, one file per resource. A handler validates, then either
// answers at once (reads) or queues a write and answers after its commit.
#pragma once

#include <functional>
#include <string_view>

#include "api/services.h"
#include "http/router.h"

namespace errata::api {

using Ctx = http::RouteContext;
using http::Respond;

// users.cc
void PostUserSeed(const Ctx& c, Services& s, Respond r);
void PostUser(const Ctx& c, Services& s, Respond r);
void GetUser(const Ctx& c, Services& s, Respond r);
void EraseUser(const Ctx& c, Services& s, Respond r);
void PatchUser(const Ctx& c, Services& s, Respond r);
void SearchUsers(const Ctx& c, Services& s, Respond r);
// conversations.cc
void PostConversationSeed(const Ctx& c, Services& s, Respond r);
void PostConversation(const Ctx& c, Services& s, Respond r);
void GetConversation(const Ctx& c, Services& s, Respond r);
void ListUserConversations(const Ctx& c, Services& s, Respond r);
// learner_export.cc: everything about one learner
void ExportLearner(const Ctx& c, Services& s, Respond r);
// Runs `read`, which answers through `r`, on the slow-reads thread (docs/
// http.md, "Long reads"), or here when there is none; answers 503 when too
// many long reads are waiting.
void RunLongRead(Services& s, const Respond& r, std::function<void()> read);
// utterances.cc
void PostUtteranceSeed(const Ctx& c, Services& s, Respond r);
void PostUtterance(const Ctx& c, Services& s, Respond r);
// ingest.cc
void PostIngest(const Ctx& c, Services& s, Respond r);
// compat.cc: the original service's error routes
void SimulateAndGenerate(const Ctx& c, Services& s, Respond r);
void GenerateExercise(const Ctx& c, Services& s, Respond r);
// profile.cc
void GetTopErrors(const Ctx& c, Services& s, Respond r);
void GetTimeline(const Ctx& c, Services& s, Respond r);
// exercises.cc
void GetExercises(const Ctx& c, Services& s, Respond r);
void PostAttempt(const Ctx& c, Services& s, Respond r);
void GetTaxonomy(const Ctx& c, Services& s, Respond r);
// stream.cc: live events (SSE)
void GetStream(const Ctx& c, Services& s, Respond r);
// health.cc
void Healthz(const Ctx& c, Services& s, Respond r);
void Readyz(const Ctx& c, Services& s, Respond r);
void GetMetrics(const Ctx& c, Services& s, Respond r);
// docs.cc: the OpenAPI document (data/openapi.json, built in) and swagger-ui
void GetOpenApi(const Ctx& c, Services& s, Respond r);
void GetDocs(const Ctx& c, Services& s, Respond r);
void GetDocsAsset(const Ctx& c, Services& s, Respond r);
// dashboard.cc: the learner dashboard (web/dashboard) and its assets
void GetDashboard(const Ctx& c, Services& s, Respond r);
void GetDashboardAsset(const Ctx& c, Services& s, Respond r);
// The built-in document, and a check that it parses (run at start-up).
std::string_view OpenApiDocument();
Status CheckOpenApiDocument();

// routes.cc: the whole API on one screen.
http::Router BuildRouter(Services& s);

}  // namespace errata::api
