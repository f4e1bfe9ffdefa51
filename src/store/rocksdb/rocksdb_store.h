// RocksdbStore: the embedded store for heavy write loads, a RocksDB database
// (a log-structured merge tree) in one directory. Same records and answers as
// SqliteStore; what differs is how a write reaches the disk: a batch is one
// append to RocksDB's write-ahead log, and the learner- and conversation-keyed
// indexes are sorted and merged in the background, instead of rewriting a
// random 4 KiB B-tree page per index per request (docs/rocksdb.md,
// docs/write-amplification.md).
//
// Keys are a one-byte table tag and the record's key (keys.h in the .cc).
// The Writer is the only writer. A batch's checks see the ops before it in
// the same batch (an overlay of its writes), and those of the batch being
// written meanwhile (pipelined commits). Reads from any thread see every
// committed batch.
#pragma once

#include <cstdint>
#include <atomic>
#include <memory>
#include <string>

#include "store/store.h"

namespace rocksdb {
class DB;
class ManagedSnapshot;
class Snapshot;
class Statistics;
}  // namespace rocksdb

namespace errata {

class RocksdbStore : public Store {
 public:
  struct Options {
    std::string path;  // the database directory
    Micros half_life = 14 * kMicrosPerDay;
    // RocksDB's block cache, shared by every read (bytes).
    int64_t block_cache_bytes = 256ll << 20;
    // Memtable size before a flush to a sorted file (bytes).
    int64_t write_buffer_bytes = 64ll << 20;
    // Non-empty: open as a RocksDB secondary instance, read-only, beside the
    // server that holds the directory (errata backup, docs/backup.md). The
    // store then reads the database as of its open; this directory holds the
    // secondary's own logs. Writes fail.
    std::string secondary_path;
  };

  // Opens or creates the database, upgrades its keys from an older format
  // (docs/rocksdb.md, "Ids as 16 bytes"), and recomputes the decay sums when
  // the half-life changed since the last open.
  static Result<std::unique_ptr<RocksdbStore>> Open(const Options& options);
  // Closes the database.
  ~RocksdbStore() override;

  // Appends RocksDB's gauges (pending compaction bytes, memtables, SST size)
  // in the Prometheus text format.
  void RenderMetrics(std::string* out) const override;

  std::string Describe() const override { return "rocksdb:" + options_.path; }
  Status ApplyBatch(const std::vector<WriteOp*>& ops, DeltaSet* deltas) override;
  // ApplyBatch is durable when it returns: RocksDB fsyncs the WAL in Write.
  // It is PrepareBatch + WritePrepared, which the Writer pipelines.
  bool Pipelined() const override { return true; }
  Result<std::unique_ptr<PreparedBatch>> PrepareBatch(const std::vector<WriteOp*>& ops,
                                                      const PreparedBatch* behind) override;
  Status WritePrepared(const PreparedBatch* batch) override;
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
  // Its compactions sort whatever order a copy writes in (docs/copy.md).
  bool PrefersWriteOrder() const override { return false; }
  Status Ping() override;
  // Mark the store as holding an unfinished copy, and unmark it; Open
  // refuses a marked store.
  Status BeginBulkLoad() override;
  Status EndBulkLoad() override;

  // The database itself, for tests that write what an older build wrote.
  rocksdb::DB* TEST_db() { return db_.get(); }

 private:
  class Batch;     // one batch's WriteBatch and its checks
  class Prepared;  // a Batch and its ops, between PrepareBatch and WritePrepared
  explicit RocksdbStore(Options options);

  Status UpgradeKeyFormatIfNeeded();
  Status RecomputeDecayIfNeeded();
  Status RefuseUnfinishedCopy();
  Status RequireCurrentKeyFormat();
  class ThreadSnapshot;  // BeginReadSnapshot's
  const rocksdb::Snapshot* ThreadView() const;
  std::unique_ptr<rocksdb::ManagedSnapshot> Snapshot() const;
  const rocksdb::Snapshot* SnapshotOf(const std::unique_ptr<rocksdb::ManagedSnapshot>& snap) const;

  Options options_;
  std::unique_ptr<rocksdb::DB> db_;
  bool secondary_ = false;  // Options::secondary_path
  std::shared_ptr<rocksdb::Statistics> stats_;
  // A learner was ever erased (a kErasedUser key exists): new learners'
  // ids are then checked against the tombstones.
  std::atomic<bool> any_erased_{false};
};

}  // namespace errata
