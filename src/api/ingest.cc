// POST /v1/ingest: bulk NDJSON, one utterance with its errors per line. Valid
// lines are applied (all in one group commit), invalid ones are reported by
// line number, and a retried line is recognised by its utterance id.
#include <algorithm>
#include <cstddef>

#include <boost/json.hpp>

#include "api/errors.h"
#include "api/handlers.h"
#include "api/render.h"
#include "api/request.h"
#include "api/utterance_input.h"
#include "api/write.h"

namespace errata::api {
namespace json = boost::json;

namespace {

constexpr size_t kMaxLines = 10'000;

json::object LineError(size_t line, const Status& st, std::string_view code) {
  json::object err{{"code", code}, {"message", st.message()}};
  if (!st.field().empty()) err["field"] = st.field();
  return {{"line", line}, {"status", "rejected"}, {"error", std::move(err)}};
}

}  // namespace

void PostIngest(const Ctx& c, Services& s, Respond respond) {
  const std::string_view body = c.request.body();
  auto request = std::make_unique<WriteRequest>();
  auto results = std::make_shared<json::array>();
  auto op_lines = std::make_shared<std::vector<size_t>>();  // op i came from line op_lines[i]
  const Micros now = NowMicros();
  size_t line = 0;
  for (size_t pos = 0; pos < body.size();) {
    size_t nl = body.find('\n', pos);
    if (nl == std::string_view::npos) nl = body.size();
    std::string_view text = body.substr(pos, nl - pos);
    pos = nl + 1;
    ++line;
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (text.find_first_not_of(" \t") == std::string_view::npos) continue;
    if (line > kMaxLines) {
      return respond(V1Error(413, "payload_too_large", "at most 10000 lines per request"));
    }
    auto object = ParseObject(text);
    if (!object.ok()) {
      results->push_back(LineError(line, object.status(), "invalid_json"));
      continue;
    }
    auto parsed = ParseUtterance(*object, s, now, UtteranceMode::kIngest);
    if (!parsed.ok()) {
      results->push_back(LineError(line, parsed.status(), "invalid_argument"));
      continue;
    }
    request->ops.push_back(std::move(parsed->op));
    op_lines->push_back(line);
  }
  SubmitWrite(s, Flavor::kV1, std::move(request), [results, op_lines](WriteRequest& r) {
    // The lines rejected while parsing come first, in line order; the ops'
    // lines follow, in line order too. One merge puts them together.
    const auto parse_rejected = static_cast<std::ptrdiff_t>(results->size());
    size_t applied = 0, replayed = 0;
    for (size_t i = 0; i < r.ops.size(); ++i) {
      const WriteOp& op = r.ops[i];
      if (!op.status.ok()) {
        const char* code = op.status.code() == Status::Code::kConflict ? "conflict" : "invalid_argument";
        results->push_back(LineError((*op_lines)[i], op.status, code));
        continue;
      }
      (op.replayed ? replayed : applied) += 1;
      results->push_back(json::object{{"line", (*op_lines)[i]},
                                      {"status", op.replayed ? "replayed" : "applied"},
                                      {"utterance_id", op.utterance.utterance_id},
                                      {"errors", op.utterance.errors.size()}});
    }
    if (parse_rejected > 0) {
      std::inplace_merge(results->begin(), results->begin() + parse_rejected, results->end(),
                         [](const json::value& a, const json::value& b) {
                           return a.at("line").to_number<int64_t>() <
                                  b.at("line").to_number<int64_t>();
                         });
    }
    const size_t rejected = results->size() - applied - replayed;
    return Json(200, {{"applied", applied},
                      {"replayed", replayed},
                      {"rejected", rejected},
                      {"results", std::move(*results)}});
  }, std::move(respond));
}

}  // namespace errata::api
