// SqliteStore's WAL checkpointing (docs/checkpoint.md): the WAL stays bounded
// under sustained writes, a clean close leaves the data in the database file,
// and every acknowledged write is there after a reopen. And its read
// connections (docs/read-path.md): one snapshot per call, one connection per
// call.
#include "store/sqlite/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

#include "core/ids.h"
#include "metrics/metrics.h"
#include "store/profile_cache.h"
#include "store/sqlite/schema.h"
#include "store/temp_dir_test_util.h"
#include "store/write_test_util.h"
#include "store/writer.h"

namespace errata {
namespace {

namespace fs = std::filesystem;

class SqliteCheckpointTest : public ::testing::Test {
 protected:
  std::string db_path() const { return (dir_.path() / "errata.db").string(); }
  std::string wal_path() const { return db_path() + "-wal"; }
  int64_t WalBytes() const {
    std::error_code ec;
    const auto n = fs::file_size(wal_path(), ec);
    return ec ? 0 : static_cast<int64_t>(n);
  }

  SqliteStore::Options Opts(int64_t soft, int64_t hard) const {
    SqliteStore::Options o{db_path(), 14 * kMicrosPerDay, 2};
    o.checkpoint_pages = soft;
    o.wal_limit_pages = hard;
    o.checkpoint_idle = std::chrono::milliseconds(0);  // only the thresholds trigger checkpoints
    return o;
  }

  std::unique_ptr<SqliteStore> Open(const SqliteStore::Options& o) {
    auto s = SqliteStore::Open(o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }

  // The ops of one new learner whose utterance carries `errors` errors.
  static std::vector<WriteOp> LearnerOps(int errors, Utterance* out) {
    std::vector<WriteOp> ops = testutil::NewLearnerOps("I goes home yesterday", out);
    for (int i = 0; i < errors; ++i) {
      ErrorRecord e;
      e.error_id = NewUuidV7(NowMicros());
      e.category = "Grammar";
      e.subcategory = i % 2 ? "pronouns" : "verb tense";
      e.subcategory_id = i % 2 ? "pronouns" : "verb_tense";
      e.original = "goes";
      e.correction = "went";
      e.created_at = out->created_at;
      ops[2].utterance.errors.push_back(e);
    }
    out->errors = ops[2].utterance.errors;
    return ops;
  }

  // Commits `ops` as one transaction straight through ApplyBatch (the test
  // thread is the only writer) and expects every op to succeed.
  static void Commit(SqliteStore* store, std::vector<WriteOp>& ops) {
    std::vector<WriteOp*> ptrs;
    for (auto& op : ops) ptrs.push_back(&op);
    DeltaSet deltas(14 * kMicrosPerDay);
    Status s = store->ApplyBatch(ptrs, &deltas);
    EXPECT_TRUE(s.ok()) << s.ToString();
    for (const auto& op : ops) EXPECT_TRUE(op.status.ok()) << op.status.ToString();
  }

  // Commits one transaction of `learners` new learners and returns them.
  static std::vector<Utterance> CommitLearners(SqliteStore* store, int learners, int errors) {
    std::vector<Utterance> made(learners);
    std::vector<WriteOp> ops;
    for (int i = 0; i < learners; ++i) {
      for (auto& op : LearnerOps(errors, &made[i])) ops.push_back(std::move(op));
    }
    Commit(store, ops);
    return made;
  }

  // Expects every utterance, with its errors, to be readable from `store`.
  static void ExpectReadable(SqliteStore* store, const std::vector<Utterance>& all) {
    size_t missing = 0;
    for (const auto& u : all) {
      auto v = store->GetConversation(u.conversation_id);
      if (!v.ok() || v->utterances.size() != 1 ||
          v->utterances[0].utterance_id != u.utterance_id ||
          v->utterances[0].errors.size() != u.errors.size()) {
        ++missing;
        continue;
      }
      auto p = store->LoadProfile(u.user_id);
      if (!p.ok() || p->TotalErrors() != static_cast<int64_t>(u.errors.size())) ++missing;
    }
    EXPECT_EQ(missing, 0u) << "of " << all.size();
  }

  // Counts rows of `table` in the database file at `path`, opened on its own.
  static int64_t CountRows(const std::string& path, const std::string& table) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    int64_t n = -1;
    const std::string sql = "SELECT count(*) FROM " + table;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
  }

  testutil::TempDir dir_{"ckpt-test"};
};

constexpr int64_t kFrameBytes = 4096 + 24;  // a WAL frame: page plus header

TEST_F(SqliteCheckpointTest, WalStaysBoundedUnderSustainedWrites) {
  constexpr int64_t kSoft = 128, kHard = 512;
  auto store = Open(Opts(kSoft, kHard));
  ASSERT_NE(store, nullptr);
  // Readers keep reading meanwhile, as the HTTP threads do.
  std::atomic<bool> done{false};
  std::vector<Utterance> all;
  std::mutex all_mu;
  std::thread reader([&] {
    while (!done.load()) {
      std::string id;
      {
        std::lock_guard lock(all_mu);
        if (!all.empty()) id = all[all.size() / 2].conversation_id;
      }
      if (!id.empty()) {
        EXPECT_TRUE(store->GetConversation(id).ok());
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  int64_t max_wal = 0;
  constexpr int kBatches = 1500;  // ~45k WAL frames: unbounded, the WAL would be ~180 MiB
  for (int i = 0; i < kBatches; ++i) {
    auto made = CommitLearners(store.get(), 4, 3);
    {
      std::lock_guard lock(all_mu);
      all.insert(all.end(), made.begin(), made.end());
    }
    max_wal = std::max(max_wal, WalBytes());
  }
  done = true;
  reader.join();
  const auto stats = store->wal_stats();
  RecordProperty("max_wal_bytes", std::to_string(max_wal));
  std::printf("max WAL %lld bytes (%lld frames); %llu checkpoints, %llu rewinds, %llu backstop waits\n",
              static_cast<long long>(max_wal), static_cast<long long>(max_wal / kFrameBytes),
              static_cast<unsigned long long>(stats.checkpoints),
              static_cast<unsigned long long>(stats.rewinds),
              static_cast<unsigned long long>(stats.backstop_waits));
  EXPECT_GT(stats.checkpoints, 0u);
  EXPECT_GT(stats.rewinds, 0u);  // the hard limit was reached and the WAL started over
  EXPECT_EQ(stats.failures, 0u);
  // Twice the hard limit plus one commit: while a rewind is under way, a WAL
  // that long makes the writer wait for it (~30 frames a commit here). Before
  // that backstop, a checkpointer short of CPU (ctest -j2 beside e2e servers)
  // let the WAL reach 2-11k frames; unbounded, it would reach ~45k.
  constexpr int64_t kSlack = kHard + 256;
  EXPECT_LE(max_wal, 32 + (kHard + kSlack) * kFrameBytes);
  std::string metrics;
  store->RenderMetrics(&metrics);
  EXPECT_NE(metrics.find("errata_sqlite_wal_rewinds_total "), std::string::npos);
  EXPECT_NE(metrics.find("errata_sqlite_wal_backstop_waits_total "), std::string::npos);
  ExpectReadable(store.get(), all);
}

TEST_F(SqliteCheckpointTest, CleanCloseCheckpointsTheWalIntoTheDatabaseFile) {
  // Thresholds never reached: until the close, every commit stays in the WAL.
  auto store = Open(Opts(1 << 20, 0));
  ASSERT_NE(store, nullptr);
  // Another connection to the file keeps SQLite's own checkpoint-on-last-close
  // from running, so only the store's final checkpoint can move the data.
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open_v2(db_path().c_str(), &other, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "SELECT count(*) FROM users", nullptr, nullptr, nullptr),
            SQLITE_OK);
  std::vector<Utterance> all;
  for (int i = 0; i < 50; ++i) {
    auto made = CommitLearners(store.get(), 4, 3);
    all.insert(all.end(), made.begin(), made.end());
  }
  ASSERT_GT(WalBytes(), 0);  // the commits are in the WAL
  store.reset();
  EXPECT_EQ(WalBytes(), 0);  // TRUNCATE: nothing left to recover
  // The database file alone, without its WAL, holds every row.
  const std::string copy = (dir_.path() / "copy.db").string();
  fs::copy_file(db_path(), copy);
  EXPECT_EQ(CountRows(copy, "users"), 200);
  EXPECT_EQ(CountRows(copy, "utterances"), 200);
  EXPECT_EQ(CountRows(copy, "errors"), 600);
  sqlite3_close(other);
  store = Open(Opts(1 << 20, 0));
  ASSERT_NE(store, nullptr);
  ExpectReadable(store.get(), all);
}

TEST_F(SqliteCheckpointTest, EveryAcknowledgedWriteIsReadableAfterReopen) {
  std::vector<Utterance> acked;
  {
    auto store = Open(Opts(16, 64));
    ASSERT_NE(store, nullptr);
    Metrics metrics{{}};
    ProfileCache cache(store.get(), &metrics, ProfileCache::Options{100, 0});
    Writer writer(store.get(), &cache, &metrics, Writer::Options{500, 1000, 1000});
    writer.Start();
    std::mutex mu;
    std::vector<std::thread> threads;
    for (int t = 0; t < 6; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 100; ++i) {
          Utterance u;
          WriteRequest r = testutil::WriteAndWait(&writer, LearnerOps(2, &u));
          if (!r.status.ok()) continue;  // not acknowledged: no promise made
          std::lock_guard lock(mu);
          acked.push_back(u);
        }
      });
    }
    for (auto& t : threads) t.join();
    writer.Stop();
    EXPECT_EQ(acked.size(), 600u);
    EXPECT_GT(store->wal_stats().checkpoints, 1u);
  }
  EXPECT_EQ(WalBytes(), 0);  // a clean close leaves no WAL to replay
  auto store = Open(Opts(16, 64));
  ASSERT_NE(store, nullptr);
  ExpectReadable(store.get(), acked);
}

TEST_F(SqliteCheckpointTest, IdleStoreIsCheckpointed) {
  SqliteStore::Options o = Opts(1 << 20, 0);
  o.checkpoint_idle = std::chrono::milliseconds(50);
  auto store = Open(o);
  ASSERT_NE(store, nullptr);
  // The start-up checkpoint (of an empty WAL) comes first.
  for (int i = 0; i < 200 && store->wal_stats().checkpoints == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::vector<Utterance> all;
  for (int i = 0; i < 20; ++i) {
    auto made = CommitLearners(store.get(), 2, 1);
    all.insert(all.end(), made.begin(), made.end());
  }
  const uint64_t before = store->wal_stats().checkpoints;
  // No commit for a while: the checkpointer copies the WAL into the file.
  for (int i = 0; i < 200 && store->wal_stats().checkpoints == before; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GT(store->wal_stats().checkpoints, before);
  const std::string copy = (dir_.path() / "copy.db").string();
  fs::copy_file(db_path(), copy);
  EXPECT_EQ(CountRows(copy, "users"), 40);
  EXPECT_EQ(CountRows(copy, "errors"), 40);
}

// One commit can take the WAL past twice the hard limit (a bulk ingest). The
// checkpointer then rewinds it: the WAL is fully copied but keeps its length
// until the next transaction starts it over. That next commit must not wait
// for another checkpoint round: there is nothing left to copy, and before the
// fix no round came, so it waited out the whole backstop (10 s by default;
// here an hour, so the old code fails by never returning).
TEST_F(SqliteCheckpointTest, ACommitAfterARewoundLongWalDoesNotWaitForTheBackstop) {
  constexpr int64_t kSoft = 64, kHard = 128;
  SqliteStore::Options o = Opts(kSoft, kHard);
  o.backstop_wait = std::chrono::hours(1);
  auto store = Open(o);
  ASSERT_NE(store, nullptr);
  std::vector<WriteOp> big;
  for (int i = 0; i < 300; ++i) {
    Utterance u;
    for (auto& op : testutil::NewLearnerOps(std::string(3000, 'a' + i % 26), &u)) {
      big.push_back(std::move(op));
    }
  }
  Commit(store.get(), big);
  ASSERT_GE(store->wal_stats().wal_pages, 2 * kHard) << "the batch must pass the backstop";
  for (int i = 0; i < 500 && store->wal_stats().rewinds == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(store->wal_stats().rewinds, 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the round ends

  auto done = std::make_shared<std::promise<void>>();
  auto next = done->get_future();
  std::thread([s = store.get(), done] {
    Utterance u;
    std::vector<WriteOp> ops = LearnerOps(1, &u);
    Commit(s, ops);
    done->set_value();
  }).detach();
  ASSERT_EQ(next.wait_for(std::chrono::seconds(60)), std::future_status::ready)
      << "the commit after the rewind waited for a checkpoint round that never came";
  EXPECT_LT(store->wal_stats().wal_pages, kHard) << "the WAL started over";
}

// A reader that stays in the WAL (errata backup's copy is one read of
// seconds) cannot be waited out: the writer is not held behind the WAL's
// backstop for it, the WAL grows while it stays, and rewinds once it leaves
// (docs/backup.md). Before, every commit past twice the hard limit waited for
// a checkpoint round that could not copy past the reader.
TEST_F(SqliteCheckpointTest, AReaderInTheWalDoesNotHoldTheWriterBehindTheBackstop) {
  constexpr int64_t kSoft = 32, kHard = 64;
  SqliteStore::Options o = Opts(kSoft, kHard);
  o.backstop_wait = std::chrono::hours(1);
  auto store = Open(o);
  ASSERT_NE(store, nullptr);
  CommitLearners(store.get(), 4, 3);
  sqlite3* reader = nullptr;
  ASSERT_EQ(sqlite3_open_v2(db_path().c_str(), &reader, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM users;", nullptr, nullptr, nullptr),
            SQLITE_OK);
  // Keep committing until the checkpointer has found the reader twice.
  std::vector<Utterance> all;
  for (int i = 0; i < 20000 && store->wal_stats().reader_busy < 2; ++i) {
    auto made = CommitLearners(store.get(), 4, 3);
    all.insert(all.end(), made.begin(), made.end());
    if (store->wal_stats().reader_busy == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // Well past the backstop, and no commit held any more: the rounds know the
  // reader. (Commits before the first round that found it ended may have
  // waited; how many depends on the machine's load, so they are not counted.)
  const uint64_t waits_once_found = store->wal_stats().backstop_waits;
  for (int i = 0; i < 300; ++i) {
    auto made = CommitLearners(store.get(), 4, 3);
    all.insert(all.end(), made.begin(), made.end());
  }
  const auto held = store->wal_stats();
  EXPECT_GE(held.reader_busy, 2u);
  EXPECT_GT(held.wal_pages, 4 * kHard) << "the WAL grows while the reader stays";
  EXPECT_EQ(held.backstop_waits, waits_once_found);
  std::string metrics;
  store->RenderMetrics(&metrics);
  EXPECT_NE(metrics.find("errata_sqlite_checkpoint_reader_busy_total "), std::string::npos);

  sqlite3_exec(reader, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_close(reader);
  const uint64_t rewinds = held.rewinds;
  for (int i = 0; i < 1000 && store->wal_stats().rewinds == rewinds; ++i) {
    auto made = CommitLearners(store.get(), 1, 1);
    all.insert(all.end(), made.begin(), made.end());
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GT(store->wal_stats().rewinds, rewinds) << "the WAL starts over once the reader left";
  ExpectReadable(store.get(), all);
}

// Whether the file at `path` holds the bytes of `text` anywhere.
bool FileHolds(const std::string& path, const std::string& text) {
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return bytes.find(text) != std::string::npos;
}

// An erase leaves none of the learner's words in the database file: the
// cells and pages it frees are overwritten with zeros (secure_delete, for the
// erase's transaction only; docs/erasure.md). Without it, the freed cells
// keep their bytes until SQLite reuses them.
TEST_F(SqliteCheckpointTest, AnEraseLeavesNoneOfTheLearnersWordsInTheFile) {
  const std::string words = "Zqxjv quietly told the parrot " + NewUuidV7(NowMicros());
  Utterance erased, kept;
  {
    auto store = Open(Opts(1 << 20, 0));
    ASSERT_NE(store, nullptr);
    std::vector<WriteOp> ops = testutil::NewLearnerOps(words, &erased);
    ops[0].user.email = "zqxjv.parrot@example.com";
    Commit(store.get(), ops);
    for (int i = 0; i < 50; ++i) {
      ops = LearnerOps(2, &kept);
      Commit(store.get(), ops);
    }
  }
  ASSERT_TRUE(FileHolds(db_path(), words));  // checkpointed into the file at close
  ASSERT_TRUE(FileHolds(db_path(), "zqxjv.parrot@example.com"));
  {
    auto store = Open(Opts(1 << 20, 0));
    ASSERT_NE(store, nullptr);
    std::vector<WriteOp> ops{testutil::EraseOp(erased.user_id)};
    Commit(store.get(), ops);
    ops = LearnerOps(1, &kept);  // a write after it: secure_delete is off again
    Commit(store.get(), ops);
    EXPECT_TRUE(store->GetConversation(kept.conversation_id).ok());
  }
  EXPECT_FALSE(FileHolds(db_path(), words));
  EXPECT_FALSE(FileHolds(db_path(), "zqxjv.parrot@example.com"));
}

// A lookup by email must not take a second read connection while it holds
// one: with a pool of one it would wait for itself forever.
TEST_F(SqliteCheckpointTest, FindUserByEmailWithOneReadConnection) {
  SqliteStore::Options o = Opts(1 << 20, 0);
  o.read_connections = 1;
  auto store = Open(o);
  ASSERT_NE(store, nullptr);
  Utterance u;
  std::vector<WriteOp> ops = testutil::NewLearnerOps("hello", &u);
  ops[0].user.email = "Ada@Example.org";
  Commit(store.get(), ops);

  auto found = std::make_shared<std::promise<Result<User>>>();
  auto result = found->get_future();
  std::thread([s = store.get(), found] { found->set_value(s->FindUserByEmail("ada@example.org")); })
      .detach();
  ASSERT_EQ(result.wait_for(std::chrono::seconds(10)), std::future_status::ready)
      << "FindUserByEmail never returned";
  auto user = result.get();
  ASSERT_TRUE(user.ok()) << user.status().ToString();
  EXPECT_EQ(user->user_id, u.user_id);
  EXPECT_EQ(user->email, std::optional<std::string>("Ada@Example.org"));
  EXPECT_EQ(store->GetUser(u.user_id)->email, user->email);
}

// An export that its sink stops early (errata copy's emptiness check) leaves
// no read transaction open on the pooled connection: with one reader, a
// write after it is seen, and the final checkpoint at close is not blocked.
TEST_F(SqliteCheckpointTest, AnExportStoppedEarlyLeavesNoSnapshotBehind) {
  SqliteStore::Options o = Opts(1 << 20, 0);
  o.read_connections = 1;
  auto store = Open(o);
  ASSERT_NE(store, nullptr);
  Utterance first, second;
  std::vector<WriteOp> ops = testutil::NewLearnerOps("one", &first);
  Commit(store.get(), ops);
  int pages = 0;
  const Status stopped = store->Export(1, ExportOrder::kWritten, [&](std::vector<WriteOp>&) {
    ++pages;
    return Status::Internal("stop");
  });
  EXPECT_EQ(stopped.message(), "stop");
  EXPECT_EQ(pages, 1);
  ops = testutil::NewLearnerOps("two", &second);
  Commit(store.get(), ops);
  auto user = store->GetUser(second.user_id);
  EXPECT_TRUE(user.ok()) << user.status().ToString();
}

// The pages of the database file in this process's RSS (RssFile, KiB).
int64_t RssFileKib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("RssFile:")) return std::stoll(line.substr(8));
  }
  return -1;
}

// A reader maps the database file, and the pages a bulk read touched stay in
// the process's RSS until ReleaseReadMappings unmaps them (the warm restart
// calls it at its end); reads go on as before after it.
TEST_F(SqliteCheckpointTest, ReleaseReadMappingsGivesBackTheMappedPages) {
  std::vector<Utterance> made(2000);
  {
    auto store = Open(Opts(1 << 20, 0));
    ASSERT_NE(store, nullptr);
    std::vector<WriteOp> ops;
    for (auto& u : made) {
      for (auto& op : testutil::NewLearnerOps(std::string(8000, 'x'), &u)) ops.push_back(std::move(op));
    }
    Commit(store.get(), ops);
  }  // a clean close checkpoints: the pages are in the file, where readers map them
  SqliteStore::Options o = Opts(1 << 20, 0);
  o.read_connections = 1;
  auto store = Open(o);
  ASSERT_NE(store, nullptr);
  const int64_t before = RssFileKib();
  ASSERT_GE(before, 0);
  int64_t exported = 0;
  ASSERT_TRUE(store->Export(100, ExportOrder::kWritten, [&](std::vector<WriteOp>& page) {
    exported += static_cast<int64_t>(page.size());
    return Status::Ok();
  }).ok());
  EXPECT_EQ(exported, 3 * 2000);  // a user, a conversation and an utterance each
  const int64_t mapped = RssFileKib();
  EXPECT_GT(mapped - before, 12 * 1024) << "the export read 16 MB of pages in place";
  store->ReleaseReadMappings();
  const int64_t after = RssFileKib();
  EXPECT_LT(after - before, 2 * 1024) << before << " " << mapped << " " << after;
  auto user = store->GetUser(made[1234].user_id);
  EXPECT_TRUE(user.ok()) << user.status().ToString();
}

// A profile load is one read transaction: its points and its examples come
// from the same snapshot, even while commits land between its queries.
TEST_F(SqliteCheckpointTest, ProfileLoadSeesOneSnapshot) {
  auto store = Open(Opts(1 << 20, 0));
  ASSERT_NE(store, nullptr);
  Utterance first;
  std::vector<WriteOp> ops = LearnerOps(1, &first);
  Commit(store.get(), ops);
  // Each commit adds one corrected error in a new utterance: while there are
  // fewer than kMaxExamples, a consistent load has one example per error.
  constexpr int kCommits = static_cast<int>(kMaxExamples) - 1;
  std::atomic<bool> done{false};
  std::atomic<int> loads{0}, torn{0};
  std::thread reader([&] {
    while (!done.load()) {
      auto p = store->LoadProfile(first.user_id);
      if (!p.ok()) continue;
      loads.fetch_add(1);
      if (static_cast<int64_t>(p->examples.size()) != p->TotalErrors()) torn.fetch_add(1);
    }
  });
  for (int i = 0; i < kCommits; ++i) {
    std::vector<WriteOp> batch(1);
    batch[0] = ops[2];
    batch[0].utterance.utterance_id = NewUuidV7(NowMicros());
    batch[0].utterance.errors[0].error_id = NewUuidV7(NowMicros());
    Commit(store.get(), batch);
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  done = true;
  reader.join();
  EXPECT_GT(loads.load(), 0);
  EXPECT_EQ(torn.load(), 0) << "of " << loads.load() << " loads";
  auto last = store->LoadProfile(first.user_id);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->TotalErrors(), kCommits + 1);
  EXPECT_EQ(static_cast<int64_t>(last->examples.size()), kCommits + 1);
}

// The learner search's queries use the indexes of migration 3: none reads
// every user, or sorts them (a store of a million learners answers a search
// in microseconds, not a scan's hundreds of milliseconds). A learner's
// conversations are read in the order of migration 6's index, unsorted.
TEST(SqlitePlanTest, SearchAndConversationQueriesUseTheirIndexes) {
  testutil::TempDir dir("search-plan");
  SqliteStore::Options o;
  o.path = (dir.path() / "errata.db").string();
  ASSERT_TRUE(SqliteStore::Open(o).ok());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(o.path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> close(db, &sqlite3_close);
  auto plan = [&](const char* sql) {
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, (std::string("EXPLAIN QUERY PLAN ") + sql).c_str(), -1, &st,
                                 nullptr),
              SQLITE_OK)
        << sqlite3_errmsg(db);
    std::string out;
    while (sqlite3_step(st) == SQLITE_ROW) {
      out += reinterpret_cast<const char*>(sqlite3_column_text(st, 3));
      out += "\n";
    }
    sqlite3_finalize(st);
    return out;
  };
  EXPECT_EQ(plan(sqlite::kSearchByEmail),
            "SEARCH users USING INDEX sqlite_autoindex_users_2 (email_norm>? AND email_norm<?)\n");
  EXPECT_EQ(plan(sqlite::kSearchByName), "SEARCH users USING INDEX users_name (<expr>>? AND <expr><?)\n");
  EXPECT_EQ(plan(sqlite::kNewestUsers), "SCAN users USING INDEX users_created\n");
  // A learner's conversations: read in the index's order (no sort), each
  // one's utterances counted from their index alone.
  const std::string counts =
      "CORRELATED SCALAR SUBQUERY 1\n"
      "SEARCH u USING COVERING INDEX utterances_conversation (conversation_id=?)\n"
      "CORRELATED SCALAR SUBQUERY 2\n"
      "SEARCH u USING COVERING INDEX utterances_conversation (conversation_id=?)\n";
  EXPECT_EQ(plan(sqlite::kConversationsFirst),
            "SEARCH c USING COVERING INDEX conversations_user_time (user_id=?)\n" + counts);
  EXPECT_EQ(plan(sqlite::kConversationsAfter),
            "SEARCH c USING COVERING INDEX conversations_user_time (user_id=? AND started_at<?)\n" +
                counts);
}

// The name and definition of every index in the database at `path`, and
// the meta keys that hold deferred ones.
std::vector<std::string> IndexesAndDeferred(const std::string& path) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> close(db, &sqlite3_close);
  std::vector<std::string> out;
  for (const char* sql : {"SELECT name || ': ' || ifnull(sql, '') FROM sqlite_master"
                          " WHERE type = 'index' ORDER BY name",
                          "SELECT key FROM meta WHERE key LIKE 'deferred%' ORDER BY key"}) {
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    while (sqlite3_step(st) == SQLITE_ROW) {
      out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
    }
    sqlite3_finalize(st);
  }
  return out;
}

// A copy into SQLite builds the secondary indexes at its end (docs/copy.md):
// between BeginBulkLoad and EndBulkLoad they are gone (their definitions
// wait in meta) and writes still apply; after, every index is back exactly
// as the schema made it, with the rows written meanwhile, and the meta table
// is as before.
TEST_F(SqliteCheckpointTest, ABulkLoadBuildsTheSameIndexesAtItsEnd) {
  auto store = Open(Opts(1 << 20, 0));
  ASSERT_NE(store, nullptr);
  store.reset();
  const std::vector<std::string> fresh = IndexesAndDeferred(db_path());
  ASSERT_GE(fresh.size(), 7u);
  store = Open(Opts(1 << 20, 0));
  Utterance u;
  for (int round = 0; round < 2; ++round) {  // the same connection and statements again
    ASSERT_TRUE(store->BeginBulkLoad().ok());
    std::vector<WriteOp> ops = LearnerOps(2, &u);
    Commit(store.get(), ops);
    const std::vector<std::string> during = IndexesAndDeferred(db_path());
    EXPECT_EQ(std::count_if(during.begin(), during.end(),
                            [](const std::string& s) { return s.starts_with("deferred_index:"); }),
              7);
    EXPECT_EQ(std::count_if(during.begin(), during.end(),
                            [](const std::string& s) { return s.starts_with("sqlite_autoindex_"); }),
              static_cast<long>(during.size()) - 7);
    const Status end = store->EndBulkLoad();
    ASSERT_TRUE(end.ok()) << end.ToString();
    EXPECT_EQ(IndexesAndDeferred(db_path()), fresh);
  }
  auto profile = store->LoadProfile(u.user_id);
  ASSERT_TRUE(profile.ok()) << profile.status().ToString();
  EXPECT_EQ(profile->examples.size(), 2u);  // read through errors_user_time
  auto conv = store->GetConversation(u.conversation_id);
  ASSERT_TRUE(conv.ok()) << conv.status().ToString();
  EXPECT_EQ(conv->utterances.size(), 1u);  // through utterances_conversation
}

// A store whose copy stopped before EndBulkLoad holds part of a copy, without
// its indexes: it refuses to open, and says what to do.
TEST_F(SqliteCheckpointTest, AStoreWithAnUnfinishedBulkLoadRefusesToOpen) {
  auto store = Open(Opts(1 << 20, 0));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->BeginBulkLoad().ok());
  store.reset();
  auto again = SqliteStore::Open(Opts(1 << 20, 0));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(again.status().message().find("did not finish"), std::string::npos)
      << again.status().message();
}

}  // namespace
}  // namespace errata
