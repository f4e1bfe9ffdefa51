// The write path against a real SQLite file: group commit, exact counts,
// read-through cache, and faults.
#include "store/writer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "core/ids.h"
#include "store/fault_store.h"
#include "store/write_test_util.h"
#include "store/sqlite/sqlite_store.h"

namespace errata {
namespace {

class WriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("errata-writer-test-" + NewUuidV7(NowMicros()));
    std::filesystem::create_directories(dir_);
    auto s = SqliteStore::Open({(dir_ / "errata.db").string(), 14 * kMicrosPerDay, 2});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    sqlite_ = std::move(*s);
    fault_ = std::make_unique<FaultStore>(sqlite_.get());
    cache_ = std::make_unique<ProfileCache>(fault_.get(), &metrics_, ProfileCache::Options{100, 0});
    writer_ = std::make_unique<Writer>(fault_.get(), cache_.get(), &metrics_, Writer::Options{500, 1000, 100});
    writer_->Start();
  }
  void TearDown() override {
    writer_->Stop();
    std::filesystem::remove_all(dir_);
  }

  // Replaces the cache with one of `capacity` learners, and the writer with
  // one that feeds it.
  void UseCache(size_t capacity) {
    writer_->Stop();
    cache_ = std::make_unique<ProfileCache>(fault_.get(), &metrics_, ProfileCache::Options{capacity, 0});
    writer_ = std::make_unique<Writer>(fault_.get(), cache_.get(), &metrics_, Writer::Options{500, 1000, 100});
    writer_->Start();
  }

  // Submits one request of `ops` and waits for its commit.
  WriteRequest Write(std::vector<WriteOp> ops) {
    return testutil::WriteAndWait(writer_.get(), std::move(ops));
  }


  // A user with a conversation and an utterance, created through the writer.
  Utterance NewLearner() {
    Utterance out;
    WriteRequest r = Write(testutil::NewLearnerOps("hi", &out));
    EXPECT_TRUE(r.status.ok());
    for (const auto& op : r.ops) EXPECT_TRUE(op.status.ok()) << op.status.ToString();
    return out;
  }


  WriteOp Errors(const Utterance& u, const std::string& sub, int n) {
    return testutil::ErrorsOp(u, sub, n);
  }

  std::filesystem::path dir_;
  Metrics metrics_{{}};
  std::unique_ptr<SqliteStore> sqlite_;
  std::unique_ptr<FaultStore> fault_;
  std::unique_ptr<ProfileCache> cache_;
  std::unique_ptr<Writer> writer_;
};

TEST_F(WriterTest, ConcurrentWritersCountExactly) {
  const Utterance u = NewLearner();
  ASSERT_TRUE(cache_->Get(u.user_id).ok());  // cached before the writes: deltas keep it exact
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        WriteRequest r = Write({Errors(u, i % 2 ? "pronouns" : "prepositions", 2)});
        EXPECT_TRUE(r.status.ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  auto cached = cache_->Get(u.user_id);
  ASSERT_TRUE(cached.ok());
  EXPECT_EQ((*cached)->Find("pronouns")->count, 400);
  EXPECT_EQ((*cached)->Find("prepositions")->count, 400);
  auto stored = sqlite_->LoadProfile(u.user_id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->Find("pronouns")->count, 400);
  EXPECT_EQ(stored->TotalErrors(), 800);
}

TEST_F(WriterTest, FailedOpChangesNothingAndTheBatchGoesOn) {
  const Utterance u = NewLearner();
  Utterance stranger = u;
  stranger.utterance_id = NewUuidV7(NowMicros());  // not stored: NotFound
  WriteRequest r = Write({Errors(stranger, "pronouns", 3), Errors(u, "pronouns", 1)});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.ops[0].status.code(), Status::Code::kNotFound);
  EXPECT_TRUE(r.ops[1].status.ok());
  EXPECT_EQ(sqlite_->LoadProfile(u.user_id)->TotalErrors(), 1);
}

TEST_F(WriterTest, StoreFaultAnswersUnavailableAndLosesNothingAcknowledged) {
  const Utterance u = NewLearner();
  ASSERT_TRUE(Write({Errors(u, "pronouns", 2)}).status.ok());
  ASSERT_TRUE(cache_->Get(u.user_id).ok());
  fault_->set_failing(true);
  WriteRequest failed = Write({Errors(u, "pronouns", 5)});
  EXPECT_EQ(failed.status.code(), Status::Code::kUnavailable);
  EXPECT_FALSE(writer_->healthy());
  // The cached profile did not take the failed write; reads keep answering.
  EXPECT_EQ((*cache_->Get(u.user_id))->Find("pronouns")->count, 2);
  fault_->set_failing(false);
  ASSERT_TRUE(Write({Errors(u, "pronouns", 1)}).status.ok());
  EXPECT_TRUE(writer_->healthy());
  EXPECT_EQ((*cache_->Get(u.user_id))->Find("pronouns")->count, 3);
  EXPECT_EQ(sqlite_->LoadProfile(u.user_id)->Find("pronouns")->count, 3);
}

// A new utterance of u's learner with `n` corrected errors, as a client
// sends it with its own id: sent again, it is a replay.
WriteOp NewUtterance(const Utterance& u, const std::string& sub, int n) {
  WriteOp op = testutil::ErrorsOp(u, sub, n);
  op.kind = WriteOp::Kind::kAddUtterance;
  op.utterance.utterance_id = NewUuidV7(NowMicros());
  op.utterance.created_at = NowMicros();
  op.client_id = true;
  op.request_hash = 42;
  for (auto& e : op.utterance.errors) {
    e.original = "hi";
    e.correction = "hello";
    e.created_at = op.utterance.created_at;
  }
  return op;
}

void ExpectSameAsStore(const Profile& got, const Profile& want) {
  EXPECT_EQ(got.TotalErrors(), want.TotalErrors());
  ASSERT_EQ(got.examples.size(), want.examples.size());
  for (size_t i = 0; i < got.examples.size(); ++i) {
    EXPECT_EQ(got.examples[i].error_id, want.examples[i].error_id) << "example " << i;
  }
  ASSERT_EQ(got.recent_correct.size(), want.recent_correct.size());
  for (size_t i = 0; i < got.recent_correct.size(); ++i) {
    EXPECT_EQ(got.recent_correct[i].exercise_id, want.recent_correct[i].exercise_id)
        << "answer " << i;
    EXPECT_EQ(got.recent_correct[i].answered_at, want.recent_correct[i].answered_at)
        << "answer " << i;
  }
}

// PostgreSQL can lose the answer to a COMMIT that happened: the batch fails,
// and the client's retry is a replay that adds nothing. The cached profile
// must not go on without that commit.
TEST_F(WriterTest, AFailedBatchThatCommittedIsReadAgainFromTheStore) {
  const Utterance u = NewLearner();
  ASSERT_TRUE(Write({Errors(u, "pronouns", 2)}).status.ok());
  ASSERT_EQ((*cache_->Get(u.user_id))->Find("pronouns")->count, 2);
  const WriteOp sent = NewUtterance(u, "pronouns", 3);
  fault_->lose_next_commit_answer();
  EXPECT_EQ(Write({sent}).status.code(), Status::Code::kUnavailable);
  // The store goes down: the profile is still served as it was, and writes
  // that fail for certain make nothing more suspect.
  fault_->set_failing(true);
  EXPECT_EQ(Write({Errors(u, "pronouns", 1)}).status.code(), Status::Code::kUnavailable);
  auto served = cache_->Get(u.user_id);
  ASSERT_TRUE(served.ok()) << served.status().ToString();
  EXPECT_EQ((*served)->Find("pronouns")->count, 2);
  fault_->set_failing(false);
  WriteRequest retry = Write({sent});
  ASSERT_TRUE(retry.status.ok());
  ASSERT_TRUE(retry.ops[0].replayed);
  auto stored = sqlite_->LoadProfile(u.user_id);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->Find("pronouns")->count, 5);
  auto cached = cache_->Get(u.user_id);
  ASSERT_TRUE(cached.ok());
  ExpectSameAsStore(**cached, *stored);
  // Cached again, and kept exact by the next commit.
  ASSERT_TRUE(Write({Errors(u, "pronouns", 1)}).status.ok());
  EXPECT_EQ((*cache_->Get(u.user_id))->Find("pronouns")->count, 6);
}

// The commits' edits keep and drop the same examples and correct answers a
// load from the store gives: errors of one utterance tie on their time, one
// utterance can hold more than 30, and an answer can be back-dated.
TEST_F(WriterTest, TheCachedProfileKeepsTheStoresExamplesAndAnswers) {
  const Utterance u = NewLearner();
  ASSERT_TRUE(cache_->Get(u.user_id).ok());
  for (int n : {3, 35, 4}) ASSERT_TRUE(Write({NewUtterance(u, "pronouns", n)}).status.ok());
  const Micros now = NowMicros();
  std::vector<Micros> times;
  for (int i = 0; i < 110; ++i) times.push_back(now - (i + 1) * kMicrosPerSecond);
  std::mt19937 rng(3);
  std::shuffle(times.begin(), times.end(), rng);
  for (size_t i = 0; i < times.size(); i += 10) {
    std::vector<WriteOp> ops;
    for (size_t j = i; j < i + 10; ++j) {
      WriteOp op;
      op.kind = WriteOp::Kind::kRecordAttempt;
      op.attempt = Attempt{NewUuidV7(times[j]), u.user_id, "ex-" + std::to_string(j), "pronouns",
                           true, std::string("go"), times[j]};
      ops.push_back(op);
    }
    ASSERT_TRUE(Write(std::move(ops)).status.ok());
  }
  auto stored = sqlite_->LoadProfile(u.user_id);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->examples.size(), kMaxExamples);
  ASSERT_EQ(stored->recent_correct.size(), kMaxRecentCorrect);
  auto cached = cache_->Get(u.user_id);
  ASSERT_TRUE(cached.ok());
  ExpectSameAsStore(**cached, *stored);
}

TEST_F(WriterTest, BatchesAreCappedByOps) {
  Metrics metrics({});
  Writer small(fault_.get(), cache_.get(), &metrics, Writer::Options{0, 1000, 100, 3});
  const Utterance u = NewLearner();
  std::vector<std::future<size_t>> sizes;
  std::vector<std::promise<size_t>> promises(4);
  for (auto& p : promises) sizes.push_back(p.get_future());
  for (int i = 0; i < 4; ++i) {
    auto req = std::make_unique<WriteRequest>();
    req->ops = {Errors(u, "pronouns", 1), Errors(u, "pronouns", 1)};  // 2 ops each
    req->done = [&promises, i](WriteRequest& r) { promises[i].set_value(r.ops.size()); };
    ASSERT_TRUE(small.Submit(std::move(req)).ok());
  }
  small.Start();  // four requests of 2 ops, at most 3 ops a batch: four commits
  for (auto& f : sizes) EXPECT_EQ(f.get(), 2u);
  small.Stop();
  // Queued before the writer started, uncapped they would be one commit.
  EXPECT_NE(metrics.Render().find("errata_commit_batch_requests_count 4\n"), std::string::npos)
      << metrics.Render();
  EXPECT_EQ(sqlite_->LoadProfile(u.user_id)->Find("pronouns")->count, 8);
}

// An erase queued between writes of its learner commits in a batch of its
// own: the writes before it are erased too, the one after it finds nothing,
// and the learner's cached profile becomes an unknown user's.
TEST_F(WriterTest, AnEraseCommitsAloneBetweenItsLearnersWrites) {
  const Utterance u = NewLearner();
  ASSERT_TRUE((*cache_->Get(u.user_id))->user_known);
  Utterance other;
  Metrics metrics({});
  Writer writer(fault_.get(), cache_.get(), &metrics, Writer::Options{0, 1000, 100});
  const std::vector<WriteRequest> r =
      testutil::EraseBetweenWrites(&writer, u, testutil::NewLearnerOps("hello", &other));
  writer.Stop();
  ASSERT_EQ(r.size(), 4u);
  EXPECT_TRUE(r[0].ops[0].status.ok());
  ASSERT_TRUE(r[1].ops[0].status.ok()) << r[1].ops[0].status.ToString();
  EXPECT_EQ(r[1].ops[0].erased.errors, 2);
  EXPECT_EQ(r[1].ops[0].erased.utterances, 1);
  EXPECT_EQ(r[2].ops[0].status.code(), Status::Code::kNotFound);
  for (const WriteOp& op : r[3].ops) EXPECT_TRUE(op.status.ok()) << op.status.ToString();
  // [errors], [erase], [errors, other]: three commits (one, uncapped).
  EXPECT_NE(metrics.Render().find("errata_commit_batch_requests_count 3\n"), std::string::npos)
      << metrics.Render();
  EXPECT_NE(metrics.Render().find("\nerrata_learners_erased_total 1\n"), std::string::npos)
      << metrics.Render();
  EXPECT_FALSE((*cache_->Get(u.user_id))->user_known);
  EXPECT_FALSE(sqlite_->LoadProfile(u.user_id)->user_known);
  EXPECT_TRUE(sqlite_->LoadProfile(other.user_id)->user_known);
}

TEST_F(WriterTest, FullQueueIsRefused) {
  Writer stopped(fault_.get(), cache_.get(), &metrics_, Writer::Options{0, 10, 2});
  // Not started: nothing drains the queue.
  for (int i = 0; i < 2; ++i) EXPECT_TRUE(stopped.Submit(std::make_unique<WriteRequest>()).ok());
  EXPECT_EQ(stopped.Submit(std::make_unique<WriteRequest>()).code(), Status::Code::kUnavailable);
  EXPECT_TRUE(stopped.nearly_full());  // 2 of 2 requests
  stopped.Start();
  stopped.Stop();  // drains the two
  EXPECT_EQ(stopped.depth(), 0u);
}

TEST_F(WriterTest, AQueueFullOfOpsIsRefused) {
  Writer::Options o{0, 10, 100};
  o.queue_ops_capacity = 20;
  Writer stopped(fault_.get(), cache_.get(), &metrics_, o);
  const Utterance u = NewLearner();
  auto request = [&](int ops) {  // each op of one error weighs 2
    auto r = std::make_unique<WriteRequest>();
    for (int i = 0; i < ops; ++i) r->ops.push_back(Errors(u, "pronouns", 1));
    return r;
  };
  // Not started: nothing drains the queue. An empty queue takes any request.
  EXPECT_TRUE(stopped.Submit(request(12)).ok());
  EXPECT_EQ(stopped.Submit(request(1)).code(), Status::Code::kUnavailable);
  stopped.Start();
  stopped.Stop();  // drains it
  EXPECT_TRUE(stopped.depth() == 0u);
  Writer again(fault_.get(), cache_.get(), &metrics_, o);
  EXPECT_TRUE(again.Submit(request(6)).ok());
  EXPECT_FALSE(again.nearly_full());             // 12 of 20, 1 of 10 requests
  EXPECT_TRUE(again.Submit(request(3)).ok());
  EXPECT_TRUE(again.nearly_full());              // 18 of 20
  EXPECT_EQ(again.queued_weight(), 18u);
  EXPECT_TRUE(again.Submit(request(1)).ok());   // 20: at the limit
  EXPECT_EQ(again.Submit(request(1)).code(), Status::Code::kUnavailable);
  EXPECT_EQ(again.depth(), 3u);
  again.Start();
  again.Stop();
  EXPECT_EQ(again.queued_weight(), 0u);
  // The ops taken out make room again.
  Writer third(fault_.get(), cache_.get(), &metrics_, o);
  EXPECT_TRUE(third.Submit(request(10)).ok());
  third.Start();
  third.Stop();
  EXPECT_EQ(sqlite_->LoadProfile(u.user_id)->Find("pronouns")->count, 12 + 10 + 10);
}

// The ops bound weighs an op as 1 plus its errors: one op may carry 1,000
// errors (about 1 MiB), and counted as 1 the queue's memory had no bound
// but its 10,000 requests.
// A writer's options with an ops bound of `ops`, and a request of one op
// with `errors` errors: the queue-weight tests' pieces.
Writer::Options OpsBound(size_t ops) {
  Writer::Options o{0, 10, 100};
  o.queue_ops_capacity = ops;
  return o;
}
std::unique_ptr<WriteRequest> PronounErrors(const Utterance& u, int errors) {
  auto r = std::make_unique<WriteRequest>();
  r->ops.push_back(testutil::ErrorsOp(u, "pronouns", errors));
  return r;
}

TEST_F(WriterTest, AnOpWeighsOnePlusItsErrors) {
  Writer stopped(fault_.get(), cache_.get(), &metrics_, OpsBound(10));
  const Utterance u = NewLearner();
  auto request = [&](int errors) { return PronounErrors(u, errors); };
  EXPECT_EQ(QueueWeight(*request(4)), 5u);
  // Not started: nothing drains the queue.
  EXPECT_TRUE(stopped.Submit(request(4)).ok());
  EXPECT_EQ(stopped.queued_weight(), 5u);
  EXPECT_FALSE(stopped.nearly_full());           // 5 of 10
  EXPECT_TRUE(stopped.Submit(request(3)).ok());
  EXPECT_EQ(stopped.queued_weight(), 9u);
  EXPECT_TRUE(stopped.nearly_full());            // 9 of 10: /readyz says not ready
  EXPECT_EQ(stopped.Submit(request(1)).code(), Status::Code::kUnavailable);  // 11
  EXPECT_TRUE(stopped.Submit(request(0)).ok());  // 10: at the limit
  stopped.Start();
  stopped.Stop();  // drains it
  EXPECT_EQ(stopped.queued_weight(), 0u);
  EXPECT_EQ(sqlite_->LoadProfile(u.user_id)->Find("pronouns")->count, 4 + 3);
}

// A request heavier than the bound (a large ingest) is let in while the queue
// is at most half full: only when it was empty, steady small writes shut it
// out for good.
TEST_F(WriterTest, AHeavyRequestGetsInWhileTheQueueIsHalfFull) {
  Writer stopped(fault_.get(), cache_.get(), &metrics_, OpsBound(10));
  const Utterance u = NewLearner();
  auto request = [&](int errors) { return PronounErrors(u, errors); };
  EXPECT_TRUE(stopped.Submit(request(4)).ok());   // 5 of 10
  EXPECT_TRUE(stopped.Submit(request(29)).ok());  // 30, counted as 5
  EXPECT_EQ(stopped.queued_weight(), 35u);
  EXPECT_EQ(stopped.Submit(request(29)).code(), Status::Code::kUnavailable);  // full
  stopped.Start();
  stopped.Stop();
  EXPECT_EQ(sqlite_->LoadProfile(u.user_id)->Find("pronouns")->count, 4 + 29);
}

// A learner created through the writer is cached by the commit that created
// them, with what that commit and later ones added: their reads need no store
// (here the store is down for reads), and they equal what the store loads.
TEST_F(WriterTest, NewLearnersAreCachedWithoutALoad) {
  UseCache(64 * 16);
  const Utterance made = NewLearner();  // POST /users, /conversations, /utterances
  const Micros now = NowMicros();
  Utterance first_sight{NewUuidV7(now), NewUuidV7(now), NewUuidV7(now), "I goes", now, {}};
  WriteOp ingest = Errors(first_sight, "verb_tense", 2);
  ingest.kind = WriteOp::Kind::kAddUtterance;
  ingest.create_missing = true;
  ingest.user = User{first_sight.user_id, "ingested", std::nullopt, now};
  ingest.utterance.errors[0].correction = "went";
  ASSERT_TRUE(Write({ingest, Errors(first_sight, "articles", 1)}).status.ok());
  ASSERT_TRUE(Write({Errors(made, "articles", 3)}).status.ok());

  fault_->set_failing(true);
  for (const auto& [id, errors] : {std::pair{made.user_id, 3}, {first_sight.user_id, 3}}) {
    auto cached = cache_->Get(id);
    ASSERT_TRUE(cached.ok()) << id << ": " << cached.status().ToString();
    EXPECT_TRUE((*cached)->user_known);
    EXPECT_EQ((*cached)->TotalErrors(), errors);
  }
  fault_->set_failing(false);
  for (const auto& id : {made.user_id, first_sight.user_id}) {
    auto cached = cache_->Get(id);
    auto stored = sqlite_->LoadProfile(id);
    ASSERT_TRUE(cached.ok() && stored.ok());
    ASSERT_EQ((*cached)->points.size(), stored->points.size());
    for (const auto& point : stored->points) {
      const ErrorPoint* c = (*cached)->Find(point.subcategory_id());
      ASSERT_NE(c, nullptr) << point.subcategory_id();
      EXPECT_EQ(c->count, point.count);
      EXPECT_EQ(c->first_seen, point.first_seen);
      EXPECT_EQ(c->last_seen, point.last_seen);
      EXPECT_NEAR(c->decay_log2, point.decay_log2, 1e-9);
    }
    EXPECT_EQ((*cached)->examples.size(), stored->examples.size());
  }
}

// New learners only fill free room: a bulk of them never evicts a learner
// somebody read.
TEST_F(WriterTest, NewLearnersDoNotEvictReadLearners) {
  UseCache(64);  // one learner per shard
  const Utterance read = NewLearner();
  cache_->Get(read.user_id);  // cached (created, or loaded)
  for (int i = 0; i < 600; ++i) NewLearner();  // ~9 per shard
  EXPECT_LE(cache_->size(), 64u);
  fault_->set_failing(true);
  auto cached = cache_->Get(read.user_id);
  EXPECT_TRUE(cached.ok()) << cached.status().ToString();
  fault_->set_failing(false);
}

TEST_F(WriterTest, CacheIsBoundedAndReadsThrough) {
  std::vector<Utterance> learners;
  for (int i = 0; i < 150; ++i) learners.push_back(NewLearner());
  for (const auto& u : learners) {
    auto p = cache_->Get(u.user_id);
    ASSERT_TRUE(p.ok());
    EXPECT_TRUE((*p)->user_known);
  }
  EXPECT_LE(cache_->size(), 100u);
  auto unknown = cache_->Get(NewUuidV7(NowMicros()));
  ASSERT_TRUE(unknown.ok());
  EXPECT_FALSE((*unknown)->user_known);
}

}  // namespace
}  // namespace errata

namespace errata {
namespace {

// Forwards to SQLite and records, for each commit, which fsync covered it.
class SyncWatchStore : public FaultStore {
 public:
  using FaultStore::FaultStore;
  Status ApplyBatch(const std::vector<WriteOp*>& ops, DeltaSet* deltas) override {
    Status s = FaultStore::ApplyBatch(ops, deltas);
    std::lock_guard lock(mu_);
    const int n = ++committed_;
    for (const WriteOp* op : ops) commit_of_[op] = n;
    return s;
  }
  Status SyncCommitted() override {
    int upto;
    {
      std::lock_guard lock(mu_);
      upto = committed_;
      ++syncs_;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // a slow disk
    Status s = FaultStore::SyncCommitted();
    std::lock_guard lock(mu_);
    synced_ = std::max(synced_, upto);
    return s;
  }
  // Whether the commit that applied `op` was covered by a finished fsync.
  bool Synced(const WriteOp* op) {
    std::lock_guard lock(mu_);
    auto it = commit_of_.find(op);
    return it != commit_of_.end() && it->second <= synced_;
  }
  int syncs() {
    std::lock_guard lock(mu_);
    return syncs_;
  }

 private:
  std::mutex mu_;
  std::map<const WriteOp*, int> commit_of_;
  int committed_ = 0, synced_ = 0, syncs_ = 0;
};

// SQLite commits without an fsync (synchronous=NORMAL) and the Writer
// acknowledges only after an fsync that started after the commit: with many
// concurrent writers, no request is acknowledged early, and one fsync covers
// several batches when they queue up.
TEST(WriterDeferredSync, NoRequestIsAcknowledgedBeforeItsFsync) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("errata-writer-sync-test-" + NewUuidV7(NowMicros()));
  std::filesystem::create_directories(dir);
  {
    auto sqlite = SqliteStore::Open({(dir / "errata.db").string(), 14 * kMicrosPerDay, 2});
    ASSERT_TRUE(sqlite.ok());
    ASSERT_TRUE((*sqlite)->DeferredSync());
    SyncWatchStore store(sqlite->get());
    Metrics metrics({});
    ProfileCache cache(&store, &metrics, ProfileCache::Options{100, 0});
    Writer writer(&store, &cache, &metrics, Writer::Options{200, 1000, 1000});
    writer.Start();
    std::atomic<int> early{0}, acked{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < 8; ++c) {
      clients.emplace_back([&] {
        for (int i = 0; i < 25; ++i) {
          Utterance u;
          auto req = std::make_unique<WriteRequest>();
          req->ops = testutil::NewLearnerOps("hi", &u);
          std::promise<Status> done;
          // The callback sees the very ops ApplyBatch committed.
          req->done = [&](WriteRequest& r) {
            for (const WriteOp& op : r.ops) {
              if (!store.Synced(&op)) ++early;
            }
            done.set_value(r.status);
          };
          ASSERT_TRUE(writer.Submit(std::move(req)).ok());
          const Status st = done.get_future().get();
          EXPECT_TRUE(st.ok()) << st.ToString();
          ++acked;
        }
      });
    }
    for (auto& t : clients) t.join();
    writer.Stop();
    EXPECT_EQ(acked.load(), 200);
    EXPECT_EQ(early.load(), 0);
    EXPECT_GT(store.syncs(), 0);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace errata
