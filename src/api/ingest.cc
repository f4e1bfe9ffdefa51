// POST /v1/ingest: bulk NDJSON, one utterance with its errors per line. Valid
// lines are applied (all in one group commit), invalid ones are reported by
// line number, and a retried line is recognised by its utterance id.
#include <cstddef>
#include <string>
#include <vector>

#include "api/errors.h"
#include "api/handlers.h"
#include "api/json_writer.h"
#include "api/render.h"
#include "api/request.h"
#include "api/utterance_input.h"
#include "api/write.h"

namespace errata::api {

namespace {

constexpr size_t kMaxLines = 10'000;

// A line rejected before it reached the store: not JSON, or not a valid
// utterance.
struct Rejected {
  size_t line;
  Status status;
  const char* code;
};

void WriteRejected(JsonWriter& w, size_t line, const Status& st, std::string_view code) {
  w.BeginObject().Key("line").Int(static_cast<int64_t>(line)).Key("status").String("rejected");
  w.Key("error").BeginObject().Key("code").String(code).Key("message").String(st.message());
  if (!st.field().empty()) w.Key("field").String(st.field());
  w.EndObject().EndObject();
}

// The answer, written as text (docs/write-path.md, "Answers are written as
// text"): the counts, then one result per non-blank line in line order. The
// lines rejected while parsing and the ops' lines are each in line order
// already, so they are merged as they are written.
std::string IngestAnswer(const WriteRequest& r, const std::vector<size_t>& op_lines,
                         const std::vector<Rejected>& rejected_early) {
  size_t applied = 0, replayed = 0, failed = 0;
  for (const WriteOp& op : r.ops) {
    if (!op.status.ok()) {
      ++failed;
    } else {
      ++(op.replayed ? replayed : applied);
    }
  }
  std::string out;
  out.reserve(96 + 112 * (r.ops.size() + rejected_early.size()));
  JsonWriter w(&out);
  w.BeginObject().Key("applied").Int(static_cast<int64_t>(applied));
  w.Key("replayed").Int(static_cast<int64_t>(replayed));
  w.Key("rejected").Int(static_cast<int64_t>(failed + rejected_early.size()));
  w.Key("results").BeginArray();
  size_t j = 0;
  for (size_t i = 0; i < r.ops.size(); ++i) {
    for (; j < rejected_early.size() && rejected_early[j].line < op_lines[i]; ++j) {
      WriteRejected(w, rejected_early[j].line, rejected_early[j].status, rejected_early[j].code);
    }
    const WriteOp& op = r.ops[i];
    if (!op.status.ok()) {
      const char* code = op.status.code() == Status::Code::kConflict ? "conflict" : "invalid_argument";
      WriteRejected(w, op_lines[i], op.status, code);
      continue;
    }
    w.BeginObject().Key("line").Int(static_cast<int64_t>(op_lines[i]));
    w.Key("status").String(op.replayed ? "replayed" : "applied");
    w.Key("utterance_id").String(op.utterance.utterance_id);
    w.Key("errors").Int(static_cast<int64_t>(op.utterance.errors.size())).EndObject();
  }
  for (; j < rejected_early.size(); ++j) {
    WriteRejected(w, rejected_early[j].line, rejected_early[j].status, rejected_early[j].code);
  }
  w.EndArray().EndObject();
  return out;
}

}  // namespace

void PostIngest(const Ctx& c, Services& s, Respond respond) {
  const std::string_view body = c.request.body();
  auto request = std::make_unique<WriteRequest>();
  auto rejected = std::make_shared<std::vector<Rejected>>();
  auto op_lines = std::make_shared<std::vector<size_t>>();  // op i came from line op_lines[i]
  const Micros now = NowMicros();
  size_t line = 0, utterances = 0;
  for (size_t pos = 0; pos < body.size();) {
    size_t nl = body.find('\n', pos);
    if (nl == std::string_view::npos) nl = body.size();
    std::string_view text = body.substr(pos, nl - pos);
    pos = nl + 1;
    ++line;
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (text.find_first_not_of(" \t") == std::string_view::npos) continue;
    // Utterances are counted, not blank lines (`line` counts both, for the
    // line numbers in the answer).
    if (++utterances > kMaxLines) {
      return respond(V1Error(413, "payload_too_large", "at most 10000 utterances per request"));
    }
    auto object = ParseObject(text);
    if (!object.ok()) {
      rejected->push_back({line, object.status(), "invalid_json"});
      continue;
    }
    // One µs per line: lines without created_at keep the order they were sent in.
    auto parsed = ParseUtterance(*object, s, now, UtteranceMode::kIngest,
                                 static_cast<Micros>(line - 1));
    if (!parsed.ok()) {
      rejected->push_back({line, parsed.status(), "invalid_argument"});
      continue;
    }
    request->ops.push_back(std::move(parsed->op));
    op_lines->push_back(line);
  }
  // Nothing to write (every line refused, or none): answered now, as bad input
  // always is (docs/write-path.md, step 1). Queued, it waited for a commit of
  // nothing, and was refused 503 with the queue full.
  if (request->ops.empty()) return respond({200, IngestAnswer(*request, {}, *rejected)});
  SubmitWrite(s, Flavor::kV1, std::move(request), [rejected, op_lines](WriteRequest& r) {
    return http::Response{200, IngestAnswer(r, *op_lines, *rejected)};
  }, std::move(respond));
}

}  // namespace errata::api
