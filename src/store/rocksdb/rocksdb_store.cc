#include "store/rocksdb/rocksdb_store.h"

#include <fmt/format.h>
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/snapshot.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

#include "core/mastery.h"
#include "core/text.h"
#include "core/user_search.h"
#include "log/log.h"
#include "metrics/metrics.h"
#include "store/export_pager.h"
#include "store/rocksdb/codec.h"
#include "store/thread_snapshot.h"

namespace errata {

using rocksdb_codec::Decoder;
using rocksdb_codec::Encoder;
namespace keys = rocksdb_codec::keys;

namespace {

// A RocksDB failure as errata's Status: the store is failing (I/O error,
// disk full, shutting down), so the caller may retry later.
Status Fail(const rocksdb::Status& s, const char* what) {
  return Status::Unavailable(fmt::format("rocksdb {}: {}", what, s.ToString()));
}

Status Corrupt(const char* what) {
  return Status::Internal(fmt::format("rocksdb: bad {} record", what));
}

// A point read: ok with *found, or the failure.
Status DbGet(rocksdb::DB* db, const rocksdb::ReadOptions& ro, const std::string& key,
             std::string* value, bool* found) {
  rocksdb::Status s = db->Get(ro, key, value);
  *found = s.ok();
  if (s.ok() || s.IsNotFound()) return Status::Ok();
  return Fail(s, "get");
}

// The `<tag> [id]` prefix of learner and conversation-utterance keys
// (keys::IdPrefixLength): RocksDB keeps a bloom filter of them per sorted
// file, and a scan inside one prefix skips the files without it.
class IdPrefixExtractor : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "errata.IdPrefix.v1"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(),
                          keys::IdPrefixLength(std::string_view(key.data(), key.size())));
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return keys::IdPrefixLength(std::string_view(key.data(), key.size())) > 0;
  }
};

// RocksDB's own log lines (flushes, compactions, errors) go to errata's log,
// not to a LOG file in the database directory: on a full disk a failed write
// to that file makes Debian's librocksdb (built with assertions) abort the
// process while it recovers (tests/e2e/test_disk_full.py).
class RocksLogger : public rocksdb::Logger {
 public:
  explicit RocksLogger(rocksdb::InfoLogLevel level) : rocksdb::Logger(level) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    char buf[1024];
    va_list copy;
    va_copy(copy, ap);
    const int n = std::vsnprintf(buf, sizeof(buf), format, copy);
    va_end(copy);
    if (n < 0) return;
    const std::string_view line(buf, std::min<size_t>(static_cast<size_t>(n), sizeof(buf) - 1));
    const log::Fields fields{{"rocksdb", line}};
    if (level >= rocksdb::InfoLogLevel::ERROR_LEVEL) {
      log::Error("rocksdb", fields);
    } else if (level >= rocksdb::InfoLogLevel::WARN_LEVEL) {
      log::Warn("rocksdb", fields);
    } else {
      log::Debug("rocksdb", fields);
    }
  }
};

// Reads that stay inside one learner's (or one conversation's) keys.
rocksdb::ReadOptions InPrefix() {
  rocksdb::ReadOptions ro;
  ro.prefix_same_as_start = true;
  return ro;
}

// Reads that cross prefixes (every learner, users by id): no prefix filter.
rocksdb::ReadOptions TotalOrder() {
  rocksdb::ReadOptions ro;
  ro.total_order_seek = true;
  return ro;
}

// ---------------------------------------------------------------- records
// Values are the fields in a fixed order (codec.h); a new field appends.

std::string EncodeUser(const User& u) {
  Encoder e;
  e.Str(u.username).OptStr(u.email).Int(u.created_at);
  return e.Take();
}

bool DecodeUser(std::string_view user_id, std::string_view v, User* u) {
  Decoder d(v);
  u->user_id = std::string(user_id);
  u->username = d.Str();
  u->email = d.OptStr();
  u->created_at = d.Int();
  return d.ok();
}

// An utterance names its errors (id and time): with its user_id that is the
// key of each error's record (keys::LearnerError).
struct ErrorRef {
  std::string error_id;
  Micros created_at = 0;
};

struct StoredUtterance {
  std::string conversation_id;
  std::string user_id;
  std::optional<std::string> content;
  Micros created_at = 0;
  uint64_t request_hash = 0;
  std::vector<ErrorRef> errors;  // in the order written
};

size_t SizeOf(const std::optional<std::string>& s) { return s ? s->size() : 0; }

std::string EncodeUtterance(const StoredUtterance& u) {
  Encoder e(64 + u.conversation_id.size() + u.user_id.size() + SizeOf(u.content) +
            u.errors.size() * 48);
  e.Str(u.conversation_id).Str(u.user_id).OptStr(u.content).Int(u.created_at);
  e.Int(static_cast<int64_t>(u.request_hash)).Int(static_cast<int64_t>(u.errors.size()));
  for (const ErrorRef& r : u.errors) e.Str(r.error_id).Int(r.created_at);
  return e.Take();
}

bool DecodeUtterance(std::string_view v, StoredUtterance* u) {
  Decoder d(v);
  u->conversation_id = d.Str();
  u->user_id = d.Str();
  u->content = d.OptStr();
  u->created_at = d.Int();
  u->request_hash = static_cast<uint64_t>(d.Int());
  const int64_t n = d.Int();
  if (!d.ok() || n < 0 || n > static_cast<int64_t>(v.size())) return false;
  u->errors.resize(static_cast<size_t>(n));
  for (ErrorRef& r : u->errors) {
    r.error_id = d.Str();
    r.created_at = d.Int();
  }
  return d.ok();
}

// A point as stored: the key holds the learner and the subcategory id.
struct StoredPoint {
  std::string category, subcategory;
  int64_t count = 0;
  Micros first_seen = 0;
  Micros last_seen = 0;
  double decay_log2 = kNoDecay;
};

std::string EncodePoint(const StoredPoint& p) {
  Encoder e;
  e.Str(p.category).Str(p.subcategory).Int(p.count).Int(p.first_seen).Int(p.last_seen);
  e.Real(p.decay_log2);
  return e.Take();
}

bool DecodePoint(std::string_view v, StoredPoint* p) {
  Decoder d(v);
  p->category = d.Str();
  p->subcategory = d.Str();
  p->count = d.Int();
  p->first_seen = d.Int();
  p->last_seen = d.Int();
  p->decay_log2 = d.Real();
  return d.ok();
}

// Adds a point's counters to another's: counts add, first and last seen take
// the earlier and the later, decay sums add (in log2). Every term commutes,
// so RocksDB may fold the operands in any grouping. The batch writes each
// (learner, subcategory)'s merged delta as a merge operand instead of reading
// the stored point and writing the sum (docs/rocksdb.md, "Points as merge
// operands"). The stored point's labels win over the delta's.
class PointMerge : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger*) const override {
    if (existing == nullptr) {
      new_value->assign(value.data(), value.size());
      return true;
    }
    StoredPoint p, d;
    if (!DecodePoint(std::string_view(existing->data(), existing->size()), &p) ||
        !DecodePoint(std::string_view(value.data(), value.size()), &d)) {
      return false;  // RocksDB reports corruption to the read
    }
    p.count += d.count;
    p.first_seen = std::min(p.first_seen, d.first_seen);
    p.last_seen = std::max(p.last_seen, d.last_seen);
    p.decay_log2 = LogAdd2(p.decay_log2, d.decay_log2);
    *new_value = EncodePoint(p);
    return true;
  }
  // Stored in the database's OPTIONS file: never rename it.
  const char* Name() const override { return "errata.PointMerge"; }
};

std::string EncodeMemory(const MemoryState& m) {
  Encoder e;
  e.Real(m.stability_days).Real(m.difficulty).Int(m.last_review).Int(m.reviews).Int(m.lapses);
  e.Int(m.last_correct).Int(m.last_lapse);
  return e.Take();
}

bool DecodeMemory(std::string_view v, MemoryState* m) {
  Decoder d(v);
  m->stability_days = d.Real();
  m->difficulty = d.Real();
  m->last_review = d.Int();
  m->reviews = d.Int();
  m->lapses = d.Int();
  m->last_correct = d.Int();
  m->last_lapse = d.Int();
  return d.ok();
}

// An erased learner's tombstone (keys::ErasedUser): when, and how much went.
std::string EncodeTombstone(Micros at, const WriteOp::Erased& n) {
  Encoder e(40);
  e.Int(at).Int(n.conversations).Int(n.utterances).Int(n.errors).Int(n.attempts);
  return e.Take();
}

bool DecodeTombstone(std::string_view v, Micros* at, WriteOp::Erased* n) {
  Decoder d(v);
  *at = d.Int();
  n->conversations = d.Int();
  n->utterances = d.Int();
  n->errors = d.Int();
  n->attempts = d.Int();
  return d.ok();
}

// An error under its learner key (keys::LearnerError); the utterance id rides along.
std::string EncodeError(const ErrorRecord& r, const std::string& utterance_id) {
  Encoder e(64 + utterance_id.size() + r.category.size() + r.subcategory.size() +
            r.subcategory_id.size() + r.code.size() + SizeOf(r.original) + SizeOf(r.correction) +
            SizeOf(r.explanation));
  e.Str(utterance_id).Str(r.category).Str(r.subcategory).Str(r.subcategory_id).Str(r.code);
  e.Bool(r.span.has_value());
  if (r.span) e.Int(r.span->start).Int(r.span->end);
  e.OptStr(r.original).OptStr(r.correction).OptStr(r.explanation);
  return e.Take();
}

bool DecodeError(std::string_view v, ErrorRecord* r, std::string* utterance_id) {
  Decoder d(v);
  *utterance_id = d.Str();
  r->category = d.Str();
  r->subcategory = d.Str();
  r->subcategory_id = d.Str();
  r->code = d.Str();
  if (d.Bool()) {
    const int64_t start = d.Int();
    r->span = Span{start, d.Int()};
  } else {
    r->span.reset();
  }
  r->original = d.OptStr();
  r->correction = d.OptStr();
  r->explanation = d.OptStr();
  return d.ok();
}

// Error records a batch has written and not committed yet, by error id (the
// records are the ops' own).
using WrittenErrors = std::unordered_map<std::string_view, const ErrorRecord*>;

// Reads the records of an utterance's errors, ordered by error id (as SQLite
// answers): those `written(error_id)` has (records not committed yet) from
// there, the others with `get(key, &value, &found)`.
template <typename Written, typename Get>
Status ReadUtteranceErrors(const StoredUtterance& u, Written written,
                           std::vector<ErrorRecord>* out, Get get) {
  std::vector<const ErrorRef*> refs;
  for (const ErrorRef& r : u.errors) refs.push_back(&r);
  std::sort(refs.begin(), refs.end(),
            [](const ErrorRef* a, const ErrorRef* b) { return a->error_id < b->error_id; });
  std::string v, utterance_id;
  for (const ErrorRef* ref : refs) {
    if (const ErrorRecord* w = written(ref->error_id)) {
      out->push_back(*w);
      continue;
    }
    bool found = false;
    if (Status s = get(keys::LearnerError(u.user_id, ref->created_at, ref->error_id), &v, &found);
        !s.ok()) {
      return s;
    }
    ErrorRecord r;
    if (!found || !DecodeError(v, &r, &utterance_id)) return Corrupt("error");
    r.error_id = ref->error_id;
    r.created_at = ref->created_at;
    out->push_back(std::move(r));
  }
  return Status::Ok();
}

// Iterates the keys that start with `prefix`, forwards or backwards.
class PrefixScan {
 public:
  // seek=false: go on from where the iterator is. Forward, it must be at or
  // before the first key with the prefix (e.g. right after a scan of the keys
  // before); in reverse, at the last key to read.
  PrefixScan(rocksdb::Iterator* it, std::string prefix, bool reverse, bool seek = true)
      : it_(it), prefix_(std::move(prefix)), reverse_(reverse) {
    if (!seek) {
      while (!reverse_ && it_->Valid() && it_->key().compare(prefix_) < 0) it_->Next();
    } else if (reverse_) {
      // The last key with the prefix: the last one before the first key after
      // them all. SeekForPrev (not Seek + Prev) stays inside a
      // prefix-filtered iterator's prefix.
      const std::string end = keys::PrefixEnd(prefix_);
      if (end.empty()) {
        it_->SeekToLast();
      } else {
        it_->SeekForPrev(end);
        if (it_->Valid() && it_->key().compare(end) >= 0) it_->Prev();
      }
    } else {
      it_->Seek(prefix_);
    }
  }
  bool Valid() const { return it_->Valid() && it_->key().starts_with(prefix_); }
  void Next() { reverse_ ? it_->Prev() : it_->Next(); }
  // The key after the prefix.
  std::string_view rest() const {
    auto k = it_->key();
    return std::string_view(k.data() + prefix_.size(), k.size() - prefix_.size());
  }
  std::string_view value() const {
    return std::string_view(it_->value().data(), it_->value().size());
  }

 private:
  rocksdb::Iterator* it_;
  std::string prefix_;
  bool reverse_;
};

// By default RocksDB counts every key comparison, in a thread-local perf
// context that each count looks up through the shared library's TLS: 10% of
// the commit thread's instructions, in memtable inserts. errata reads no perf
// context. Each thread that writes or loads profiles turns the counts off,
// once.
void NoPerfCounts() {
  thread_local const bool off = [] {
    rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
    return true;
  }();
  (void)off;
}

// RocksDB's flushes and compactions run in Env::Default()'s thread pool,
// at the default perf level. This Env passes every call through, and each
// background job turns the counts off on its thread before it runs.
class QuietEnv : public rocksdb::EnvWrapper {
 public:
  QuietEnv() : EnvWrapper(rocksdb::Env::Default()) {}
  static QuietEnv* Get() {
    static QuietEnv* env = new QuietEnv;  // outlives every database
    return env;
  }
  const char* Name() const override { return "errata.QuietEnv"; }
  void Schedule(void (*f)(void*), void* arg, Priority pri, void* tag,
                void (*unschedule)(void*)) override {
    target()->Schedule(&Run, new Job{f, arg, unschedule}, pri, tag, &Unschedule);
  }

 private:
  struct Job {
    void (*f)(void*);
    void* arg;
    void (*unschedule)(void*);
  };
  static void Run(void* p) {
    std::unique_ptr<Job> job(static_cast<Job*>(p));
    NoPerfCounts();
    job->f(job->arg);
  }
  // A job taken off the queue before it ran (when a database closes).
  static void Unschedule(void* p) {
    std::unique_ptr<Job> job(static_cast<Job*>(p));
    if (job->unschedule != nullptr) job->unschedule(job->arg);
  }
};

// A key's first 8 bytes as a big-endian integer (zero-padded), so that two
// keys whose heads differ compare as their heads do.
uint64_t KeyHead(std::string_view key) {
  uint64_t h = 0;
  const size_t n = std::min<size_t>(key.size(), 8);
  for (size_t i = 0; i < n; ++i) h |= uint64_t{static_cast<uint8_t>(key[i])} << (56 - 8 * i);
  return h;
}

}  // namespace

// ---------------------------------------------------------------- the batch
//
// One batch: a WriteBatch and, for the keys an op's checks read, what the
// batch wrote under them (`pending_`), so a check sees the ops before it in
// the same batch as well as the database. Built on the Writer's thread; once
// prepared, it is only read: by WritePrepared, and by the checks of the next
// batch, which is prepared while this one is written (`behind`).
class RocksdbStore::Batch {
 public:
  // `behind`: the batch being written while this one is prepared, or null.
  // Its writes count as done for this batch's checks.
  // `check_erased`: a learner was ever erased, so a new learner's id is
  // looked up among the tombstones.
  Batch(rocksdb::DB* db, Micros half_life, const Batch* behind, bool check_erased)
      : db_(db), behind_(behind), check_erased_(check_erased), deltas_(half_life) {}

  // Applies one op. A validation failure goes to op->status and returns ok so
  // the batch goes on; a RocksDB failure returns non-ok and fails the batch.
  Status Apply(WriteOp* op) {
    op->status = Status::Ok();
    op->replayed = false;
    op->created_user = false;
    switch (op->kind) {
      case WriteOp::Kind::kCreateUser: return CreateUser(op);
      case WriteOp::Kind::kCreateConversation: return CreateConversation(op);
      case WriteOp::Kind::kAddUtterance: return AddUtterance(op);
      case WriteOp::Kind::kAddErrors: return AddErrors(op);
      case WriteOp::Kind::kRecordAttempt: return RecordAttempt(op);
      case WriteOp::Kind::kEraseUser: return EraseUser(op);
      case WriteOp::Kind::kRecordErasure: return RecordErasure(*op);
      case WriteOp::Kind::kUpdateUser: return UpdateUser(op);
    }
    return Status::Internal("unknown op");
  }

  // Deletes every key of the learner (docs/erasure.md): the user and its
  // email, name, creation-time and trigram keys; each conversation with its
  // utterances (found through the learner's conversation keys and each
  // conversation's `v` keys); then everything under `L [user_id]` (errors,
  // points, memory states, attempts, the conversation keys) as one range.
  // Alone in its batch, with nothing prepared behind it or in front
  // (RocksdbStore::PrepareBatch), so it reads the database as it is.
  Status EraseUser(WriteOp* op) {
    const std::string& id = op->user.user_id;
    std::string v;
    bool found = false;
    if (Status s = Get(keys::User(id), &v, &found); !s.ok()) return s;
    if (!found) {
      // Erased before: the first erase's answer again. Never a learner: NotFound.
      if (Status s = Get(keys::ErasedUser(id), &v, &found); !s.ok()) return s;
      if (!found) {
        op->status = Status::NotFound("User not found");
        return Status::Ok();
      }
      if (!DecodeTombstone(v, &op->erased_at, &op->erased)) return Corrupt("tombstone");
      op->replayed = true;
      return Status::Ok();
    }
    User u;
    if (!DecodeUser(id, v, &u)) return Corrupt("user");
    deletes_.push_back(keys::User(id));
    if (u.email) deletes_.push_back(keys::Email(AsciiLower(*u.email)));
    deletes_.push_back(keys::UserCreated(u.created_at, id));
    if (!u.username.empty()) deletes_.push_back(keys::UserName(AsciiLower(u.username), id));
    for (const std::string& gram : UserTrigrams(u.username, u.email)) {
      deletes_.push_back(keys::UserTrigram(gram, id));
    }
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(InPrefix()));
    std::unique_ptr<rocksdb::Iterator> utterances(db_->NewIterator(InPrefix()));
    for (PrefixScan c(it.get(), keys::LearnerPrefix(keys::kLearnerConversation, id), false);
         c.Valid(); c.Next()) {
      int64_t started_at = 0;
      std::string_view conversation;
      if (!keys::ParseTimeAndId(c.rest(), &started_at, &conversation)) {
        return Corrupt("conversation key");
      }
      const std::string conversation_id = keys::IdText(conversation);
      deletes_.push_back(keys::Conversation(conversation_id));
      const std::string prefix = keys::ConversationUtterancePrefix(conversation_id);
      for (PrefixScan ut(utterances.get(), prefix, false); ut.Valid(); ut.Next()) {
        int64_t at = 0;
        std::string_view utterance;
        if (!keys::ParseTimeAndId(ut.rest(), &at, &utterance)) return Corrupt("utterance key");
        deletes_.push_back(keys::Utterance(keys::IdText(utterance)));
        ++op->erased.utterances;
      }
      if (!utterances->status().ok()) return Fail(utterances->status(), "scan utterances");
      delete_ranges_.emplace_back(prefix, keys::PrefixEnd(prefix));
      ++op->erased.conversations;
    }
    if (!it->status().ok()) return Fail(it->status(), "scan conversations");
    for (auto [kind, count] : {std::pair{keys::kLearnerError, &op->erased.errors},
                               std::pair{keys::kAttempt, &op->erased.attempts}}) {
      for (PrefixScan k(it.get(), keys::LearnerPrefix(kind, id), false); k.Valid(); k.Next()) {
        ++*count;
      }
      if (!it->status().ok()) return Fail(it->status(), "scan learner");
    }
    const std::string learner = keys::IdPrefix(keys::kLearner, id);
    delete_ranges_.emplace_back(learner, keys::PrefixEnd(learner));
    return RecordErasure(*op);
  }

  // The tombstone of an erased learner (docs/erasure.md, "Tombstones").
  Status RecordErasure(const WriteOp& op) {
    made_tombstone_ = true;
    return Put(keys::ErasedUser(op.user.user_id), EncodeTombstone(op.erased_at, op.erased));
  }
  bool made_tombstone() const { return made_tombstone_; }

  // Whether `user_id` is an erased learner's (docs/erasure.md,
  // "Tombstones"); if so, refuses `op` (LearnerErased).
  Result<bool> RefuseErased(WriteOp* op, const std::string& user_id) {
    if (!check_erased_) return false;
    std::string v;
    bool found = false;
    if (Status s = Get(keys::ErasedUser(user_id), &v, &found); !s.ok()) return s;
    if (found) op->status = LearnerErased();
    return found;
  }

  // Reads ahead, in one MultiGet, the keys the ops' checks will read: RocksDB
  // then probes each sorted file once for the whole batch instead of once per
  // key (about a fifth of a bulk ingest's CPU went to single Gets).
  Status Prefetch(const std::vector<WriteOp*>& ops) {
    std::vector<std::string> want;
    for (const WriteOp* op : ops) {
      switch (op->kind) {
        case WriteOp::Kind::kCreateUser:
          want.push_back(keys::User(op->user.user_id));
          if (op->user.email) want.push_back(keys::Email(AsciiLower(*op->user.email)));
          break;
        case WriteOp::Kind::kCreateConversation:
          want.push_back(keys::Conversation(op->conversation.conversation_id));
          want.push_back(keys::User(op->conversation.user_id));
          break;
        case WriteOp::Kind::kAddUtterance:
          if (op->client_id) want.push_back(keys::Utterance(op->utterance.utterance_id));
          want.push_back(keys::Conversation(op->utterance.conversation_id));
          if (op->create_missing) want.push_back(keys::User(op->utterance.user_id));
          break;
        case WriteOp::Kind::kAddErrors:
          want.push_back(keys::Utterance(op->utterance.utterance_id));
          break;
        case WriteOp::Kind::kEraseUser:
          want.push_back(keys::User(op->user.user_id));
          break;
        case WriteOp::Kind::kUpdateUser:
          want.push_back(keys::User(op->user.user_id));
          if (op->user.email) want.push_back(keys::Email(AsciiLower(*op->user.email)));
          break;
        case WriteOp::Kind::kRecordErasure:
          break;
        case WriteOp::Kind::kRecordAttempt:
          want.push_back(keys::User(op->attempt.user_id));
          if (op->memory_given) break;
          want.push_back(keys::Memory(op->attempt.user_id, op->attempt.subcategory_id));
          want.push_back(keys::Point(op->attempt.user_id, op->attempt.subcategory_id));
          break;
      }
    }
    return MultiGet(std::move(want));
  }

  // Adds the batch's merged frequency deltas to the stored points, as merge
  // operands (PointMerge): no point is read. Runs after every op, so no
  // check of this batch reads a point it changes.
  Status UpsertFrequencies() {
    for (const ErrorDelta& d : deltas_.deltas()) {
      const StoredPoint p{d.category, d.subcategory, d.count, d.first_seen, d.last_seen,
                          d.decay_log2};
      writes_.push_back({keys::Point(d.user_id, d.subcategory_id), EncodePoint(p), true});
    }
    return Status::Ok();
  }

  // Builds the WriteBatch from the batch's writes in key order, the last
  // write of a key winning. A memtable is a skip list, and an insert next to
  // the one before it reuses that insert's search path (the "splice"), so
  // sorted inserts skip most of the key comparisons that random ones make.
  // Those comparisons were the largest single cost of a bulk ingest
  // (docs/rocksdb.md, "Sorted batches").
  //
  // What is sorted is a small entry per write: the key's first 8 bytes as
  // a big-endian integer and the write's index, which breaks ties between
  // writes of one key in the order they were made. Full keys are compared
  // only when those bytes are equal. Sorting the writes themselves (two
  // strings each) took 204M instructions over a bulk load against 116M
  // (BENCHMARKS.md, "Session 12").
  Status Finish() {
    struct Entry {
      uint64_t head;
      uint32_t index;
    };
    std::vector<Entry> order(writes_.size());
    size_t bytes = 0;
    for (size_t i = 0; i < writes_.size(); ++i) {
      order[i] = {KeyHead(writes_[i].key), static_cast<uint32_t>(i)};
      bytes += writes_[i].key.size() + writes_[i].value.size() + 16;  // + tag, lengths
    }
    // The WriteBatch in one allocation: grown by appends, a batch of a few
    // MB was copied again at every doubling.
    wb_ = rocksdb::WriteBatch(bytes + 64);
    std::sort(order.begin(), order.end(), [this](const Entry& a, const Entry& b) {
      if (a.head != b.head) return a.head < b.head;
      const int c = writes_[a.index].key.compare(writes_[b.index].key);
      return c != 0 ? c < 0 : a.index < b.index;
    });
    for (size_t i = 0; i < order.size(); ++i) {
      const BatchWrite& w = writes_[order[i].index];
      if (i + 1 < order.size()) {
        const BatchWrite& next = writes_[order[i + 1].index];
        if (!next.merge && next.key == w.key) continue;  // overwritten
      }
      rocksdb::Status s = w.deleted ? wb_.Delete(w.key)
                          : w.merge ? wb_.Merge(w.key, w.value)
                                    : wb_.Put(w.key, w.value);
      if (!s.ok()) return Fail(s, "put");
    }
    // An erase's (alone in its batch: after no write of its own).
    for (const std::string& key : deletes_) {
      if (rocksdb::Status s = wb_.Delete(key); !s.ok()) return Fail(s, "delete");
    }
    for (const auto& [begin, end] : delete_ranges_) {
      if (rocksdb::Status s = wb_.DeleteRange(begin, end); !s.ok()) return Fail(s, "delete range");
    }
    return Status::Ok();  // DonePreparing() frees the writes
  }

  rocksdb::WriteBatch* write_batch() const { return &wb_; }
  const DeltaSet& deltas() const { return deltas_; }
  DeltaSet TakeDeltas() { return std::move(deltas_); }
  // Called once the batch is prepared: drops the batch behind (read only
  // while preparing; it may be gone before this one is written) and what
  // only the checks needed. What the next batch reads stays (pending_,
  // removed_, written_errors_, deltas_).
  void DonePreparing() {
    behind_ = nullptr;
    prefetched_ = {};
    writes_ = {};
    deletes_ = {};
    delete_ranges_ = {};
  }

 private:
  // Reads `want` (sorted and deduplicated here) into prefetched_.
  Status MultiGet(std::vector<std::string> want) {
    std::sort(want.begin(), want.end());
    want.erase(std::unique(want.begin(), want.end()), want.end());
    if (want.empty()) return Status::Ok();
    std::vector<rocksdb::Slice> ks(want.begin(), want.end());
    std::vector<rocksdb::PinnableSlice> values(want.size());
    std::vector<rocksdb::Status> statuses(want.size());
    db_->MultiGet(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), ks.size(), ks.data(),
                  values.data(), statuses.data(), /*sorted_input=*/true);
    for (size_t i = 0; i < want.size(); ++i) {
      if (statuses[i].ok()) {
        prefetched_.insert_or_assign(std::move(want[i]), values[i].ToString());
      } else if (statuses[i].IsNotFound()) {
        prefetched_.insert_or_assign(std::move(want[i]), std::nullopt);
      } else {
        return Fail(statuses[i], "multiget");
      }
    }
    return Status::Ok();
  }

  Status Get(const std::string& key, std::string* value, bool* found) {
    if (auto it = pending_.find(key); it != pending_.end()) {
      *value = it->second;
      *found = true;
      return Status::Ok();
    }
    if (!removed_.empty() && removed_.contains(key)) {
      *found = false;
      return Status::Ok();
    }
    // The batch behind: written or being written, so whatever the database
    // shows of it yet, its own values are the ones to see.
    if (behind_ != nullptr) {
      if (auto it = behind_->pending_.find(key); it != behind_->pending_.end()) {
        *value = it->second;
        *found = true;
        return Status::Ok();
      }
      if (!behind_->removed_.empty() && behind_->removed_.contains(key)) {
        *found = false;
        return Status::Ok();
      }
    }
    if (auto it = prefetched_.find(key); it != prefetched_.end()) {
      *found = it->second.has_value();
      if (*found) *value = *it->second;
      return Status::Ok();
    }
    return DbGet(db_, {}, key, value, found);
  }
  // Writes a key that a later op of the batch may read back (Get).
  Status Put(const std::string& key, const std::string& value) {
    if (!removed_.empty()) removed_.erase(key);
    pending_.insert_or_assign(key, value);
    return PutOnly(key, value);
  }
  // Deletes a key in order with the batch's other writes (a later Put of it
  // wins), and a later Get of it, here or in the next batch, finds nothing.
  // (An erase's deletes_ come after every write instead: it is alone.)
  Status Remove(std::string key) {
    pending_.erase(key);
    removed_.insert(key);
    writes_.push_back({std::move(key), {}, false, true});
    return Status::Ok();
  }
  // Writes a key no check reads (an index entry, an error record).
  // Finish() adds it to the WriteBatch.
  Status PutOnly(std::string key, std::string value) {
    if (!removed_.empty()) removed_.erase(key);
    writes_.push_back({std::move(key), std::move(value), false});
    return Status::Ok();
  }

  Status CreateUser(WriteOp* op) {
    User& u = op->user;
    std::string v;
    bool taken = false;
    if (Status s = Get(keys::User(u.user_id), &v, &taken); !s.ok()) return s;
    if (op->client_id && taken) {
      User stored;
      if (!DecodeUser(u.user_id, v, &stored)) return Corrupt("user");
      const bool same = stored.username == u.username &&
                        AsciiLower(stored.email.value_or("")) == AsciiLower(u.email.value_or(""));
      if (!same) op->status = Status::Conflict("user_id already exists with other details");
      op->replayed = same;
      if (same) u.email = stored.email;  // a replay answers what is stored
      u.created_at = stored.created_at;
      return Status::Ok();
    }
    if (op->client_id) {
      auto refused = RefuseErased(op, u.user_id);
      if (!refused.ok() || *refused) return refused.status();
    }
    if (u.email) {
      bool found = false;
      if (Status s = Get(keys::Email(AsciiLower(*u.email)), &v, &found); !s.ok()) return s;
      if (found) {
        op->status = Status::Conflict("Email already registered");
        return Status::Ok();
      }
    }
    // A new id that is taken (a server-made one cannot be) fails the batch,
    // as SQLite's primary key does; it must not overwrite the user.
    if (taken) return Status::Internal("user_id already exists: " + u.user_id);
    op->created_user = true;
    return InsertUser(u);
  }

  Status InsertUser(const User& u) {
    if (Status s = Put(keys::User(u.user_id), EncodeUser(u)); !s.ok()) return s;
    if (u.email) {
      if (Status s = Put(keys::Email(AsciiLower(*u.email)), u.user_id); !s.ok()) return s;
    }
    if (Status s = PutOnly(keys::UserCreated(u.created_at, u.user_id), EncodeUser(u)); !s.ok()) {
      return s;
    }
    // By name only those with one: ingest makes nameless learners by the
    // million, and a search is never for "".
    if (!u.username.empty()) {
      if (Status s = PutOnly(keys::UserName(AsciiLower(u.username), u.user_id), ""); !s.ok()) {
        return s;
      }
    }
    for (const std::string& gram : UserTrigrams(u.username, u.email)) {
      if (Status s = PutOnly(keys::UserTrigram(gram, u.user_id), ""); !s.ok()) return s;
    }
    return Status::Ok();
  }

  // A learner's new name or email (docs/users.md): the user's record and
  // its copy under the creation time, the email's key, the name's key and
  // the trigrams, each old key removed and the new one put, in order with
  // the batch's other writes (Remove).
  Status UpdateUser(WriteOp* op) {
    std::string v;
    bool found = false;
    if (Status s = Get(keys::User(op->user.user_id), &v, &found); !s.ok()) return s;
    if (!found) {
      op->status = Status::NotFound("User not found");
      return Status::Ok();
    }
    User before;
    if (!DecodeUser(op->user.user_id, v, &before)) return Corrupt("user");
    const User after = UpdatedUser(before, *op);
    if (TakesAnotherEmail(before, after)) {
      if (Status s = Get(keys::Email(AsciiLower(*after.email)), &v, &found); !s.ok()) return s;
      if (found) {
        op->status = EmailTaken();
        op->user = before;
        return Status::Ok();
      }
    }
    op->user = after;
    if (after.username == before.username && after.email == before.email) return Status::Ok();
    if (before.email) {
      if (Status s = Remove(keys::Email(AsciiLower(*before.email))); !s.ok()) return s;
    }
    if (!before.username.empty()) {
      if (Status s = Remove(keys::UserName(AsciiLower(before.username), before.user_id)); !s.ok()) {
        return s;
      }
    }
    for (const std::string& gram : UserTrigrams(before.username, before.email)) {
      if (Status s = Remove(keys::UserTrigram(gram, before.user_id)); !s.ok()) return s;
    }
    return InsertUser(after);
  }

  Status CreateConversation(WriteOp* op) {
    Conversation& c = op->conversation;
    std::string v;
    bool found = false;
    if (Status s = Get(keys::Conversation(c.conversation_id), &v, &found); !s.ok()) return s;
    if (found) {
      // A new id that is taken fails the batch, as for users.
      if (!op->client_id) {
        return Status::Internal("conversation_id already exists: " + c.conversation_id);
      }
      Decoder d(v);
      const std::string owner = d.Str();
      const Micros started = d.Int();
      if (!d.ok()) return Corrupt("conversation");
      ConversationTaken(op, owner, started);
      return Status::Ok();
    }
    if (Status s = Get(keys::User(c.user_id), &v, &found); !s.ok()) return s;
    if (!found) {
      op->status = Status::NotFound("User not found");
      return Status::Ok();
    }
    return InsertConversation(c);
  }

  Status InsertConversation(const Conversation& c) {
    Encoder e;
    e.Str(c.user_id).Int(c.started_at);
    if (Status s = Put(keys::Conversation(c.conversation_id), e.Take()); !s.ok()) return s;
    return PutOnly(keys::LearnerConversation(c.user_id, c.started_at, c.conversation_id), "");
  }

  // Looks for an earlier write of the same utterance id. Returns true when the
  // op is settled (a replay, with the stored errors loaded, or a conflict).
  Result<bool> CheckReplay(WriteOp* op) {
    Utterance& u = op->utterance;
    std::string v;
    bool found = false;
    if (Status s = Get(keys::Utterance(u.utterance_id), &v, &found); !s.ok()) return s;
    if (!found) return false;
    StoredUtterance stored;
    if (!DecodeUtterance(v, &stored)) return Corrupt("utterance");
    u.created_at = stored.created_at;
    if (stored.request_hash != op->request_hash) {
      op->status = UtteranceIdTaken();
      return true;
    }
    op->replayed = true;
    u.errors.clear();
    if (Status s = ReadUtteranceErrors(
            stored, [this](std::string_view id) { return WrittenError(id); }, &u.errors,
            [this](const std::string& k, std::string* val, bool* f) { return Get(k, val, f); });
        !s.ok()) {
      return s;
    }
    return true;
  }

  Status AddUtterance(WriteOp* op) {
    Utterance& u = op->utterance;
    if (op->client_id) {
      auto settled = CheckReplay(op);
      if (!settled.ok()) return settled.status();
      if (*settled) return Status::Ok();
    }
    std::string v;
    bool found = false;
    if (Status s = Get(keys::Conversation(u.conversation_id), &v, &found); !s.ok()) return s;
    std::string owner;
    if (found) {
      Decoder d(v);
      owner = d.Str();
      if (!d.ok()) return Corrupt("conversation");
    }
    if (!CheckConversationForUtterance(op, found, owner)) return Status::Ok();
    if (!found) {
      bool user_found = false;
      if (Status s = Get(keys::User(u.user_id), &v, &user_found); !s.ok()) return s;
      if (!user_found) {
        auto refused = RefuseErased(op, u.user_id);
        if (!refused.ok() || *refused) return refused.status();
        if (Status s = InsertUser(User{u.user_id, op->user.username, std::nullopt, u.created_at});
            !s.ok()) {
          return s;
        }
        op->created_user = true;
      }
      if (Status s = InsertConversation(Conversation{u.conversation_id, u.user_id, u.created_at});
          !s.ok()) {
        return s;
      }
    }
    StoredUtterance stored{u.conversation_id, u.user_id,        u.content,
                           u.created_at,      op->request_hash, {}};
    if (Status s = InsertErrors(u, &stored); !s.ok()) return s;
    if (Status s = Put(keys::Utterance(u.utterance_id), EncodeUtterance(stored)); !s.ok()) {
      return s;
    }
    if (Status s = PutOnly(
            keys::ConversationUtterance(u.conversation_id, u.created_at, u.utterance_id), "");
        !s.ok()) {
      return s;
    }
    deltas_.AddAll(u);
    return Status::Ok();
  }

  Status AddErrors(WriteOp* op) {
    Utterance& u = op->utterance;
    std::string v;
    bool found = false;
    if (Status s = Get(keys::Utterance(u.utterance_id), &v, &found); !s.ok()) return s;
    if (!found) {
      op->status = Status::NotFound("Utterance not found");
      return Status::Ok();
    }
    StoredUtterance stored;
    if (!DecodeUtterance(v, &stored)) return Corrupt("utterance");
    if (stored.conversation_id != u.conversation_id || stored.user_id != u.user_id) {
      op->status = Status::InvalidArgument(
          "user_id, conversation_id and utterance_id do not belong together", "utterance_id");
      return Status::Ok();
    }
    if (Status s = InsertErrors(u, &stored); !s.ok()) return s;
    if (Status s = Put(keys::Utterance(u.utterance_id), EncodeUtterance(stored)); !s.ok()) {
      return s;
    }
    deltas_.AddAll(u);
    return Status::Ok();
  }

  // An error record this batch, or the one behind it, wrote; null if neither.
  const ErrorRecord* WrittenError(std::string_view error_id) const {
    if (auto w = written_errors_.find(error_id); w != written_errors_.end()) return w->second;
    if (behind_ != nullptr) return behind_->WrittenError(error_id);
    return nullptr;
  }

  // Each error's record goes under its learner; the utterance names it. A
  // replay of the utterance later in the batch reads the record from the op
  // (written_errors_), not back from the batch.

  Status InsertErrors(const Utterance& u, StoredUtterance* stored) {
    for (const ErrorRecord& e : u.errors) {
      if (Status s = PutOnly(keys::LearnerError(u.user_id, e.created_at, e.error_id),
                             EncodeError(e, u.utterance_id));
          !s.ok()) {
        return s;
      }
      written_errors_.emplace(e.error_id, &e);
      stored->errors.push_back(ErrorRef{e.error_id, e.created_at});
    }
    return Status::Ok();
  }

  Status RecordAttempt(WriteOp* op) {
    Attempt& a = op->attempt;
    std::string v;
    bool found = false;
    if (Status s = Get(keys::User(a.user_id), &v, &found); !s.ok()) return s;
    if (!found) {
      op->status = Status::NotFound("User not found");
      return Status::Ok();
    }
    const std::string mkey = keys::Memory(a.user_id, a.subcategory_id);
    if (!op->memory_given) {
      MemoryState m;
      if (Status s = Get(mkey, &v, &found); !s.ok()) return s;
      if (found && !DecodeMemory(v, &m)) return Corrupt("mastery");
      Micros last_error = 0;
      if (Status s = Get(keys::Point(a.user_id, a.subcategory_id), &v, &found); !s.ok()) return s;
      if (found) {
        StoredPoint p;
        if (!DecodePoint(v, &p)) return Corrupt("frequency");
        last_error = p.last_seen;
      }
      // The batch behind adds to points as merge operands, which the read above
      // may not show yet: its own delta says when it last saw this error.
      if (behind_ != nullptr) {
        if (const ErrorDelta* d = behind_->deltas_.Find(a.user_id, a.subcategory_id)) {
          last_error = std::max(last_error, d->last_seen);
        }
      }
      op->memory = AfterAttempt(WithLapses(m, last_error), a.correct, a.answered_at);
    }
    const MemoryState& m = op->memory;
    Encoder e;
    e.Str(a.exercise_id).Str(a.subcategory_id).Bool(a.correct).OptStr(a.answer);
    if (Status s = Put(keys::Attempt(a.user_id, a.answered_at, a.attempt_id), e.Take()); !s.ok()) {
      return s;
    }
    return Put(mkey, EncodeMemory(m));
  }

 private:
  rocksdb::DB* db_;
  const Batch* behind_;
  bool check_erased_;
  bool made_tombstone_ = false;  // an erase's or a copy's
  // DB::Write stamps its sequence number in it: only the writing thread uses it.
  mutable rocksdb::WriteBatch wb_;
  struct BatchWrite {
    std::string key;
    std::string value;
    bool merge = false;  // a merge operand (PointMerge), else a put
    bool deleted = false;  // a delete (Remove)
  };
  std::vector<BatchWrite> writes_;  // until Finish()
  std::vector<std::string> deletes_;                            // EraseUser's keys
  std::vector<std::pair<std::string, std::string>> delete_ranges_;  // and ranges [begin, end)
  std::unordered_map<std::string, std::string> pending_;  // keys Put in this batch
  std::unordered_set<std::string> removed_;  // keys Removed in this batch (and not Put after)
  WrittenErrors written_errors_;
  // What the database held, read ahead in one MultiGet (nullopt: absent). The
  // writer thread is the only writer, so it stays true but for pending_.
  std::unordered_map<std::string, std::optional<std::string>> prefetched_;
  DeltaSet deltas_;
};

// ---------------------------------------------------------------- open, close

RocksdbStore::RocksdbStore(Options options) : options_(std::move(options)) {}

Result<std::unique_ptr<RocksdbStore>> RocksdbStore::Open(const Options& options) {
  std::unique_ptr<RocksdbStore> store(new RocksdbStore(options));
  rocksdb::Options o;
  o.create_if_missing = true;
  // Two background jobs (a flush and a compaction) on this class of machine;
  // more would take cores from the HTTP threads.
  o.max_background_jobs = 2;
  o.env = QuietEnv::Get();
  o.write_buffer_size = static_cast<size_t>(options.write_buffer_bytes);
  o.max_write_buffer_number = 3;
  // RocksDB slows writes down at 20 flushed files waiting in level 0 and
  // stops them at 36. A long bulk load with pipelined commits reached 20,
  // and the slowdown cost it 15% (docs/rocksdb.md, "Tuning"): at 32 and 48
  // the compactions catch up without it.
  o.level0_slowdown_writes_trigger = 32;
  o.level0_stop_writes_trigger = 48;
  o.target_file_size_base = 64ull << 20;
  o.max_bytes_for_level_base = 256ull << 20;
  o.level_compaction_dynamic_level_bytes = true;
  // Files whose data is older than 30 days are compacted down, level after
  // level, to the last one, where deleted values are dropped: an erased
  // learner's records leave the files within about that long (docs/
  // erasure.md). RocksDB 7.8's default for leveled compaction, set here so
  // that it stays errata's whatever a later RocksDB defaults to.
  o.ttl = 30 * 24 * 60 * 60;
  // LZ4 on every level: ZSTD on the last one cost ~7% of all CPU in
  // compactions on this 2-core machine.
  o.compression = rocksdb::kLZ4Compression;
  o.bytes_per_sync = 1 << 20;
  // No preallocated WAL: a full disk shows on the write that meets it (a 503)
  // rather than tens of MiB later, at a memtable flush.
  o.allow_fallocate = false;
  o.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  o.info_log = std::make_shared<RocksLogger>(o.info_log_level);
  o.max_open_files = 512;
  o.prefix_extractor = std::make_shared<IdPrefixExtractor>();
  o.merge_operator = std::make_shared<PointMerge>();
  // A bloom filter of each memtable's keys: a check's lookup of a key the
  // memtable does not hold (a new id: most of them) skips its skip list.
  o.memtable_prefix_bloom_size_ratio = 0.02;
  o.memtable_whole_key_filtering = true;
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = rocksdb::NewLRUCache(static_cast<size_t>(options.block_cache_bytes));
  // Point lookups of new ids (replay checks) mostly miss: a bloom filter
  // answers them without reading blocks. Filters and indexes live in the
  // block cache, so memory stays bounded as the data grows. They are
  // partitioned (4 KiB pieces under a small top-level index kept in the
  // cache): whole per-file index and filter blocks are megabytes each, and
  // once they no longer all fit (1M learners, 20M errors) every cold profile
  // load evicted and re-read some of them: W6 reads fell to 0.07x W0.
  t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  t.index_type = rocksdb::BlockBasedTableOptions::IndexType::kTwoLevelIndexSearch;
  t.partition_filters = true;
  t.metadata_block_size = 4096;
  t.cache_index_and_filter_blocks = true;
  t.cache_index_and_filter_blocks_with_high_priority = true;
  t.pin_top_level_index_and_filter = true;
  t.pin_l0_filter_and_index_blocks_in_cache = true;
  t.format_version = 5;
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  rocksdb::DB* raw = nullptr;
  const bool secondary = !options.secondary_path.empty();
  rocksdb::Status s;
  if (secondary) {
    // A secondary keeps every file it reads open (max_open_files = -1, as
    // RocksDB requires), so the server's compactions cannot delete one from
    // under it; it never writes the directory.
    o.create_if_missing = false;
    o.max_open_files = -1;
    s = rocksdb::DB::OpenAsSecondary(o, options.path, options.secondary_path, &raw);
  } else {
    s = rocksdb::DB::Open(o, options.path, &raw);
  }
  if (!s.ok()) return Fail(s, "open");
  store->db_.reset(raw);
  store->secondary_ = secondary;
  if (secondary) {
    if (Status st = store->RequireCurrentKeyFormat(); !st.ok()) return st;
  } else {
    if (Status st = store->UpgradeKeyFormatIfNeeded(); !st.ok()) return st;
  }
  if (Status st = store->RefuseUnfinishedCopy(); !st.ok()) return st;
  if (!secondary) {
    if (Status st = store->RecomputeDecayIfNeeded(); !st.ok()) return st;
  }
  {
    std::unique_ptr<rocksdb::Iterator> it(store->db_->NewIterator(TotalOrder()));
    const std::string tag(1, keys::kErasedUser);
    it->Seek(tag);
    if (!it->status().ok()) return Fail(it->status(), "seek tombstones");
    store->any_erased_ = it->Valid() && it->key().starts_with(tag);
  }
  return store;
}

RocksdbStore::~RocksdbStore() {
  if (db_ == nullptr) return;
  // Every batch was fsynced when written; Close flushes nothing that matters
  // for durability (the WAL has it all).
  rocksdb::Status s = db_->Close();
  if (!s.ok()) log::Warn("closing the RocksDB store", {{"error", s.ToString()}});
}

// An older database gets the current key format (docs/rocksdb.md), in
// atomic batches, with the meta record last; a new one only gets the record.
//  - From format 1 (ids as text): every key that holds an id is written
//    anew with 16-byte ids and the old one deleted. A crash part-way leaves
//    keys of both formats, and the next open goes on from there (UpgradeKey
//    tells them apart).
//  - From format 2: each user gets its UserCreated key; from format 3, each
//    user with a name its UserTrigram keys; from format 4, each user whose
//    name is not ASCII or who has an email the trigrams of the folded rule
//    and of the email (a superset of format 4's); from format 5, each
//    conversation its LearnerConversation key. Writing one twice writes
//    the same key, so a crash part-way is harmless too.
//  - From format 6: nothing but the meta record (format 7 adds tombstones,
//    which only a build that reads them may open).
Status RocksdbStore::UpgradeKeyFormatIfNeeded() {
  std::string text;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), keys::Meta(keys::kKeyFormat), &text);
  if (!s.ok() && !s.IsNotFound()) return Fail(s, "read meta");
  int have = 1;
  if (s.ok()) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), have);
    if (ec != std::errc() || end != text.data() + text.size() || have < 2 ||
        have > keys::kCurrentKeyFormat) {
      return Status::Internal(
          fmt::format("rocksdb: the database's key format is {}, and this build reads format {}",
                      text, keys::kCurrentKeyFormat));
    }
    if (have == keys::kCurrentKeyFormat) return Status::Ok();
  }
  const auto start = std::chrono::steady_clock::now();
  // The batches are not synced one by one: the WAL keeps their order, and
  // the last one, with the meta record, is.
  rocksdb::WriteOptions wo;
  rocksdb::WriteBatch wb;
  int64_t written = 0;
  auto count = [&](const char* what) -> Status {
    if (++written % 100'000 != 0) return Status::Ok();
    if (s = db_->Write(wo, &wb); !s.ok()) return Fail(s, "upgrade keys");
    wb.Clear();
    log::Info(what, {{"keys", written}});
    return Status::Ok();
  };
  std::string key;
  if (have < 2) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(TotalOrder()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (!keys::UpgradeKey(std::string_view(it->key().data(), it->key().size()), &key)) continue;
      wb.Put(key, it->value());
      wb.Delete(it->key());
      if (Status st = count("upgrading RocksDB keys to 16-byte ids"); !st.ok()) return st;
    }
    if (!it->status().ok()) return Fail(it->status(), "scan keys");
  }
  {
    // Sees the batches written above, not the one being built: every user
    // key is of format 2 by now.
    if (s = db_->Write(wo, &wb); !s.ok()) return Fail(s, "upgrade keys");
    wb.Clear();
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(TotalOrder()));
    User u;
    // Format 5 holds every user's keys of today's rules: no scan of users.
    if (have < 5) {
      for (PrefixScan scan(it.get(), std::string(1, keys::kUser), false); scan.Valid();
           scan.Next()) {
        const std::string user_id = keys::IdText(scan.rest());
        if (!DecodeUser(user_id, scan.value(), &u)) return Corrupt("user");
        if (have < 3) {
          wb.Put(keys::UserCreated(u.created_at, user_id), scan.value());
          if (Status st = count("indexing RocksDB users by creation time"); !st.ok()) return st;
        }
        if (have >= 4 && !GainsTrigramsOverAsciiNameRule(u.username, u.email)) continue;
        for (const std::string& gram : UserTrigrams(u.username, u.email)) {
          wb.Put(keys::UserTrigram(gram, user_id), "");
          if (Status st = count("indexing RocksDB users by trigram"); !st.ok()) return st;
        }
      }
      if (!it->status().ok()) return Fail(it->status(), "scan users");
    }
    if (have < 6) {
      for (PrefixScan scan(it.get(), std::string(1, keys::kConversation), false); scan.Valid();
           scan.Next()) {
        Decoder d(scan.value());
        const std::string user_id = d.Str();
        const Micros started_at = d.Int();
        if (!d.ok()) return Corrupt("conversation");
        wb.Put(keys::LearnerConversation(user_id, started_at, keys::IdText(scan.rest())), "");
        if (Status st = count("indexing RocksDB conversations by learner"); !st.ok()) return st;
      }
      if (!it->status().ok()) return Fail(it->status(), "scan conversations");
    }
  }
  wb.Put(keys::Meta(keys::kKeyFormat), std::to_string(keys::kCurrentKeyFormat));
  wo.sync = true;
  if (s = db_->Write(wo, &wb); !s.ok()) return Fail(s, "upgrade keys");
  if (written > 0) {
    // To sorted files at once: in the memtable, the learner search's reverse
    // scan of the new keys took 10 ms instead of 3 (a skip list steps back
    // by searching again).
    if (s = db_->Flush(rocksdb::FlushOptions()); !s.ok()) return Fail(s, "flush upgraded keys");
    log::Info("RocksDB keys upgraded",
              {{"from_format", have},
               {"to_format", keys::kCurrentKeyFormat},
               {"keys", written},
               {"seconds",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()}});
  }
  return Status::Ok();
}

// decay_log2 depends on the half-life; when it changes, recompute it from the errors.
Status RocksdbStore::RecomputeDecayIfNeeded() {
  const std::string want = std::to_string(options_.half_life);
  std::string have;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), keys::Meta("decay_half_life_us"), &have);
  if (!s.ok() && !s.IsNotFound()) return Fail(s, "read meta");
  if (s.ok() && have == want) return Status::Ok();
  std::unordered_map<std::string, double> sums;  // Point key -> decay_log2
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(TotalOrder()));
    ErrorRecord r;
    std::string utterance;
    for (PrefixScan scan(it.get(), std::string(1, keys::kLearner), false); scan.Valid();
         scan.Next()) {
      std::string_view user_id, rest;
      char kind = 0;
      if (!keys::ParseLearnerKey(scan.rest(), &user_id, &kind, &rest))
        return Corrupt("learner key");
      if (kind != keys::kLearnerError) continue;
      Micros created_at = 0;
      std::string_view error_id;
      if (!keys::ParseTimeAndId(rest, &created_at, &error_id)) return Corrupt("error key");
      if (!DecodeError(scan.value(), &r, &utterance)) return Corrupt("error");
      double& v = sums.try_emplace(keys::Point(keys::IdText(user_id), r.subcategory_id), kNoDecay)
                      .first->second;
      v = LogAdd2(v, DecayTerm(created_at, options_.half_life));
    }
    if (!it->status().ok()) return Fail(it->status(), "scan errors");
  }
  rocksdb::WriteBatch wb;
  std::string v;
  for (const auto& [key, decay] : sums) {
    s = db_->Get(rocksdb::ReadOptions(), key, &v);
    if (!s.ok()) return Fail(s, "read frequency");
    StoredPoint p;
    if (!DecodePoint(v, &p)) return Corrupt("frequency");
    p.decay_log2 = decay;
    wb.Put(key, EncodePoint(p));
  }
  wb.Put(keys::Meta("decay_half_life_us"), want);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  s = db_->Write(wo, &wb);
  return s.ok() ? Status::Ok() : Fail(s, "write decay");
}

void RocksdbStore::RenderMetrics(std::string* out) const {
  auto gauge = [&](const char* name, const char* help, const std::string& property) {
    uint64_t v = 0;
    db_->GetIntProperty(property, &v);
    AppendSample(out, name, "gauge", help, v);
  };
  gauge("errata_rocksdb_sst_bytes", "Size of RocksDB's sorted files.",
        rocksdb::DB::Properties::kTotalSstFilesSize);
  gauge("errata_rocksdb_memtable_bytes", "Size of RocksDB's memtables.",
        rocksdb::DB::Properties::kCurSizeAllMemTables);
  gauge("errata_rocksdb_pending_compaction_bytes",
        "Bytes RocksDB estimates its compactions still have to rewrite.",
        rocksdb::DB::Properties::kEstimatePendingCompactionBytes);
  gauge("errata_rocksdb_running_compactions", "RocksDB compactions running now.",
        rocksdb::DB::Properties::kNumRunningCompactions);
  gauge("errata_rocksdb_background_errors", "RocksDB background errors since start.",
        rocksdb::DB::Properties::kBackgroundErrors);
}

// ---------------------------------------------------------------- writes

class RocksdbStore::Prepared : public PreparedBatch {
 public:
  Prepared(rocksdb::DB* db, Micros half_life, const std::vector<WriteOp*>& ops,
           const Batch* behind, bool check_erased)
      : batch(db, half_life, behind, check_erased), ops(ops) {}
  const DeltaSet& deltas() const override { return batch.deltas(); }
  bool erase() const { return IsEraseBatch(ops); }
  Batch batch;
  std::vector<WriteOp*> ops;
};

Result<std::unique_ptr<PreparedBatch>> RocksdbStore::PrepareBatch(const std::vector<WriteOp*>& ops,
                                                                  const PreparedBatch* behind) {
  NoPerfCounts();
  if (!EraseIsAlone(ops)) return FailBatch(EraseNotAlone(), ops);
  const auto* before = static_cast<const Prepared*>(behind);
  const bool erase = IsEraseBatch(ops);
  // An erase reads the database as it is and deletes what it finds: no batch
  // may be on its way to it, nor count on its writes (the Writer sees to it).
  if (before != nullptr && (erase || before->erase())) {
    return FailBatch(Status::Internal("an erase is prepared with no batch behind it, or in front"),
                     ops);
  }
  const Batch* under = before != nullptr ? &before->batch : nullptr;
  auto p = std::make_unique<Prepared>(db_.get(), options_.half_life, ops, under,
                                      any_erased_.load(std::memory_order_relaxed));
  Batch& batch = p->batch;
  Status s = batch.Prefetch(ops);
  for (size_t i = 0; s.ok() && i < ops.size(); ++i) s = batch.Apply(ops[i]);
  // The next batch looks new learners up among the tombstones: it is
  // prepared after this one (its checks see this one's writes, `behind`).
  if (batch.made_tombstone()) any_erased_.store(true, std::memory_order_relaxed);
  if (s.ok()) s = batch.UpsertFrequencies();
  if (s.ok()) s = batch.Finish();
  batch.DonePreparing();
  if (!s.ok()) return FailBatch(s, ops);
  return std::unique_ptr<PreparedBatch>(std::move(p));
}

Status RocksdbStore::WritePrepared(const PreparedBatch* prepared) {
  const auto* p = static_cast<const Prepared*>(prepared);
  // Durable before it returns (one WAL fsync per batch). Not deferred to
  // the Writer's sync thread as with SQLite: after a failed append (disk
  // full) RocksDB's WAL file refuses a later sync of the batches before it,
  // and Debian's librocksdb asserts on it (docs/rocksdb.md).
  NoPerfCounts();
  rocksdb::WriteOptions wo;
  wo.sync = true;
  rocksdb::Status w = db_->Write(wo, p->batch.write_batch());
  if (!w.ok()) {
    // A failed write (disk full, I/O error) leaves RocksDB refusing writes
    // until it is resumed: try now, so the next batch can go once the
    // cause is gone. Nothing of this batch was applied either way.
    if (rocksdb::Status r = db_->Resume(); !r.ok()) {
      log::Warn("RocksDB cannot resume writes yet", {{"error", r.ToString()}});
    }
    return FailBatch(Fail(w, "write batch"), p->ops);
  }
  return Status::Ok();
}

Status RocksdbStore::ApplyBatch(const std::vector<WriteOp*>& ops, DeltaSet* deltas) {
  auto prepared = PrepareBatch(ops, nullptr);
  if (!prepared.ok()) return prepared.status();
  if (Status s = WritePrepared(prepared->get()); !s.ok()) return s;
  *deltas = static_cast<Prepared*>(prepared->get())->batch.TakeDeltas();
  return Status::Ok();
}

// ---------------------------------------------------------------- reads

Result<User> RocksdbStore::GetUser(const std::string& user_id) {
  std::string v;
  bool found = false;
  rocksdb::ReadOptions ro;
  ro.snapshot = ThreadView();
  if (Status s = DbGet(db_.get(), ro, keys::User(user_id), &v, &found); !s.ok()) return s;
  if (!found) return Status::NotFound("User not found");
  User u;
  if (!DecodeUser(user_id, v, &u)) return Corrupt("user");
  return u;
}

Result<User> RocksdbStore::FindUserByEmail(const std::string& email) {
  std::string id;
  bool found = false;
  if (Status s = DbGet(db_.get(), {}, keys::Email(AsciiLower(email)), &id, &found); !s.ok())
    return s;
  if (!found) return Status::NotFound("User not found");
  return GetUser(id);
}

Result<ConversationView> RocksdbStore::GetConversation(const std::string& id) {
  // One snapshot, so the utterances and their errors agree.
  rocksdb::ReadOptions ro = InPrefix();
  const auto snap = Snapshot();
  ro.snapshot = SnapshotOf(snap);
  auto get = [&](const std::string& key, std::string* value, bool* found) {
    return DbGet(db_.get(), ro, key, value, found);
  };
  std::string v;
  bool found = false;
  if (Status s = get(keys::Conversation(id), &v, &found); !s.ok()) return s;
  if (!found) return Status::NotFound("Conversation not found");
  ConversationView view;
  {
    Decoder d(v);
    view.conversation.conversation_id = id;
    view.conversation.user_id = d.Str();
    view.conversation.started_at = d.Int();
    if (!d.ok()) return Corrupt("conversation");
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  std::vector<std::string> ids;
  for (PrefixScan scan(it.get(), keys::ConversationUtterancePrefix(id), false); scan.Valid();
       scan.Next()) {
    ids.push_back(keys::IdText(scan.rest().substr(8)));  // after the 8-byte time
  }
  if (!it->status().ok()) return Fail(it->status(), "scan utterances");
  for (const std::string& uid : ids) {
    if (Status s = get(keys::Utterance(uid), &v, &found); !s.ok()) return s;
    StoredUtterance stored;
    if (!found || !DecodeUtterance(v, &stored)) return Corrupt("utterance");
    Utterance u{uid, id, view.conversation.user_id, stored.content, stored.created_at, {}};
    if (Status s = ReadUtteranceErrors(
            stored, [](std::string_view) -> const ErrorRecord* { return nullptr; }, &u.errors, get);
        !s.ok()) {
      return s;
    }
    view.utterances.push_back(std::move(u));
  }
  return view;
}

namespace {
// The learner's attempts in time order, through `it` (a prefix iterator).
Status ReadAttempts(rocksdb::Iterator* it, const std::string& user_id, std::vector<Attempt>* out) {
  for (PrefixScan a(it, keys::LearnerPrefix(keys::kAttempt, user_id), false); a.Valid();
       a.Next()) {
    Attempt at;
    std::string_view attempt_id;
    if (!keys::ParseTimeAndId(a.rest(), &at.answered_at, &attempt_id)) {
      return Corrupt("attempt key");
    }
    Decoder d(a.value());
    at.attempt_id = keys::IdText(attempt_id);
    at.user_id = user_id;
    at.exercise_id = d.Str();
    at.subcategory_id = d.Str();
    at.correct = d.Bool();
    at.answer = d.OptStr();
    if (!d.ok()) return Corrupt("attempt");
    out->push_back(std::move(at));
  }
  if (!it->status().ok()) return Fail(it->status(), "scan attempts");
  return Status::Ok();
}
}  // namespace

Result<std::vector<Attempt>> RocksdbStore::ListAttempts(const std::string& user_id) {
  rocksdb::ReadOptions ro = InPrefix();
  ro.snapshot = ThreadView();
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  std::vector<Attempt> out;
  if (Status s = ReadAttempts(it.get(), user_id, &out); !s.ok()) return s;
  return out;
}

Result<std::vector<ConversationSummary>> RocksdbStore::ListConversations(
    const std::string& user_id, const std::optional<ConversationCursor>& after, size_t limit) {
  // One snapshot for the list and the utterance counts.
  rocksdb::ReadOptions ro = InPrefix();
  const auto snap = Snapshot();
  ro.snapshot = SnapshotOf(snap);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  std::unique_ptr<rocksdb::Iterator> utterances(db_->NewIterator(ro));
  const std::string prefix = keys::LearnerPrefix(keys::kLearnerConversation, user_id);
  std::vector<ConversationSummary> out;
  // Newest first: back from the cursor's key (itself excluded), or from the
  // learner's last conversation.
  std::optional<PrefixScan> scan;
  if (after) {
    const std::string from =
        keys::LearnerConversation(user_id, after->started_at, after->conversation_id);
    it->SeekForPrev(from);
    if (it->Valid() && it->key() == rocksdb::Slice(from)) it->Prev();
    scan.emplace(it.get(), prefix, /*reverse=*/true, /*seek=*/false);
  } else {
    scan.emplace(it.get(), prefix, /*reverse=*/true);
  }
  for (; scan->Valid() && out.size() < limit; scan->Next()) {
    int64_t started_at = 0;
    std::string_view id;
    if (!keys::ParseTimeAndId(scan->rest(), &started_at, &id)) return Corrupt("conversation key");
    ConversationSummary c{Conversation{keys::IdText(id), user_id, started_at}, 0, std::nullopt};
    const std::string said = keys::ConversationUtterancePrefix(c.conversation.conversation_id);
    for (PrefixScan u(utterances.get(), said, false); u.Valid(); u.Next()) {
      int64_t at = 0;
      std::string_view uid;
      if (!keys::ParseTimeAndId(u.rest(), &at, &uid)) return Corrupt("utterance key");
      ++c.utterances;
      c.last_utterance_at = c.last_utterance_at ? std::max(*c.last_utterance_at, at) : at;
    }
    if (!utterances->status().ok()) return Fail(utterances->status(), "scan utterances");
    out.push_back(std::move(c));
  }
  if (!it->status().ok()) return Fail(it->status(), "scan conversations");
  return out;
}

Result<Profile> RocksdbStore::LoadProfile(const std::string& user_id) {
  // One iterator reads the learner's points, memory states, errors and
  // attempts from one implicit snapshot, so they agree. The point reads
  // (user, utterance content) are of records that never change.
  NoPerfCounts();
  rocksdb::ReadOptions ro = InPrefix();
  ro.snapshot = ThreadView();
  Profile p;
  std::string v;
  if (Status s = DbGet(db_.get(), ro, keys::User(user_id), &v, &p.user_known); !s.ok()) return s;
  if (!p.user_known) return p;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  // The points (kind f), then their memory states (g): one scan.
  const std::string learner = keys::IdPrefix(keys::kLearner, user_id);
  for (PrefixScan scan(it.get(), learner + keys::kPoint, false); scan.Valid(); scan.Next()) {
    StoredPoint sp;
    if (!DecodePoint(scan.value(), &sp)) return Corrupt("frequency");
    p.points.push_back(ErrorPoint{PointNames(scan.rest(), sp.category, sp.subcategory), sp.count,
                                  sp.first_seen, sp.last_seen, sp.decay_log2, {}});
  }
  static_assert(keys::kMemory == keys::kPoint + 1);
  bool any_memory = false;
  for (PrefixScan scan(it.get(), learner + keys::kMemory, false, /*seek=*/false); scan.Valid();
       scan.Next()) {
    any_memory = true;
    ErrorPoint* point = p.Find(scan.rest());
    if (point == nullptr) continue;
    MemoryState m;
    if (!DecodeMemory(scan.value(), &m)) return Corrupt("mastery");
    point->memory = m;
  }
  // Each error is written with its point, and each attempt with its memory
  // state, and none is ever deleted: a learner without points has no errors,
  // one without memory states no attempts, and those seeks are skipped.
  // The newest corrected errors whose utterance has content, newest first.
  std::unordered_map<std::string, std::optional<std::string>> contents;
  std::string utterance_id;
  if (!p.points.empty()) {
    for (PrefixScan scan(it.get(), keys::LearnerPrefix(keys::kLearnerError, user_id), true);
         scan.Valid() && p.examples.size() < kMaxExamples; scan.Next()) {
      ErrorRecord r;
      if (!DecodeError(scan.value(), &r, &utterance_id)) return Corrupt("error");
      if (!r.correction) continue;
      auto [c, fresh] = contents.try_emplace(utterance_id);
      if (fresh) {
        bool found = false;
        if (Status s = DbGet(db_.get(), ro, keys::Utterance(utterance_id), &v, &found); !s.ok()) {
          return s;
        }
        StoredUtterance stored;
        if (found && DecodeUtterance(v, &stored)) c->second = stored.content;
      }
      if (!c->second) continue;
      Micros created_at = 0;
      std::string_view error_id;
      if (!keys::ParseTimeAndId(scan.rest(), &created_at, &error_id)) return Corrupt("error key");
      p.examples.push_back(Example{keys::IdText(error_id), r.subcategory_id, *c->second,
                                   r.original.value_or(""), *r.correction,
                                   r.span ? r.span->start : -1, r.span ? r.span->end : -1,
                                   created_at});
    }
  }
  if (any_memory) {
    for (PrefixScan scan(it.get(), keys::LearnerPrefix(keys::kAttempt, user_id), true);
         scan.Valid() && p.recent_correct.size() < kMaxRecentCorrect; scan.Next()) {
      Decoder d(scan.value());
      std::string exercise_id = d.Str();
      d.Str();  // subcategory_id
      const bool correct = d.Bool();
      if (!d.ok()) return Corrupt("attempt");
      if (!correct) continue;
      Micros answered_at = 0;
      std::string_view attempt_id;
      if (!keys::ParseTimeAndId(scan.rest(), &answered_at, &attempt_id))
        return Corrupt("attempt key");
      p.recent_correct.push_back(RecentCorrect{std::move(exercise_id), answered_at});
    }
  }
  if (!it->status().ok()) return Fail(it->status(), "load profile");
  return p;
}

namespace {

// Calls fn(created_at, record) for the learner's errors with created_at in [since, until].
template <typename Fn>
Status ScanErrorsBetween(rocksdb::DB* db, const std::string& user_id, Micros since, Micros until,
                         Fn fn) {
  const std::string prefix = keys::LearnerPrefix(keys::kLearnerError, user_id);
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(InPrefix()));
  ErrorRecord r;
  std::string utterance_id;
  for (it->Seek(prefix + keys::Time(since)); it->Valid() && it->key().starts_with(prefix);
       it->Next()) {
    Micros t = 0;
    std::string_view id;
    std::string_view rest(it->key().data() + prefix.size(), it->key().size() - prefix.size());
    if (!keys::ParseTimeAndId(rest, &t, &id)) return Corrupt("error key");
    if (t > until) break;
    if (!DecodeError(std::string_view(it->value().data(), it->value().size()), &r, &utterance_id)) {
      return Corrupt("error");
    }
    r.created_at = t;
    fn(r);
  }
  return it->status().ok() ? Status::Ok() : Fail(it->status(), "scan errors");
}

}  // namespace

Result<Profile> RocksdbStore::ProfileBetween(const std::string& user_id, Micros since,
                                             Micros until) {
  DeltaSet set(options_.half_life);
  if (Status s = ScanErrorsBetween(db_.get(), user_id, since, until,
                                   [&](const ErrorRecord& r) { set.Add(user_id, r); });
      !s.ok()) {
    return s;
  }
  Profile p;
  for (const auto& d : set.deltas()) p.Apply(d);
  return p;
}

Result<std::vector<DayCount>> RocksdbStore::ErrorsPerDay(const std::string& user_id, Micros since,
                                                         Micros until) {
  std::vector<DayCount> out;
  if (Status s = ScanErrorsBetween(db_.get(), user_id, since, until,
                                   [&](const ErrorRecord& r) {
                                     out.push_back({r.created_at / kMicrosPerDay, r.category, 1});
                                   });
      !s.ok()) {
    return s;
  }
  // The errors come by time: sort by (day, category) and merge equal keys.
  std::stable_sort(out.begin(), out.end(), [](const DayCount& a, const DayCount& b) {
    return a.day != b.day ? a.day < b.day : a.category < b.category;
  });
  std::vector<DayCount> merged;
  for (DayCount& d : out) {
    if (!merged.empty() && merged.back().day == d.day && merged.back().category == d.category) {
      merged.back().count += d.count;
    } else {
      merged.push_back(std::move(d));
    }
  }
  return merged;
}

Result<std::vector<User>> RocksdbStore::SearchCandidates(const std::string& prefix, size_t recent) {
  std::vector<User> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(TotalOrder()));
  std::string v;
  auto add = [&](const std::string& user_id) -> Status {
    auto u = GetUser(user_id);
    if (u.ok()) out.push_back(std::move(*u));
    return u.ok() || u.status().code() == Status::Code::kNotFound ? Status::Ok() : u.status();
  };
  size_t n = 0;
  for (PrefixScan scan(it.get(), keys::Email(prefix), false); scan.Valid() && n < 50;
       scan.Next(), ++n) {
    if (Status s = add(std::string(scan.value())); !s.ok()) return s;
  }
  n = 0;
  for (PrefixScan scan(it.get(), keys::UserNamePrefix(prefix), false); scan.Valid() && n < 50;
       scan.Next(), ++n) {
    const std::string_view rest = scan.rest();
    // The name, a NUL, and the user id's 16 bytes (which may hold NULs).
    if (rest.size() <= kUuidBytes || rest[rest.size() - kUuidBytes - 1] != '\0') {
      return Corrupt("username key");
    }
    if (Status s = add(keys::IdText(rest.substr(rest.size() - kUuidBytes))); !s.ok()) return s;
  }
  // The newest users: the last keys of the creation-time index, whose
  // values are the users' records.
  n = 0;
  for (PrefixScan scan(it.get(), std::string(1, keys::kUserCreated), true);
       scan.Valid() && n < recent; scan.Next(), ++n) {
    Micros created_at = 0;
    std::string_view id;
    User u;
    if (!keys::ParseTimeAndId(scan.rest(), &created_at, &id) || id.size() != kUuidBytes ||
        !DecodeUser(keys::IdText(id), scan.value(), &u)) {
      return Corrupt("user by creation time");
    }
    out.push_back(std::move(u));
  }
  // Names sharing the most trigrams with the query.
  std::vector<std::vector<std::string>> holders;
  for (const std::string& gram : NameTrigrams(prefix)) {
    auto& ids = holders.emplace_back();
    for (PrefixScan scan(it.get(), keys::UserTrigramPrefix(gram), false);
         scan.Valid() && ids.size() <= kTrigramCommon; scan.Next()) {
      if (scan.rest().size() != kUuidBytes) return Corrupt("trigram key");
      ids.push_back(keys::IdText(scan.rest()));
    }
  }
  if (!it->status().ok()) return Fail(it->status(), "search users");
  for (const std::string& id : MostSharedTrigrams(holders, kTrigramCandidates)) {
    if (Status s = add(id); !s.ok()) return s;
  }
  return out;
}

Status RocksdbStore::Ping() {
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), keys::Meta("decay_half_life_us"), &v);
  if (!s.ok()) return Fail(s, "ping");
  // A background error (disk full, I/O) stops writes: not ready.
  uint64_t errors = 0;
  if (db_->GetIntProperty(rocksdb::DB::Properties::kBackgroundErrors, &errors) && errors > 0) {
    rocksdb::Status bg = db_->Resume();
    if (!bg.ok()) return Fail(bg, "background error");
  }
  return Status::Ok();
}

// One snapshot for the whole export. Users and conversations are each one
// scan of their tag; utterances are sorted by time, then read by their keys,
// and an utterance's errors by theirs (it names them). Then a second walk
// over the users reads each learner's attempts and memory states under
// `L [user_id]`.
Status RocksdbStore::Export(size_t page, ExportOrder order, const ExportSink& sink) {
  NoPerfCounts();
  const auto snap = Snapshot();
  rocksdb::ReadOptions all = TotalOrder();
  all.snapshot = SnapshotOf(snap);
  rocksdb::ReadOptions one = InPrefix();
  one.snapshot = SnapshotOf(snap);
  auto get = [&](const std::string& key, std::string* value, bool* found) {
    return DbGet(db_.get(), one, key, value, found);
  };
  ExportPager out(page, sink);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(all));
  for (PrefixScan scan(it.get(), std::string(1, keys::kUser), false); scan.Valid(); scan.Next()) {
    User u;
    if (!DecodeUser(keys::IdText(scan.rest()), scan.value(), &u)) return Corrupt("user");
    if (Status s = out.User(std::move(u)); !s.ok()) return s;
  }
  for (PrefixScan scan(it.get(), std::string(1, keys::kConversation), false); scan.Valid();
       scan.Next()) {
    Decoder d(scan.value());
    Conversation c{keys::IdText(scan.rest()), d.Str(), 0};
    c.started_at = d.Int();
    if (!d.ok()) return Corrupt("conversation");
    if (Status s = out.Conversation(std::move(c)); !s.ok()) return s;
  }
  auto utterance = [&](std::string_view id, const StoredUtterance& stored) {
    Utterance u{keys::IdText(id), stored.conversation_id, stored.user_id, stored.content,
                stored.created_at, {}};
    if (Status s = ReadUtteranceErrors(
            stored, [](std::string_view) -> const ErrorRecord* { return nullptr; }, &u.errors, get);
        !s.ok()) {
      return s;
    }
    return out.Utterance(std::move(u), stored.request_hash);
  };
  if (order == ExportOrder::kAny) {  // in key (id) order, in one scan
    for (PrefixScan scan(it.get(), std::string(1, keys::kUtterance), false); scan.Valid();
         scan.Next()) {
      StoredUtterance stored;
      if (scan.rest().size() != 16 || !DecodeUtterance(scan.value(), &stored)) {
        return Corrupt("utterance");
      }
      if (Status s = utterance(scan.rest(), stored); !s.ok()) return s;
    }
  } else {
    // Utterances in the order they were written (Store::Export): the keys are
    // in id order, so a first scan sorts (time, id) pairs, 24 bytes an
    // utterance, and the second reads each by its key.
    struct Written {
      Micros at;
      std::array<unsigned char, 16> id;  // unsigned: compares as the key bytes do
      bool operator<(const Written& o) const { return at != o.at ? at < o.at : id < o.id; }
    };
    std::vector<Written> written;
    for (PrefixScan scan(it.get(), std::string(1, keys::kUtterance), false); scan.Valid();
         scan.Next()) {
      StoredUtterance stored;
      if (scan.rest().size() != 16 || !DecodeUtterance(scan.value(), &stored)) {
        return Corrupt("utterance");
      }
      Written w{stored.created_at, {}};
      std::memcpy(w.id.data(), scan.rest().data(), 16);
      written.push_back(w);
    }
    std::sort(written.begin(), written.end());
    std::string key(1, keys::kUtterance), value;
    for (const Written& w : written) {
      key.replace(1, std::string::npos, reinterpret_cast<const char*>(w.id.data()), w.id.size());
      bool found = false;
      if (Status s = get(key, &value, &found); !s.ok()) return s;
      StoredUtterance stored;
      if (!found || !DecodeUtterance(value, &stored)) return Corrupt("utterance");
      if (Status s = utterance(std::string_view(key).substr(1), stored); !s.ok()) return s;
    }
  }
  std::unique_ptr<rocksdb::Iterator> learner(db_->NewIterator(one));
  for (PrefixScan scan(it.get(), std::string(1, keys::kUser), false); scan.Valid(); scan.Next()) {
    const std::string user_id = keys::IdText(scan.rest());
    std::vector<Attempt> attempts;
    if (Status s = ReadAttempts(learner.get(), user_id, &attempts); !s.ok()) return s;
    if (attempts.empty()) continue;  // no attempts, no memory states
    std::unordered_map<std::string, MemoryState> memory;
    for (PrefixScan m(learner.get(), keys::LearnerPrefix(keys::kMemory, user_id), false);
         m.Valid(); m.Next()) {
      if (!DecodeMemory(m.value(), &memory[std::string(m.rest())])) return Corrupt("mastery");
    }
    if (Status s = out.Learner(std::move(attempts), memory); !s.ok()) return s;
  }
  for (PrefixScan scan(it.get(), std::string(1, keys::kErasedUser), false); scan.Valid();
       scan.Next()) {
    Micros at = 0;
    WriteOp::Erased counts;
    if (!DecodeTombstone(scan.value(), &at, &counts)) return Corrupt("tombstone");
    if (Status s = out.Erased(keys::IdText(scan.rest()), at, counts); !s.ok()) return s;
  }
  if (!it->status().ok()) return Fail(it->status(), "export");
  if (!learner->status().ok()) return Fail(learner->status(), "export");
  return out.Finish();
}

// A copy into this store marks it from its first batch to its last, so that
// a copy that stopped half-way is never served (docs/copy.md). RocksDB has no
// secondary index to defer: its inserts are sorted by its compactions.
constexpr const char* kCopyUnfinished = "copy_unfinished";

Status RocksdbStore::BeginBulkLoad() {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  rocksdb::Status s = db_->Put(wo, keys::Meta(kCopyUnfinished), "1");
  return s.ok() ? Status::Ok() : Fail(s, "mark the copy");
}

Status RocksdbStore::EndBulkLoad() {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  rocksdb::Status s = db_->Delete(wo, keys::Meta(kCopyUnfinished));
  return s.ok() ? Status::Ok() : Fail(s, "unmark the copy");
}

namespace {

// This thread's read snapshot (BeginReadSnapshot); a null one on a
// secondary, whose view does not move.
using SnapshotSlot = ThreadSnapshotSlot<const rocksdb::Snapshot>;

}  // namespace

class RocksdbStore::ThreadSnapshot : public ReadSnapshot {
 public:
  explicit ThreadSnapshot(const RocksdbStore* store) {
    if (!store->secondary_) snap_.emplace(store->db_.get());
    slot_.emplace(store, snap_ ? snap_->snapshot() : nullptr);
  }

 private:
  std::optional<rocksdb::ManagedSnapshot> snap_;
  std::optional<SnapshotSlot> slot_;  // goes first (members go in reverse)
};

Result<std::unique_ptr<Store::ReadSnapshot>> RocksdbStore::BeginReadSnapshot() {
  if (SnapshotSlot::Held()) return Status::Internal("a read snapshot is already open");
  return std::unique_ptr<ReadSnapshot>(new ThreadSnapshot(this));
}

// This thread's read snapshot of this store, if it holds one (else null:
// the latest state).
const rocksdb::Snapshot* RocksdbStore::ThreadView() const { return SnapshotSlot::Of(this); }

// A snapshot for a read of several keys that must agree: none when this
// thread holds a read snapshot (ThreadView serves), nor on a secondary,
// where RocksDB refuses them: its view changes only when it catches up
// with the primary, which this store never asks it to.
std::unique_ptr<rocksdb::ManagedSnapshot> RocksdbStore::Snapshot() const {
  if (secondary_ || SnapshotSlot::HeldOf(this)) return nullptr;
  return std::make_unique<rocksdb::ManagedSnapshot>(db_.get());
}

const rocksdb::Snapshot* RocksdbStore::SnapshotOf(
    const std::unique_ptr<rocksdb::ManagedSnapshot>& snap) const {
  return snap == nullptr ? ThreadView() : snap->snapshot();
}

// A secondary writes nothing, so it cannot upgrade: it reads only a
// database of this build's format (one a server of this build has opened).
Status RocksdbStore::RequireCurrentKeyFormat() {
  std::string text;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), keys::Meta(keys::kKeyFormat), &text);
  if (!s.ok() && !s.IsNotFound()) return Fail(s, "read meta");
  if (s.ok() && text == std::to_string(keys::kCurrentKeyFormat)) return Status::Ok();
  return Status::Internal(fmt::format(
      "rocksdb: the database's key format is {}, and this build reads format {} without "
      "writing: open it with a server of this build first",
      s.ok() ? text : "missing", keys::kCurrentKeyFormat));
}

Status RocksdbStore::RefuseUnfinishedCopy() {
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), keys::Meta(kCopyUnfinished), &v);
  if (s.IsNotFound()) return Status::Ok();
  if (!s.ok()) return Fail(s, "read meta");
  return UnfinishedCopy(Describe());
}

}  // namespace errata
