// The local profile cache's TTL (nodes sharing a store without Redis), its
// fallbacks when the store fails, and how it defers to a shared cache.
#include "store/profile_cache.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <future>
#include <thread>

#include "core/ids.h"
#include "store/fault_store.h"
#include "store/write_test_util.h"
#include "store/sqlite/sqlite_store.h"
#include "store/writer.h"

namespace errata {
namespace {

using namespace std::chrono_literals;

// A shared cache whose answers the test sets.
class FakeShared : public SharedProfiles {
 public:
  bool up = true;
  Lookup lookup = Lookup::kMiss;
  Profile copy;
  int fills = 0;
  int commits = 0;
  std::string Describe() const override { return "fake://"; }
  bool ok() const override { return up; }
  std::string last_error() const override { return up ? "" : "down"; }
  Lookup Get(const std::string&, std::shared_ptr<const Profile>* out, Ticket* ticket) override {
    if (lookup == Lookup::kHit || lookup == Lookup::kBypass) {
      *out = std::make_shared<const Profile>(copy);
    }
    ticket->copy = lookup == Lookup::kBypass;
    ticket->generation = "1";
    return lookup;
  }
  bool Current(const std::string&, const Ticket&) override { return false; }
  void Fill(const std::string&, const Profile&, const Ticket&) override { ++fills; }
  void BeginCommit(const std::vector<std::string>&) override { ++commits; }
  void ApplyDeltas(const DeltaSet&) override {}
  void ApplyAttempt(const Attempt&, const MemoryState&) override {}
  void AddExamples(const std::string&, const std::vector<Example>&) override {}
  void MarkUserKnown(const std::string&) override {}
  void ForgetUser(const std::string&) override {}
  void EndCommit(CommitEnd) override {}
};

class ProfileCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("errata-cache-test-" + NewUuidV7(NowMicros()));
    std::filesystem::create_directories(dir_);
    auto s = SqliteStore::Open({(dir_ / "errata.db").string(), 14 * kMicrosPerDay, 2});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    sqlite_ = std::move(*s);
    fault_ = std::make_unique<FaultStore>(sqlite_.get());
    // Node A writes (exact through its own deltas); node B only reads.
    a_ = std::make_unique<ProfileCache>(fault_.get(), &metrics_, ProfileCache::Options{100, 0});
    writer_ = std::make_unique<Writer>(fault_.get(), a_.get(), &metrics_, Writer::Options{200, 100, 100});
    writer_->Start();
  }
  void TearDown() override {
    writer_->Stop();
    std::filesystem::remove_all(dir_);
  }

  WriteRequest Write(std::vector<WriteOp> ops) {
    return testutil::WriteAndWait(writer_.get(), std::move(ops));
  }


  void CreateUser(const std::string& id) {
    WriteOp op;
    op.kind = WriteOp::Kind::kCreateUser;
    op.user = User{id, "x", std::nullopt, NowMicros()};
    ASSERT_TRUE(Write({op}).status.ok());
  }

  static size_t ShardOf(const std::string& id) { return std::hash<std::string>{}(id) % 64; }

  Utterance NewLearner() {
    Utterance out;
    EXPECT_TRUE(Write(testutil::NewLearnerOps("hi", &out)).status.ok());
    return out;
  }


  // A new "pronouns" error, now.
  static ErrorRecord PronounError() {
    ErrorRecord e;
    e.error_id = NewUuidV7(NowMicros());
    e.category = "Grammar";
    e.subcategory = e.subcategory_id = "pronouns";
    e.created_at = NowMicros();
    return e;
  }

  void AddError(const Utterance& u) {
    WriteOp op;
    op.kind = WriteOp::Kind::kAddErrors;
    op.utterance = u;
    op.utterance.errors.push_back(PronounError());
    ASSERT_TRUE(Write({op}).status.ok());
  }

  static int64_t Count(ProfileCache& c, const std::string& user) {
    auto p = c.Get(user);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    if (!p.ok()) return -1;
    const ErrorPoint* point = (*p)->Find("pronouns");
    return point == nullptr ? 0 : point->count;
  }

  std::filesystem::path dir_;
  Metrics metrics_{{}};
  std::unique_ptr<SqliteStore> sqlite_;
  std::unique_ptr<FaultStore> fault_;
  std::unique_ptr<ProfileCache> a_;
  std::unique_ptr<Writer> writer_;
};

// A commit's effects on a cached profile appear together, at EndCommit: a
// read in the middle of the commit gets the profile before it, never the
// points without the examples.
TEST_F(ProfileCacheTest, ACommitsEditsAppearTogetherAtItsEnd) {
  const Utterance u = NewLearner();
  ASSERT_EQ(Count(*a_, u.user_id), 0);
  DeltaSet deltas(14 * kMicrosPerDay);
  ErrorRecord e = PronounError();
  e.original = "him";
  e.correction = "he";
  deltas.Add(u.user_id, e);
  deltas.Add(u.user_id, e);
  Example ex;
  ex.error_id = e.error_id;
  ex.subcategory_id = "pronouns";
  ex.original = "him";
  ex.correction = "he";
  ex.created_at = e.created_at;

  a_->BeginCommit({u.user_id});
  a_->ApplyDeltas(deltas);
  a_->AddExamples(u.user_id, {ex});
  auto during = a_->Get(u.user_id);
  ASSERT_TRUE(during.ok());
  EXPECT_EQ((*during)->TotalErrors(), 0);
  EXPECT_TRUE((*during)->examples.empty());
  a_->EndCommit({u.user_id});

  auto after = a_->Get(u.user_id);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(Count(*a_, u.user_id), 2);
  EXPECT_EQ((*after)->examples.size(), 1u);
  // The profile read during the commit was not changed under its reader.
  EXPECT_EQ((*during)->TotalErrors(), 0);
}

// A learner created by a commit is cached without a load, but shows only
// when the commit does: a read during it finds no such learner, as the store
// would answer before the commit.
TEST_F(ProfileCacheTest, ANewLearnerShowsWhenItsCommitDoes) {
  const std::string id = NewUuidV7(NowMicros());
  a_->BeginCommit({id});
  a_->AddNewUser(id);
  fault_->set_failing(true);  // every read below comes from the cache
  auto during = a_->Get(id);
  ASSERT_TRUE(during.ok()) << during.status().ToString();
  EXPECT_FALSE((*during)->user_known);
  a_->EndCommit({id});
  auto after = a_->Get(id);
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_TRUE((*after)->user_known);
  fault_->set_failing(false);
}

TEST_F(ProfileCacheTest, AnotherNodeSeesAWriteWithinTheTtl) {
  ProfileCache b(fault_.get(), &metrics_, {100, 50'000});  // 50 ms
  const Utterance u = NewLearner();
  ASSERT_EQ(Count(b, u.user_id), 0);
  AddError(u);
  EXPECT_EQ(Count(*a_, u.user_id), 1);  // the writing node: at once
  std::this_thread::sleep_for(60ms);
  EXPECT_EQ(Count(b, u.user_id), 1);    // another node: within the TTL
}

TEST_F(ProfileCacheTest, TtlZeroKeepsTheProfileUntilEvicted) {
  ProfileCache b(fault_.get(), &metrics_, {100, 0});
  const Utterance u = NewLearner();
  ASSERT_EQ(Count(b, u.user_id), 0);
  AddError(u);  // through A: B (another node) never hears of it
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(Count(b, u.user_id), 0);
  EXPECT_EQ(Count(*a_, u.user_id), 1);
}

TEST_F(ProfileCacheTest, AnExpiredProfileIsServedWhileTheStoreIsDown) {
  ProfileCache b(fault_.get(), &metrics_, {100, 10'000});  // 10 ms
  const Utterance u = NewLearner();
  AddError(u);
  ASSERT_EQ(Count(b, u.user_id), 1);
  std::this_thread::sleep_for(20ms);
  fault_->set_failing(true);
  EXPECT_EQ(Count(b, u.user_id), 1);  // expired, but better than an error
  auto unknown = b.Get(NewUuidV7(NowMicros()));
  EXPECT_EQ(unknown.status().code(), Status::Code::kUnavailable);  // nothing to fall back on
  fault_->set_failing(false);
}

// Warm restart (docs/warm-restart.md): a preloaded learner is read from
// memory (the store is down by then) and exactly as written; a second preload
// finds them present; the preload was not a read.
TEST_F(ProfileCacheTest, APreloadedLearnerIsReadFromMemory) {
  const Utterance u = NewLearner();
  AddError(u);
  AddError(u);
  Metrics m({});
  // Room for 100 learners in each of the 64 shards: the failing preload below
  // must reach the store, not find its shard full (with room for 100 in all,
  // one in 64 random learners shared u's shard and got kFull).
  ProfileCache b(fault_.get(), &m, {6400, 0});
  EXPECT_EQ(b.Preload(u.user_id), ProfileCache::Preloaded::kLoaded);
  EXPECT_EQ(b.Preload(u.user_id), ProfileCache::Preloaded::kPresent);
  EXPECT_EQ(b.size(), 1u);
  const std::string text = m.Render();
  EXPECT_NE(text.find("errata_profile_cache_preloaded_total 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("errata_profile_cache_misses_total 0\n"), std::string::npos) << text;
  fault_->set_failing(true);
  EXPECT_EQ(b.Preload(NewUuidV7(NowMicros())), ProfileCache::Preloaded::kFailed);
  EXPECT_EQ(Count(b, u.user_id), 2);
  fault_->set_failing(false);
}

// A preload only fills free room: once every shard is full it evicts no one.
TEST_F(ProfileCacheTest, APreloadNeverEvicts) {
  ProfileCache b(fault_.get(), &metrics_, {64, 0});  // one learner per shard
  for (int i = 0; i < 2000 && b.size() < 64; ++i) ASSERT_TRUE(b.Get(NewUuidV7(NowMicros())).ok());
  ASSERT_EQ(b.size(), 64u);
  const auto before = b.HotLearners(1000);
  EXPECT_EQ(b.Preload(NewUuidV7(NowMicros())), ProfileCache::Preloaded::kFull);
  EXPECT_EQ(b.HotLearners(1000), before);
}

// The memory budget bounds the cache by each entry's estimated bytes: with
// room for three empty profiles per shard, it holds three at most per shard.
TEST_F(ProfileCacheTest, TheMemoryBudgetBoundsTheCache) {
  size_t one = 0;
  {
    ProfileCache probe(fault_.get(), &metrics_, {0, 0, 0});
    ASSERT_TRUE(probe.Get(NewUuidV7(NowMicros())).ok());
    one = probe.bytes();  // an unknown learner's entry; every id has the same length
  }
  ASSERT_GT(one, sizeof(Profile));
  Metrics m({});
  ProfileCache b(fault_.get(), &m, {0, 0, 64 * (3 * one + one / 2)});
  for (int i = 0; i < 3000; ++i) ASSERT_TRUE(b.Get(NewUuidV7(NowMicros())).ok());
  EXPECT_LE(b.size(), 64u * 3);
  EXPECT_GT(b.size(), 64u * 2);  // 3000 reads fill nearly every shard
  EXPECT_EQ(b.bytes(), b.size() * one);
  const std::string text = m.Render();
  EXPECT_NE(text.find("errata_profile_cache_bytes " + std::to_string(b.bytes()) + "\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(b.Preload(NewUuidV7(NowMicros())) == ProfileCache::Preloaded::kLoaded,
            b.size() < 64u * 3);  // a preload only takes free room
}

// A commit that grows a cached profile grows the cache's bytes with it.
TEST_F(ProfileCacheTest, ACommitsGrowthIsCounted) {
  const Utterance u = NewLearner();
  ASSERT_TRUE(a_->Get(u.user_id).ok());
  const size_t before = a_->bytes();
  AddError(u);  // a new point
  auto p = a_->Get(u.user_id);
  ASSERT_TRUE(p.ok());
  ASSERT_NE((*p)->Find("pronouns"), nullptr);
  EXPECT_GE(a_->bytes(), before + sizeof(ErrorPoint));
  // Three new points in one commit: the staged copy's vector grows to room
  // for four, and is shrunk when published.
  const Utterance v = NewLearner();
  ASSERT_TRUE(a_->Get(v.user_id).ok());
  WriteOp op;
  op.kind = WriteOp::Kind::kAddErrors;
  op.utterance = v;
  op.utterance.errors = {PronounError(), PronounError(), PronounError()};
  op.utterance.errors[1].subcategory = op.utterance.errors[1].subcategory_id = "articles";
  op.utterance.errors[2].subcategory = op.utterance.errors[2].subcategory_id = "prepositions";
  ASSERT_TRUE(Write({op}).status.ok());
  auto q = a_->Get(v.user_id);
  ASSERT_TRUE(q.ok());
  ASSERT_EQ((*q)->points.size(), 3u);
  EXPECT_EQ((*q)->points.capacity(), 3u);
}

// A preload that a commit for the learner overlaps is not cached, as with a
// read's miss: it could hold the profile from before the commit.
TEST_F(ProfileCacheTest, APreloadDuringACommitIsNotCached) {
  const Utterance u = NewLearner();
  ProfileCache b(fault_.get(), &metrics_, {100, 0});
  b.BeginCommit({u.user_id});
  EXPECT_EQ(b.Preload(u.user_id), ProfileCache::Preloaded::kSkipped);
  b.EndCommit({u.user_id});
  EXPECT_EQ(b.size(), 0u);
  EXPECT_EQ(b.Preload(u.user_id), ProfileCache::Preloaded::kLoaded);
}

// A read's load is not cached when a commit for the learner was in progress
// when it began, or began or ended while it ran: the load may have missed
// the commit. The next read loads again.
TEST_F(ProfileCacheTest, ALoadThatACommitOverlapsIsNotCached) {
  const Utterance u = NewLearner();
  ProfileCache b(fault_.get(), &metrics_, {100, 0});
  b.BeginCommit({u.user_id});  // in progress when the load begins
  ASSERT_TRUE(b.Get(u.user_id).ok());
  b.EndCommit({u.user_id});
  EXPECT_EQ(b.size(), 0u);

  fault_->during_load = [&] { b.BeginCommit({u.user_id}); b.EndCommit({u.user_id}); };
  ASSERT_TRUE(b.Get(u.user_id).ok());  // a whole commit during the load
  EXPECT_EQ(b.size(), 0u);
  EXPECT_EQ(b.Preload(u.user_id), ProfileCache::Preloaded::kSkipped);
  EXPECT_EQ(b.size(), 0u);
  fault_->during_load = nullptr;

  ASSERT_TRUE(b.Get(u.user_id).ok());  // nothing overlaps: cached
  EXPECT_EQ(b.size(), 1u);
}

// HotLearners lists every cached learner once, at most `max` of them; a
// learner read again comes before one read once in the same shard.
TEST_F(ProfileCacheTest, HotLearnersListsTheCachedLearners) {
  ProfileCache b(fault_.get(), &metrics_, {6400, 0});
  std::vector<std::string> ids;
  for (int i = 0; i < 200; ++i) {
    ids.push_back(NewUuidV7(NowMicros()));
    ASSERT_TRUE(b.Get(ids.back()).ok());
  }
  auto all = b.HotLearners(1000);
  std::sort(all.begin(), all.end());
  auto want = ids;
  std::sort(want.begin(), want.end());
  EXPECT_EQ(all, want);
  EXPECT_EQ(b.HotLearners(7).size(), 7u);
  // Two learners of one shard, read in turn: reading the first again puts
  // it first. Learners, not unknown ids, which go to the cold end.
  const std::string first = NewUuidV7(NowMicros());
  std::string later = NewUuidV7(NowMicros());
  while (ShardOf(later) != ShardOf(first)) later = NewUuidV7(NowMicros());
  CreateUser(first);
  CreateUser(later);
  ASSERT_TRUE(b.Get(first).ok());
  ASSERT_TRUE(b.Get(later).ok());
  auto position = [&b](const std::string& id) {
    const auto hot = b.HotLearners(1000);
    return std::find(hot.begin(), hot.end(), id) - hot.begin();
  };
  EXPECT_LT(position(later), position(first));
  ASSERT_TRUE(b.Get(first).ok());
  EXPECT_LT(position(first), position(later));
}

// A read of an id no learner has (a typo, a scan of random ids) only takes
// free room: 3,000 of them evicted every learner of a 640-learner cache.
// Cached so, the id is known once the learner is created.
TEST_F(ProfileCacheTest, UnknownIdsTakeOnlyFreeRoom) {
  ProfileCache b(fault_.get(), &metrics_, {64, 0});  // one learner per shard
  const Utterance u = NewLearner();
  ASSERT_TRUE(b.Get(u.user_id).ok());
  for (int i = 0; i < 3000; ++i) ASSERT_TRUE(b.Get(NewUuidV7(NowMicros())).ok());
  fault_->set_failing(true);  // u is read from memory
  auto hot = b.Get(u.user_id);
  fault_->set_failing(false);
  ASSERT_TRUE(hot.ok()) << hot.status().ToString();
  EXPECT_TRUE((*hot)->user_known);

  // The writer's cache (a_), one learner per shard, with a free shard.
  std::string id = NewUuidV7(NowMicros());
  while (ShardOf(id) == ShardOf(u.user_id)) id = NewUuidV7(NowMicros());
  auto unknown = a_->Get(id);
  ASSERT_TRUE(unknown.ok()) << unknown.status().ToString();
  EXPECT_FALSE((*unknown)->user_known);
  const auto cached = a_->HotLearners(1000);
  ASSERT_NE(std::find(cached.begin(), cached.end(), id), cached.end());
  CreateUser(id);
  fault_->set_failing(true);
  auto known = a_->Get(id);
  fault_->set_failing(false);
  ASSERT_TRUE(known.ok()) << known.status().ToString();
  EXPECT_TRUE((*known)->user_known);
}

TEST_F(ProfileCacheTest, ASharedCacheServesReadsWhileUp) {
  FakeShared shared;
  ProfileCache c(fault_.get(), &metrics_, {100, 0}, &shared);
  EXPECT_EQ(c.Describe(), "fake://");
  const Utterance u = NewLearner();
  AddError(u);
  shared.copy.points.push_back(ErrorPoint{PointNames("pronouns", "Grammar", "pronouns"), 42});
  // Hit: the shared copy.
  shared.lookup = SharedProfiles::Lookup::kHit;
  EXPECT_EQ(Count(c, u.user_id), 42);
  // Miss: the store, then a fill.
  shared.lookup = SharedProfiles::Lookup::kMiss;
  EXPECT_EQ(Count(c, u.user_id), 1);
  EXPECT_EQ(shared.fills, 1);
  // Commit in progress: the store, no fill; the shared copy only if the store fails.
  shared.lookup = SharedProfiles::Lookup::kBypass;
  EXPECT_EQ(Count(c, u.user_id), 1);
  EXPECT_EQ(shared.fills, 1);
  fault_->set_failing(true);
  EXPECT_EQ(Count(c, u.user_id), 42);
  fault_->set_failing(false);
  // Down: the local cache and the store.
  shared.up = false;
  EXPECT_FALSE(c.shared_ok());
  EXPECT_EQ(c.shared_error(), "down");
  EXPECT_EQ(Count(c, u.user_id), 1);
}

TEST_F(ProfileCacheTest, WithoutASharedCacheItIsLocal) {
  EXPECT_EQ(a_->Describe(), "local");
  EXPECT_TRUE(a_->shared_ok());
  EXPECT_EQ(a_->shared_error(), "");
}

}  // namespace
}  // namespace errata
