// The shared profile cache against a real redis-server (scripts/redis-start.sh
// in a temporary directory) and a real SQLite store: exact deltas under
// concurrent writers, reads on one node after writes on another, fills that
// race commits, absent learners, Redis stopped and started again.
#include "store/redis/redis_profiles.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "core/ids.h"
#include "core/own_words.h"
#include "metrics/metrics_test_util.h"
#include "store/fault_store.h"
#include "store/write_test_util.h"
#include "store/redis/profile_codec.h"
#include "store/sqlite/sqlite_store.h"
#include "store/writer.h"

namespace errata::redis {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A Store that forwards to another and runs hooks, to interleave a read with a
// commit exactly where a race would hurt. (FaultStore forwards the rest.)
class HookStore : public FaultStore {
 public:
  explicit HookStore(Store* inner) : FaultStore(inner), inner_(inner) {}
  std::function<void(const std::string&)> after_load;  // after LoadProfile read the store
  std::function<void()> after_commit;                  // after ApplyBatch committed

  Status ApplyBatch(const std::vector<WriteOp*>& ops, DeltaSet* deltas) override {
    Status s = FaultStore::ApplyBatch(ops, deltas);
    if (after_commit) after_commit();
    return s;
  }
  Result<Profile> LoadProfile(const std::string& id) override {
    auto p = inner_->LoadProfile(id);
    if (after_load) after_load(id);
    return p;
  }

 private:
  Store* inner_;
};

std::string Scripts() { return std::string(ERRATA_SOURCE_DIR) + "/scripts/"; }

// One errata node: its shared cache client, profile cache and (node A only) writer.
struct Node {
  Metrics metrics{{}};
  std::unique_ptr<RedisProfiles> shared;
  std::unique_ptr<ProfileCache> cache;
  std::unique_ptr<Writer> writer;
};

class RedisProfilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("errata-redis-test-" + NewUuidV7(NowMicros()));
    fs::create_directories(dir_);
    StartRedis();
    std::ifstream in(dir_ / "url");
    std::getline(in, url_);
    ASSERT_TRUE(url_.starts_with("redis://")) << url_;
    auto s = SqliteStore::Open({(dir_ / "errata.db").string(), 14 * kMicrosPerDay, 4});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    sqlite_ = std::move(*s);
    store_ = std::make_unique<HookStore>(sqlite_.get());
    a_ = MakeNode(/*with_writer=*/true);
    b_ = MakeNode(/*with_writer=*/false);
    ASSERT_TRUE(a_->shared->WaitUntilUp(3s));
    ASSERT_TRUE(b_->shared->WaitUntilUp(3s));
    auto parsed = ParseUrl(url_);
    ASSERT_TRUE(parsed.ok());
    redis_ = std::make_unique<RedisConn>(*parsed, RedisConn::Options{});
  }

  void TearDown() override {
    for (Node* n : {a_.get(), b_.get()}) {
      if (n == nullptr) continue;
      if (n->writer) n->writer->Stop();
      n->shared->Stop();
    }
    StopRedis();
    fs::remove_all(dir_);
  }

  std::unique_ptr<Node> MakeNode(bool with_writer) {
    auto n = std::make_unique<Node>();
    RedisProfiles::Options o;
    o.url = *ParseUrl(url_);
    o.probe_interval = 20ms;
    o.ping_interval = 50ms;
    n->shared = std::make_unique<RedisProfiles>(o, &n->metrics);
    n->shared->Start();
    // While Redis is down, the local cache serves with a short TTL.
    n->cache = std::make_unique<ProfileCache>(store_.get(), &n->metrics,
                                              ProfileCache::Options{1000, kLocalTtl},
                                              n->shared.get());
    if (with_writer) {
      n->writer = std::make_unique<Writer>(store_.get(), n->cache.get(), &n->metrics,
                                           Writer::Options{500, 1000, 1000});
      n->writer->Start();
    }
    return n;
  }

  void StartRedis() {
    const std::string cmd = Scripts() + "redis-start.sh " + dir_.string() + "/redis > " +
                            (dir_ / "url").string();
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  void StopRedis() {
    const std::string cmd = Scripts() + "redis-stop.sh " + dir_.string() + "/redis";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }

  WriteRequest Write(std::vector<WriteOp> ops) {
    return testutil::WriteAndWait(a_->writer.get(), std::move(ops));
  }


  Utterance NewLearner() {
    Utterance out;
    WriteRequest r = Write(testutil::NewLearnerOps("I goes to school", &out));
    EXPECT_TRUE(r.status.ok());
    return out;
  }


  // n errors in `sub`, each with a correction (so they become examples).
  WriteOp Errors(const Utterance& u, const std::string& sub, int n) {
    WriteOp op;
    op.kind = WriteOp::Kind::kAddErrors;
    op.utterance = u;
    for (int i = 0; i < n; ++i) {
      ErrorRecord e;
      e.error_id = NewUuidV7(NowMicros());
      e.category = "Grammar";
      e.subcategory = sub + " name";
      e.subcategory_id = sub;
      e.span = Span{2, 6};
      e.original = "goes";
      e.correction = "go";
      e.created_at = NowMicros();
      op.utterance.errors.push_back(e);
    }
    return op;
  }

  WriteOp AttemptOp(const Utterance& u, const std::string& sub, bool correct) {
    WriteOp op;
    op.kind = WriteOp::Kind::kRecordAttempt;
    op.attempt = Attempt{NewUuidV7(NowMicros()), u.user_id, "ex-" + sub, sub, correct,
                         std::string("go"), NowMicros()};
    return op;
  }

  int64_t Count(Node& n, const std::string& user, const std::string& sub) {
    auto p = n.cache->Get(user);
    EXPECT_TRUE(p.ok());
    if (!p.ok()) return -1;
    const ErrorPoint* point = (*p)->Find(sub);
    return point == nullptr ? 0 : point->count;
  }

  // A field of the learner's hash in Redis, or "" when absent.
  std::string RedisField(const std::string& user, const std::string& field) {
    auto r = redis_->Command({"HGET", ProfileKey(user), field});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? Text(r->get()) : "";
  }
  // Commits in progress (or in doubt) that the learner's state record holds.
  int Marks(const std::string& user) {
    auto r = redis_->Command({"HKEYS", StateKey(user)});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    int n = 0;
    for (size_t i = 0; r.ok() && i < (*r)->elements; ++i) {
      n += Text((*r)->element[i]).starts_with("t:");
    }
    return n;
  }
  bool InRedis(const std::string& user) {
    auto r = redis_->Command({"EXISTS", ProfileKey(user)});
    return r.ok() && (*r)->integer == 1;
  }

  // The cached profile equals the stored one (decay up to rounding).
  void ExpectSameAsStore(const Profile& got, const std::string& user) {
    auto want = sqlite_->LoadProfile(user);
    ASSERT_TRUE(want.ok());
    EXPECT_EQ(got.user_known, want->user_known);
    ASSERT_EQ(got.points.size(), want->points.size());
    for (const auto& w : want->points) {
      const ErrorPoint* g = got.Find(w.subcategory_id());
      ASSERT_NE(g, nullptr) << w.subcategory_id();
      EXPECT_EQ(g->category(), w.category());
      EXPECT_EQ(g->subcategory(), w.subcategory());
      EXPECT_EQ(g->count, w.count);
      EXPECT_EQ(g->first_seen, w.first_seen);
      EXPECT_EQ(g->last_seen, w.last_seen);
      EXPECT_NEAR(g->decay_log2, w.decay_log2, 1e-9 * std::abs(w.decay_log2));
      EXPECT_EQ(g->memory->reviews, w.memory->reviews);
      EXPECT_EQ(g->memory->lapses, w.memory->lapses);
      EXPECT_EQ(g->memory->last_review, w.memory->last_review);
      EXPECT_EQ(g->memory->last_correct, w.memory->last_correct);
      EXPECT_DOUBLE_EQ(g->memory->stability_days, w.memory->stability_days);
      EXPECT_DOUBLE_EQ(g->memory->difficulty, w.memory->difficulty);
    }
    ASSERT_EQ(got.examples.size(), want->examples.size());
    for (size_t i = 0; i < got.examples.size(); ++i) {
      EXPECT_EQ(got.examples[i].created_at, want->examples[i].created_at);
      EXPECT_EQ(got.examples[i].content, want->examples[i].content);
      EXPECT_EQ(got.examples[i].correction, want->examples[i].correction);
      EXPECT_EQ(got.examples[i].span_start, want->examples[i].span_start);
    }
    ASSERT_EQ(got.recent_correct.size(), want->recent_correct.size());
    for (size_t i = 0; i < got.recent_correct.size(); ++i) {
      EXPECT_EQ(got.recent_correct[i].exercise_id, want->recent_correct[i].exercise_id);
      EXPECT_EQ(got.recent_correct[i].answered_at, want->recent_correct[i].answered_at);
    }
  }

  static constexpr Micros kLocalTtl = 100 * 1000;  // 100 ms
  fs::path dir_;
  std::string url_;
  std::unique_ptr<SqliteStore> sqlite_;
  std::unique_ptr<HookStore> store_;
  std::unique_ptr<Node> a_, b_;
  std::unique_ptr<RedisConn> redis_;  // the test's own look into Redis
};

TEST_F(RedisProfilesTest, ConcurrentWritersCountExactlyOnEveryNode) {
  const Utterance u = NewLearner();
  ASSERT_EQ(Count(*b_, u.user_id, "pronouns"), 0);  // filled into Redis before the writes
  ASSERT_TRUE(InRedis(u.user_id));
  std::atomic<bool> done{false};
  // Readers on node B, and evictions that force fills racing the commits.
  std::vector<std::thread> others;
  for (int t = 0; t < 2; ++t) {
    others.emplace_back([&] {
      while (!done) ASSERT_TRUE(b_->cache->Get(u.user_id).ok());
    });
  }
  others.emplace_back([&] {
    RedisConn conn(*ParseUrl(url_), {});
    while (!done) {
      ASSERT_TRUE(conn.Command({"DEL", ProfileKey(u.user_id)}).ok());
      std::this_thread::sleep_for(2ms);
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < 8; ++t) {
    writers.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        WriteRequest r = Write({Errors(u, i % 2 ? "pronouns" : "prepositions", 2)});
        EXPECT_TRUE(r.status.ok());
      }
    });
  }
  for (auto& t : writers) t.join();
  done = true;
  for (auto& t : others) t.join();
  EXPECT_TRUE(a_->shared->ok());
  EXPECT_TRUE(b_->shared->ok());
  for (Node* n : {a_.get(), b_.get()}) {
    auto p = n->cache->Get(u.user_id);  // fills if the last eviction emptied it
    ASSERT_TRUE(p.ok());
    EXPECT_EQ((*p)->Find("pronouns")->count, 400);
    EXPECT_EQ((*p)->Find("prepositions")->count, 400);
    ExpectSameAsStore(**p, u.user_id);
  }
  EXPECT_EQ(RedisField(u.user_id, "c:pronouns"), "400");
  EXPECT_EQ(RedisField(u.user_id, "c:prepositions"), "400");
  EXPECT_GT(b_->metrics.Render().find("errata_shared_cache_hits_total"), 0u);
}

TEST_F(RedisProfilesTest, AWriteOnOneNodeIsReadOnAnother) {
  const Utterance u = NewLearner();
  ASSERT_TRUE(b_->cache->Get(u.user_id).ok());
  for (int i = 1; i <= 10; ++i) {
    ASSERT_TRUE(Write({Errors(u, "articles", 1)}).status.ok());
    EXPECT_EQ(Count(*b_, u.user_id, "articles"), i);  // at once: no TTL to wait out
  }
  // Memory state, recent correct answers and examples travel too.
  ASSERT_TRUE(Write({AttemptOp(u, "articles", true), AttemptOp(u, "articles", false)}).status.ok());
  ASSERT_TRUE(Write({AttemptOp(u, "nowhere", true)}).status.ok());  // no such point: memory not kept
  ASSERT_TRUE(Write({Errors(u, "tenses", 35)}).status.ok());        // examples keep the newest 30
  auto p = b_->cache->Get(u.user_id);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(InRedis(u.user_id));
  EXPECT_EQ((*p)->Find("articles")->memory->reviews, 2);
  EXPECT_EQ((*p)->recent_correct.size(), 2u);
  EXPECT_EQ((*p)->examples.size(), kMaxExamples);
  ExpectSameAsStore(**p, u.user_id);
}

// A node keeps its copy of a profile it read from Redis, with the version it
// read, and serves it again after asking Redis (four plain commands) whether
// that is still the learner's version: the profile does not travel again.
// Any commit, on any node, moves the version.
int64_t CurrentHits(Node& n) {
  return testutil::MetricValue(n.metrics.Render(), "errata_shared_cache_current_hits_total");
}

// A batch whose COMMIT's answer was lost (PostgreSQL's connection dropped)
// committed all the same, and the client's retry is a replay that adds
// nothing: neither Redis nor a node's copy may go on without that commit.
TEST_F(RedisProfilesTest, AFailedBatchThatCommittedIsReadAgainFromTheStore) {
  const Utterance u = NewLearner();
  ASSERT_TRUE(Write({Errors(u, "pronouns", 2)}).status.ok());
  ASSERT_EQ(Count(*a_, u.user_id, "pronouns"), 2);  // in Redis, and each node's copy
  ASSERT_EQ(Count(*b_, u.user_id, "pronouns"), 2);
  ASSERT_TRUE(InRedis(u.user_id));
  WriteOp sent = Errors(u, "pronouns", 3);
  sent.kind = WriteOp::Kind::kAddUtterance;
  sent.utterance.utterance_id = NewUuidV7(NowMicros());
  sent.client_id = true;
  sent.request_hash = 42;
  store_->lose_next_commit_answer();
  EXPECT_EQ(Write({sent}).status.code(), Status::Code::kUnavailable);
  // The batch's mark stays in Redis: reads go to the store, and serve
  // Redis's copy only if the store fails (it may well be down).
  EXPECT_TRUE(InRedis(u.user_id));
  EXPECT_EQ(Marks(u.user_id), 1);
  EXPECT_EQ(Count(*b_, u.user_id, "pronouns"), 5);
  WriteRequest retry = Write({sent});
  ASSERT_TRUE(retry.status.ok());
  ASSERT_TRUE(retry.ops[0].replayed);
  EXPECT_EQ(Count(*b_, u.user_id, "pronouns"), 5);
  EXPECT_EQ(Count(*a_, u.user_id, "pronouns"), 5);
  auto p = b_->cache->Get(u.user_id);
  ASSERT_TRUE(p.ok());
  ExpectSameAsStore(**p, u.user_id);
}

// The node whose batch was in doubt stops before any commit of its own
// succeeds again, and the retry goes to another node, a replay that adds
// nothing: only Redis can still say that the learner's profile may lack the
// batch. Before, the writer's apply ended the batch's mark (no effects), and
// node B served the profile without it until it expired, which later
// writes kept from happening.
TEST_F(RedisProfilesTest, ABatchInDoubtKeepsItsMarkAfterItsNodeIsGone) {
  const Utterance u = NewLearner();
  ASSERT_TRUE(Write({Errors(u, "pronouns", 2)}).status.ok());
  ASSERT_EQ(Count(*b_, u.user_id, "pronouns"), 2);  // in Redis, and B's copy
  store_->lose_next_commit_answer();
  EXPECT_EQ(Write({Errors(u, "pronouns", 3)}).status.code(), Status::Code::kUnavailable);
  a_->writer->Stop();  // node A goes, and what its writer remembered with it
  a_->shared->Stop();
  a_.reset();
  EXPECT_EQ(Marks(u.user_id), 1);
  EXPECT_EQ(Count(*b_, u.user_id, "pronouns"), 5);  // the store's
  EXPECT_EQ(Count(*b_, u.user_id, "pronouns"), 5);  // B's copy no longer vouched for
  // Once the mark is old enough, a read reaps it and drops the profile: it
  // loads whole from the store, and is served from Redis again.
  const std::string old = std::to_string(NowMicros() / kMicrosPerSecond - 3600);
  auto st = redis_->Command({"HKEYS", StateKey(u.user_id)});
  ASSERT_TRUE(st.ok());
  for (size_t i = 0; i < (*st)->elements; ++i) {
    const std::string f = Text((*st)->element[i]);
    if (f.starts_with("t:")) ASSERT_TRUE(redis_->Command({"HSET", StateKey(u.user_id), f, old}).ok());
  }
  EXPECT_EQ(Count(*b_, u.user_id, "pronouns"), 5);
  EXPECT_EQ(Marks(u.user_id), 0);
  EXPECT_EQ(Count(*b_, u.user_id, "pronouns"), 5);
  EXPECT_EQ(RedisField(u.user_id, "c:pronouns"), "5");
}

// A state record that went between a commit's begin and its apply (it
// expired, or Redis evicted it) is made again by the apply's version bump,
// and must get a TTL: without one it stays for good.
TEST_F(RedisProfilesTest, AStateRecordTheApplyMakesAgainExpires) {
  const Utterance u = NewLearner();
  std::atomic<bool> armed{true};
  store_->after_commit = [&] {
    if (armed.exchange(false)) ASSERT_TRUE(redis_->Command({"DEL", StateKey(u.user_id)}).ok());
  };
  ASSERT_TRUE(Write({Errors(u, "pronouns", 1)}).status.ok());
  store_->after_commit = nullptr;
  auto ttl = redis_->Command({"TTL", StateKey(u.user_id)});
  ASSERT_TRUE(ttl.ok());
  EXPECT_GT((*ttl)->integer, 0);
}

// A Redis that lost its data (restarted, FLUSHDB) starts the generation
// anew, and not from where it began before: a ticket of its earlier life
// (a fill's, a node's copy's) would pass for current.
TEST_F(RedisProfilesTest, AGenerationAfterAFlushIsNotOneOfBefore) {
  auto gen = [&] {
    auto r = redis_->Command({"GET", std::string(kGenerationKey)});
    EXPECT_TRUE(r.ok());
    return r.ok() ? Text(r->get()) : "";
  };
  const std::string before = gen();
  ASSERT_FALSE(before.empty());
  ASSERT_TRUE(redis_->Command({"FLUSHDB"}).ok());
  // A node that finds the generation gone starts it again (its probe, every
  // 20 ms).
  for (int i = 0; i < 300 && (gen().empty() || gen() == before); ++i) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(a_->shared->WaitUntilUp(3s));
  ASSERT_TRUE(b_->shared->WaitUntilUp(3s));
  const std::string after = gen();
  ASSERT_FALSE(after.empty());
  EXPECT_NE(after, before);
  EXPECT_GT(std::stoll(after), std::stoll(before));
}

TEST_F(RedisProfilesTest, AReadServesTheNodesCopyWhileItIsCurrent) {
  const Utterance u = NewLearner();
  ASSERT_TRUE(Write({Errors(u, "articles", 1)}).status.ok());
  EXPECT_EQ(Count(*b_, u.user_id, "articles"), 1);  // fills Redis; B keeps a copy
  EXPECT_EQ(CurrentHits(*b_), 0);
  auto first = b_->cache->Get(u.user_id);
  auto second = b_->cache->Get(u.user_id);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(CurrentHits(*b_), 2);
  EXPECT_EQ(first->get(), second->get());  // the same copy, not decoded again
  for (int i = 2; i <= 5; ++i) {
    ASSERT_TRUE(Write({Errors(u, "articles", 1)}).status.ok());  // on node A
    EXPECT_EQ(Count(*b_, u.user_id, "articles"), i);
    EXPECT_EQ(Count(*b_, u.user_id, "articles"), i);  // this one from the copy
  }
  EXPECT_EQ(CurrentHits(*b_), 6);
  // Node A's own writes update its local entries, which then are no longer
  // copies of Redis's: its reads go to Redis, and see the right counts too.
  EXPECT_EQ(Count(*a_, u.user_id, "articles"), 5);
  ASSERT_TRUE(Write({Errors(u, "articles", 1)}).status.ok());
  EXPECT_EQ(Count(*a_, u.user_id, "articles"), 6);
  EXPECT_EQ(Count(*b_, u.user_id, "articles"), 6);
  auto p = b_->cache->Get(u.user_id);
  ASSERT_TRUE(p.ok());
  ExpectSameAsStore(**p, u.user_id);
}

// The learner's state record in Redis expires a day after their last commit,
// and eviction may drop it sooner; the next commit makes it again, and its
// versions start over. A copy read at version 2 of the old record must not
// pass for version 2 of the new one.
TEST_F(RedisProfilesTest, AStateRecordMadeAgainDoesNotVouchForAnOldCopy) {
  const Utterance u = NewLearner();
  ASSERT_TRUE(redis_->Command({"DEL", StateKey(u.user_id)}).ok());
  ASSERT_TRUE(Write({Errors(u, "articles", 1)}).status.ok());  // a new record: version 2
  ASSERT_EQ(Text(redis_->Command({"HGET", StateKey(u.user_id), "v"})->get()), "2");
  EXPECT_EQ(Count(*b_, u.user_id, "articles"), 1);  // B's copy, at version 2
  std::this_thread::sleep_for(1100ms);  // the new record's expiry will differ by a second
  ASSERT_TRUE(redis_->Command({"DEL", StateKey(u.user_id)}).ok());  // expired, or evicted
  ASSERT_TRUE(Write({Errors(u, "articles", 1)}).status.ok());  // made again: version 2
  ASSERT_EQ(Text(redis_->Command({"HGET", StateKey(u.user_id), "v"})->get()), "2");
  const int64_t before = CurrentHits(*b_);
  EXPECT_EQ(Count(*b_, u.user_id, "articles"), 2);
  EXPECT_EQ(CurrentHits(*b_), before);
}

TEST_F(RedisProfilesTest, AFillThatReadTheStoreBeforeACommitIsRefused) {
  const Utterance u = NewLearner();
  ASSERT_TRUE(Write({Errors(u, "pronouns", 1)}).status.ok());
  // B misses, reads the store (count 1), and before it fills Redis, A commits
  // and acknowledges another error. The fill would now be stale: refused.
  bool once = false;
  store_->after_load = [&](const std::string& id) {
    if (id != u.user_id || once) return;
    once = true;
    ASSERT_TRUE(Write({Errors(u, "pronouns", 1)}).status.ok());
  };
  auto stale = b_->cache->Get(u.user_id);
  store_->after_load = nullptr;
  ASSERT_TRUE(stale.ok());
  EXPECT_EQ((*stale)->Find("pronouns")->count, 1);  // the read began before the write: fine
  EXPECT_FALSE(InRedis(u.user_id)) << "a stale fill was written";
  EXPECT_EQ(Count(*b_, u.user_id, "pronouns"), 2);
  EXPECT_EQ(RedisField(u.user_id, "c:pronouns"), "2");
}

TEST_F(RedisProfilesTest, AReadDuringACommitNeitherFillsNorDoubleCounts) {
  const Utterance u = NewLearner();
  ASSERT_TRUE(Write({Errors(u, "pronouns", 1)}).status.ok());
  // Hold A's writer after the store commit, before it applies to Redis.
  std::promise<void> committed, release;
  auto release_f = release.get_future().share();
  std::atomic<bool> armed{true};
  store_->after_commit = [&] {
    if (!armed.exchange(false)) return;
    committed.set_value();
    release_f.wait();
  };
  auto write = std::async(std::launch::async, [&] { return Write({Errors(u, "pronouns", 1)}); });
  committed.get_future().wait();
  // The commit is in the store, not yet in Redis: B reads the store, and must
  // not fill (the apply that follows would count it twice).
  auto during = b_->cache->Get(u.user_id);
  ASSERT_TRUE(during.ok());
  EXPECT_EQ((*during)->Find("pronouns")->count, 2);
  EXPECT_FALSE(InRedis(u.user_id));
  release.set_value();
  ASSERT_TRUE(write.get().status.ok());
  store_->after_commit = nullptr;  // the writer is idle: nothing calls it now
  EXPECT_EQ(Count(*b_, u.user_id, "pronouns"), 2);  // fills now
  EXPECT_TRUE(InRedis(u.user_id));
  EXPECT_EQ(Count(*b_, u.user_id, "pronouns"), 2);  // a hit
  ASSERT_TRUE(Write({Errors(u, "pronouns", 1)}).status.ok());
  EXPECT_EQ(Count(*b_, u.user_id, "pronouns"), 3);
  EXPECT_EQ(RedisField(u.user_id, "c:pronouns"), "3");
}

TEST_F(RedisProfilesTest, ALearnerAbsentFromRedisIsNotPartiallyCreated) {
  const Utterance u = NewLearner();
  ASSERT_TRUE(Write({Errors(u, "pronouns", 3), AttemptOp(u, "pronouns", true)}).status.ok());
  EXPECT_FALSE(InRedis(u.user_id));
  // The commit marks ended: only the version is left in the learner's state.
  auto st = redis_->Command({"HKEYS", StateKey(u.user_id)});
  ASSERT_TRUE(st.ok());
  ASSERT_EQ((*st)->elements, 1u);
  EXPECT_EQ(Text((*st)->element[0]), "v");
  auto p = b_->cache->Get(u.user_id);  // loads it whole
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(InRedis(u.user_id));
  EXPECT_EQ((*p)->Find("pronouns")->count, 3);
  ExpectSameAsStore(**p, u.user_id);
}

TEST_F(RedisProfilesTest, AnAbandonedCommitMarkIsReaped) {
  const Utterance u = NewLearner();
  ASSERT_EQ(Count(*b_, u.user_id, "pronouns"), 0);
  // A node died between its commit and its apply, long ago.
  const std::string old = std::to_string(NowMicros() / kMicrosPerSecond - 3600);
  ASSERT_TRUE(redis_->Command({"HSET", StateKey(u.user_id), "t:dead-1", old}).ok());
  ASSERT_TRUE(Write({Errors(u, "pronouns", 1)}).status.ok());
  EXPECT_EQ(Count(*b_, u.user_id, "pronouns"), 1);  // reaped: the profile is loaded again
  EXPECT_EQ(Count(*b_, u.user_id, "pronouns"), 1);
  EXPECT_EQ(RedisField(u.user_id, "c:pronouns"), "1");
}

TEST_F(RedisProfilesTest, RedisStoppedThenStartedAgain) {
  const Utterance u = NewLearner();
  ASSERT_TRUE(Write({Errors(u, "pronouns", 1)}).status.ok());
  ASSERT_EQ(Count(*b_, u.user_id, "pronouns"), 1);
  StopRedis();
  // Writes still commit and are acknowledged; the failure is counted and the
  // cache is down on both nodes.
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Write({Errors(u, "pronouns", 1)}).status.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_FALSE(a_->shared->ok());
  EXPECT_NE(a_->metrics.Render().find("errata_shared_cache_up 0"), std::string::npos);
  EXPECT_EQ(a_->metrics.Render().find("errata_shared_cache_errors_total 0\n"), std::string::npos);
  EXPECT_FALSE(a_->cache->shared_error().empty());
  // Reads fall back to the store: exact on the writing node, and within the
  // local TTL on the other.
  EXPECT_EQ(Count(*a_, u.user_id, "pronouns"), 6);
  std::this_thread::sleep_for(std::chrono::microseconds(kLocalTtl) + 20ms);
  EXPECT_EQ(Count(*b_, u.user_id, "pronouns"), 6);
  EXPECT_FALSE(b_->shared->ok());
  // Redis comes back (empty): both nodes use it again without a restart.
  StartRedis();
  ASSERT_TRUE(a_->shared->WaitUntilUp(3s)) << a_->shared->last_error();
  ASSERT_TRUE(b_->shared->WaitUntilUp(3s)) << b_->shared->last_error();
  EXPECT_NE(a_->metrics.Render().find("errata_shared_cache_up 1"), std::string::npos);
  EXPECT_EQ(Count(*b_, u.user_id, "pronouns"), 6);
  EXPECT_TRUE(InRedis(u.user_id));
  ASSERT_TRUE(Write({Errors(u, "pronouns", 1)}).status.ok());
  EXPECT_EQ(RedisField(u.user_id, "c:pronouns"), "7");
  EXPECT_EQ(Count(*b_, u.user_id, "pronouns"), 7);
}

TEST_F(RedisProfilesTest, AnOutageThatKeptTheDataDropsWhatMayBeStale) {
  const Utterance u = NewLearner();
  ASSERT_TRUE(Write({Errors(u, "pronouns", 1)}).status.ok());
  ASSERT_EQ(Count(*b_, u.user_id, "pronouns"), 1);
  ASSERT_EQ(RedisField(u.user_id, "c:pronouns"), "1");
  // A network blip: every errata connection drops, Redis keeps its data.
  ASSERT_TRUE(redis_->Command({"CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"}).ok());
  ASSERT_TRUE(Write({Errors(u, "pronouns", 1)}).status.ok());  // could not reach Redis
  EXPECT_EQ(Count(*a_, u.user_id, "pronouns"), 2);
  // B notices through its next command (its monitor pings every 50 ms).
  for (int i = 0; i < 100 && b_->shared->ok(); ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(a_->shared->WaitUntilUp(3s));
  ASSERT_TRUE(b_->shared->WaitUntilUp(3s));
  // The profile Redis kept lacks that write: it was dropped on recovery.
  EXPECT_EQ(Count(*b_, u.user_id, "pronouns"), 2);
  EXPECT_EQ(RedisField(u.user_id, "c:pronouns"), "2");
}

TEST(RedisUrl, Parses) {
  auto u = ParseUrl("redis://127.0.0.1:6380/2");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 6380);
  EXPECT_EQ(u->db, 2);
  auto p = ParseUrl("redis://:s3cret@cache.internal");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->host, "cache.internal");
  EXPECT_EQ(p->port, 6379);
  EXPECT_EQ(p->password, "s3cret");
  EXPECT_EQ(p->Describe(), "redis://:***@cache.internal:6379/0");
  EXPECT_FALSE(ParseUrl("http://x").ok());
  EXPECT_FALSE(ParseUrl("redis://x:notaport").ok());
  EXPECT_FALSE(ParseUrl("redis://x:1/-1").ok());
}

TEST(ProfileCodec, RoundTrips) {
  Profile p;
  p.user_known = true;
  ErrorPoint a{PointNames("articles", "Grammar", "Articles"), 3, 1'717'000'000'000'001, 1'717'000'000'123'456,
               1431.123456789012345, MemoryState{2.5, 6.25, 1'717'000'000'200'000, 4, 1, 17, 18}};
  ErrorPoint b{PointNames("tenses", "Grammar", "Verb tenses"), 0, 0, 0, kNoDecay, {}};
  p.points = {b, a};
  p.examples = {Example{"e2", "articles", "I has a cat", "has", "have", 2, 5, 200},
                Example{"e1", "articles", "a \"quoted\" line\n", "", "x", -1, -1, 100}};
  p.recent_correct = {{"x2", 20}, {"x1", 10}};
  std::vector<std::string> flat = EncodeProfile(p);
  ASSERT_EQ(flat.size() % 2, 0u);
  std::vector<std::pair<std::string, std::string>> kv;
  for (size_t i = 0; i < flat.size(); i += 2) kv.emplace_back(flat[i], flat[i + 1]);
  Profile q = DecodeProfile(kv);
  EXPECT_TRUE(q.user_known);
  ASSERT_EQ(q.points.size(), 2u);
  EXPECT_EQ(q.points[0].subcategory_id(), "articles");  // sorted by id
  EXPECT_EQ(q.points[0].count, 3);
  EXPECT_EQ(q.points[0].first_seen, a.first_seen);
  EXPECT_EQ(q.points[0].last_seen, a.last_seen);
  EXPECT_EQ(q.points[0].decay_log2, a.decay_log2);
  EXPECT_EQ(q.points[0].memory->difficulty, 6.25);
  EXPECT_EQ(q.points[0].memory->last_lapse, 18);
  EXPECT_EQ(q.points[1].decay_log2, kNoDecay);
  EXPECT_EQ(q.points[1].subcategory(), "Verb tenses");
  ASSERT_EQ(q.examples.size(), 2u);
  EXPECT_EQ(q.examples[0].error_id, "e2");
  EXPECT_EQ(q.examples[1].content, "a \"quoted\" line\n");
  EXPECT_EQ(q.examples[1].span_start, -1);
  ASSERT_EQ(q.recent_correct.size(), 2u);
  EXPECT_EQ(q.recent_correct[0].exercise_id, "x2");
  EXPECT_EQ(q.recent_correct[1].answered_at, 10);
  EXPECT_LT(TimeKey(-5), TimeKey(3));
  EXPECT_LT(TimeKey(3), TimeKey(1'717'000'000'000'000));
}

// A load's order of answers that share a time survives Redis: the decode,
// and the apply script's trim, read the fields in reverse text order.
TEST(ProfileCodec, AnswersOfTheSameTimeKeepTheirOrder) {
  Profile p;
  for (int i = 0; i < 12; ++i) p.recent_correct.push_back({"x" + std::to_string(i), 10});
  std::vector<std::string> flat = EncodeProfile(p);
  std::vector<std::pair<std::string, std::string>> kv;
  for (size_t i = 0; i < flat.size(); i += 2) kv.emplace_back(flat[i], flat[i + 1]);
  Profile q = DecodeProfile(kv);
  ASSERT_EQ(q.recent_correct.size(), 12u);
  for (size_t i = 0; i < 12; ++i)
    EXPECT_EQ(q.recent_correct[i].exercise_id, p.recent_correct[i].exercise_id);
}

}  // namespace
}  // namespace errata::redis
