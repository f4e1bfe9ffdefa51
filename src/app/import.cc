#include "app/import.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <sstream>

#include "app/data.h"
#include "app/open_store.h"
#include "core/email.h"
#include "core/hash.h"
#include "core/ids.h"
#include "core/m2.h"
#include "core/text.h"
#include "log/log.h"
#include "store/writer.h"

namespace errata::app {
namespace {

constexpr size_t kBatch = 500;  // utterances per write request
constexpr size_t kRefusalsShown = 5;  // refused sentences named on stderr

// A UUID-shaped id derived from `parts`, so a re-import finds the same rows.
// `index` counts up in its last 16 bits: the errors of one utterance, given
// ids in the order of their edits, read back in that order (stores list an
// utterance's errors by id).
std::string DerivedUuid(std::initializer_list<std::string_view> parts, uint16_t index = 0) {
  Fingerprint a, b;
  for (auto p : parts) {
    a.Add(p);
    b.Add(p).Add("b");
  }
  char buf[40];
  const unsigned long long x = a.value(), y = b.value();
  std::snprintf(buf, sizeof(buf), "%08llx-%04llx-8%03llx-%04llx-%012llx", x >> 31 & 0xffffffffULL,
                (x >> 15) & 0xffff, x & 0xfff, 0x8000 | ((y >> 48) & 0x3fff),
                (y & 0xffffffff0000ULL) | index);
  return buf;
}

struct Summary {
  size_t sentences = 0, applied = 0, replayed = 0, errors = 0, noops = 0, other_annotators = 0;
  std::map<std::string, size_t> by_subcategory;  // of the errors applied
  // The sentences whose write the store refused: (index, why). Nothing of
  // them was written.
  std::vector<std::pair<size_t, Status>> refused;
};

// Builds the utterance of sentence i with the chosen annotator's edits.
Status BuildUtterance(const M2Sentence& s, size_t i, const ImportOptions& o, const Taxonomy& tax,
                      const std::string& user_id, const std::string& file_key, Micros now,
                      WriteOp* op, Summary* sum) {
  op->kind = WriteOp::Kind::kAddUtterance;
  op->create_missing = true;
  op->client_id = true;
  Utterance& u = op->utterance;
  u.user_id = user_id;
  const size_t conv = i / static_cast<size_t>(o.sentences_per_conversation);
  u.conversation_id = DerivedUuid({"conversation", user_id, file_key, std::to_string(conv)});
  u.utterance_id = DerivedUuid({"utterance", user_id, file_key, std::to_string(i)});
  u.content = s.Text();
  u.created_at = now;
  Fingerprint fp;
  fp.Add(*u.content);
  for (const M2Edit& e : s.edits) {
    if (e.noop) {
      ++sum->noops;
      continue;
    }
    if (e.annotator != o.annotator) {
      ++sum->other_annotators;
      continue;
    }
    ErrorRecord r;
    auto resolved = tax.Resolve("", "", e.type);
    if (!resolved.ok()) {
      return Status::InvalidArgument("line " + std::to_string(e.line) + ": " +
                                     resolved.status().message());
    }
    r.category = resolved->category;
    r.subcategory = resolved->subcategory;
    r.subcategory_id = resolved->subcategory_id;
    r.code = e.type;
    // A span counts characters (Span); the sentence's text has a few
    // beyond ASCII.
    const auto [start, end] = s.ByteSpan(e.start, e.end);
    const std::string_view text(*u.content);
    const size_t at = Utf8Length(text.substr(0, start));
    r.span = Span{static_cast<int64_t>(at),
                  static_cast<int64_t>(at + Utf8Length(text.substr(start, end - start)))};
    r.original = s.Tokens(e.start, e.end);
    r.correction = e.correction;
    r.created_at = now;
    r.error_id = DerivedUuid({"error", u.utterance_id}, static_cast<uint16_t>(u.errors.size()));
    fp.Add(e.type).Add(e.correction).Add(e.start).Add(e.end);
    u.errors.push_back(std::move(r));
  }
  op->request_hash = fp.value();
  return Status::Ok();
}

void Progress(size_t done, size_t total) {
  const int width = 30;
  const int filled = total ? static_cast<int>(width * done / total) : width;
  std::fprintf(stderr, "\rimport [%.*s%*s] %zu/%zu sentences", filled,
               "##############################", width - filled, "", done, total);
  if (done == total) std::fputc('\n', stderr);
}

Result<std::string> EnsureUser(Store* store, Writer* writer, const std::string& email) {
  auto found = store->FindUserByEmail(email);
  if (found.ok()) return found->user_id;
  WriteOp op;
  op.kind = WriteOp::Kind::kCreateUser;
  op.user = User{NewUuidV7(NowMicros()), email.substr(0, email.find('@')), email, NowMicros()};
  auto req = std::make_unique<WriteRequest>();
  req->ops.push_back(std::move(op));
  std::promise<Status> done;
  req->done = [&done](WriteRequest& r) { done.set_value(r.status.ok() ? r.ops[0].status : r.status); };
  std::string id = req->ops[0].user.user_id;
  if (Status s = writer->Submit(std::move(req)); !s.ok()) return s;
  if (Status s = done.get_future().get(); !s.ok()) return s;
  return id;
}

}  // namespace

int RunImportM2(const ImportOptions& o) {
  log::Setup("warn");
  if (o.sentences_per_conversation < 1) {
    std::fprintf(stderr, "errata import: --sentences-per-conversation must be >= 1\n");
    return 2;
  }
  // The learner's email, checked as POST /v1/users checks it: the API would
  // answer 422 to a learner this made.
  const std::string file_key = std::filesystem::path(o.file).filename().string();
  const std::string email =
      o.user_email.empty() ? "import+" + file_key + "@errata.local" : o.user_email;
  if (email.size() > 254 || !IsValidEmail(email)) {
    if (o.user_email.empty()) {
      std::fprintf(stderr,
                   "errata import: the file name %s makes no valid email (%s): name the "
                   "learner with --user EMAIL\n",
                   file_key.c_str(), email.c_str());
    } else {
      std::fprintf(stderr, "errata import: --user: not a valid email address: %s\n",
                   email.c_str());
    }
    return 2;
  }
  std::ifstream in(o.file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "errata import: cannot read %s\n", o.file.c_str());
    return 1;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto sentences = ParseM2(ss.str());
  if (!sentences.ok()) {
    std::fprintf(stderr, "errata import: %s: %s (nothing imported)\n", o.file.c_str(),
                 sentences.status().message().c_str());
    return 1;
  }
  // A file without a sentence is not a corpus (an empty or truncated file,
  // or a directory): it fails before any store or learner is made, as a
  // malformed one does, so a script importing many files notices.
  if (sentences->empty()) {
    std::fprintf(stderr, "errata import: %s: no sentences (S lines) in it (nothing imported)\n",
                 o.file.c_str());
    return 1;
  }
  auto data = LoadDomainData("", "");
  if (!data.ok()) {
    std::fprintf(stderr, "errata import: %s\n", data.status().message().c_str());
    return 1;
  }
  // Resolve every counted edit type before anything is written, so that a bad
  // one applies nothing: no store, no learner, no utterance.
  for (const M2Sentence& s : *sentences) {
    for (const M2Edit& e : s.edits) {
      if (e.noop || e.annotator != o.annotator) continue;
      if (auto r = data->taxonomy.Resolve("", "", e.type); !r.ok()) {
        std::fprintf(stderr, "errata import: %s: line %zu: %s (nothing imported)\n", o.file.c_str(),
                     e.line, r.status().message().c_str());
        return 1;
      }
    }
  }
  const Micros half_life = static_cast<Micros>(o.half_life_days * kMicrosPerDay);
  auto store = OpenStore(o.store, o.data_dir, half_life, 2);
  if (!store.ok()) {
    std::fprintf(stderr, "errata import: %s\n", store.status().message().c_str());
    return 1;
  }
  // Build every op first, so that a bad edit type applies nothing.
  Summary sum;
  sum.sentences = sentences->size();
  Metrics metrics({});
  ProfileCache cache(store->get(), &metrics, {1000, 0});
  Writer writer(store->get(), &cache, &metrics, {0, 1000, 1000});
  writer.Start();
  auto user_id = EnsureUser(store->get(), &writer, email);
  if (!user_id.ok()) {
    std::fprintf(stderr, "errata import: user %s: %s\n", email.c_str(), user_id.status().message().c_str());
    return 1;
  }
  std::vector<WriteOp> ops(sentences->size());
  const Micros now = NowMicros();
  for (size_t i = 0; i < ops.size(); ++i) {
    Status s = BuildUtterance((*sentences)[i], i, o, data->taxonomy, *user_id, file_key, now,
                              &ops[i], &sum);
    if (!s.ok()) {
      std::fprintf(stderr, "errata import: %s: %s (nothing imported)\n", o.file.c_str(), s.message().c_str());
      return 1;
    }
  }
  for (size_t start = 0; start < ops.size(); start += kBatch) {
    auto req = std::make_unique<WriteRequest>();
    const size_t end = std::min(ops.size(), start + kBatch);
    for (size_t i = start; i < end; ++i) req->ops.push_back(std::move(ops[i]));
    std::promise<Status> done;
    req->done = [&done, &sum, start](WriteRequest& r) {
      if (!r.status.ok()) return done.set_value(r.status);
      for (size_t i = 0; i < r.ops.size(); ++i) {
        const WriteOp& op = r.ops[i];
        if (!op.status.ok()) {
          sum.refused.emplace_back(start + i, op.status);
        } else if (op.replayed) {
          sum.replayed++;
        } else {
          // Counted once applied: a refused sentence adds nothing.
          sum.applied++;
          sum.errors += op.utterance.errors.size();
          for (const ErrorRecord& e : op.utterance.errors) sum.by_subcategory[e.subcategory_id]++;
        }
      }
      done.set_value(Status::Ok());
    };
    if (Status s = writer.Submit(std::move(req)); !s.ok()) {
      std::fprintf(stderr, "\nerrata import: %s\n", s.message().c_str());
      return 1;
    }
    if (Status s = done.get_future().get(); !s.ok()) {
      std::fprintf(stderr, "\nerrata import: commit failed: %s (%zu of %zu sentences were committed)\n",
                   s.message().c_str(), start, ops.size());
      return 1;
    }
    if (o.progress) Progress(end, ops.size());
  }
  writer.Stop();
  std::printf("imported %s for %s (user %s): %zu sentences, %zu utterances applied, %zu already "
              "present, %zu errors, %zu noop edits skipped, %zu edits of other annotators "
              "skipped, %zu refused\n",
              o.file.c_str(), email.c_str(), user_id->c_str(), sum.sentences, sum.applied,
              sum.replayed, sum.errors, sum.noops, sum.other_annotators, sum.refused.size());
  for (const auto& [id, n] : sum.by_subcategory) std::printf("  %-24s %zu\n", id.c_str(), n);
  if (sum.refused.empty()) return 0;
  std::fflush(stdout);
  // The ids come from the learner, the file's name and the sentence's
  // number: a sentence refused as taken is most often one of another file
  // of the same name imported for the same learner (or this file, changed).
  std::fprintf(stderr, "errata import: %s: %zu of %zu sentences refused, nothing written for them:\n",
               o.file.c_str(), sum.refused.size(), sum.sentences);
  bool conflict = false;
  for (size_t k = 0; k < sum.refused.size(); ++k) {
    const auto& [i, status] = sum.refused[k];
    conflict |= status.code() == Status::Code::kConflict;
    if (k < kRefusalsShown) {
      std::fprintf(stderr, "  line %zu: %s\n", (*sentences)[i].line, status.message().c_str());
    }
  }
  if (sum.refused.size() > kRefusalsShown) {
    std::fprintf(stderr, "  and %zu more\n", sum.refused.size() - kRefusalsShown);
  }
  if (conflict) {
    std::fprintf(stderr,
                 "  (a sentence's id comes from the learner, the file's name and the sentence's "
                 "number: another file named %s imported for %s, or this file changed since its "
                 "import, takes them; rename the file or import for another --user)\n",
                 file_key.c_str(), email.c_str());
  }
  return 1;
}

}  // namespace errata::app
