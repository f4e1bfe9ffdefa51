// Backups of the embedded stores while they are written (docs/backup.md):
// SQLite's page copy (BackupSqlite) and a RocksDB secondary instance beside
// an open primary (RocksdbStore::Options::secondary_path).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "store/copy.h"
#include "store/rocksdb/rocksdb_store.h"
#include "store/rocksdb/rocksdb_test_util.h"
#include "store/sqlite/sqlite_backup.h"
#include "store/sqlite/sqlite_store.h"
#include "store/temp_dir_test_util.h"
#include "store/write_test_util.h"

namespace errata {
namespace {

namespace fs = std::filesystem;
using testutil::TempDir;

void Apply(Store* store, std::vector<WriteOp> ops) {
  std::vector<WriteOp*> ptrs;
  for (auto& op : ops) ptrs.push_back(&op);
  DeltaSet deltas(14 * kMicrosPerDay);
  const Status s = store->ApplyBatch(ptrs, &deltas);
  ASSERT_TRUE(s.ok()) << s.ToString();
  for (const WriteOp& op : ops) ASSERT_TRUE(op.status.ok()) << op.status.ToString();
  if (store->DeferredSync()) {
    ASSERT_TRUE(store->SyncCommitted().ok());
  }
}

// One more utterance with two errors for the learner of `first`.
std::vector<WriteOp> TwoErrors(const Utterance& first) {
  WriteOp op;
  op.kind = WriteOp::Kind::kAddUtterance;
  op.utterance = first;
  op.utterance.utterance_id = NewUuidV7(NowMicros());
  op.utterance.errors = testutil::ErrorsOp(first, "pronouns", 2).utterance.errors;
  return {op};
}

// How many utterances the learner's conversation holds, and the count of
// their error point, which must agree in a store of one moment.
struct Held {
  size_t utterances = 0;
  int64_t count = 0;
};
Held HeldBy(Store* store, const Utterance& first) {
  Held h;
  auto view = store->GetConversation(first.conversation_id);
  EXPECT_TRUE(view.ok()) << view.status().ToString();
  if (view.ok()) h.utterances = view->utterances.size();
  auto profile = store->LoadProfile(first.user_id);
  EXPECT_TRUE(profile.ok()) << profile.status().ToString();
  if (profile.ok()) {
    for (const ErrorPoint& p : profile->points) h.count += p.count;
  }
  return h;
}

// A writer adding to one learner for as long as the backup runs.
class Writes {
 public:
  Writes(Store* store, const Utterance& first) : store_(store), first_(first) {
    thread_ = std::thread([this] {
      while (!stop_) {
        Apply(store_, TwoErrors(first_));
        ++committed_;
      }
    });
  }
  ~Writes() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  size_t committed() const { return committed_; }

 private:
  Store* store_;
  Utterance first_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> committed_{0};
  std::thread thread_;
};

TEST(SqliteBackupTest, ABackupDuringWritesIsOneMomentOfTheStore) {
  TempDir dir("sqlite-backup");
  const std::string db = (dir.path() / "errata.db").string();
  const std::string to = (dir.path() / "backup.db").string();
  auto store = SqliteStore::Open({db});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Utterance first;
  Apply(store->get(), testutil::NewLearnerOps("x", &first));
  // Enough pages (over 20 MiB) that the copy takes several steps.
  for (int i = 0; i < 2000; ++i) {
    std::vector<WriteOp> ops = TwoErrors(first);
    ops[0].utterance.content = std::string(10000, static_cast<char>('a' + i % 26));
    Apply(store->get(), std::move(ops));
  }
  Writes writes(store->get(), first);
  while (writes.committed() < 20) std::this_thread::yield();
  const size_t before = 2001 + writes.committed();
  SqliteBackupInfo info;
  const Status s = BackupSqlite(db, to, &info);
  const size_t after = 2001 + writes.committed();
  while (writes.committed() + 2001 < after + 20) std::this_thread::yield();
  writes.Stop();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_GT(info.pages, 3 * 2048) << "the copy must take several steps";
  EXPECT_EQ(info.bytes, static_cast<int64_t>(fs::file_size(to)));
  EXPECT_FALSE(fs::exists(to + ".partial"));
  EXPECT_FALSE(fs::exists(to + "-wal"));

  auto backup = SqliteStore::Open({to});
  ASSERT_TRUE(backup.ok()) << backup.status().ToString();
  const Held held = HeldBy(backup->get(), first);
  EXPECT_GE(held.utterances, before);
  EXPECT_LE(held.utterances, after);
  EXPECT_EQ(held.count, 2 * static_cast<int64_t>(held.utterances - 1));
  EXPECT_GT(HeldBy(store->get(), first).utterances, held.utterances);
}

TEST(SqliteBackupTest, RefusesAPathThatExistsAndAFileThatIsNoStore) {
  TempDir dir("sqlite-backup");
  const std::string db = (dir.path() / "errata.db").string();
  auto store = SqliteStore::Open({db});
  ASSERT_TRUE(store.ok());
  const std::string taken = (dir.path() / "taken").string();
  std::ofstream(taken) << "mine";
  SqliteBackupInfo info;
  EXPECT_EQ(BackupSqlite(db, taken, &info).code(), Status::Code::kConflict);
  EXPECT_EQ(fs::file_size(taken), 4u);
  const std::string to = (dir.path() / "b.db").string();
  EXPECT_EQ(BackupSqlite((dir.path() / "none.db").string(), to, &info).code(),
            Status::Code::kNotFound);
  EXPECT_EQ(BackupSqlite(taken, to, &info).code(), Status::Code::kInvalidArgument);  // not SQLite
  EXPECT_FALSE(fs::exists(to));
  EXPECT_FALSE(fs::exists(to + ".partial"));
  // Into a directory that is not there: nothing is left either.
  EXPECT_FALSE(BackupSqlite(db, (dir.path() / "no" / "b.db").string(), &info).ok());
  EXPECT_FALSE(fs::exists(dir.path() / "no"));
}

TEST(SqliteBackupTest, AFullCheckFindsAnIndexThatDisagreesWithItsTable) {
  // errata backup --verify on SQLite: integrity_check reads every index
  // against its table, which quick_check does not.
  TempDir dir("sqlite-backup");
  const std::string db = (dir.path() / "errata.db").string();
  {
    auto store = SqliteStore::Open({db});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    Utterance first;
    Apply(store->get(), testutil::NewLearnerOps("x", &first));
  }
  // The index's entries stay (user_id, started_at, id); its definition now
  // says (started_at, user_id, id): every entry is one the table lacks.
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw,
                         "PRAGMA writable_schema=ON; UPDATE sqlite_master SET sql = 'CREATE INDEX "
                         "conversations_user_time ON conversations(started_at, user_id, "
                         "conversation_id)' WHERE name = 'conversations_user_time'; "
                         "PRAGMA writable_schema=OFF;",
                         nullptr, nullptr, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(raw);
  sqlite3_close(raw);

  SqliteBackupInfo info;
  const std::string quick = (dir.path() / "quick.db").string();
  EXPECT_TRUE(BackupSqlite(db, quick, &info).ok()) << "quick_check reads no index against its table";
  const std::string full = (dir.path() / "full.db").string();
  const Status s = BackupSqlite(db, full, &info, /*full_check=*/true);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("missing from index conversations_user_time"), std::string::npos)
      << s.message();
  EXPECT_FALSE(fs::exists(full));
  EXPECT_FALSE(fs::exists(full + ".partial"));
  // A sound store passes the full check.
  const std::string good = (dir.path() / "good.db").string();
  {
    auto store = SqliteStore::Open({good});
    ASSERT_TRUE(store.ok());
    Utterance first;
    Apply(store->get(), testutil::NewLearnerOps("y", &first));
  }
  EXPECT_TRUE(BackupSqlite(good, (dir.path() / "good-backup.db").string(), &info, true).ok());
}

TEST(RocksdbSecondaryTest, ReadsWhatThePrimaryCommittedBeforeItsOpenAndNothingAfter) {
  TempDir dir("rocksdb-secondary");
  auto primary = RocksdbStore::Open(testutil::SmallRocksdb(dir.path()));
  ASSERT_TRUE(primary.ok()) << primary.status().ToString();
  Utterance first;
  Apply(primary->get(), testutil::NewLearnerOps("x", &first));
  for (int i = 0; i < 50; ++i) Apply(primary->get(), TwoErrors(first));  // in the memtable only

  RocksdbStore::Options o = testutil::SmallRocksdb(dir.path());
  o.secondary_path = (dir.path() / "secondary").string();
  auto secondary = RocksdbStore::Open(o);
  ASSERT_TRUE(secondary.ok()) << secondary.status().ToString();
  for (int i = 0; i < 10; ++i) Apply(primary->get(), TwoErrors(first));

  const Held held = HeldBy(secondary->get(), first);
  EXPECT_EQ(held.utterances, 51u);
  EXPECT_EQ(held.count, 100);
  EXPECT_EQ(HeldBy(primary->get(), first).utterances, 61u);

  // Its export is what a copy reads: the same records again.
  TempDir copy_dir("rocksdb-secondary-copy");
  auto copy = RocksdbStore::Open(testutil::SmallRocksdb(copy_dir.path()));
  ASSERT_TRUE(copy.ok());
  CopyCounts counts;
  const Status s = CopyStore(secondary->get(), copy->get(), {}, &counts);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(counts.utterances, 51);
  EXPECT_EQ(counts.errors, 100);

  // It writes nothing.
  std::vector<WriteOp> more = TwoErrors(first);
  std::vector<WriteOp*> ptrs{&more[0]};
  DeltaSet deltas(14 * kMicrosPerDay);
  EXPECT_FALSE(secondary->get()->ApplyBatch(ptrs, &deltas).ok());
}

TEST(RocksdbSecondaryTest, RefusesADirectoryThatHoldsNoStore) {
  TempDir dir("rocksdb-secondary");
  RocksdbStore::Options o = testutil::SmallRocksdb(dir.path());
  o.secondary_path = (dir.path() / "secondary").string();
  EXPECT_FALSE(RocksdbStore::Open(o).ok());
  EXPECT_FALSE(fs::exists(o.path));
}

}  // namespace
}  // namespace errata
