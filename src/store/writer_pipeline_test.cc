// Pipelined commits against a real RocksDB database: batch N+1 is prepared
// while batch N is written, and must see N's writes as done; if N fails, N+1
// must not count on them (docs/write-path.md, "Pipelined commits").
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>

#include "core/ids.h"
#include "store/fault_store.h"
#include "store/rocksdb/rocksdb_store.h"
#include "store/rocksdb/rocksdb_test_util.h"
#include "store/write_test_util.h"
#include "store/writer.h"

namespace errata {
namespace {

// Holds the write of a batch until the next one has been prepared behind it,
// so that the two overlap in every run. Armed for one pair of requests.
struct Overlap {
  std::mutex mu;
  std::condition_variable cv;
  bool armed = false;
  bool next_queued = false;     // the test queued batch N+1
  bool prepared_behind = false;  // the writer prepared a batch behind a write
  bool held = false;             // a write waited for it

  // FaultStore::after_prepare: batch N is prepared once N+1 is queued, so the
  // writer finds N+1 while N is written.
  void AfterPrepare(bool behind) {
    std::unique_lock lock(mu);
    if (behind) {
      prepared_behind = true;
      cv.notify_all();
    } else if (armed) {
      cv.wait_for(lock, std::chrono::seconds(5), [this] { return next_queued; });
    }
  }
  // FaultStore::before_write: batch N's write waits for N+1's prepare.
  void BeforeWrite() {
    std::unique_lock lock(mu);
    if (!armed) return;
    armed = false;
    held = cv.wait_for(lock, std::chrono::seconds(5), [this] { return prepared_behind; });
  }
  void Queued() {
    std::lock_guard lock(mu);
    next_queued = true;
    cv.notify_all();
  }
};

class WriterPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("errata-pipeline-test-" + NewUuidV7(NowMicros()));
    std::filesystem::create_directories(dir_);
    auto s = RocksdbStore::Open(testutil::SmallRocksdb(dir_));
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    rocks_ = std::move(*s);
    fault_ = std::make_unique<FaultStore>(rocks_.get());
    fault_->after_prepare = [this](bool behind) { overlap_.AfterPrepare(behind); };
    fault_->before_write = [this] { overlap_.BeforeWrite(); };
    cache_ = std::make_unique<ProfileCache>(fault_.get(), &metrics_, ProfileCache::Options{100, 0});
    Writer::Options wo;
    wo.max_batch = 1;  // one request per batch: N and N+1 are the test's two requests
    writer_ = std::make_unique<Writer>(fault_.get(), cache_.get(), &metrics_, wo);
    writer_->Start();
  }
  void TearDown() override {
    if (writer_) writer_->Stop();
    std::filesystem::remove_all(dir_);
  }

  WriteRequest Write(std::vector<WriteOp> ops) {
    return testutil::WriteAndWait(writer_.get(), std::move(ops));
  }

  // Submits two requests as overlapping batches: the second is prepared
  // while the first is written. Returns both, once both are answered.
  std::pair<WriteRequest, WriteRequest> Overlapping(std::vector<WriteOp> first,
                                                    std::vector<WriteOp> second) {
    {
      std::lock_guard lock(overlap_.mu);
      overlap_.armed = true;
    }
    auto a = Submit(std::move(first));
    auto b = Submit(std::move(second));
    overlap_.Queued();
    std::pair<WriteRequest, WriteRequest> out{a.get(), b.get()};
    EXPECT_TRUE(overlap_.held) << "the second batch was not prepared while the first was written";
    return out;
  }

  std::future<WriteRequest> Submit(std::vector<WriteOp> ops) {
    auto done = std::make_shared<std::promise<WriteRequest>>();
    auto req = std::make_unique<WriteRequest>();
    req->ops = std::move(ops);
    req->done = [done](WriteRequest& r) { done->set_value(std::move(r)); };
    EXPECT_TRUE(writer_->Submit(std::move(req)).ok());
    return done->get_future();
  }

  static ErrorRecord Error(const std::string& sub, Micros at) {
    ErrorRecord e;
    e.error_id = NewUuidV7(at);
    e.category = "Grammar";
    e.subcategory = sub;
    e.subcategory_id = sub;
    e.created_at = at;
    return e;
  }

  // An ingest line: creates its learner and conversation on first sight.
  static WriteOp IngestLine(const std::string& user, const std::string& conversation,
                            const std::string& utterance, uint64_t hash,
                            std::vector<ErrorRecord> errors) {
    WriteOp op;
    op.kind = WriteOp::Kind::kAddUtterance;
    op.create_missing = true;
    op.client_id = true;
    op.request_hash = hash;
    op.user = User{user, "learner", std::nullopt, 1};
    op.utterance = Utterance{utterance, conversation, user, "She go", 1, std::move(errors)};
    return op;
  }

  std::filesystem::path dir_;
  Metrics metrics_{{}};
  Overlap overlap_;
  std::unique_ptr<RocksdbStore> rocks_;
  std::unique_ptr<FaultStore> fault_;
  std::unique_ptr<ProfileCache> cache_;
  std::unique_ptr<Writer> writer_;
};

TEST_F(WriterPipelineTest, TheNextBatchSeesTheBatchBeingWritten) {
  // A learner who practised "pronouns" once, correctly, at t1.
  Utterance u;
  ASSERT_TRUE(Write(testutil::NewLearnerOps("hi", &u)).status.ok());
  const Micros t1 = NowMicros();
  WriteOp practice;
  practice.kind = WriteOp::Kind::kRecordAttempt;
  practice.attempt = Attempt{NewUuidV7(t1), u.user_id, "pron-001", "pronouns", true, {}, t1};
  WriteRequest first_attempt = Write({practice});
  ASSERT_TRUE(first_attempt.ops[0].status.ok());
  EXPECT_EQ(first_attempt.ops[0].memory.lapses, 0);

  // Batch N: a new learner's first line (2 errors), and a "pronouns" error
  // of the first learner at t2.
  const std::string v = NewUuidV7(t1), cv = NewUuidV7(t1), tv = NewUuidV7(t1);
  const Micros t2 = t1 + 1000;
  WriteOp more;
  more.kind = WriteOp::Kind::kAddErrors;
  more.utterance = u;
  more.utterance.errors = {Error("pronouns", t2)};
  std::vector<WriteOp> n{IngestLine(v, cv, tv, 42, {Error("articles", t2), Error("tense", t2)}),
                         more};
  // Batch N+1, prepared while N is written: the same line again (a replay),
  // a second line of the new learner, and an attempt that must see N's error.
  const Micros t3 = t2 + 1000;
  WriteOp again = n[0];
  WriteOp second = IngestLine(v, cv, NewUuidV7(t3), 43, {Error("articles", t3)});
  WriteOp attempt;
  attempt.kind = WriteOp::Kind::kRecordAttempt;
  attempt.attempt = Attempt{NewUuidV7(t3), u.user_id, "pron-002", "pronouns", true, {}, t3};

  auto [a, b] = Overlapping(n, {again, second, attempt});
  ASSERT_TRUE(a.status.ok()) << a.status.ToString();
  ASSERT_TRUE(b.status.ok()) << b.status.ToString();
  EXPECT_TRUE(a.ops[0].created_user);
  // The replay is answered from N's writes, with N's errors.
  EXPECT_TRUE(b.ops[0].status.ok()) << b.ops[0].status.ToString();
  EXPECT_TRUE(b.ops[0].replayed);
  EXPECT_EQ(b.ops[0].utterance.errors.size(), 2u);
  // The learner and conversation N created are not created again.
  EXPECT_TRUE(b.ops[1].status.ok()) << b.ops[1].status.ToString();
  EXPECT_FALSE(b.ops[1].created_user);
  // The error at t2, after the last review at t1, is a lapse.
  EXPECT_TRUE(b.ops[2].status.ok());
  EXPECT_EQ(b.ops[2].memory.lapses, 1);

  // Counted once each, in the store and in the cache.
  for (const Profile& p : {*rocks_->LoadProfile(v), **cache_->Get(v)}) {
    ASSERT_NE(p.Find("articles"), nullptr);
    EXPECT_EQ(p.Find("articles")->count, 2);
    EXPECT_EQ(p.Find("tense")->count, 1);
    EXPECT_EQ(p.TotalErrors(), 3);
  }
  EXPECT_EQ(rocks_->LoadProfile(u.user_id)->Find("pronouns")->count, 1);
  auto conversation = rocks_->GetConversation(cv);
  ASSERT_TRUE(conversation.ok());
  EXPECT_EQ(conversation->utterances.size(), 2u);
}

TEST_F(WriterPipelineTest, AFailedWriteFailsTheBatchPreparedBehindIt) {
  const Micros now = NowMicros();
  WriteOp user;
  user.kind = WriteOp::Kind::kCreateUser;
  user.client_id = true;
  user.user = User{NewUuidV7(now), "ana", std::nullopt, now};
  WriteOp conversation;
  conversation.kind = WriteOp::Kind::kCreateConversation;
  conversation.client_id = true;
  conversation.conversation = Conversation{NewUuidV7(now), user.user.user_id, now};

  fault_->fail_next_write();
  auto [a, b] = Overlapping({user}, {conversation});
  // N failed, and N+1, which counted on N's learner, failed with it,
  // unwritten: nothing of either is there.
  EXPECT_EQ(a.status.code(), Status::Code::kUnavailable);
  EXPECT_EQ(a.ops[0].status.code(), Status::Code::kUnavailable);
  EXPECT_EQ(b.status.code(), Status::Code::kUnavailable);
  EXPECT_EQ(b.ops[0].status.code(), Status::Code::kUnavailable) << b.ops[0].status.ToString();
  EXPECT_EQ(rocks_->GetUser(user.user.user_id).status().code(), Status::Code::kNotFound);
  EXPECT_EQ(rocks_->GetConversation(conversation.conversation.conversation_id).status().code(),
            Status::Code::kNotFound);
  // One commit failed; the batch behind it never ran one.
  const std::string rendered = metrics_.Render();
  EXPECT_NE(rendered.find("errata_commits_failed_total 1\n"), std::string::npos) << rendered;
  EXPECT_NE(rendered.find("errata_batches_unwritten_total 1\n"), std::string::npos) << rendered;

  // The retries go through.
  WriteRequest retry = Write({user, conversation});
  ASSERT_TRUE(retry.status.ok());
  EXPECT_TRUE(retry.ops[0].status.ok());
  EXPECT_TRUE(retry.ops[1].status.ok());
  EXPECT_TRUE(rocks_->GetConversation(conversation.conversation.conversation_id).ok());
  EXPECT_TRUE(writer_->healthy());
}

// A PATCH refused behind a batch that took its email had its op's user
// rewritten to the record as it was, to answer the 409. When that batch
// failed, the PATCH was prepared again from the rewritten op: 200, with
// nothing changed.
TEST_F(WriterPipelineTest, APatchRefusedBehindAFailedWriteIsNotAnsweredAsDone) {
  const Micros now = NowMicros();
  WriteOp ana;
  ana.kind = WriteOp::Kind::kCreateUser;
  ana.client_id = true;
  ana.user = User{NewUuidV7(now), "ana", std::string("ana@example.com"), now};
  ASSERT_TRUE(Write({ana}).ops[0].status.ok());

  WriteOp bea;
  bea.kind = WriteOp::Kind::kCreateUser;
  bea.client_id = true;
  bea.user = User{NewUuidV7(now), "bea", std::string("x@example.com"), now};
  WriteOp patch;
  patch.kind = WriteOp::Kind::kUpdateUser;
  patch.user = ana.user;
  patch.user.email = "x@example.com";
  patch.update.email = true;

  fault_->fail_next_write();
  auto [a, b] = Overlapping({bea}, {patch});
  EXPECT_EQ(a.ops[0].status.code(), Status::Code::kUnavailable);
  EXPECT_EQ(b.ops[0].status.code(), Status::Code::kUnavailable) << b.ops[0].status.ToString();
  EXPECT_EQ(rocks_->GetUser(ana.user.user_id)->email, std::optional<std::string>("ana@example.com"));

  // Sent again, with bea not there, the PATCH is done.
  patch.status = Status();
  patch.user = ana.user;
  patch.user.email = "x@example.com";
  WriteRequest retry = Write({patch});
  ASSERT_TRUE(retry.ops[0].status.ok()) << retry.ops[0].status.ToString();
  EXPECT_EQ(rocks_->GetUser(ana.user.user_id)->email, std::optional<std::string>("x@example.com"));
}

TEST_F(WriterPipelineTest, ManyWritersCountExactlyThroughThePipeline) {
  Utterance u;
  ASSERT_TRUE(Write(testutil::NewLearnerOps("hi", &u)).status.ok());
  ASSERT_TRUE(cache_->Get(u.user_id).ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        WriteOp op;
        op.kind = WriteOp::Kind::kAddErrors;
        op.utterance = u;
        op.utterance.errors = {Error(t % 2 ? "pronouns" : "prepositions", NowMicros())};
        EXPECT_TRUE(Write({op}).status.ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const Profile& p : {*rocks_->LoadProfile(u.user_id), **cache_->Get(u.user_id)}) {
    EXPECT_EQ(p.Find("pronouns")->count, 200);
    EXPECT_EQ(p.Find("prepositions")->count, 200);
  }
}

// A learner's new email, in batch N, is seen by batch N+1, prepared while N
// is written: the old email is free (a Remove in N) and the new one taken.
TEST_F(WriterPipelineTest, TheNextBatchSeesAnEmailTheBatchBeingWrittenGaveUp) {
  const Micros now = NowMicros();
  WriteOp ann;
  ann.kind = WriteOp::Kind::kCreateUser;
  ann.user = User{NewUuidV7(now), "ann", "ann@example.com", now};
  ASSERT_TRUE(Write({ann}).ops[0].status.ok());
  WriteOp update;
  update.kind = WriteOp::Kind::kUpdateUser;
  update.user.user_id = ann.user.user_id;
  update.user.email = "ann.new@example.com";
  update.update.email = true;
  WriteOp carl = ann, dora = ann;
  carl.user = User{NewUuidV7(now), "carl", "ANN@example.com", now};
  dora.user = User{NewUuidV7(now), "dora", "ann.new@example.com", now};

  auto [a, b] = Overlapping({update}, {carl, dora});
  ASSERT_TRUE(a.status.ok()) << a.status.ToString();
  ASSERT_TRUE(b.status.ok()) << b.status.ToString();
  EXPECT_TRUE(a.ops[0].status.ok()) << a.ops[0].status.ToString();
  EXPECT_TRUE(b.ops[0].status.ok()) << b.ops[0].status.ToString();
  EXPECT_EQ(b.ops[1].status.code(), Status::Code::kConflict) << b.ops[1].status.ToString();
  EXPECT_EQ(rocks_->FindUserByEmail("ann@example.com")->user_id, carl.user.user_id);
  EXPECT_EQ(rocks_->FindUserByEmail("ann.new@example.com")->user_id, ann.user.user_id);
  EXPECT_FALSE(rocks_->GetUser(dora.user.user_id).ok());
}

// An erase is written with no batch prepared behind it or in front: the
// batch before it is written first, and the one after it is prepared once
// the erase is written, so it finds nothing of the learner.
TEST_F(WriterPipelineTest, AnEraseIsNeitherPreparedBehindABatchNorInFrontOfOne) {
  Utterance u;
  for (const WriteOp& op : Write(testutil::NewLearnerOps("hi", &u)).ops) {
    ASSERT_TRUE(op.status.ok()) << op.status.ToString();
  }
  ASSERT_TRUE((*cache_->Get(u.user_id))->user_known);
  writer_->Stop();
  Metrics metrics({});
  Writer writer(fault_.get(), cache_.get(), &metrics, Writer::Options{});
  Utterance other;
  const std::vector<WriteRequest> r =
      testutil::EraseBetweenWrites(&writer, u, testutil::NewLearnerOps("hello", &other));
  writer.Stop();
  ASSERT_EQ(r.size(), 4u);
  EXPECT_TRUE(r[0].ops[0].status.ok()) << r[0].ops[0].status.ToString();
  ASSERT_TRUE(r[1].ops[0].status.ok()) << r[1].ops[0].status.ToString();
  EXPECT_EQ(r[1].ops[0].erased.errors, 2);
  EXPECT_EQ(r[2].ops[0].status.code(), Status::Code::kNotFound);
  for (const WriteOp& op : r[3].ops) EXPECT_TRUE(op.status.ok()) << op.status.ToString();
  EXPECT_FALSE((*cache_->Get(u.user_id))->user_known);
  EXPECT_FALSE(rocks_->LoadProfile(u.user_id)->user_known);
  EXPECT_TRUE(rocks_->LoadProfile(other.user_id)->user_known);
}

}  // namespace
}  // namespace errata
