// What SqliteStore does when SQLite fails under it (sqlite_faults_test_util.h
// makes SQLite fail on demand): a step that fails ends the rows as an error,
// never as the rows it got before (every loop goes through StepRows); a
// statement that cannot be prepared is an error the call returns (Db::Prepare
// answers a Status), never a null statement stepped; and a decay recompute
// that fails stores nothing.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <functional>
#include <string>
#include <vector>

#include "core/ids.h"
#include "core/profile.h"
#include "store/sqlite/sqlite_faults_test_util.h"
#include "store/sqlite/sqlite_store.h"
#include "store/temp_dir_test_util.h"
#include "store/write_test_util.h"

namespace errata {
namespace {

constexpr Micros kHalfLife = 14 * kMicrosPerDay;

class SqliteFaultsTest : public ::testing::Test {
 protected:
  std::string db_path() const { return (dir_.path() / "errata.db").string(); }

  std::unique_ptr<SqliteStore> Open(Micros half_life = kHalfLife) {
    auto s = SqliteStore::Open(SqliteStore::Options{db_path(), half_life, 2});
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }

  static Status Apply(SqliteStore* store, std::vector<WriteOp>& ops) {
    std::vector<WriteOp*> ptrs;
    for (auto& op : ops) ptrs.push_back(&op);
    DeltaSet deltas(kHalfLife);
    return store->ApplyBatch(ptrs, &deltas);
  }

  // A learner with a conversation, an utterance with three corrected errors
  // (two points), and a correct answer (a memory state): something for every
  // query of every read.
  static std::vector<WriteOp> LearnerOps(Utterance* u) {
    std::vector<WriteOp> ops = testutil::NewLearnerOps("I goes home yesterday", u);
    UuidV7Sequence ids(u->created_at);
    for (int i = 0; i < 3; ++i) {
      ErrorRecord e;
      e.error_id = ids.Next();
      e.category = "Grammar";
      e.subcategory = e.subcategory_id = i % 2 ? "pronouns" : "verb-tense";
      e.original = "goes";
      e.correction = "went";
      e.created_at = u->created_at - i * kMicrosPerDay;
      ops[2].utterance.errors.push_back(e);
    }
    u->errors = ops[2].utterance.errors;
    WriteOp a;
    a.kind = WriteOp::Kind::kRecordAttempt;
    a.attempt = Attempt{NewUuidV7(u->created_at),
                        u->user_id,
                        "sva-001",
                        "pronouns",
                        true,
                        std::nullopt,
                        u->created_at};
    ops.push_back(a);
    return ops;
  }

  Utterance Commit(SqliteStore* store) {
    Utterance u;
    auto ops = LearnerOps(&u);
    Status s = Apply(store, ops);
    EXPECT_TRUE(s.ok()) << s.ToString();
    for (const auto& op : ops) EXPECT_TRUE(op.status.ok()) << op.status.ToString();
    return u;
  }

  testutil::TempDir dir_{"sqlite-faults"};
  testutil::SqliteFaults faults_;  // before any store: its connections get the hooks
};

// The finding: GetConversation stepped its utterances and errors with
// `while (Step() == SQLITE_ROW)` and answered what it had, so a read that
// failed half-way gave the learner export a conversation without its errors.
TEST_F(SqliteFaultsTest, AConversationWhoseErrorsCannotBeReadIsAnError) {
  auto store = Open();
  const Utterance u = Commit(store.get());
  for (const char* query :
       {"FROM errors WHERE utterance_id IN", "FROM utterances WHERE conversation_id=?1 ORDER BY"}) {
    SCOPED_TRACE(query);
    faults_.FailStepsOf(query);
    const int failed = faults_.failed();
    auto v = store->GetConversation(u.conversation_id);
    EXPECT_GT(faults_.failed(), failed) << "the fault never fired";
    ASSERT_FALSE(v.ok()) << "answered " << v->utterances.size() << " utterances, "
                         << (v->utterances.empty() ? 0 : v->utterances[0].errors.size())
                         << " errors";
    EXPECT_EQ(v.status().code(), Status::Code::kUnavailable) << v.status().ToString();
    faults_.FailStepsOf("");
    v = store->GetConversation(u.conversation_id);
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    ASSERT_EQ(v->utterances.size(), 1u);
    EXPECT_EQ(v->utterances[0].errors.size(), 3u);
  }
}

// Every other loop over rows, read by read: a failed step is the read's
// error. (These checked their final code before; StepRows keeps them so.)
TEST_F(SqliteFaultsTest, EveryReadFailsWhenOneOfItsStepsFails) {
  auto store = Open();
  const Utterance u = Commit(store.get());
  SqliteStore* s = store.get();
  const std::string user = u.user_id;
  auto status = [](const auto& r) { return r.ok() ? Status::Ok() : r.status(); };
  auto export_all = [s] {
    return s->Export(100, ExportOrder::kWritten,
                     [](std::vector<WriteOp>&) { return Status::Ok(); });
  };
  struct Case {
    const char* query;
    std::function<Status()> read;
  };
  const std::vector<Case> cases = {
      {"FROM attempts WHERE user_id=?1 ORDER BY answered_at",
       [&] { return status(s->ListAttempts(user)); }},
      {"FROM conversations c WHERE c.user_id",
       [&] { return status(s->ListConversations(user, std::nullopt, 10)); }},
      {"FROM error_frequencies WHERE user_id", [&] { return status(s->LoadProfile(user)); }},
      {"FROM mastery WHERE user_id", [&] { return status(s->LoadProfile(user)); }},
      {"JOIN utterances u USING(utterance_id)", [&] { return status(s->LoadProfile(user)); }},
      {"AND correct=1", [&] { return status(s->LoadProfile(user)); }},
      {"SELECT subcategory_id, category, subcategory, created_at FROM errors",
       [&] { return status(s->ProfileBetween(user, 0, NowMicros())); }},
      {"GROUP BY day", [&] { return status(s->ErrorsPerDay(user, 0, NowMicros())); }},
      {"WHERE email_norm >= ?1", [&] { return status(s->SearchCandidates("xavier", 10)); }},
      {"FROM user_trigrams WHERE trigram",
       [&] { return status(s->SearchCandidates("xavier", 10)); }},
      {"SELECT user_id, username, email, created_at FROM users", export_all},
      {"SELECT conversation_id, user_id, started_at FROM conversations", export_all},
      {"FROM utterances u LEFT JOIN errors", export_all},
      {"FROM attempts ORDER BY user_id", export_all},
      {"FROM mastery WHERE user_id", export_all},
      {"FROM erased_users", export_all},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.query);
    ASSERT_TRUE(c.read().ok());
    faults_.FailStepsOf(c.query);
    const int failed = faults_.failed();
    const Status st = c.read();
    EXPECT_GT(faults_.failed(), failed) << "the fault never fired";
    EXPECT_EQ(st.code(), Status::Code::kUnavailable) << st.ToString();
    faults_.FailStepsOf("");
    EXPECT_TRUE(c.read().ok());
  }
}

// A replay reads the stored errors back: a failed read fails the batch
// rather than answering a replay with some of them.
TEST_F(SqliteFaultsTest, AReplayWhoseErrorsCannotBeReadFailsTheBatch) {
  auto store = Open();
  Utterance u;
  auto ops = LearnerOps(&u);
  ops[2].client_id = true;
  ASSERT_TRUE(Apply(store.get(), ops).ok());
  std::vector<WriteOp> again = {ops[2]};
  faults_.FailStepsOf("FROM errors WHERE utterance_id=?1 ORDER BY error_id");
  EXPECT_EQ(Apply(store.get(), again).code(), Status::Code::kUnavailable);
  faults_.FailStepsOf("");
  again = {ops[2]};
  ASSERT_TRUE(Apply(store.get(), again).ok());
  EXPECT_TRUE(again[0].replayed);
  EXPECT_EQ(again[0].utterance.errors.size(), 3u);
}

std::string StoredHalfLife(const std::string& path) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key='decay_half_life_us'", -1, &st, nullptr);
  std::string out;
  if (sqlite3_step(st) == SQLITE_ROW)
    out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

// The finding: the recompute's scan of the errors ignored a step that
// failed, so a start with a new --half-life-days stored the new half-life
// with values computed from part of the errors (none, if the first step
// failed), and no later start would recompute them.
TEST_F(SqliteFaultsTest, ADecayRecomputeWhoseScanFailsStoresNothing) {
  Utterance u;
  {
    auto store = Open();
    u = Commit(store.get());
  }
  const Micros week = 7 * kMicrosPerDay;
  faults_.FailStepsOf("SELECT user_id, subcategory_id, created_at FROM errors");
  {
    auto failed = SqliteStore::Open(SqliteStore::Options{db_path(), week, 2});
    EXPECT_GT(faults_.failed(), 0) << "the fault never fired";
    ASSERT_FALSE(failed.ok()) << "the store opened with a recompute that read no errors";
    EXPECT_EQ(failed.status().code(), Status::Code::kUnavailable) << failed.status().ToString();
  }
  faults_.FailStepsOf("");
  EXPECT_EQ(StoredHalfLife(db_path()), std::to_string(kHalfLife));
  // The next start recomputes, from every error.
  auto store = Open(week);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(StoredHalfLife(db_path()), std::to_string(week));
  auto p = store->LoadProfile(u.user_id);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->points.size(), 2u);
  for (const ErrorPoint& point : p->points) {
    double want = kNoDecay;
    for (const ErrorRecord& e : u.errors) {
      if (e.subcategory_id == point.subcategory_id())
        want = LogAdd2(want, DecayTerm(e.created_at, week));
    }
    EXPECT_NEAR(point.decay_log2, want, 1e-9) << point.subcategory_id();
  }
}

// The finding: Db::Prepare answered nullptr when SQLite could not prepare a
// statement (out of memory, the schema busy or unreadable), and nearly every
// caller stepped it: the process crashed where a 503 was due.
TEST_F(SqliteFaultsTest, AReadWhoseStatementCannotBePreparedIsAnError) {
  auto store = Open();
  const Utterance u = Commit(store.get());
  faults_.FailPreparesOf("conversations");
  auto v = store->GetConversation(u.conversation_id);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), Status::Code::kUnavailable) << v.status().ToString();
  EXPECT_NE(v.status().message().find("prepare"), std::string::npos) << v.status().ToString();
  auto list = store->ListConversations(u.user_id, std::nullopt, 10);
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().code(), Status::Code::kUnavailable);
  EXPECT_GT(faults_.failed(), 0);
  faults_.FailPreparesOf("");
  v = store->GetConversation(u.conversation_id);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->utterances.size(), 1u);
  EXPECT_TRUE(store->ListConversations(u.user_id, std::nullopt, 10).ok());
}

// A read's transaction (BEGIN) that cannot be prepared fails the read: its
// queries would otherwise each see a snapshot of their own.
TEST_F(SqliteFaultsTest, AReadWhoseTransactionCannotBeginIsAnError) {
  auto store = Open();
  const Utterance u = Commit(store.get());  // the writer's BEGIN IMMEDIATE, before the fault
  faults_.FailPreparesOf("BEGIN");
  for (int i = 0; i < 3; ++i) {  // a few reads: each prepares its BEGIN again
    auto user = store->GetUser(u.user_id);
    ASSERT_FALSE(user.ok());
    EXPECT_EQ(user.status().code(), Status::Code::kUnavailable) << user.status().ToString();
  }
  faults_.FailPreparesOf("");
  EXPECT_TRUE(store->GetUser(u.user_id).ok());
  EXPECT_TRUE(store->LoadProfile(u.user_id).ok());
}

// On the writer: the batch fails, rolls back whole, and the next one (the
// statement prepared then) commits.
TEST_F(SqliteFaultsTest, AWriteWhoseStatementCannotBePreparedFailsTheBatch) {
  auto store = Open();
  Utterance u;
  auto ops = LearnerOps(&u);
  faults_.FailPreparesOf("conversations");  // the utterance's look-up of its conversation
  const Status failed = Apply(store.get(), ops);
  EXPECT_GT(faults_.failed(), 0);
  EXPECT_EQ(failed.code(), Status::Code::kUnavailable) << failed.ToString();
  for (const auto& op : ops) EXPECT_FALSE(op.status.ok());
  faults_.FailPreparesOf("");
  EXPECT_EQ(store->GetUser(u.user_id).status().code(), Status::Code::kNotFound)
      << "a failed batch left its learner";
  auto retry = LearnerOps(&u);
  ASSERT_TRUE(Apply(store.get(), retry).ok());
  auto v = store->GetConversation(u.conversation_id);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->utterances.size(), 1u);
}

}  // namespace
}  // namespace errata
