// The original service's error routes, kept compatible for its clients:
// POST /simulate-and-generate and GET /generate-exercise.
#include <boost/json.hpp>

#include "api/errors.h"
#include "api/handlers.h"
#include "api/practice.h"
#include "api/render.h"
#include "api/request.h"
#include "api/utterance_input.h"
#include "api/write.h"
#include "core/ids.h"

namespace errata::api {
namespace json = boost::json;

namespace {

constexpr const char* kSimulatedBody =
    R"({"message":"Error frequencies simulated and batch processing triggered successfully."})";

// Reads the seed error list [{"errorCategory","errorSubCategory"}] into u->errors.
Status ReadSeedErrors(const json::array& errors, const Taxonomy& taxonomy, Utterance* u) {
  u->errors.resize(errors.size());
  // In the order sent, as /v1/utterances gives them (utterance_input.cc).
  UuidV7Sequence ids(u->created_at);
  for (size_t i = 0; i < errors.size(); ++i) {
    // Named as /v1 names it; the 422's loc is ["body","errors",i,...].
    const std::string where = "errors[" + std::to_string(i) + "]";
    if (!errors[i].is_object()) return Status::InvalidArgument("Input should be an object", where);
    Fields f(errors[i].as_object(), where + ".");
    auto category = f.String("errorCategory", Fields::kRequired, 200);
    auto subcategory = f.String("errorSubCategory", Fields::kRequired, 200);
    if (!f.ok()) return f.status();
    ErrorRecord& e = u->errors[i];
    Resolution how;
    if (Status st = ResolveLabel(taxonomy, *category, *subcategory, "", &e, &how); !st.ok()) {
      return Status::InvalidArgument(st.message(), where + ".errorSubCategory");
    }
    e.created_at = u->created_at;
    e.error_id = ids.Next();
  }
  return Status::Ok();
}

http::Response QueryError(std::string_view field, std::string_view msg,
                          std::string_view type = "value_error") {
  return SeedValidationError("query", field, msg, type);
}

}  // namespace

void SimulateAndGenerate(const Ctx& c, Services& s, Respond respond) {
  http::Response bad_body;
  auto body = ParseSeedBody(c.request.body(), &bad_body);
  if (!body) return respond(std::move(bad_body));
  Fields f(*body);
  WriteOp op;
  op.kind = WriteOp::Kind::kAddErrors;
  Utterance& u = op.utterance;
  auto user_id = f.Uuid("user_id");
  auto conversation_id = f.Uuid("conversation_id");
  auto utterance_id = f.Uuid("utterance_id");
  const json::array* errors = f.Array("errors");
  if (!f.ok()) return respond(ErrorResponse(Flavor::kSeed, f.status()));
  if (errors->size() > 1000) {
    return respond(SeedValidationError("body", "errors", "at most 1000 errors", "too_long"));
  }
  u.user_id = *user_id;
  u.conversation_id = *conversation_id;
  u.utterance_id = *utterance_id;
  u.created_at = NowMicros();
  if (Status st = ReadSeedErrors(*errors, *s.taxonomy, &u); !st.ok()) {
    return respond(ErrorResponse(Flavor::kSeed, st));
  }
  SubmitWrite(s, Flavor::kSeed, OneOp(std::move(op)), [](WriteRequest& r) {
    const WriteOp& op = r.ops[0];
    if (!op.status.ok()) return ErrorResponse(Flavor::kSeed, op.status);
    return http::Response{200, kSimulatedBody};
  }, std::move(respond));
}

void GenerateExercise(const Ctx& c, Services& s, Respond respond) {
  auto user_param = LastQueryParam(c.query, "user_id");
  if (!user_param) return respond(QueryError("user_id", "Field required", "missing"));
  auto user_id = CanonicalUuid(*user_param);
  if (!user_id) return respond(QueryError("user_id", "Input should be a valid UUID"));
  int64_t top_n = 5;
  if (auto n = LastQueryParam(c.query, "top_n")) {
    char* end = nullptr;
    errno = 0;
    top_n = std::strtoll(n->c_str(), &end, 10);
    if (n->empty() || *end != '\0' || errno != 0) {
      return respond(QueryError("top_n", "Input should be a valid integer"));
    }
    if (top_n < 1 || top_n > 100) {
      return respond(QueryError("top_n", "top_n must be between 1 and 100"));
    }
  }
  auto profile = s.cache->Get(*user_id);
  if (!profile.ok()) return respond(ErrorResponse(Flavor::kSeed, profile.status()));
  const auto top = TopByFrequency(**profile, static_cast<size_t>(top_n));
  if (top.empty()) return respond({404, R"({"detail":"No errors found for the given user"})"});
  std::string body;
  body.reserve(256 + 96 * top.size() + 640 * static_cast<size_t>(top_n));
  JsonWriter w(&body);
  w.BeginObject().Key("top_errors").BeginArray();
  for (const ErrorPoint* p : top) {
    w.BeginObject();
    w.Key("errorCategory").String(p->category());
    w.Key("errorSubCategory").String(p->subcategory());
    w.Key("errorFrequency").Int(p->count);
    w.EndObject();
  }
  w.EndArray().Key("exercises");
  WriteSeedExercises(w, s, **profile, static_cast<size_t>(top_n));
  w.EndObject();
  respond({200, std::move(body)});
}

}  // namespace errata::api
