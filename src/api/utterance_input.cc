#include "api/utterance_input.h"

#include "api/render.h"
#include "api/request.h"
#include "core/hash.h"
#include "core/ids.h"
#include "core/text.h"

namespace errata::api {
namespace json = boost::json;

namespace {

// An id derived from the line's fingerprint, so that a retried ingest line
// without utterance_id is recognised as the same utterance.
std::string DerivedId(uint64_t a, uint64_t b) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%08llx-%04llx-8%03llx-%04llx-%012llx",
                static_cast<unsigned long long>(a >> 32),
                static_cast<unsigned long long>((a >> 16) & 0xffff),
                static_cast<unsigned long long>(a & 0xfff),
                static_cast<unsigned long long>(0x8000 | ((b >> 48) & 0x3fff)),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

// `content_chars`: the utterance's length in characters, when it has content.
Status ParseError(const json::value& v, size_t i, const Services& s, Micros at,
                  std::optional<size_t> content_chars, Fingerprint* fp, ErrorRecord* e,
                  Resolution* how) {
  const std::string item = "errors[" + std::to_string(i) + "]";
  if (!v.is_object()) return Status::InvalidArgument(item + " must be an object", item);
  const std::string prefix = item + ".";
  Fields f(v.as_object(), prefix);
  auto category = f.String("category", Fields::kOptional, 200);
  auto subcategory = f.String("subcategory", Fields::kOptional, 200);
  auto code = f.String("code", Fields::kOptional, 64);
  e->original = f.String("original", Fields::kOptional, 10'000);
  e->correction = f.String("correction", Fields::kOptional, 10'000);
  e->explanation = f.String("explanation", Fields::kOptional, 10'000);
  if (const json::object* span = f.Object("span", Fields::kOptional)) {
    Fields sf(*span, prefix + "span.");
    auto start = sf.Int("start");
    auto end = sf.Int("end");
    if (!sf.ok()) return sf.status();
    if (*start < 0 || *end < *start) {
      return Status::InvalidArgument("span must have 0 <= start <= end", prefix + "span");
    }
    if (content_chars && static_cast<uint64_t>(*end) > *content_chars) {
      return Status::InvalidArgument(
          "span must lie within content, which has " + std::to_string(*content_chars) +
              " characters (spans count characters, not bytes)",
          prefix + "span");
    }
    e->span = Span{*start, *end};
  }
  if (!f.ok()) return f.status();
  if (Status st = ResolveLabel(*s.taxonomy, category.value_or(""), subcategory.value_or(""),
                               code.value_or(""), e, how);
      !st.ok()) {
    return Status::InvalidArgument(st.message(), prefix + (st.field().empty() ? "subcategory" : st.field()));
  }
  e->code = code.value_or("");
  e->created_at = at;
  fp->Add(category.value_or("")).Add(subcategory.value_or("")).Add(e->code);
  fp->Add(e->original.value_or("")).Add(e->correction.value_or(""));
  fp->Add(e->span ? e->span->start : -1).Add(e->span ? e->span->end : -1);
  return Status::Ok();
}

}  // namespace

Status ResolveLabel(const Taxonomy& taxonomy, std::string_view category,
                    std::string_view subcategory, std::string_view code, ErrorRecord* e,
                    Resolution* how) {
  auto r = taxonomy.Resolve(category, subcategory, code);
  if (!r.ok()) return r.status();
  e->category = r->category;
  e->subcategory = r->subcategory;
  e->subcategory_id = r->subcategory_id;
  *how = std::move(*r);
  return Status::Ok();
}

Result<ParsedUtterance> ParseUtterance(const json::object& o, const Services& s, Micros now,
                                       UtteranceMode mode, Micros order) {
  ParsedUtterance p;
  WriteOp& op = p.op;
  op.kind = WriteOp::Kind::kAddUtterance;
  Utterance& u = op.utterance;
  Fields f(o);
  auto conversation_id = f.Uuid("conversation_id");
  auto user_id = f.Uuid("user_id");
  auto utterance_id = f.Uuid("utterance_id", Fields::kOptional);
  u.content = f.String("content", Fields::kOptional);
  auto created_at = f.Time("created_at", Fields::kOptional);
  const json::array* errors = f.Array("errors", Fields::kOptional);
  if (mode == UtteranceMode::kIngest) op.user.username = f.String("username", Fields::kOptional, 200).value_or("");
  if (!f.ok()) return f.status();
  if (created_at && *created_at > now + s.config.future_tolerance) {
    return Status::InvalidArgument("created_at is more than a minute in the future", "created_at");
  }
  u.conversation_id = *conversation_id;
  u.user_id = *user_id;
  u.created_at = created_at.value_or(now + order);
  Fingerprint fp;
  fp.Add(u.conversation_id).Add(u.user_id).Add(u.content.value_or("")).Add(created_at.value_or(-1));
  if (errors != nullptr) {
    if (errors->size() > 1000) return Status::InvalidArgument("at most 1000 errors", "errors");
    u.errors.resize(errors->size());
    p.resolutions.resize(errors->size());
    std::optional<size_t> chars;
    if (u.content) chars = Utf8Length(*u.content);
    // Ids that sort in the order sent: a replay, the conversation view and
    // the export list an utterance's errors by id, and a client may match
    // errors[i] to the i-th error it sent (docs/write-path.md, "Idempotency").
    UuidV7Sequence ids(u.created_at);
    for (size_t i = 0; i < errors->size(); ++i) {
      Status st = ParseError((*errors)[i], i, s, u.created_at, chars, &fp, &u.errors[i],
                             &p.resolutions[i]);
      if (!st.ok()) return st;
      u.errors[i].error_id = ids.Next();
    }
  }
  op.request_hash = fp.value();
  op.create_missing = mode == UtteranceMode::kIngest;
  op.client_id = utterance_id.has_value() || mode == UtteranceMode::kIngest;
  if (utterance_id) {
    u.utterance_id = *utterance_id;
  } else if (mode == UtteranceMode::kIngest) {
    u.utterance_id = DerivedId(fp.value(), Fingerprint(fp).Add("id").value());
  } else {
    u.utterance_id = NewUuidV7(u.created_at);
  }
  return p;
}

std::string UtteranceResultJson(const WriteOp& op, const std::vector<Resolution>& resolutions) {
  std::string body;
  body.reserve(512 + 448 * op.utterance.errors.size());
  JsonWriter w(&body);
  w.BeginObject();
  WriteUtteranceMembers(w, op.utterance, op.replayed ? nullptr : &resolutions);
  w.Key("replayed").Bool(op.replayed);
  w.EndObject();
  return body;
}

}  // namespace errata::api
