// SqliteStore: the embedded store, one database file in WAL mode.
// One write connection (used only by the Writer thread) and a small pool of
// read connections shared by the HTTP threads; WAL lets them read while the
// writer commits. A checkpointer thread with its own connection copies the
// WAL back into the database file, off the writer's commits
// (docs/checkpoint.md).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/sqlite/sqlite_db.h"
#include "store/store.h"

namespace errata {

class SqliteStore : public Store {
 public:
  struct Options {
    std::string path;            // the database file
    Micros half_life = 14 * kMicrosPerDay;
    int read_connections = 4;
    // WAL checkpointing (docs/checkpoint.md), in pages (4 KiB by default).
    // Soft: this many WAL pages not yet checkpointed wake the checkpointer,
    // which runs a PASSIVE checkpoint (the writer never waits for it).
    int64_t checkpoint_pages = 16384;
    // Hard: a WAL this long makes the checkpointer rewind it (RESTART, with the
    // writer parked between two transactions). 0: 4 x checkpoint_pages.
    // When the WAL rewinds, its file is cut back to hard + soft pages.
    int64_t wal_limit_pages = 0;
    // Once no commit has come for this long, checkpoint what is left, so an
    // idle store reads from the database file and restarts without recovery.
    // 0: never.
    std::chrono::milliseconds checkpoint_idle{1000};
    // The longest a commit waits for the checkpointer when the WAL is twice
    // the hard limit (the backstop); then it commits anyway.
    std::chrono::milliseconds backstop_wait{10000};
  };
  // What the checkpointer has done, for metrics and tests.
  struct WalStats {
    int64_t wal_pages = 0;       // frames in the WAL after the last commit (or checkpoint)
    uint64_t checkpoints = 0;    // checkpoints run (PASSIVE, RESTART and the final TRUNCATE)
    uint64_t rewinds = 0;        // RESTART checkpoints that completed (the WAL rewinds)
    uint64_t failures = 0;       // checkpoints that failed (I/O, disk full); retried later
    uint64_t backstop_waits = 0; // commits held back by a WAL twice the hard limit
    uint64_t reader_busy = 0;    // rounds that found a reader holding the WAL (retried later)
  };

  // Opens or creates the database, migrates its schema to the current
  // version, and starts the checkpointer.
  static Result<std::unique_ptr<SqliteStore>> Open(const Options& options);
  // Stops the checkpointer, checkpoints the whole WAL into the database file
  // (TRUNCATE), and closes the connections. Call after the Writer stopped.
  ~SqliteStore() override;

  WalStats wal_stats() const;
  // Appends the WAL gauges and counters in the Prometheus text format.
  void RenderMetrics(std::string* out) const override;
  void ReleaseReadMappings() override;

  std::string Describe() const override { return "sqlite:" + options_.path; }
  Status ApplyBatch(const std::vector<WriteOp*>& ops, DeltaSet* deltas) override;
  // Commits return before the WAL is fsynced (synchronous=NORMAL on the
  // writer); SyncCommitted fdatasyncs the WAL file.
  bool DeferredSync() const override { return true; }
  Status SyncCommitted() override;
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
  // A copy into this store drops its secondary indexes and builds them again
  // at the end, each from one sort, instead of inserting an entry at a
  // random page for every row (docs/copy.md). Their definitions wait in the
  // meta table meanwhile; Open refuses a store that still has them.
  Status BeginBulkLoad() override;
  Status EndBulkLoad() override;

 private:
  explicit SqliteStore(Options options) : options_(std::move(options)) {}

  // A read connection borrowed from the pool for one call.
  class Reader;
  class ThreadSnapshot;  // BeginReadSnapshot's
  std::unique_ptr<sqlite::Db> Borrow();
  void Return(std::unique_ptr<sqlite::Db> db);

  Status Migrate();
  Status RefuseUnfinishedCopy();
  // The writer's turn for one transaction: waits while the checkpointer holds
  // the gate (or the WAL is past the backstop), and lets it know when done.
  class WriteTurn;
  Status RecomputeDecayIfNeeded();
  Status RecomputeDecay(const std::string& half_life);
  Status Apply(WriteOp* op, DeltaSet* deltas);
  Status CreateUser(WriteOp* op);
  Status IndexUser(const User& u);
  Status UnindexUser(const User& u);
  Status UpdateUser(WriteOp* op);
  Status IndexEveryUser(bool gaining);
  Status CreateConversation(WriteOp* op);
  Status AddUtterance(WriteOp* op, DeltaSet* deltas);
  Status AddErrors(WriteOp* op, DeltaSet* deltas);
  Status RecordAttempt(WriteOp* op);
  Status EraseUser(WriteOp* op);
  Status ReplayErasure(WriteOp* op);        // an erase of a learner with a tombstone
  Status RecordErasure(const WriteOp& op);  // the tombstone
  // Whether `user_id` is an erased learner's; if so, refuses `op`
  // (LearnerErased). Reads the table only when a learner was ever erased
  // (any_erased_).
  Result<bool> RefuseErased(WriteOp* op, const std::string& user_id);
  Status InsertErrors(const Utterance& u);
  Status LoadExamples(sqlite::Db* db, const std::string& user_id, Profile* p);
  Status LoadRecentCorrect(sqlite::Db* db, const std::string& user_id, Profile* p);
  Status UpsertFrequencies(const DeltaSet& deltas);
  Result<bool> CheckReplay(WriteOp* op);

  // Checkpointing. The WAL hook runs on the writer thread after each commit.
  static int OnWalCommit(void* self, sqlite3* db, const char* name, int pages);
  void StartCheckpointer();
  void StopCheckpointer();
  void CheckpointLoop();
  // Runs one checkpoint on ckpt_db_ and records what it saw; the SQLite code.
  int Checkpoint(int mode, int* log, int* done);
  // fsyncs the database file through SQLite's VFS, on ckpt_db_.
  int SyncDatabaseFile();
  // Parks the writer between two transactions (it finishes the current one
  // first), and lets it go on.
  void CloseGate();
  void OpenGate();
  int64_t soft_pages() const;
  int64_t hard_pages() const;

  Options options_;
  // An exclusive flock on PATH.lock while the store is open: one process per
  // database (docs/write-path.md, "One process per store"). Declared before
  // the connections, so it is released after they close.
  struct ProcessLock {
    int fd = -1;
    ProcessLock() = default;
    ProcessLock(const ProcessLock&) = delete;
    ProcessLock& operator=(const ProcessLock&) = delete;
    ~ProcessLock();
  } lock_;
  std::unique_ptr<sqlite::Db> writer_;
  bool any_erased_ = false;  // erased_users has a row; the writer's thread only
  std::unique_ptr<sqlite::Db> ckpt_db_;  // used only by the checkpointer thread (then ~SqliteStore)
  std::thread ckpt_thread_;
  mutable std::mutex wal_mu_;
  std::condition_variable wal_cv_;   // wakes the checkpointer
  std::condition_variable gate_cv_;  // the writer and the checkpointer wait here for the gate
  // Guarded by wal_mu_:
  int64_t wal_frames_ = 0;   // frames in the WAL, as the last commit (or checkpoint) saw
  int64_t backfilled_ = 0;   // of which the last checkpoint copied into the database file
  uint64_t commits_ = 0;     // commits seen by the WAL hook
  bool wake_ = false;        // the hook asks for a checkpoint
  bool stop_ = false;
  bool gate_closed_ = false; // the writer must not begin a transaction
  bool in_txn_ = false;      // the writer is inside a transaction (WriteTurn)
  uint64_t ckpt_rounds_ = 0; // checkpoint rounds the checkpointer has finished
  bool reader_in_wal_ = false;  // the last rounds found a reader holding the WAL (no backstop then)
  std::atomic<uint64_t> checkpoints_{0};
  std::atomic<uint64_t> rewinds_{0};
  std::atomic<uint64_t> failures_{0};
  std::atomic<uint64_t> backstop_waits_{0};
  std::atomic<uint64_t> reader_busy_{0};
  int wal_fd_ = -1;  // the WAL file, for SyncCommitted (one thread at a time)
  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<std::unique_ptr<sqlite::Db>> pool_;  // guarded by pool_mu_
};

}  // namespace errata
