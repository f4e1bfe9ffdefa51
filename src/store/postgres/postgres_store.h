// PostgresStore: the shared store, for several errata nodes over one
// PostgreSQL database (libpq). A dedicated writer connection (used only by the
// Writer thread) and a pool of read connections borrowed one per call.
// Each batch is one transaction. A batch of utterances and errors goes in a
// few statements for all its ops; any other batch, or one of those that
// meets a replay or a race, runs each op under a savepoint, so a unique
// violation from a race with another node undoes only that op.
// A lost connection makes calls return Unavailable; the next call resets it
// (PQreset), so errata recovers when PostgreSQL comes back.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/postgres/pg_conn.h"
#include "store/store.h"

namespace errata {

// How long a statement may take, or wait for a lock, before PostgreSQL
// cancels it (docs/postgres.md, "Deadlines"), in milliseconds; 0: no limit.
struct PgDeadlines {
  int64_t read_ms = 5'000;    // a read connection's statement_timeout
  int64_t write_ms = 60'000;  // the writer's statement_timeout (a batch's statements)
  int64_t lock_ms = 5'000;    // the writer's lock_timeout
  // How long a read waits for a free pooled connection before it answers
  // Unavailable (503), rather than hold its HTTP thread without end.
  int64_t borrow_ms = 5'000;
};

class PostgresStore : public Store {
 public:
  // Connects to `url` (postgres://user[:password]@host[:port]/db[?params]),
  // migrates the schema to the current version and opens `pool_size` read
  // connections, each session with `deadlines`.
  static Result<std::unique_ptr<PostgresStore>> Open(const std::string& url, Micros half_life,
                                                     int pool_size, PgDeadlines deadlines = {});

  // "postgres://host:port/db" of the server the writer is connected to now
  // (after a failover with a multi-host URL, the new one); never the user or
  // password.
  std::string Describe() const override;
  Status ApplyBatch(const std::vector<WriteOp*>& ops, DeltaSet* deltas) override;
  bool MayHaveCommitted() const override { return may_have_committed_; }
  Result<std::unique_ptr<ReadSnapshot>> BeginReadSnapshot() override;
  Result<User> GetUser(const std::string& user_id) override;
  Result<User> FindUserByEmail(const std::string& email) override;
  Result<ConversationView> GetConversation(const std::string& conversation_id) override;
  Result<std::vector<ConversationSummary>> ListConversations(
      const std::string& user_id, const std::optional<ConversationCursor>& after,
      size_t limit) override;
  Result<std::vector<Attempt>> ListAttempts(const std::string& user_id) override;
  Result<Profile> LoadProfile(const std::string& user_id) override;
  Result<Profile> ProfileBetween(const std::string& user_id, Micros since, Micros until) override;
  Result<std::vector<User>> SearchCandidates(const std::string& prefix, size_t recent) override;
  Result<std::vector<DayCount>> ErrorsPerDay(const std::string& user_id, Micros since,
                                             Micros until) override;
  Status Export(size_t page, ExportOrder order, const ExportSink& sink) override;
  Status Ping() override;
  // As SQLite's: a copy into PostgreSQL drops the secondary indexes and
  // builds each from one sort at its end (docs/copy.md); their definitions
  // wait in meta meanwhile, and Open refuses a database that still has them.
  Status BeginBulkLoad() override;
  Status EndBulkLoad() override;
  // errata_postgres_batches_total{path=...}: how write batches were applied.
  void RenderMetrics(std::string* out) const override;

 private:
  PostgresStore(std::string url, Micros half_life) : url_(std::move(url)), half_life_(half_life) {}

  // A read connection borrowed from the pool for one call.
  class Reader;
  class ThreadSnapshot;  // BeginReadSnapshot's
  // Unavailable when none is free within deadlines.borrow_ms.
  Result<std::unique_ptr<pg::Conn>> Borrow();
  void Return(std::unique_ptr<pg::Conn> conn);

  Status Migrate();
  Status BulkLoadStep(const char* sql);
  Status RecomputeDecayIfNeeded();
  static bool Batchable(const std::vector<WriteOp*>& ops);
  Status ApplyTogether(const std::vector<WriteOp*>& ops, DeltaSet* deltas, bool* done);
  Status ApplyAttemptsTogether(const std::vector<WriteOp*>& attempts, bool* done);
  // `then`: statements sent in the same round trip, after the lock.
  Status BeginBatch(const std::vector<WriteOp*>& ops, std::string_view then = "");
  Status ApplyInSavepoint(WriteOp* op, DeltaSet* deltas, bool first);
  Status Apply(WriteOp* op, DeltaSet* deltas);
  Status CreateUser(WriteOp* op);
  Status CheckNotErasedMeanwhile(const std::string& user_ids);
  Status CreateConversation(WriteOp* op);
  Status AddUtterance(WriteOp* op, DeltaSet* deltas);
  Status AddErrors(WriteOp* op, DeltaSet* deltas);
  Status RecordAttempt(WriteOp* op);
  Status EraseUser(WriteOp* op);
  Status UpdateUser(WriteOp* op);
  Status IndexUser(const std::string& user_id, const std::string& username,
                   const std::optional<std::string>& email);
  Status IndexEveryUser(bool gaining);
  Status UpsertFrequencies(const DeltaSet& deltas);
  // After the writer (re)connected: the server it is on now.
  void NoteWriterServer();
  Status LoadExamples(pg::Conn* conn, const std::string& user_id, Profile* p);

  std::string url_;
  mutable std::mutex description_mu_;
  std::string description_;  // guarded by description_mu_; set by the writer's thread
  Micros half_life_;
  std::unique_ptr<pg::Conn> writer_;
  bool may_have_committed_ = false;  // the last batch's COMMIT went unanswered (writer's thread)
  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<std::unique_ptr<pg::Conn>> pool_;  // guarded by pool_mu_
  int64_t borrow_ms_ = 5'000;
  // Batches applied together, ones that tried and went op by op after all,
  // and the others (op by op from the start).
  std::atomic<uint64_t> batches_together_{0}, batches_fallback_{0}, batches_op_by_op_{0};
};

}  // namespace errata
