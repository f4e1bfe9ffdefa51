// Store: where errata's records live. SQLite (embedded, the default) and
// PostgreSQL implement it. Every method returns a Status or Result:
//   ok           the operation happened (or the row was found);
//   NotFound     the record is absent (reads), or a referenced one is (writes);
//   Unavailable  the store could not be reached or is failing (disk full, down):
//                nothing was applied, and the caller may retry.
// Thread-safety: ApplyBatch is called by one thread at a time (the Writer);
// every read method may be called from any number of threads at once.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/delta_set.h"
#include "core/model.h"
#include "core/profile.h"
#include "core/status.h"
#include "core/text.h"

namespace errata {

// One write request's worth of work. The Writer hands batches of these to the
// store; the store fills in the outputs.
struct WriteOp {
  enum class Kind {
    kCreateUser,
    kCreateConversation,
    kAddUtterance,
    kAddErrors,
    kRecordAttempt,
    kEraseUser,  // every record of the learner (user.user_id); alone in its batch
    // An erased learner's tombstone (user.user_id, erased_at, erased): only
    // a copy makes one (Store::Export), as kEraseUser leaves it in the source.
    kRecordErasure,
    // A learner's new username and/or email (user.user_id; docs/users.md):
    // the fields `update` names, from `user`. On success `user` holds the
    // whole record as stored after it.
    kUpdateUser,
  };
  Kind kind = Kind::kAddUtterance;

  // Inputs, by kind.
  User user;  // kCreateUser, kUpdateUser; kEraseUser: the id; for kAddUtterance with create_missing
  Conversation conversation;  // kCreateConversation; for kAddUtterance with create_missing
  Utterance utterance;        // kAddUtterance; kAddErrors: ids and errors only
  Attempt attempt;            // kRecordAttempt
  bool create_missing = false;  // ingest: create the user and conversation on first sight
  bool client_id = false;       // the primary id came from the client: check for a replay
  bool time_given = false;      // kCreateConversation: started_at came from the client too
  uint64_t request_hash = 0;    // the body's hash, to tell a replay from a conflicting reuse
  // kRecordAttempt: store `memory` as the point's state after the attempt
  // instead of computing it. Only a copy sets it (Store::Export): the state
  // it found, on the learner's last attempt at the point.
  bool memory_given = false;
  // kUpdateUser: which of user's fields to store (an absent email removes it).
  struct Update {
    bool username = false;
    bool email = false;
  } update;
  // kEraseUser, kRecordErasure: when, kept with the tombstone. An erase of
  // a learner erased before (a replay) gets the first erase's time here.
  Micros erased_at = 0;

  // Outputs.
  Status status;
  bool replayed = false;  // an identical earlier write exists; nothing was applied again
  // The op created its learner (kCreateUser, or ingest's first sight of the
  // user): before this commit the store held nothing of them.
  bool created_user = false;
  MemoryState memory;     // kRecordAttempt: the point's state after the attempt
  // kEraseUser: what the learner had, now gone (a replay: what the first
  // erase reported, kept with the tombstone). kRecordErasure: an input.
  struct Erased {
    int64_t conversations = 0;
    int64_t utterances = 0;
    int64_t errors = 0;
    int64_t attempts = 0;
  } erased;
};

// An erase goes alone in its batch (the Writer sees to it): the batch's
// merged frequency deltas, applied after its ops, would otherwise bring back
// points of the learner it erased. A store refuses a batch that breaks this.
inline bool EraseIsAlone(const std::vector<WriteOp*>& ops) {
  if (ops.size() <= 1) return true;
  for (const WriteOp* op : ops) {
    if (op->kind == WriteOp::Kind::kEraseUser) return false;
  }
  return true;
}
// Whether the batch is an erase (which then is alone in it).
inline bool IsEraseBatch(const std::vector<WriteOp*>& ops) {
  return !ops.empty() && ops[0]->kind == WriteOp::Kind::kEraseUser;
}
inline Status EraseNotAlone() { return Status::Internal("an erase must be alone in its batch"); }
// What a write that would make an erased learner again gets: their id stays
// taken (docs/erasure.md, "Tombstones"). The field tells it from a reused
// utterance id, the other conflict an ingest line can meet.
inline Status LearnerErased() {
  return Status::Conflict("user_id belonged to an erased learner and cannot be used again",
                          "user_id");
}
// What an utterance whose client id is stored with another body gets (a
// retry with the same body is a replay), on every store alike.
inline Status UtteranceIdTaken() {
  return Status::Conflict("utterance_id already used for a different utterance", "utterance_id");
}

// kCreateConversation whose client id is taken by a conversation of
// `owner` that started at `started_at`: a replay when it is the same
// learner's and, if the request gave a start time, the same one; else a
// conflict. Either way the op answers what is stored.
inline void ConversationTaken(WriteOp* op, std::string_view owner, Micros started_at) {
  Conversation& c = op->conversation;
  op->replayed = owner == c.user_id && (!op->time_given || started_at == c.started_at);
  if (!op->replayed) op->status = Status::Conflict("conversation_id already exists");
  c.started_at = started_at;
}

// kUpdateUser: the learner's record after the op, from the stored one.
inline User UpdatedUser(const User& stored, const WriteOp& op) {
  User u = stored;
  if (op.update.username) u.username = op.user.username;
  if (op.update.email) u.email = op.user.email;
  return u;
}
// kUpdateUser: whether the new record's email must be free, that is, it has
// one and it is not the old record's (emails are unique case-insensitively,
// so a change of case keeps it).
inline bool TakesAnotherEmail(const User& before, const User& after) {
  return after.email && (!before.email || AsciiLower(*before.email) != AsciiLower(*after.email));
}
inline Status EmailTaken() { return Status::Conflict("Email already registered", "email"); }

// A page of a store's records as the write ops that make them again
// (Store::Export). Ops are applied in order, so each comes after its parents.
using ExportSink = std::function<Status(std::vector<WriteOp>& ops)>;

// The order of the utterances in an export (Store::Export).
enum class ExportOrder {
  kWritten,  // created_at, then utterance id: what a copy's target may want
  kAny,      // whatever the store reads fastest (errata compare; a target
             // that sorts anyway)
};

// The check every store makes before adding an utterance to a conversation:
// the conversation, if it exists, belongs to the utterance's user, and if it
// does not exist the op may create it (ingest). Returns false, with
// op->status set, when the op must be skipped.
inline bool CheckConversationForUtterance(WriteOp* op, bool found, const std::string& owner) {
  if (found && owner != op->utterance.user_id) {
    op->status = Status::InvalidArgument("user_id does not own the conversation", "user_id");
    return false;
  }
  if (!found && !op->create_missing) {
    op->status = Status::NotFound("Conversation not found");
    return false;
  }
  return true;
}

// A conversation in the list of a learner's (Store::ListConversations).
struct ConversationSummary {
  Conversation conversation;
  int64_t utterances = 0;                 // how many the conversation holds
  std::optional<Micros> last_utterance_at;  // the newest one's time; none without any
};

// Where a page of a learner's conversations starts: after this one, in the
// list's order (newest first: started_at, then conversation id, descending).
struct ConversationCursor {
  Micros started_at = 0;
  std::string conversation_id;
};

struct DayCount {
  int64_t day = 0;  // days since 1970-01-01, UTC
  std::string category;
  int64_t count = 0;
};

// A conversation with its utterances and their errors, for GET /v1/conversations/{id}.
struct ConversationView {
  Conversation conversation;
  std::vector<Utterance> utterances;
};

// A batch whose checks have run and whose writes are built, not yet written
// (a pipelined store's PrepareBatch). Each op already has its status.
class PreparedBatch {
 public:
  virtual ~PreparedBatch() = default;
  // The merged frequency deltas of the applied ops (ApplyBatch's `deltas`).
  virtual const DeltaSet& deltas() const = 0;
};

// A failed batch: every op gets the failure as Unavailable (nothing was
// applied, and the client may retry). Returns that status.
inline Status FailBatch(Status s, const std::vector<WriteOp*>& ops) {
  if (s.code() != Status::Code::kUnavailable) s = Status::Unavailable(s.message());
  for (WriteOp* op : ops) op->status = s;
  return s;
}

class Store {
 public:
  virtual ~Store() = default;

  // A short description for logs: "sqlite:/path/errata.db".
  virtual std::string Describe() const = 0;

  // Applies `ops` in order in one transaction and commits it durably.
  // Each op gets its own status: an op that fails validation against stored
  // data (NotFound, InvalidArgument, Conflict) is skipped and changes nothing;
  // the others apply. Frequencies are updated in the same transaction from the
  // merged deltas of the applied ops, which are added to `deltas`.
  // Returns non-ok (Unavailable) when the transaction failed: then nothing was
  // applied, every op's status is that error and `deltas` is unchanged.
  // (Unless MayHaveCommitted says otherwise.)
  virtual Status ApplyBatch(const std::vector<WriteOp*>& ops, DeltaSet* deltas) = 0;

  // After a failed ApplyBatch or WritePrepared, on the thread that called it:
  // whether the batch may have committed all the same. On PostgreSQL, when
  // the connection drops after COMMIT was sent, its outcome is unknown to
  // errata; the embedded stores know theirs.
  virtual bool MayHaveCommitted() const { return false; }

  // True for a store whose ApplyBatch returns once the transaction is committed
  // but before it is on disk (SQLite with synchronous=NORMAL). The Writer then
  // calls SyncCommitted() on its own thread before acknowledging, while the
  // next batch runs: the fsync of one batch overlaps the work of the next
  // (docs/write-path.md). False: ApplyBatch itself is durable.
  virtual bool DeferredSync() const { return false; }
  // Makes every transaction committed so far durable. Called from one thread,
  // concurrently with ApplyBatch. A failure means the disk's state is unknown.
  virtual Status SyncCommitted() { return Status::Ok(); }

  // True for a store whose ApplyBatch splits in two (RocksDB): PrepareBatch
  // runs the ops' checks and builds the batch's writes, and WritePrepared
  // writes them durably. The Writer then prepares batch N+1 on its thread
  // while batch N is written on another (docs/write-path.md, "Pipelined
  // commits"). ApplyBatch(ops) is PrepareBatch(ops, nullptr) + WritePrepared.
  virtual bool Pipelined() const { return false; }
  // `behind` (or null) is the batch being written meanwhile: the checks see its
  // writes as done. If it then fails, what was prepared behind it is wrong:
  // the Writer fails it too, unwritten (its checks rewrote some of its ops'
  // inputs, so it cannot be prepared again). Non-ok: the batch failed, as in
  // ApplyBatch.
  virtual Result<std::unique_ptr<PreparedBatch>> PrepareBatch(const std::vector<WriteOp*>& ops,
                                                              const PreparedBatch* behind) {
    (void)ops;
    (void)behind;
    return Status::Internal("store is not pipelined");
  }
  // Writes a prepared batch durably; on failure, as ApplyBatch. Called from
  // one thread (not the one that prepares), for one batch at a time, in the
  // order they were prepared. It leaves the batch as it is: the next one may
  // be reading it meanwhile.
  virtual Status WritePrepared(const PreparedBatch* batch) {
    (void)batch;
    return Status::Internal("store is not pipelined");
  }

  // While the returned object lives, this thread's reads of the store
  // (GetUser, GetConversation, ListConversations, ListAttempts, LoadProfile)
  // all see one snapshot: a learner's export reads its parts one after
  // another and must show them as of one moment (docs/erasure.md,
  // "Access"). Other threads, and the writer, are not affected. An error
  // when it cannot begin (the store is down), or when this thread already
  // holds one.
  class ReadSnapshot {
   public:
    virtual ~ReadSnapshot() = default;
  };
  virtual Result<std::unique_ptr<ReadSnapshot>> BeginReadSnapshot() = 0;

  virtual Result<User> GetUser(const std::string& user_id) = 0;
  // The user with this email, compared case-insensitively.
  virtual Result<User> FindUserByEmail(const std::string& email) = 0;
  virtual Result<ConversationView> GetConversation(const std::string& conversation_id) = 0;
  // The learner's conversations, newest first (started_at, then conversation
  // id, descending), at most `limit`, each with its utterance count and the
  // time of its last utterance. With `after`, only those that come after it
  // in that order (the next page). Empty for an unknown user.
  virtual Result<std::vector<ConversationSummary>> ListConversations(
      const std::string& user_id, const std::optional<ConversationCursor>& after,
      size_t limit) = 0;
  // The learner's practice attempts, oldest first (answered_at, then attempt
  // id). Empty for an unknown user.
  virtual Result<std::vector<Attempt>> ListAttempts(const std::string& user_id) = 0;
  // The learner's profile; an empty one for a user with no errors or an unknown user.
  virtual Result<Profile> LoadProfile(const std::string& user_id) = 0;
  // Error points computed from errors with created_at in [since, until].
  virtual Result<Profile> ProfileBetween(const std::string& user_id, Micros since, Micros until) = 0;
  // Candidates for a learner search: users whose email or username starts
  // with `prefix` (lower-case), the `recent` newest users (for typos), then
  // the users whose name shares the most trigrams with `prefix`
  // (core/user_search.h: NameTrigrams, MostSharedTrigrams).
  virtual Result<std::vector<User>> SearchCandidates(const std::string& prefix, size_t recent) = 0;
  // Error counts per UTC day (days since the epoch) and category, for errors
  // with created_at in [since, until].
  virtual Result<std::vector<DayCount>> ErrorsPerDay(const std::string& user_id, Micros since,
                                                     Micros until) = 0;
  // Whether the store answers a trivial query.
  virtual Status Ping() = 0;
  // Every record, as the write ops that make it again in an empty store
  // (errata copy, store/copy.h), handed to `sink` in pages of `page` ops
  // (a learner's attempts stay in one page, which may make it longer), all
  // read from one snapshot. Order: every user, every conversation, every
  // utterance with its errors and request hash (with kWritten in the order
  // they were written, created_at then utterance id; with kAny in any), then
  // each learner's attempts, the last attempt at each point carrying the
  // point's memory state (memory_given). A sink's failure stops the export
  // and is returned. Write order because error ids are UUIDv7: in that
  // order a target's errors table (keyed by error id) grows at its end
  // instead of at random pages (docs/copy.md, "Order and indexes"). SQLite
  // and PostgreSQL always export in write order (their query sorts); RocksDB
  // with kAny skips a sort and a read by key per utterance.
  virtual Status Export(size_t page, ExportOrder order, const ExportSink& sink) = 0;
  // Whether a copy into this store should export in write order (above).
  virtual bool PrefersWriteOrder() const { return true; }
  // A copy into this store (store/copy.h) calls BeginBulkLoad before its
  // first batch, on an empty store, and EndBulkLoad after its last, before
  // SyncCommitted; in between only ApplyBatch and SyncCommitted. A store may
  // defer work to the end meanwhile (SQLite builds its secondary indexes
  // then) and refuse to open if EndBulkLoad never came. Nothing by default.
  virtual Status BeginBulkLoad() { return Status::Ok(); }
  virtual Status EndBulkLoad() { return Status::Ok(); }
  // What Open says of a store whose copy never reached EndBulkLoad.
  static Status UnfinishedCopy(const std::string& store) {
    return Status::InvalidArgument(store +
                                   " holds a copy that did not finish (errata copy stopped before"
                                   " its end): delete it, or empty it, and copy again");
  }
  // A bulk read has ended (the warm restart's): gives back what the read
  // connections keep mapped beyond what later reads need. SQLite's readers
  // map the database file, and each page a reader has touched counts in the
  // process's RSS until it is unmapped (docs/read-path.md). Nothing by default.
  virtual void ReleaseReadMappings() {}
  // Appends the store's own gauges and counters to /metrics (Prometheus text
  // format): SQLite's WAL and checkpoints, RocksDB's compactions. None by default.
  virtual void RenderMetrics(std::string* out) const { (void)out; }
};

}  // namespace errata
