// The Store contract: every embedded store gives the same answers as
// SqliteStore, whose semantics are the reference. Each case runs against
// SqliteStore and RocksdbStore, each opened on a fresh temporary directory,
// through the Store interface only: ApplyBatch with WriteOps (then
// SyncCommitted, as the Writer does for a store with DeferredSync()), and the
// read methods. A case failing for one store and passing for the other is a
// bug in that store, not in the test.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/delta_set.h"
#include "core/ids.h"
#include "core/mastery.h"
#include "core/profile.h"
#include "metrics/metrics_test_util.h"
#include "store/compare.h"
#include "store/copy.h"
#include "store/fault_store.h"
#include "store/postgres/pg_conn.h"
#include "store/postgres/postgres_store.h"
#include "store/rocksdb/codec.h"
#include "store/rocksdb/rocksdb_store.h"
#include "store/rocksdb/rocksdb_test_util.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"
#include "store/upgrade_test_util.h"

namespace errata {
namespace {

namespace fs = std::filesystem;

constexpr Micros kHalfLife = 14 * kMicrosPerDay;
constexpr Micros kT0 = 1'735'689'600'000'000;  // 2025-01-01T00:00:00Z, a UTC midnight
constexpr Micros kMinute = 60 * kMicrosPerSecond;
constexpr Micros kHour = 60 * kMinute;
constexpr int64_t kDay0 = kT0 / kMicrosPerDay;
// Tolerance for decay_log2 (about 1.4e3 here): sums folded in another order
// differ in the last bits; a wrong sum differs by far more.
constexpr double kDecayTolerance = 1e-9;

// ---------------------------------------------------------------- the stores

// The tables with a user_id column (SQLite and PostgreSQL).
constexpr const char* kUserTables[] = {"users",     "conversations",     "utterances",
                                       "errors",    "error_frequencies", "mastery",
                                       "attempts",  "user_trigrams"};

struct SqliteKind {
  static constexpr const char* kName = "Sqlite";
  static Result<std::unique_ptr<Store>> Open(const fs::path& dir, Micros half_life) {
    SqliteStore::Options o;
    o.path = (dir / "errata.db").string();
    o.half_life = half_life;
    o.read_connections = 2;
    auto s = SqliteStore::Open(o);
    if (!s.ok()) return s.status();
    return std::unique_ptr<Store>(std::move(*s));
  }
  // The writer does not enforce the schema's foreign keys (the ops' own
  // checks keep every row's parents, as in RocksdbStore); after each case,
  // SQLite checks that no row lacks its parent.
  static void ExpectConsistent(const fs::path& dir) {
    sqlite3* db = nullptr;
    const int opened =
        sqlite3_open_v2((dir / "errata.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
    std::unique_ptr<sqlite3, decltype(&sqlite3_close)> close(db, &sqlite3_close);
    ASSERT_EQ(opened, SQLITE_OK);
    std::vector<std::string> orphans;
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &st, nullptr), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
      // (table, rowid: NULL in a WITHOUT ROWID table, parent table, key)
      orphans.push_back(fmt::format("a row of {} has no parent in {}",
                                    reinterpret_cast<const char*>(sqlite3_column_text(st, 0)),
                                    reinterpret_cast<const char*>(sqlite3_column_text(st, 2))));
    }
    sqlite3_finalize(st);
    EXPECT_TRUE(orphans.empty()) << fmt::format("{}", fmt::join(orphans, "\n"));
  }
  // The rows of every table that name the learner.
  static int64_t Leftovers(Store*, const fs::path& dir, const std::string& user_id) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2((dir / "errata.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
              SQLITE_OK);
    std::unique_ptr<sqlite3, decltype(&sqlite3_close)> close(db, &sqlite3_close);
    char id[kUuidBytes];
    EXPECT_TRUE(UuidToBytes(user_id, id));
    int64_t rows = 0;
    for (const char* table : kUserTables) {
      sqlite3_stmt* st = nullptr;
      const std::string sql = fmt::format("SELECT count(*) FROM {} WHERE user_id=?1", table);
      EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sql;
      sqlite3_bind_blob(st, 1, id, kUuidBytes, SQLITE_TRANSIENT);
      if (sqlite3_step(st) == SQLITE_ROW) rows += sqlite3_column_int64(st, 0);
      sqlite3_finalize(st);
    }
    return rows;
  }
};

struct RocksdbKind {
  static constexpr const char* kName = "Rocksdb";
  static Result<std::unique_ptr<Store>> Open(const fs::path& dir, Micros half_life) {
    RocksdbStore::Options o = testutil::SmallRocksdb(dir);
    o.half_life = half_life;
    auto s = RocksdbStore::Open(o);
    if (!s.ok()) return s.status();
    return std::unique_ptr<Store>(std::move(*s));
  }
  static void ExpectConsistent(const fs::path&) {}  // no foreign keys to check
  // The keys whose key or value holds the learner's id (as 16 bytes or
  // text), but for an erased learner's tombstone (docs/erasure.md).
  static int64_t Leftovers(Store* store, const fs::path&, const std::string& user_id) {
    auto* rocks = dynamic_cast<RocksdbStore*>(store);
    EXPECT_NE(rocks, nullptr);
    if (rocks == nullptr) return -1;
    char id[kUuidBytes];
    EXPECT_TRUE(UuidToBytes(user_id, id));
    const std::string_view bytes(id, kUuidBytes);
    rocksdb::ReadOptions ro;
    ro.total_order_seek = true;
    std::unique_ptr<rocksdb::Iterator> it(rocks->TEST_db()->NewIterator(ro));
    int64_t keys = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string_view k = it->key().ToStringView(), v = it->value().ToStringView();
      if (k == rocksdb_codec::keys::ErasedUser(user_id)) continue;
      keys += k.find(bytes) != k.npos || v.find(bytes) != v.npos || v.find(user_id) != v.npos;
    }
    return keys;
  }
};

// PostgreSQL, when a server is given (ctest's postgres fixture sets
// ERRATA_PG_URL_FILE, the file scripts/pg-start.sh's URL went to): each case
// gets a database of its own, dropped after it. Without one, the cases skip.
struct PostgresKind {
  static constexpr const char* kName = "Postgres";
  static std::optional<std::string> ServerUrl() {
    const char* file = std::getenv("ERRATA_PG_URL_FILE");
    if (file == nullptr) return std::nullopt;
    std::ifstream in(file);
    std::string url;
    if (!std::getline(in, url) || url.empty()) return std::nullopt;
    return url;
  }
  // The database of the case in `dir`: "contract_" and the directory's uuid.
  static std::string Database(const fs::path& dir) {
    std::string name = "contract_" + dir.filename().string().substr(dir.filename().string().size() - 36);
    std::replace(name.begin(), name.end(), '-', '_');
    return name;
  }
  static std::string UrlOf(const std::string& server, const std::string& db) {
    return server.substr(0, server.rfind('/') + 1) + db;
  }
  // Runs `sql` on the server's own database.
  static Result<pg::Rows> Admin(const std::string& sql) {
    const auto server = ServerUrl();
    if (!server) return Status::Unavailable("no PostgreSQL server (ERRATA_PG_URL_FILE)");
    auto c = pg::Conn::Connect(*server);
    if (!c.ok()) return c.status();
    return (*c)->Exec(sql);
  }
  // The rows of every table that name the learner.
  static int64_t Leftovers(Store*, const fs::path& dir, const std::string& user_id) {
    auto c = pg::Conn::Connect(UrlOf(*ServerUrl(), Database(dir)));
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    if (!c.ok()) return -1;
    int64_t rows = 0;
    for (const char* table : kUserTables) {
      auto r = (*c)->Exec(fmt::format("SELECT count(*) FROM {} WHERE user_id='{}'", table, user_id));
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (r.ok()) rows += r->Int(0, 0);
    }
    return rows;
  }
  static Result<std::unique_ptr<Store>> Open(const fs::path& dir, Micros half_life) {
    const std::string db = Database(dir);
    auto exists = Admin("SELECT 1 FROM pg_database WHERE datname='" + db + "'");
    if (!exists.ok()) return exists.status();
    if (exists->empty()) {
      if (auto made = Admin("CREATE DATABASE " + db); !made.ok()) return made.status();
    }
    auto s = PostgresStore::Open(UrlOf(*ServerUrl(), db), half_life, 2);
    if (!s.ok()) return s.status();
    return std::unique_ptr<Store>(std::move(*s));
  }
  // PostgreSQL enforces the foreign keys itself; the case's database goes.
  static void ExpectConsistent(const fs::path& dir) {
    if (!ServerUrl()) return;
    const auto dropped = Admin("DROP DATABASE IF EXISTS " + Database(dir) + " WITH (FORCE)");
    EXPECT_TRUE(dropped.ok()) << dropped.status().ToString();
  }
};

class KindName {
 public:
  template <typename T>
  static std::string GetName(int) {
    return T::kName;
  }
};

// ---------------------------------------------------------------- rendering
//
// Records are compared through a one-line rendering of every field, so a
// failure shows the whole record on both sides.

std::string Opt(const std::optional<std::string>& s) { return s ? "\"" + *s + "\"" : "<null>"; }

std::string Show(const User& u) {
  return fmt::format("user{{{} username={} email={} created_at={}}}", u.user_id,
                     Opt(u.username), Opt(u.email), u.created_at);
}

std::string Show(const ErrorRecord& e) {
  return fmt::format(
      "error{{{} category={} subcategory={} subcategory_id={} code={} span={} original={} "
      "correction={} explanation={} created_at={}}}",
      e.error_id, Opt(e.category), Opt(e.subcategory), Opt(e.subcategory_id), Opt(e.code),
      e.span ? fmt::format("[{},{})", e.span->start, e.span->end) : "<null>", Opt(e.original),
      Opt(e.correction), Opt(e.explanation), e.created_at);
}

std::string Show(const Utterance& u) {
  std::string s = fmt::format("utterance{{{} conversation={} user={} content={} created_at={}}}",
                              u.utterance_id, u.conversation_id, u.user_id, Opt(u.content),
                              u.created_at);
  for (const auto& e : u.errors) s += "\n    " + Show(e);
  return s;
}

std::string Show(const Conversation& c) {
  return fmt::format("conversation{{{} user={} started_at={}}}", c.conversation_id, c.user_id,
                     c.started_at);
}

std::string Show(const ConversationView& v) {
  std::string s = Show(v.conversation);
  for (const auto& u : v.utterances) s += "\n  " + Show(u);
  return s;
}

std::string Show(const Example& e) {
  return fmt::format("example{{{} subcategory_id={} content={} original={} correction={} "
                     "span=[{},{}) created_at={}}}",
                     e.error_id, e.subcategory_id, Opt(e.content), Opt(e.original),
                     Opt(e.correction), e.span_start, e.span_end, e.created_at);
}

std::string Show(const RecentCorrect& r) {
  return fmt::format("correct{{{} at={}}}", r.exercise_id, r.answered_at);
}

std::string Show(const DayCount& d) {
  return fmt::format("day{{{} {} count={}}}", d.day, d.category, d.count);
}

std::string Show(const MemoryState& m) {
  return fmt::format("memory{{stability={:.15g} difficulty={:.15g} last_review={} reviews={} "
                     "lapses={} last_correct={} last_lapse={}}}",
                     m.stability_days, m.difficulty, m.last_review, m.reviews, m.lapses,
                     m.last_correct, m.last_lapse);
}

// A point's counts (not its decay sum, compared with a tolerance).
std::string ShowCounts(const std::string& subcategory_id, const std::string& category,
                       const std::string& subcategory, int64_t count, Micros first, Micros last) {
  return fmt::format("point{{{} category={} subcategory={} count={} first_seen={} last_seen={}}}",
                     subcategory_id, category, subcategory, count, first, last);
}

template <typename T>
std::vector<std::string> ShowAll(const std::vector<T>& v) {
  std::vector<std::string> out;
  for (const auto& x : v) out.push_back(Show(x));
  return out;
}

template <typename T>
std::string ShowLines(const std::vector<T>& v) {
  std::string s;
  for (const auto& x : v) s += Show(x) + "\n";
  return s;
}

std::vector<ErrorPoint> SortedPoints(const Profile& p) {
  std::vector<ErrorPoint> points = p.points;
  std::sort(points.begin(), points.end(), [](const ErrorPoint& a, const ErrorPoint& b) {
    return a.subcategory_id() < b.subcategory_id();
  });
  return points;
}

// Everything in a profile but the decay sums, points in subcategory order.
std::string ShowProfile(const Profile& p) {
  std::string s = fmt::format("profile{{user_known={}}}", p.user_known);
  for (const auto& pt : SortedPoints(p)) {
    s += "\n  " + ShowCounts(pt.subcategory_id(), pt.category(), pt.subcategory(), pt.count,
                             pt.first_seen, pt.last_seen) +
         " " + Show(pt.memory);
  }
  for (const auto& e : p.examples) s += "\n  " + Show(e);
  for (const auto& r : p.recent_correct) s += "\n  " + Show(r);
  return s;
}

std::vector<double> Decays(const Profile& p) {
  std::vector<double> out;
  for (const auto& pt : SortedPoints(p)) out.push_back(pt.decay_log2);
  return out;
}

// ---------------------------------------------------------------- expectations

void ExpectStatus(const Status& s, Status::Code code, const std::string& message,
                  const std::string& field = "") {
  EXPECT_EQ(static_cast<int>(s.code()), static_cast<int>(code)) << s.ToString();
  EXPECT_EQ(s.message(), message);
  EXPECT_EQ(s.field(), field);
}

void ExpectOk(const WriteOp& op, bool replayed = false) {
  EXPECT_TRUE(op.status.ok()) << op.status.ToString();
  EXPECT_EQ(op.replayed, replayed);
}

// The merged deltas of `errors` (of `user_id`), in (user, subcategory) order:
// what a fresh computation of the profile's points gives.
std::vector<ErrorDelta> Fold(const std::string& user_id, const std::vector<ErrorRecord>& errors,
                             Micros half_life) {
  DeltaSet set(half_life);
  for (const auto& e : errors) set.Add(user_id, e);
  std::vector<ErrorDelta> out = set.deltas();
  std::sort(out.begin(), out.end(), [](const ErrorDelta& a, const ErrorDelta& b) {
    return std::tie(a.user_id, a.subcategory_id) < std::tie(b.user_id, b.subcategory_id);
  });
  return out;
}

// Expects the profile's points to be `want` (one user's deltas): counts exact,
// decay sums within the tolerance.
void ExpectPoints(const Profile& p, const std::vector<ErrorDelta>& want) {
  const std::vector<ErrorPoint> got = SortedPoints(p);
  std::vector<std::string> got_text, want_text;
  for (const auto& g : got) {
    got_text.push_back(
        ShowCounts(g.subcategory_id(), g.category(), g.subcategory(), g.count, g.first_seen, g.last_seen));
  }
  for (const auto& w : want) {
    want_text.push_back(
        ShowCounts(w.subcategory_id, w.category, w.subcategory, w.count, w.first_seen, w.last_seen));
  }
  EXPECT_EQ(got_text, want_text);
  if (got.size() != want.size()) return;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i].decay_log2, want[i].decay_log2, kDecayTolerance) << got[i].subcategory_id();
  }
}

// Expects `deltas` (a batch's output) to be `want`.
void ExpectDeltas(const DeltaSet& deltas, const std::vector<ErrorDelta>& want) {
  std::vector<ErrorDelta> got = deltas.deltas();
  std::sort(got.begin(), got.end(), [](const ErrorDelta& a, const ErrorDelta& b) {
    return std::tie(a.user_id, a.subcategory_id) < std::tie(b.user_id, b.subcategory_id);
  });
  auto show = [](const ErrorDelta& d) {
    return d.user_id + " " +
           ShowCounts(d.subcategory_id, d.category, d.subcategory, d.count, d.first_seen,
                      d.last_seen);
  };
  std::vector<std::string> got_text, want_text;
  for (const auto& d : got) got_text.push_back(show(d));
  for (const auto& d : want) want_text.push_back(show(d));
  EXPECT_EQ(got_text, want_text);
  if (got.size() != want.size()) return;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i].decay_log2, want[i].decay_log2, kDecayTolerance) << got[i].subcategory_id;
  }
}

std::vector<ErrorRecord> Concat(std::vector<ErrorRecord> a, const std::vector<ErrorRecord>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::vector<ErrorRecord> SortedById(std::vector<ErrorRecord> errors) {
  std::sort(errors.begin(), errors.end(),
            [](const ErrorRecord& a, const ErrorRecord& b) { return a.error_id < b.error_id; });
  return errors;
}

// ---------------------------------------------------------------- records and ops

// One error at `at` of a known subcategory, with every optional field set.
ErrorRecord MakeError(const std::string& subcategory_id, Micros at) {
  ErrorRecord e;
  e.error_id = NewUuidV7(at);
  e.subcategory_id = subcategory_id;
  if (subcategory_id == "spelling") {
    e.category = "Spelling";
    e.subcategory = "spelling";
    e.code = "R:SPELL";
  } else if (subcategory_id == "word_choice") {
    e.category = "Vocabulary";
    e.subcategory = "word choice";
    e.code = "R:NOUN";
  } else if (subcategory_id == "articles") {
    e.category = "Grammar";
    e.subcategory = "articles";
    e.code = "M:DET";
  } else {
    e.category = "Grammar";
    e.subcategory = "verb tense";
    e.code = "R:VERB:TENSE";
  }
  e.span = Span{2, 6};
  e.original = "goes";
  e.correction = "went";
  e.explanation = "Use the past tense.";
  e.created_at = at;
  return e;
}

std::vector<ErrorRecord> MakeErrors(const std::vector<std::string>& subcategories, Micros at) {
  std::vector<ErrorRecord> out;
  for (const auto& s : subcategories) out.push_back(MakeError(s, at));
  return out;
}

WriteOp UserOp(const User& u, bool client_id = false) {
  WriteOp op;
  op.kind = WriteOp::Kind::kCreateUser;
  op.user = u;
  op.client_id = client_id;
  return op;
}

WriteOp ConversationOp(const Conversation& c, bool client_id = false) {
  WriteOp op;
  op.kind = WriteOp::Kind::kCreateConversation;
  op.conversation = c;
  op.client_id = client_id;
  return op;
}

WriteOp UtteranceOp(const Utterance& u, bool client_id = false, uint64_t request_hash = 0) {
  WriteOp op;
  op.kind = WriteOp::Kind::kAddUtterance;
  op.utterance = u;
  op.client_id = client_id;
  op.request_hash = request_hash;
  return op;
}

// An ingest write: creates the user (named `username`) and the conversation
// when the conversation is new.
WriteOp IngestOp(const Utterance& u, const std::string& username) {
  WriteOp op = UtteranceOp(u);
  op.create_missing = true;
  op.user = User{u.user_id, username, std::nullopt, u.created_at};
  op.conversation = Conversation{u.conversation_id, u.user_id, u.created_at};
  return op;
}

WriteOp ErrorsOp(const std::string& utterance_id, const std::string& conversation_id,
                 const std::string& user_id, std::vector<ErrorRecord> errors) {
  WriteOp op;
  op.kind = WriteOp::Kind::kAddErrors;
  op.utterance.utterance_id = utterance_id;
  op.utterance.conversation_id = conversation_id;
  op.utterance.user_id = user_id;
  op.utterance.errors = std::move(errors);
  return op;
}

WriteOp AttemptOp(const std::string& user_id, const std::string& exercise_id,
                  const std::string& subcategory_id, bool correct, Micros at) {
  WriteOp op;
  op.kind = WriteOp::Kind::kRecordAttempt;
  op.attempt = Attempt{NewUuidV7(at), user_id, exercise_id, subcategory_id, correct,
                       correct ? std::optional<std::string>("went") : std::nullopt, at};
  return op;
}

struct Learner {
  std::string user_id;
  std::string conversation_id;
};

WriteOp EraseOp(const std::string& user_id) {
  WriteOp op;
  op.kind = WriteOp::Kind::kEraseUser;
  op.user.user_id = user_id;
  return op;
}

// A learner's new name (when `username`) and email (when `email`; nullopt
// removes it).
WriteOp UpdateOp(const std::string& user_id, std::optional<std::string> username,
                 std::optional<std::optional<std::string>> email) {
  WriteOp op;
  op.kind = WriteOp::Kind::kUpdateUser;
  op.user.user_id = user_id;
  if (username) {
    op.update.username = true;
    op.user.username = *username;
  }
  if (email) {
    op.update.email = true;
    op.user.email = *email;
  }
  return op;
}

Utterance MakeUtterance(const Learner& l, std::optional<std::string> content, Micros at,
                        std::vector<ErrorRecord> errors = {}) {
  return Utterance{NewUuidV7(at), l.conversation_id, l.user_id, std::move(content), at,
                   std::move(errors)};
}

// ---------------------------------------------------------------- the fixture

// Reads of one store, rendered for comparison.
struct StoreView {
  Store* s;
  Store* store() { return s; }
  Profile Load(const std::string& user_id) {
    auto p = s->LoadProfile(user_id);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? *p : Profile{};
  }
  std::string ConversationText(const std::string& id) {
    auto v = s->GetConversation(id);
    return v.ok() ? Show(*v) : v.status().ToString();
  }
  std::string UserText(const std::string& id) {
    auto u = s->GetUser(id);
    return u.ok() ? Show(*u) : u.status().ToString();
  }
};

template <typename Kind>
class StoreContractTest : public ::testing::Test {
 public:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fmt::format("errata-contract-{}-{}", Kind::kName, NewUuidV7(NowMicros()));
    ASSERT_TRUE(fs::create_directories(dir_));
    if constexpr (std::is_same_v<Kind, PostgresKind>) {
      if (!PostgresKind::ServerUrl()) GTEST_SKIP() << "no PostgreSQL server (ERRATA_PG_URL_FILE)";
    }
    ASSERT_NO_FATAL_FAILURE(Reopen(kHalfLife));
  }

  void TearDown() override {
    store_.reset();
    Kind::ExpectConsistent(dir_);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Closes the store (if open) and opens it again on the same directory.
  void Reopen(Micros half_life) {
    store_.reset();
    half_life_ = half_life;
    auto s = Kind::Open(dir_, half_life);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }

  Store* store() { return store_.get(); }
  const fs::path& dir() const { return dir_; }
  void CloseStore() { store_.reset(); }

  // PostgreSQL's count of batches that took `path` (RenderMetrics).
  int64_t PostgresBatches(const std::string& path) {
    std::string m;
    store_->RenderMetrics(&m);
    const long long n =
        testutil::MetricValue(m, "errata_postgres_batches_total{path=\"" + path + "\"}");
    EXPECT_GE(n, 0) << m;
    return n;
  }

  // Applies `ops` as one batch, as the Writer does (ApplyBatch, then
  // SyncCommitted for a store with deferred sync); returns the batch's deltas.
  DeltaSet Apply(std::vector<WriteOp>& ops) {
    std::vector<WriteOp*> ptrs;
    for (auto& op : ops) ptrs.push_back(&op);
    DeltaSet deltas(half_life_);
    const Status s = store_->ApplyBatch(ptrs, &deltas);
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (s.ok() && store_->DeferredSync()) {
      const Status sync = store_->SyncCommitted();
      EXPECT_TRUE(sync.ok()) << sync.ToString();
    }
    return deltas;
  }

  // Applies one op as its own batch and returns it with its outputs.
  WriteOp ApplyOne(WriteOp op, DeltaSet* deltas = nullptr) {
    std::vector<WriteOp> ops{std::move(op)};
    DeltaSet d = Apply(ops);
    if (deltas != nullptr) *deltas = std::move(d);
    return std::move(ops[0]);
  }

  // A new user with one conversation, both created at `at`.
  Learner AddLearner(const std::string& username, std::optional<std::string> email, Micros at) {
    Learner l{NewUuidV7(at), NewUuidV7(at)};
    std::vector<WriteOp> ops{UserOp(User{l.user_id, username, std::move(email), at}),
                             ConversationOp(Conversation{l.conversation_id, l.user_id, at})};
    Apply(ops);
    ExpectOk(ops[0]);
    ExpectOk(ops[1]);
    return l;
  }

  // Adds an utterance with `errors` as its own batch and returns it.
  Utterance Say(const Learner& l, Micros at, std::vector<ErrorRecord> errors,
                std::optional<std::string> content = "I goes home yesterday") {
    Utterance u = MakeUtterance(l, std::move(content), at, std::move(errors));
    ExpectOk(ApplyOne(UtteranceOp(u)));
    return u;
  }

  // Adds `errors` to utterance `u` as its own batch.
  void AddErrors(const Utterance& u, const std::vector<ErrorRecord>& errors) {
    ExpectOk(ApplyOne(ErrorsOp(u.utterance_id, u.conversation_id, u.user_id, errors)));
  }

  Profile Load(const std::string& user_id) { return StoreView{store()}.Load(user_id); }
  std::string ConversationText(const std::string& id) {
    return StoreView{store()}.ConversationText(id);
  }
  std::string UserText(const std::string& id) { return StoreView{store()}.UserText(id); }

  Micros half_life_ = kHalfLife;

 private:
  fs::path dir_;
  std::unique_ptr<Store> store_;
};

using StoreKinds = ::testing::Types<SqliteKind, RocksdbKind, PostgresKind>;
TYPED_TEST_SUITE(StoreContractTest, StoreKinds, KindName);

// ---------------------------------------------------------------- users

// A new user reads back with every field (the email as given), by id and by
// its email in any case; an unknown id or email is NotFound.
TYPED_TEST(StoreContractTest, CreateUserReadsBackByIdAndByEmailInAnyCase) {
  const User ann{NewUuidV7(kT0), "Ann", "Ann.Lee@Example.com", kT0};
  ExpectOk(this->ApplyOne(UserOp(ann)));
  auto got = this->store()->GetUser(ann.user_id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(Show(*got), Show(ann));
  auto by_email = this->store()->FindUserByEmail("ann.lee@EXAMPLE.COM");
  ASSERT_TRUE(by_email.ok()) << by_email.status().ToString();
  EXPECT_EQ(Show(*by_email), Show(ann));
  ExpectStatus(this->store()->FindUserByEmail("ann.lee@example.org").status(),
               Status::Code::kNotFound, "User not found");
  ExpectStatus(this->store()->GetUser(NewUuidV7(kT0)).status(), Status::Code::kNotFound,
               "User not found");
}

// An op reports created_user exactly when it created its learner: a new user
// (not a replay, not a taken email), and ingest's first sight of a user (not
// a new conversation of a known one, nor a later line of the same batch).
// The writer caches such a learner's empty profile without a load, so a false
// "created" would hide what the store holds of them.
TYPED_TEST(StoreContractTest, CreatedUserIsReportedOnlyForTheOpThatCreatedTheLearner) {
  const User ann{NewUuidV7(kT0), "ann", "ann@example.com", kT0};
  const WriteOp created = this->ApplyOne(UserOp(ann, /*client_id=*/true));
  ExpectOk(created);
  EXPECT_TRUE(created.created_user);
  const WriteOp replay = this->ApplyOne(UserOp(ann, /*client_id=*/true));
  ExpectOk(replay, /*replayed=*/true);
  EXPECT_FALSE(replay.created_user);
  const WriteOp taken = this->ApplyOne(UserOp(User{NewUuidV7(kT0), "bob", "ANN@example.com", kT0}));
  EXPECT_EQ(taken.status.code(), Status::Code::kConflict);
  EXPECT_FALSE(taken.created_user);

  // Ingest: a new learner, then a second line for them in the same batch,
  // then a new conversation of a learner who exists.
  const Learner cid{NewUuidV7(kT0 + 1), NewUuidV7(kT0 + 1)};
  const Learner ann_again{ann.user_id, NewUuidV7(kT0 + 2)};
  std::vector<WriteOp> ops{
      IngestOp(MakeUtterance(cid, "one", kT0 + 1, MakeErrors({"spelling"}, kT0 + 1)), "cid"),
      IngestOp(MakeUtterance(cid, "two", kT0 + 2, MakeErrors({"spelling"}, kT0 + 2)), "cid"),
      IngestOp(MakeUtterance(ann_again, "three", kT0 + 3), "ann")};
  this->Apply(ops);
  for (const WriteOp& op : ops) ExpectOk(op);
  EXPECT_TRUE(ops[0].created_user);
  EXPECT_FALSE(ops[1].created_user);
  EXPECT_FALSE(ops[2].created_user);
  EXPECT_EQ(this->Load(cid.user_id).TotalErrors(), 2);
}

// Users without an email are allowed any number of times, and keep no email.
TYPED_TEST(StoreContractTest, UsersWithoutEmailDoNotCollide) {
  const User a{NewUuidV7(kT0), "a", std::nullopt, kT0};
  const User b{NewUuidV7(kT0 + 1), "b", std::nullopt, kT0 + 1};
  std::vector<WriteOp> ops{UserOp(a), UserOp(b)};
  this->Apply(ops);
  ExpectOk(ops[0]);
  ExpectOk(ops[1]);
  EXPECT_EQ(this->UserText(a.user_id), Show(a));
  EXPECT_EQ(this->UserText(b.user_id), Show(b));
  ExpectStatus(this->store()->FindUserByEmail("").status(), Status::Code::kNotFound,
               "User not found");
}

// Replaying a user with a client id and the same username and email (in
// another case) is a replay: nothing changes, and the op answers the stored
// email and creation time.
TYPED_TEST(StoreContractTest, CreateUserReplayAnswersWhatIsStored) {
  const User ann{NewUuidV7(kT0), "ann", "Ann@Example.com", kT0};
  ExpectOk(this->ApplyOne(UserOp(ann, /*client_id=*/true)));
  const User again{ann.user_id, "ann", "ann@EXAMPLE.com", kT0 + kHour};
  const WriteOp op = this->ApplyOne(UserOp(again, /*client_id=*/true));
  ExpectOk(op, /*replayed=*/true);
  EXPECT_EQ(Show(op.user), Show(ann));
  EXPECT_EQ(this->UserText(ann.user_id), Show(ann));
}

// Reusing a client id with another username or email is a Conflict, and the
// stored user is unchanged.
TYPED_TEST(StoreContractTest, CreateUserClientIdReuseWithOtherDetailsConflicts) {
  const User ann{NewUuidV7(kT0), "ann", "ann@example.com", kT0};
  ExpectOk(this->ApplyOne(UserOp(ann, /*client_id=*/true)));
  const std::vector<User> others = {
      {ann.user_id, "annie", "ann@example.com", kT0},
      {ann.user_id, "ann", "ann2@example.com", kT0},
      {ann.user_id, "ann", std::nullopt, kT0},
  };
  for (const User& other : others) {
    SCOPED_TRACE(Show(other));
    const WriteOp op = this->ApplyOne(UserOp(other, /*client_id=*/true));
    ExpectStatus(op.status, Status::Code::kConflict, "user_id already exists with other details");
    EXPECT_FALSE(op.replayed);
  }
  EXPECT_EQ(this->UserText(ann.user_id), Show(ann));
}

// An email already registered (compared case-insensitively) is a Conflict,
// with or without a client id, and also against a user earlier in the same
// batch; the conflicting user is not created.
TYPED_TEST(StoreContractTest, CreateUserDuplicateEmailConflicts) {
  const User ann{NewUuidV7(kT0), "ann", "ann@example.com", kT0};
  ExpectOk(this->ApplyOne(UserOp(ann)));
  const User bob{NewUuidV7(kT0 + 1), "bob", "ANN@example.COM", kT0 + 1};
  ExpectStatus(this->ApplyOne(UserOp(bob)).status, Status::Code::kConflict,
               "Email already registered");
  const User cid{NewUuidV7(kT0 + 2), "cid", "Ann@Example.com", kT0 + 2};
  ExpectStatus(this->ApplyOne(UserOp(cid, /*client_id=*/true)).status, Status::Code::kConflict,
               "Email already registered");
  ExpectStatus(this->store()->GetUser(bob.user_id).status(), Status::Code::kNotFound,
               "User not found");
  ExpectStatus(this->store()->GetUser(cid.user_id).status(), Status::Code::kNotFound,
               "User not found");
  auto found = this->store()->FindUserByEmail("ann@example.com");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(Show(*found), Show(ann));

  const User carl{NewUuidV7(kT0 + 3), "carl", "carl@x.org", kT0 + 3};
  const User dave{NewUuidV7(kT0 + 4), "dave", "Carl@X.org", kT0 + 4};
  std::vector<WriteOp> ops{UserOp(carl), UserOp(dave)};
  this->Apply(ops);
  ExpectOk(ops[0]);
  ExpectStatus(ops[1].status, Status::Code::kConflict, "Email already registered");
  EXPECT_EQ(this->UserText(carl.user_id), Show(carl));
  ExpectStatus(this->store()->GetUser(dave.user_id).status(), Status::Code::kNotFound,
               "User not found");
}

// ---------------------------------------------------------------- conversations

// A conversation needs its user (NotFound otherwise), which may come earlier
// in the same batch.
TYPED_TEST(StoreContractTest, CreateConversationNeedsItsUser) {
  const Conversation orphan{NewUuidV7(kT0), NewUuidV7(kT0), kT0};
  ExpectStatus(this->ApplyOne(ConversationOp(orphan)).status, Status::Code::kNotFound,
               "User not found");
  ExpectStatus(this->store()->GetConversation(orphan.conversation_id).status(),
               Status::Code::kNotFound, "Conversation not found");

  const User ann{NewUuidV7(kT0), "ann", std::nullopt, kT0};
  const Conversation c{NewUuidV7(kT0 + 5), ann.user_id, kT0 + 5};
  std::vector<WriteOp> ops{UserOp(ann), ConversationOp(c)};
  this->Apply(ops);
  ExpectOk(ops[0]);
  ExpectOk(ops[1]);
  EXPECT_EQ(this->ConversationText(c.conversation_id), Show(c));
}

// With a client id, a conversation id already used by the same user is a
// replay answering the stored start; by another user, a Conflict.
TYPED_TEST(StoreContractTest, CreateConversationReplayAndConflict) {
  const Learner a = this->AddLearner("a", std::nullopt, kT0);
  const Learner b = this->AddLearner("b", std::nullopt, kT0);
  const Conversation c{NewUuidV7(kT0 + kHour), a.user_id, kT0 + kHour};
  ExpectOk(this->ApplyOne(ConversationOp(c, /*client_id=*/true)));

  // A retry without a start time of its own (the API's "now" differs on
  // each) is a replay; one with the same start time too; another is not.
  const WriteOp replay = this->ApplyOne(
      ConversationOp(Conversation{c.conversation_id, a.user_id, kT0 + 2 * kHour}, true));
  ExpectOk(replay, /*replayed=*/true);
  EXPECT_EQ(Show(replay.conversation), Show(c));
  WriteOp timed = ConversationOp(c, true);
  timed.time_given = true;
  ExpectOk(this->ApplyOne(timed), /*replayed=*/true);
  timed.conversation.started_at = kT0 + 2 * kHour;
  const WriteOp moved = this->ApplyOne(timed);
  ExpectStatus(moved.status, Status::Code::kConflict, "conversation_id already exists");
  EXPECT_EQ(Show(moved.conversation), Show(c));

  const WriteOp other =
      this->ApplyOne(ConversationOp(Conversation{c.conversation_id, b.user_id, kT0}, true));
  ExpectStatus(other.status, Status::Code::kConflict, "conversation_id already exists");
  EXPECT_FALSE(other.replayed);
  EXPECT_EQ(this->ConversationText(c.conversation_id), Show(c));
}

// A learner's conversations come newest first (a tie in start time by id,
// descending), each with its utterance count and last utterance's time, by
// pages that continue after the last one listed; a conversation an ingest
// write created is among them, another learner's is not. The list is the
// same after a reopen; an unknown learner has none.
TYPED_TEST(StoreContractTest, ListConversationsNewestFirstByPages) {
  const Learner a = this->AddLearner("a", std::nullopt, kT0);
  const Learner b = this->AddLearner("b", std::nullopt, kT0 + kHour);
  auto conversation = [&](Micros at) {
    const Conversation c{NewUuidV7(at), a.user_id, at};
    ExpectOk(this->ApplyOne(ConversationOp(c)));
    return Learner{a.user_id, c.conversation_id};
  };
  const Learner c1 = conversation(kT0 + kHour);
  const Learner c2 = conversation(kT0 + 2 * kHour);
  const Learner c3 = conversation(kT0 + 2 * kHour);  // the same start as c2
  this->Say(c1, kT0 + kHour + 5 * kMinute, {});
  this->Say(c1, kT0 + kHour + kMinute, MakeErrors({"verb_tense"}, kT0));
  this->Say(c3, kT0 + 2 * kHour + 10 * kMinute, {});
  this->Say(b, kT0 + 3 * kHour, {});
  const Learner c4{a.user_id, NewUuidV7(kT0 + 3 * kHour)};
  ExpectOk(this->ApplyOne(
      IngestOp(MakeUtterance(c4, "hi", kT0 + 3 * kHour, MakeErrors({"verb_tense"}, kT0)), "")));

  auto show = [&a](const std::vector<ConversationSummary>& list) {
    std::vector<std::string> out;
    for (const ConversationSummary& c : list) {
      out.push_back(fmt::format("{} {} {} {}", c.conversation.conversation_id,
                                c.conversation.started_at - kT0, c.utterances,
                                c.last_utterance_at ? *c.last_utterance_at - kT0 : -1));
      EXPECT_EQ(c.conversation.user_id, a.user_id);
    }
    return out;
  };
  auto line = [](const Learner& l, Micros started, int64_t n, Micros last) {
    return fmt::format("{} {} {} {}", l.conversation_id, started, n, last);
  };
  // c2 and c3 start together: the greater id first.
  const bool c3_first = c3.conversation_id > c2.conversation_id;
  const std::vector<std::string> want{
      line(c4, 3 * kHour, 1, 3 * kHour),
      c3_first ? line(c3, 2 * kHour, 1, 2 * kHour + 10 * kMinute) : line(c2, 2 * kHour, 0, -1),
      c3_first ? line(c2, 2 * kHour, 0, -1) : line(c3, 2 * kHour, 1, 2 * kHour + 10 * kMinute),
      line(c1, kHour, 2, kHour + 5 * kMinute),
      line(a, 0, 0, -1),
  };
  auto list = [&](std::optional<ConversationCursor> after, size_t limit) {
    auto r = this->store()->ListConversations(a.user_id, after, limit);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : std::vector<ConversationSummary>{};
  };
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round == 0 ? "as written" : "after a reopen");
    EXPECT_EQ(show(list(std::nullopt, 10)), want);
    // Pages of two, each after the last one of the page before.
    std::vector<std::string> paged;
    std::optional<ConversationCursor> after;
    for (int page = 0; page < 4; ++page) {
      const auto got = list(after, 2);
      EXPECT_LE(got.size(), 2u);
      for (const std::string& l : show(got)) paged.push_back(l);
      if (got.empty()) break;
      after = ConversationCursor{got.back().conversation.started_at,
                                 got.back().conversation.conversation_id};
    }
    EXPECT_EQ(paged, want);
    EXPECT_TRUE(list(ConversationCursor{kT0, a.conversation_id}, 10).empty());
    auto unknown = this->store()->ListConversations(NewUuidV7(kT0), std::nullopt, 10);
    ASSERT_TRUE(unknown.ok()) << unknown.status().ToString();
    EXPECT_TRUE(unknown->empty());
    ASSERT_NO_FATAL_FAILURE(this->Reopen(kHalfLife));
  }
}

// ---------------------------------------------------------------- erasing a learner

// Every record of the store, as "<kind> <id> <user>" lines (Store::Export).
template <typename Test>
std::vector<std::string> ExportedRecords(Test* t) {
  std::vector<std::string> out;
  const Status s = t->store()->Export(100, ExportOrder::kWritten, [&](std::vector<WriteOp>& ops) {
    for (const WriteOp& op : ops) {
      const bool by_user =
          op.kind == WriteOp::Kind::kCreateUser || op.kind == WriteOp::Kind::kRecordErasure;
      const std::string& user = by_user ? op.user.user_id
                                : op.kind == WriteOp::Kind::kCreateConversation
                                    ? op.conversation.user_id
                                : op.kind == WriteOp::Kind::kRecordAttempt ? op.attempt.user_id
                                                                           : op.utterance.user_id;
      out.push_back(fmt::format("{} {} {} errors={}", RecordKind(op), RecordId(op), user,
                                op.utterance.errors.size()));
    }
    return Status::Ok();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  std::sort(out.begin(), out.end());
  return out;
}

// Erasing a learner removes every record of theirs and reports how many of
// each kind went: the user (by id, by email, in the search), conversations
// (also one ingest made), utterances, errors, points, memory states and
// attempts. Nothing of another learner changes, the email may be taken
// again, a retried write of the erased learner's finds nothing to add to,
// and a second erase is NotFound. The same after a reopen.
// A learner's export reads its parts one after another: inside a read
// snapshot they are all of one moment, on this thread only.
TYPED_TEST(StoreContractTest, AReadSnapshotShowsItsThreadOneMomentOfTheStore) {
  const Learner ann = this->AddLearner("Ann Snapshot", "ann.snapshot@example.com", kT0);
  const Utterance first = this->Say(ann, kT0 + kMinute, MakeErrors({"verb_tense", "spelling"}, kT0 + kMinute));
  ExpectOk(this->ApplyOne(AttemptOp(ann.user_id, "ex-1", "verb_tense", true, kT0 + kHour)));
  auto count = [](const Profile& p) { return p.TotalErrors(); };

  auto snapshot = this->store()->BeginReadSnapshot();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  // Written after the snapshot began: another utterance, conversation and attempt.
  this->Say(ann, kT0 + 2 * kMinute, MakeErrors({"articles"}, kT0 + 2 * kMinute));
  const Learner later{ann.user_id, NewUuidV7(kT0 + 2 * kHour)};
  ExpectOk(this->ApplyOne(ConversationOp(Conversation{later.conversation_id, ann.user_id,
                                                      kT0 + 2 * kHour})));
  ExpectOk(this->ApplyOne(AttemptOp(ann.user_id, "ex-2", "articles", false, kT0 + 3 * kHour)));
  const Learner bob = this->AddLearner("Bob Snapshot", std::nullopt, kT0 + 3 * kHour);

  Store* store = this->store();
  auto seen = [&] {
    std::string out;
    auto user = store->GetUser(bob.user_id);
    out += user.ok() ? "bob " : "no-bob ";
    auto convs = store->ListConversations(ann.user_id, std::nullopt, 10);
    out += "conversations=" + std::to_string(convs.ok() ? convs->size() : 99);
    auto view = store->GetConversation(ann.conversation_id);
    out += " utterances=" + std::to_string(view.ok() ? view->utterances.size() : 99);
    auto attempts = store->ListAttempts(ann.user_id);
    out += " attempts=" + std::to_string(attempts.ok() ? attempts->size() : 99);
    auto profile = store->LoadProfile(ann.user_id);
    out += " errors=" + std::to_string(profile.ok() ? count(*profile) : 99);
    return out;
  };
  EXPECT_EQ(seen(), "no-bob conversations=1 utterances=1 attempts=1 errors=2");
  std::string other;
  std::thread([&] { other = seen(); }).join();
  EXPECT_EQ(other, "bob conversations=2 utterances=2 attempts=2 errors=3");
  EXPECT_FALSE(store->BeginReadSnapshot().ok()) << "one snapshot a thread";
  snapshot->reset();
  EXPECT_EQ(seen(), "bob conversations=2 utterances=2 attempts=2 errors=3");
  auto again = store->BeginReadSnapshot();
  EXPECT_TRUE(again.ok()) << again.status().ToString();
}

TYPED_TEST(StoreContractTest, EraseUserRemovesEveryRecordOfTheLearnerAndNothingElse) {
  const Learner ann = this->AddLearner("Annabel Erase", "Annabel.Erase@example.com", kT0);
  const Learner bob = this->AddLearner("Bob Keep", "bob.keep@example.com", kT0);
  const Learner ann2{ann.user_id, NewUuidV7(kT0 + kHour)};
  ExpectOk(this->ApplyOne(ConversationOp(Conversation{ann2.conversation_id, ann.user_id,
                                                      kT0 + kHour})));
  const Utterance said = this->Say(ann, kT0 + kMinute, MakeErrors({"verb_tense", "spelling"}, kT0 + kMinute));
  this->AddErrors(said, MakeErrors({"articles"}, kT0 + 2 * kMinute));
  this->Say(ann2, kT0 + 2 * kHour, {}, std::nullopt);
  const Learner ann3{ann.user_id, NewUuidV7(kT0 + 3 * kHour)};
  ExpectOk(this->ApplyOne(IngestOp(
      MakeUtterance(ann3, "hi", kT0 + 3 * kHour, MakeErrors({"verb_tense"}, kT0 + 3 * kHour)), "")));
  ExpectOk(this->ApplyOne(AttemptOp(ann.user_id, "ex-1", "verb_tense", true, kT0 + 4 * kHour)));
  ExpectOk(this->ApplyOne(AttemptOp(ann.user_id, "ex-2", "spelling", false, kT0 + 4 * kHour)));
  this->Say(bob, kT0 + kMinute, MakeErrors({"verb_tense"}, kT0 + kMinute));
  ExpectOk(this->ApplyOne(AttemptOp(bob.user_id, "ex-1", "verb_tense", true, kT0 + 4 * kHour)));

  const std::vector<std::string> before = ExportedRecords(this);
  std::vector<std::string> others;
  for (const std::string& r : before) {
    if (r.find(ann.user_id) == std::string::npos) others.push_back(r);
  }
  ASSERT_LT(others.size(), before.size());
  const std::string bob_profile = ShowProfile(this->Load(bob.user_id));
  auto offers = [&](const char* query, const std::string& id) {
    auto got = this->store()->SearchCandidates(query, 10);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    return got.ok() && std::any_of(got->begin(), got->end(),
                                   [&](const User& u) { return u.user_id == id; });
  };
  ASSERT_TRUE(offers("annabel", ann.user_id));
  ASSERT_TRUE(offers("anabel", ann.user_id));

  WriteOp erase = EraseOp(ann.user_id);
  erase.erased_at = kT0 + 5 * kHour;
  const WriteOp erased = this->ApplyOne(erase);
  ExpectOk(erased);
  // What is left of the learner: the tombstone, the id alone.
  others.push_back(fmt::format("erased {0} {0} errors=0", ann.user_id));
  std::sort(others.begin(), others.end());
  EXPECT_EQ(erased.erased.conversations, 3);
  EXPECT_EQ(erased.erased.utterances, 3);
  EXPECT_EQ(erased.erased.errors, 4);
  EXPECT_EQ(erased.erased.attempts, 2);

  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round == 0 ? "as erased" : "after a reopen");
    EXPECT_EQ(ExportedRecords(this), others);
    EXPECT_EQ(ShowProfile(this->Load(bob.user_id)), bob_profile);
    ExpectStatus(this->store()->GetUser(ann.user_id).status(), Status::Code::kNotFound,
                 "User not found");
    EXPECT_FALSE(this->store()->FindUserByEmail("annabel.erase@example.com").ok());
    const Profile p = this->Load(ann.user_id);
    EXPECT_FALSE(p.user_known);
    EXPECT_TRUE(p.points.empty());
    EXPECT_TRUE(p.examples.empty());
    EXPECT_TRUE(p.recent_correct.empty());
    for (const Learner& l : {ann, ann2, ann3}) {
      ExpectStatus(this->store()->GetConversation(l.conversation_id).status(),
                   Status::Code::kNotFound, "Conversation not found");
    }
    auto listed = this->store()->ListConversations(ann.user_id, std::nullopt, 10);
    ASSERT_TRUE(listed.ok());
    EXPECT_TRUE(listed->empty());
    auto days = this->store()->ErrorsPerDay(ann.user_id, kT0, kT0 + 10 * kHour);
    ASSERT_TRUE(days.ok());
    EXPECT_TRUE(days->empty());
    auto between = this->store()->ProfileBetween(ann.user_id, kT0, kT0 + 10 * kHour);
    ASSERT_TRUE(between.ok());
    EXPECT_EQ(between->TotalErrors(), 0);
    EXPECT_FALSE(offers("annabel", ann.user_id));
    EXPECT_FALSE(offers("anabel", ann.user_id));
    EXPECT_TRUE(offers("bob", bob.user_id));
    EXPECT_EQ(TypeParam::Leftovers(this->store(), this->dir(), ann.user_id), 0);
    EXPECT_GE(TypeParam::Leftovers(this->store(), this->dir(), bob.user_id), 8);  // it sees rows
    // Erased again: the first erase's answer, and nothing changes.
    WriteOp again = EraseOp(ann.user_id);
    again.erased_at = kT0 + 6 * kHour;
    again = this->ApplyOne(again);
    ExpectOk(again, /*replayed=*/true);
    EXPECT_EQ(again.erased_at, kT0 + 5 * kHour);
    EXPECT_EQ(std::tie(again.erased.conversations, again.erased.utterances, again.erased.errors,
                       again.erased.attempts),
              std::tie(erased.erased.conversations, erased.erased.utterances,
                       erased.erased.errors, erased.erased.attempts));
    EXPECT_EQ(ExportedRecords(this), others);
    ExpectStatus(this->ApplyOne(EraseOp(bob.conversation_id)).status, Status::Code::kNotFound,
                 "User not found");  // never a learner
    ASSERT_NO_FATAL_FAILURE(this->Reopen(kHalfLife));
  }
  // A retried write of the erased learner's adds nothing; the email is free.
  ExpectStatus(this->ApplyOne(UtteranceOp(said, /*client_id=*/true)).status,
               Status::Code::kNotFound, "Conversation not found");
  ExpectOk(this->ApplyOne(
      UserOp(User{NewUuidV7(kT0 + kHour), "Ann again", "annabel.erase@example.com", kT0 + kHour})));
}

// An erased learner's id is never a learner's again (docs/erasure.md,
// "Tombstones"): ingest's first sight of it and a new user with it as a
// client's id are refused, alone or among other ops, on the batched path
// and op by op (PostgreSQL's: a replay in the batch), and after a reopen;
// other learners' ops in the same batch go through.
TYPED_TEST(StoreContractTest, AnErasedLearnersIdIsNotMadeALearnerAgain) {
  const Learner ann = this->AddLearner("ann", std::nullopt, kT0);
  this->Say(ann, kT0 + kMinute, MakeErrors({"verb_tense"}, kT0 + kMinute));
  ExpectOk(this->ApplyOne(EraseOp(ann.user_id)));
  const std::vector<std::string> empty = ExportedRecords(this);
  auto erased = [](const WriteOp& op) {
    ExpectStatus(op.status, Status::Code::kConflict,
                 "user_id belonged to an erased learner and cannot be used again", "user_id");
    EXPECT_FALSE(op.created_user);
  };
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round == 0 ? "as erased" : "after a reopen");
    const Micros at = kT0 + (round + 1) * kHour;
    const Learner again{ann.user_id, NewUuidV7(at)};
    erased(this->ApplyOne(IngestOp(MakeUtterance(again, "hi", at, MakeErrors({"spelling"}, at)),
                                   "ann")));
    erased(this->ApplyOne(UserOp(User{ann.user_id, "ann", "ann@example.com", at}, true)));
    EXPECT_EQ(ExportedRecords(this), empty);
    ExpectStatus(this->store()->GetUser(ann.user_id).status(), Status::Code::kNotFound,
                 "User not found");
    EXPECT_FALSE(this->Load(ann.user_id).user_known);
    ASSERT_NO_FATAL_FAILURE(this->Reopen(kHalfLife));
  }
  // Batches: ann's ops refused, the new learners' applied. The second has
  // one utterance twice (a replay), which PostgreSQL runs op by op.
  for (bool replay : {false, true}) {
    SCOPED_TRACE(replay ? "with a replay" : "batched");
    const Micros at = kT0 + (replay ? 5 : 4) * kHour;
    const Learner carol{NewUuidV7(at), NewUuidV7(at)};
    const Learner again{ann.user_id, NewUuidV7(at)};
    const Utterance c1 = MakeUtterance(carol, "one", at, MakeErrors({"spelling"}, at));
    std::vector<WriteOp> ops{
        IngestOp(MakeUtterance(again, "hi", at, MakeErrors({"spelling"}, at)), "ann"),
        IngestOp(c1, "carol"),
        IngestOp(MakeUtterance(again, "hi again", at + 1, {}), "ann"),
        UserOp(User{ann.user_id, "ann", std::nullopt, at}, true)};
    if (replay) ops.push_back(IngestOp(c1, "carol"));
    for (WriteOp& op : ops) op.client_id = true;  // a client's ids, as ingest's and PUT's
    std::vector<WriteOp*> ptrs;
    for (WriteOp& op : ops) ptrs.push_back(&op);
    DeltaSet deltas(kHalfLife);
    ASSERT_TRUE(this->store()->ApplyBatch(ptrs, &deltas).ok());
    erased(ops[0]);
    ExpectOk(ops[1]);
    EXPECT_TRUE(ops[1].created_user);
    erased(ops[2]);
    erased(ops[3]);
    if (replay) {
      EXPECT_TRUE(ops[4].replayed);
    }
    EXPECT_EQ(this->Load(carol.user_id).points.size(), 1u);
    EXPECT_FALSE(this->Load(ann.user_id).user_known);
    EXPECT_EQ(TypeParam::Leftovers(this->store(), this->dir(), ann.user_id), 0);
  }
}

// A learner's attempts come oldest first (a tie in time by id), with every
// field as written; another learner's are not among them, and an unknown
// learner has none.
TYPED_TEST(StoreContractTest, ListAttemptsOldestFirst) {
  const Learner ann = this->AddLearner("ann", std::nullopt, kT0);
  const Learner bob = this->AddLearner("bob", std::nullopt, kT0);
  std::vector<Attempt> want;
  for (auto [exercise, sub, correct, at] :
       {std::tuple{"ex-2", "spelling", false, kT0 + 2 * kHour},
        std::tuple{"ex-1", "verb_tense", true, kT0 + kHour},
        std::tuple{"ex-3", "verb_tense", true, kT0 + 2 * kHour}}) {
    WriteOp op = AttemptOp(ann.user_id, exercise, sub, correct, at);
    ExpectOk(this->ApplyOne(op));
    want.push_back(op.attempt);
  }
  ExpectOk(this->ApplyOne(AttemptOp(bob.user_id, "ex-1", "verb_tense", true, kT0)));
  std::sort(want.begin(), want.end(), [](const Attempt& a, const Attempt& b) {
    return std::tie(a.answered_at, a.attempt_id) < std::tie(b.answered_at, b.attempt_id);
  });
  auto show = [](const std::vector<Attempt>& v) {
    std::vector<std::string> out;
    for (const Attempt& a : v) {
      out.push_back(fmt::format("{} {} {} {} {} {} {}", a.attempt_id, a.user_id, a.exercise_id,
                                a.subcategory_id, a.correct, Opt(a.answer), a.answered_at));
    }
    return out;
  };
  auto got = this->store()->ListAttempts(ann.user_id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(show(*got), show(want));
  auto none = this->store()->ListAttempts(NewUuidV7(kT0));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

// ---------------------------------------------------------------- user updates

// A new name and email replace the old ones everywhere a learner is found:
// by id, by email (in any case), by the search's prefixes and typos, and
// among the newest learners. The old ones find nothing. created_at stays.
// Each change keeps the indexes exact: erasing the learner afterwards, by
// what it holds then, leaves no row or key of theirs.
TYPED_TEST(StoreContractTest, UpdateUserReplacesNameAndEmailEverywhere) {
  const Learner ann = this->AddLearner("Annabel Lindqvist", "Annabel.L@example.com", kT0);
  const Learner bob = this->AddLearner("Bob Keep", "bob.keep@example.com", kT0);
  this->Say(ann, kT0 + kMinute, MakeErrors({"verb_tense"}, kT0 + kMinute));
  const std::string profile = ShowProfile(this->Load(ann.user_id));
  auto offers = [&](const char* query, size_t recent = 0) {
    auto got = this->store()->SearchCandidates(query, recent);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    std::set<std::string> shown;  // a learner may be a candidate by several indexes
    if (got.ok()) {
      for (const User& u : *got) {
        if (u.user_id == ann.user_id) shown.insert(Show(u));
      }
    }
    return std::vector<std::string>(shown.begin(), shown.end());
  };
  ASSERT_EQ(offers("annabel").size(), 1u);

  const WriteOp renamed =
      this->ApplyOne(UpdateOp(ann.user_id, "Marguerite Okonkwo", "M.Okonkwo@Example.com"));
  ExpectOk(renamed);
  const User now{ann.user_id, "Marguerite Okonkwo", "M.Okonkwo@Example.com", kT0};
  EXPECT_EQ(Show(renamed.user), Show(now));
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round == 0 ? "as updated" : "after a reopen");
    auto got = this->store()->GetUser(ann.user_id);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(Show(*got), Show(now));
    auto by_email = this->store()->FindUserByEmail("m.okonkwo@example.com");
    ASSERT_TRUE(by_email.ok()) << by_email.status().ToString();
    EXPECT_EQ(Show(*by_email), Show(now));
    ExpectStatus(this->store()->FindUserByEmail("annabel.l@example.com").status(),
                 Status::Code::kNotFound, "User not found");
    EXPECT_EQ(offers("margu"), std::vector<std::string>{Show(now)});  // the name's prefix
    EXPECT_EQ(offers("m.okon"), std::vector<std::string>{Show(now)});  // the email's
    EXPECT_EQ(offers("okonkow"), std::vector<std::string>{Show(now)});  // a typo (trigrams)
    EXPECT_EQ(offers("zz", 10), std::vector<std::string>{Show(now)});  // among the newest
    EXPECT_TRUE(offers("annabel").empty());
    EXPECT_TRUE(offers("lindqvst").empty());
    EXPECT_EQ(ShowProfile(this->Load(ann.user_id)), profile);
    ASSERT_NO_FATAL_FAILURE(this->Reopen(kHalfLife));
  }

  // The email in another case: the same email, now spelt as given.
  WriteOp op = this->ApplyOne(UpdateOp(ann.user_id, std::nullopt, "m.okonkwo@example.com"));
  ExpectOk(op);
  EXPECT_EQ(Show(op.user), Show(User{ann.user_id, "Marguerite Okonkwo", "m.okonkwo@example.com", kT0}));
  // The name alone; then no email at all.
  ExpectOk(this->ApplyOne(UpdateOp(ann.user_id, "Margo", std::nullopt)));
  op = this->ApplyOne(UpdateOp(ann.user_id, std::nullopt, std::optional<std::string>()));
  ExpectOk(op);
  EXPECT_EQ(Show(op.user), Show(User{ann.user_id, "Margo", std::nullopt, kT0}));
  EXPECT_EQ(Show(*this->store()->GetUser(ann.user_id)), Show(op.user));
  EXPECT_FALSE(this->store()->FindUserByEmail("m.okonkwo@example.com").ok());
  EXPECT_TRUE(offers("m.okon").empty());
  EXPECT_TRUE(offers("okonkwo").empty());
  EXPECT_EQ(offers("margo").size(), 1u);
  // Sent again: the same record, nothing changes.
  op = this->ApplyOne(UpdateOp(ann.user_id, "Margo", std::optional<std::string>()));
  ExpectOk(op);
  EXPECT_EQ(Show(op.user), Show(User{ann.user_id, "Margo", std::nullopt, kT0}));

  ExpectOk(this->ApplyOne(EraseOp(ann.user_id)));
  EXPECT_EQ(TypeParam::Leftovers(this->store(), this->dir(), ann.user_id), 0);
  EXPECT_TRUE(offers("margo").empty());
  EXPECT_EQ(Show(*this->store()->GetUser(bob.user_id)),
            Show(User{bob.user_id, "Bob Keep", "bob.keep@example.com", kT0}));
}

// Another learner's email, in any case, is a Conflict on the email, and
// changes nothing (not the name given with it either). An unknown or erased
// learner is NotFound.
TYPED_TEST(StoreContractTest, UpdateUserRefusesATakenEmailAndAnUnknownLearner) {
  const Learner ann = this->AddLearner("ann", "ann@example.com", kT0);
  const Learner bob = this->AddLearner("bob", "bob@example.com", kT0);
  WriteOp op = this->ApplyOne(UpdateOp(ann.user_id, "ann b", "BOB@example.com"));
  ExpectStatus(op.status, Status::Code::kConflict, "Email already registered", "email");
  EXPECT_EQ(Show(*this->store()->GetUser(ann.user_id)),
            Show(User{ann.user_id, "ann", "ann@example.com", kT0}));
  EXPECT_EQ(this->store()->FindUserByEmail("bob@example.com")->user_id, bob.user_id);

  ExpectStatus(this->ApplyOne(UpdateOp(NewUuidV7(kT0), "x", std::nullopt)).status,
               Status::Code::kNotFound, "User not found");
  ExpectOk(this->ApplyOne(EraseOp(bob.user_id)));
  ExpectStatus(this->ApplyOne(UpdateOp(bob.user_id, "bob again", std::nullopt)).status,
               Status::Code::kNotFound, "User not found");
  EXPECT_EQ(TypeParam::Leftovers(this->store(), this->dir(), bob.user_id), 0);
  // The erased learner's email is free again.
  ExpectOk(this->ApplyOne(UpdateOp(ann.user_id, std::nullopt, "bob@example.com")));
}

// In one batch, an email an update gives up is free for the ops after it,
// and one it takes is taken; the ops see each other as they would in
// separate batches.
TYPED_TEST(StoreContractTest, UpdateUserInABatchIsSeenByTheOpsAfterIt) {
  const Learner ann = this->AddLearner("ann", "ann@example.com", kT0);
  const Learner bob = this->AddLearner("bob", "bob@example.com", kT0);
  const User carl{NewUuidV7(kT0 + 1), "carl", "ann@example.com", kT0 + 1};
  const User dora{NewUuidV7(kT0 + 2), "dora", "ann.new@example.com", kT0 + 2};
  std::vector<WriteOp> ops{
      UpdateOp(ann.user_id, std::nullopt, "ann.new@example.com"),  // gives up ann@
      UserOp(carl),                                                // takes it
      UserOp(dora),                                                // ann.new@ is taken
      UpdateOp(bob.user_id, std::nullopt, "Ann.New@example.com"),  // and taken
      UpdateOp(ann.user_id, "ann two", std::nullopt),              // the record as changed
      UpdateOp(ann.user_id, std::nullopt, "ann.3@example.com"),    // gives up ann.new@
      UpdateOp(bob.user_id, std::nullopt, "ann.new@example.com"),  // now free
  };
  this->Apply(ops);
  ExpectOk(ops[0]);
  ExpectOk(ops[1]);
  ExpectStatus(ops[2].status, Status::Code::kConflict, "Email already registered");
  ExpectStatus(ops[3].status, Status::Code::kConflict, "Email already registered", "email");
  ExpectOk(ops[4]);
  EXPECT_EQ(Show(ops[4].user), Show(User{ann.user_id, "ann two", "ann.new@example.com", kT0}));
  ExpectOk(ops[5]);
  ExpectOk(ops[6]);
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round == 0 ? "as applied" : "after a reopen");
    EXPECT_EQ(Show(*this->store()->GetUser(ann.user_id)),
              Show(User{ann.user_id, "ann two", "ann.3@example.com", kT0}));
    EXPECT_EQ(Show(*this->store()->GetUser(bob.user_id)),
              Show(User{bob.user_id, "bob", "ann.new@example.com", kT0}));
    EXPECT_EQ(Show(*this->store()->GetUser(carl.user_id)), Show(carl));
    EXPECT_FALSE(this->store()->GetUser(dora.user_id).ok());
    EXPECT_EQ(this->store()->FindUserByEmail("ann@example.com")->user_id, carl.user_id);
    EXPECT_EQ(this->store()->FindUserByEmail("ann.new@example.com")->user_id, bob.user_id);
    EXPECT_EQ(this->store()->FindUserByEmail("ann.3@example.com")->user_id, ann.user_id);
    EXPECT_FALSE(this->store()->FindUserByEmail("bob@example.com").ok());
    ASSERT_NO_FATAL_FAILURE(this->Reopen(kHalfLife));
  }
  // Erasing each leaves nothing: no index entry of an old name or email stayed.
  for (const std::string& id : {ann.user_id, bob.user_id, carl.user_id}) {
    ExpectOk(this->ApplyOne(EraseOp(id)));
    EXPECT_EQ(TypeParam::Leftovers(this->store(), this->dir(), id), 0);
  }
}

// An erase goes alone in its batch (Store: EraseIsAlone); a store refuses
// a batch with an erase and anything else, and changes nothing.
TYPED_TEST(StoreContractTest, EraseUserWithOtherOpsInItsBatchFailsTheBatch) {
  const Learner ann = this->AddLearner("ann", std::nullopt, kT0);
  const std::vector<std::string> before = ExportedRecords(this);
  std::vector<WriteOp> ops{EraseOp(ann.user_id),
                           UtteranceOp(MakeUtterance(ann, "hi", kT0 + kMinute,
                                                     MakeErrors({"verb_tense"}, kT0)))};
  std::vector<WriteOp*> ptrs{&ops[0], &ops[1]};
  DeltaSet deltas(kHalfLife);
  const Status s = this->store()->ApplyBatch(ptrs, &deltas);
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();
  EXPECT_EQ(ops[0].status.code(), Status::Code::kUnavailable);
  EXPECT_EQ(ops[1].status.code(), Status::Code::kUnavailable);
  EXPECT_EQ(ExportedRecords(this), before);
}

// ---------------------------------------------------------------- utterances

// An utterance in an unknown conversation is NotFound and adds nothing.
TYPED_TEST(StoreContractTest, AddUtteranceToUnknownConversationIsNotFound) {
  const Learner a = this->AddLearner("a", std::nullopt, kT0);
  const Learner lost{a.user_id, NewUuidV7(kT0)};
  const Utterance u = MakeUtterance(lost, "hello", kT0 + kHour, MakeErrors({"verb_tense"}, kT0));
  DeltaSet deltas(kHalfLife);
  const WriteOp op = this->ApplyOne(UtteranceOp(u), &deltas);
  ExpectStatus(op.status, Status::Code::kNotFound, "Conversation not found");
  EXPECT_TRUE(deltas.empty());
  EXPECT_TRUE(this->Load(a.user_id).points.empty());
  ExpectStatus(this->store()->GetConversation(lost.conversation_id).status(),
               Status::Code::kNotFound, "Conversation not found");
}

// An utterance by a user who does not own the conversation is an
// InvalidArgument on user_id, also for an ingest write, which then creates
// nothing.
TYPED_TEST(StoreContractTest, AddUtteranceByAnotherUserIsInvalidArgument) {
  const Learner a = this->AddLearner("a", std::nullopt, kT0);
  const Learner b = this->AddLearner("b", std::nullopt, kT0);
  const Learner wrong{b.user_id, a.conversation_id};
  const Utterance u = MakeUtterance(wrong, "hi", kT0 + kHour, MakeErrors({"spelling"}, kT0));
  ExpectStatus(this->ApplyOne(UtteranceOp(u)).status, Status::Code::kInvalidArgument,
               "user_id does not own the conversation", "user_id");
  const Learner stranger{NewUuidV7(kT0), a.conversation_id};
  const Utterance v = MakeUtterance(stranger, "hi", kT0 + kHour, MakeErrors({"spelling"}, kT0));
  ExpectStatus(this->ApplyOne(IngestOp(v, "stranger")).status, Status::Code::kInvalidArgument,
               "user_id does not own the conversation", "user_id");
  ExpectStatus(this->store()->GetUser(stranger.user_id).status(), Status::Code::kNotFound,
               "User not found");
  EXPECT_EQ(this->ConversationText(a.conversation_id),
            Show(Conversation{a.conversation_id, a.user_id, kT0}));
  EXPECT_TRUE(this->Load(b.user_id).points.empty());
  EXPECT_TRUE(this->Load(a.user_id).points.empty());
}

// An ingest write creates the user (no email, created at the utterance's
// time) and the conversation; a second ingest write for the same new
// conversation in the same batch sees them and just adds its utterance. An
// existing user is kept as it is.
TYPED_TEST(StoreContractTest, CreateMissingCreatesUserAndConversationSeenInTheSameBatch) {
  const Learner l{NewUuidV7(kT0), NewUuidV7(kT0)};
  const Utterance u1 = MakeUtterance(l, "one", kT0 + kHour, MakeErrors({"verb_tense"}, kT0 + kHour));
  const Utterance u2 = MakeUtterance(l, "two", kT0 + 2 * kHour,
                                     MakeErrors({"verb_tense", "spelling"}, kT0 + 2 * kHour));
  std::vector<WriteOp> ops{IngestOp(u1, "ingest-1"), IngestOp(u2, "ingest-2")};
  const DeltaSet deltas = this->Apply(ops);
  ExpectOk(ops[0]);
  ExpectOk(ops[1]);
  const std::vector<ErrorRecord> all = Concat(u1.errors, u2.errors);
  ExpectDeltas(deltas, Fold(l.user_id, all, kHalfLife));
  EXPECT_EQ(this->UserText(l.user_id), Show(User{l.user_id, "ingest-1", std::nullopt, kT0 + kHour}));
  ConversationView want{Conversation{l.conversation_id, l.user_id, kT0 + kHour}, {u1, u2}};
  want.utterances[1].errors = SortedById(u2.errors);
  EXPECT_EQ(this->ConversationText(l.conversation_id), Show(want));
  const Profile p = this->Load(l.user_id);
  EXPECT_TRUE(p.user_known);
  ExpectPoints(p, Fold(l.user_id, all, kHalfLife));

  // A new conversation of an existing user: the user keeps its name.
  const Learner l2{l.user_id, NewUuidV7(kT0 + 3 * kHour)};
  const Utterance u3 = MakeUtterance(l2, "three", kT0 + 3 * kHour);
  ExpectOk(this->ApplyOne(IngestOp(u3, "renamed")));
  EXPECT_EQ(this->UserText(l.user_id), Show(User{l.user_id, "ingest-1", std::nullopt, kT0 + kHour}));
  EXPECT_EQ(this->ConversationText(l2.conversation_id),
            Show(ConversationView{Conversation{l2.conversation_id, l.user_id, kT0 + 3 * kHour},
                                  {u3}}));
}

// With a client id, an utterance id already used with the same request hash
// is a replay: nothing is added again, and the op answers the stored time
// and every stored error of the utterance (also those added later), ordered
// by error_id. Another hash (any of the 64 bits) is a Conflict naming
// utterance_id. A replay within the same batch counts once.
TYPED_TEST(StoreContractTest, AddUtteranceReplayWithClientId) {
  constexpr uint64_t kHash = 0xF00DFACE12345678ull;  // above INT64_MAX
  const Learner a = this->AddLearner("a", std::nullopt, kT0);
  std::vector<ErrorRecord> errors =
      MakeErrors({"verb_tense", "spelling", "articles"}, kT0 + kHour);
  errors = SortedById(errors);
  std::reverse(errors.begin(), errors.end());  // stored out of id order
  errors[1].span.reset();
  errors[1].explanation.reset();
  const Utterance u = MakeUtterance(a, "I goes", kT0 + kHour, errors);
  ExpectOk(this->ApplyOne(UtteranceOp(u, /*client_id=*/true, kHash)));
  const std::vector<ErrorRecord> later = MakeErrors({"word_choice"}, kT0 + 2 * kHour);
  this->AddErrors(u, later);

  Utterance again = u;
  again.content = "something else";
  again.created_at = kT0 + 5 * kHour;
  again.errors = MakeErrors({"spelling"}, kT0 + 5 * kHour);
  DeltaSet deltas(kHalfLife);
  const WriteOp replay = this->ApplyOne(UtteranceOp(again, true, kHash), &deltas);
  ExpectOk(replay, /*replayed=*/true);
  EXPECT_EQ(replay.utterance.created_at, u.created_at);
  EXPECT_EQ(ShowAll(replay.utterance.errors), ShowAll(SortedById(Concat(errors, later))));
  EXPECT_TRUE(deltas.empty());
  ExpectPoints(this->Load(a.user_id), Fold(a.user_id, Concat(errors, later), kHalfLife));

  for (const uint64_t other : std::vector<uint64_t>{kHash ^ 1, kHash ^ (uint64_t{1} << 63), 0}) {
    SCOPED_TRACE(other);
    const WriteOp op = this->ApplyOne(UtteranceOp(u, true, other));
    // Named on every store, as the erased learner's user_id is.
    ExpectStatus(op.status, Status::Code::kConflict,
                 "utterance_id already used for a different utterance", "utterance_id");
    EXPECT_FALSE(op.replayed);
  }

  // The same new utterance twice in one batch: the second is a replay of the first.
  const Utterance v = MakeUtterance(a, "twice", kT0 + 6 * kHour,
                                    MakeErrors({"spelling"}, kT0 + 6 * kHour));
  std::vector<WriteOp> ops{UtteranceOp(v, true, 5), UtteranceOp(v, true, 5)};
  const DeltaSet twice = this->Apply(ops);
  ExpectOk(ops[0]);
  ExpectOk(ops[1], /*replayed=*/true);
  EXPECT_EQ(ShowAll(ops[1].utterance.errors), ShowAll(v.errors));
  ExpectDeltas(twice, Fold(a.user_id, v.errors, kHalfLife));

  Utterance stored_u = u;
  stored_u.errors = SortedById(Concat(errors, later));
  const ConversationView want{Conversation{a.conversation_id, a.user_id, kT0}, {stored_u, v}};
  EXPECT_EQ(this->ConversationText(a.conversation_id), Show(want));
}

// ---------------------------------------------------------------- errors

// Errors are added to an existing utterance whose user and conversation
// match; an unknown utterance is NotFound, mismatched ids InvalidArgument.
TYPED_TEST(StoreContractTest, AddErrorsChecksTheUtterance) {
  const Learner a = this->AddLearner("a", std::nullopt, kT0);
  const Learner b = this->AddLearner("b", std::nullopt, kT0);
  const Utterance u = this->Say(a, kT0 + kHour, MakeErrors({"verb_tense"}, kT0 + kHour));
  const std::vector<ErrorRecord> more = MakeErrors({"spelling"}, kT0 + 2 * kHour);

  ExpectStatus(this->ApplyOne(ErrorsOp(NewUuidV7(kT0), a.conversation_id, a.user_id, more)).status,
               Status::Code::kNotFound, "Utterance not found");
  const std::string kApart = "user_id, conversation_id and utterance_id do not belong together";
  ExpectStatus(this->ApplyOne(ErrorsOp(u.utterance_id, b.conversation_id, a.user_id, more)).status,
               Status::Code::kInvalidArgument, kApart, "utterance_id");
  ExpectStatus(this->ApplyOne(ErrorsOp(u.utterance_id, a.conversation_id, b.user_id, more)).status,
               Status::Code::kInvalidArgument, kApart, "utterance_id");
  EXPECT_TRUE(this->Load(b.user_id).points.empty());
  ExpectPoints(this->Load(a.user_id), Fold(a.user_id, u.errors, kHalfLife));

  const std::vector<ErrorRecord> good =
      MakeErrors({"spelling", "verb_tense"}, kT0 + 3 * kHour);
  DeltaSet deltas(kHalfLife);
  ExpectOk(this->ApplyOne(ErrorsOp(u.utterance_id, a.conversation_id, a.user_id, good), &deltas));
  ExpectDeltas(deltas, Fold(a.user_id, good, kHalfLife));
  ExpectPoints(this->Load(a.user_id), Fold(a.user_id, Concat(u.errors, good), kHalfLife));
  Utterance want = u;
  want.errors = SortedById(Concat(u.errors, good));
  EXPECT_EQ(this->ConversationText(a.conversation_id),
            Show(ConversationView{Conversation{a.conversation_id, a.user_id, kT0}, {want}}));
}

// ---------------------------------------------------------------- batches

// In one batch, each failed op changes nothing while the others apply (also
// ops after the failures), and `deltas` holds the merged deltas of the
// applied ops only.
TYPED_TEST(StoreContractTest, FailedOpsChangeNothingWhileTheOthersApply) {
  const Learner a{NewUuidV7(kT0), NewUuidV7(kT0)};
  const std::string bob_id = NewUuidV7(kT0 + 1);
  const Learner bob{bob_id, NewUuidV7(kT0 + 1)};
  const Utterance u1 =
      MakeUtterance(a, "one", kT0 + kHour,
                    {MakeError("verb_tense", kT0 + kHour), MakeError("verb_tense", kT0 + 2 * kHour)});
  const Learner lost{a.user_id, NewUuidV7(kT0 + 2)};
  const Utterance u2 = MakeUtterance(lost, "lost", kT0 + kHour, MakeErrors({"spelling"}, kT0 + kHour));
  const std::vector<ErrorRecord> stray = MakeErrors({"articles"}, kT0 + 3 * kHour);
  const std::vector<ErrorRecord> extra = MakeErrors({"verb_tense"}, kT0 + 4 * kHour);
  const Utterance u3 = MakeUtterance(Learner{bob_id, a.conversation_id}, "not mine", kT0 + kHour,
                                     MakeErrors({"word_choice"}, kT0 + kHour));
  std::vector<WriteOp> ops{
      UserOp(User{a.user_id, "ann", "ann@x.org", kT0}),                            // 0 ok
      ConversationOp(Conversation{a.conversation_id, a.user_id, kT0}),             // 1 ok
      UtteranceOp(u1),                                                             // 2 ok
      UtteranceOp(u2),                                                             // 3 NotFound
      ErrorsOp(u1.utterance_id, lost.conversation_id, a.user_id, stray),           // 4 Invalid
      ErrorsOp(u1.utterance_id, a.conversation_id, a.user_id, extra),              // 5 ok
      UserOp(User{bob_id, "bob", "ANN@x.org", kT0 + 1}),                           // 6 Conflict
      ConversationOp(Conversation{bob.conversation_id, bob_id, kT0 + 1}),          // 7 NotFound
      AttemptOp(bob_id, "ex-1", "verb_tense", true, kT0 + 5 * kHour),              // 8 NotFound
      UtteranceOp(u3),                                                             // 9 Invalid
  };
  const DeltaSet deltas = this->Apply(ops);
  ExpectOk(ops[0]);
  ExpectOk(ops[1]);
  ExpectOk(ops[2]);
  ExpectStatus(ops[3].status, Status::Code::kNotFound, "Conversation not found");
  ExpectStatus(ops[4].status, Status::Code::kInvalidArgument,
               "user_id, conversation_id and utterance_id do not belong together", "utterance_id");
  ExpectOk(ops[5]);
  ExpectStatus(ops[6].status, Status::Code::kConflict, "Email already registered");
  ExpectStatus(ops[7].status, Status::Code::kNotFound, "User not found");
  ExpectStatus(ops[8].status, Status::Code::kNotFound, "User not found");
  ExpectStatus(ops[9].status, Status::Code::kInvalidArgument,
               "user_id does not own the conversation", "user_id");

  const std::vector<ErrorRecord> applied = Concat(u1.errors, extra);
  ExpectDeltas(deltas, Fold(a.user_id, applied, kHalfLife));
  ExpectPoints(this->Load(a.user_id), Fold(a.user_id, applied, kHalfLife));
  Utterance want = u1;
  want.errors = SortedById(applied);
  EXPECT_EQ(this->ConversationText(a.conversation_id),
            Show(ConversationView{Conversation{a.conversation_id, a.user_id, kT0}, {want}}));
  ExpectStatus(this->store()->GetUser(bob_id).status(), Status::Code::kNotFound, "User not found");
  ExpectStatus(this->store()->GetConversation(bob.conversation_id).status(),
               Status::Code::kNotFound, "Conversation not found");
  ExpectStatus(this->store()->GetConversation(lost.conversation_id).status(),
               Status::Code::kNotFound, "Conversation not found");
  auto days = this->store()->ErrorsPerDay(a.user_id, kT0, kT0 + kMicrosPerDay);
  ASSERT_TRUE(days.ok());
  EXPECT_EQ(ShowAll(*days), ShowAll(std::vector<DayCount>{{kDay0, "Grammar", 3}}));
}

// A batch of utterances and errors only (PostgreSQL's batched path, one
// lookup for all): each op sees what the earlier ops of its batch added (a
// learner and conversation created by ingest, an utterance to add errors
// to), and the failed ones change nothing.
TYPED_TEST(StoreContractTest, UtterancesAndErrorsOfOneBatchSeeEachOther) {
  const Learner a = this->AddLearner("ann", "ann@x.org", kT0);
  const Learner x{NewUuidV7(kT0 + 1), NewUuidV7(kT0 + 1)};  // new: ingest creates it
  const Learner bob = this->AddLearner("bob", std::nullopt, kT0 + 2);
  const Utterance x1 = MakeUtterance(x, "first", kT0 + kHour, MakeErrors({"spelling"}, kT0 + kHour));
  const Utterance x2 =
      MakeUtterance(x, "second", kT0 + 2 * kHour, MakeErrors({"verb_tense"}, kT0 + 2 * kHour));
  const Utterance lost = MakeUtterance(Learner{a.user_id, NewUuidV7(kT0 + 3)}, "lost",
                                       kT0 + kHour, MakeErrors({"articles"}, kT0 + kHour));
  const std::vector<ErrorRecord> extra = MakeErrors({"verb_tense"}, kT0 + 3 * kHour);
  const Utterance intruder = MakeUtterance(Learner{bob.user_id, x.conversation_id}, "not mine",
                                           kT0 + kHour, MakeErrors({"word_choice"}, kT0 + kHour));
  const Utterance a1 = MakeUtterance(a, "mine", kT0 + kHour, MakeErrors({"articles"}, kT0 + kHour));
  std::vector<WriteOp> ops{
      IngestOp(x1, "xena"),                                                          // 0 ok, creates
      IngestOp(x2, "xena"),                                                          // 1 ok
      UtteranceOp(lost),                                                             // 2 NotFound
      ErrorsOp(x1.utterance_id, x.conversation_id, x.user_id, extra),                // 3 ok
      ErrorsOp(NewUuidV7(kT0 + 4), x.conversation_id, x.user_id, extra),             // 4 NotFound
      ErrorsOp(x1.utterance_id, a.conversation_id, x.user_id, extra),                // 5 Invalid
      UtteranceOp(intruder),                                                         // 6 Invalid
      UtteranceOp(a1),                                                               // 7 ok
  };
  constexpr bool kPostgres = std::is_same_v<TypeParam, PostgresKind>;
  const int64_t together = kPostgres ? this->PostgresBatches("together") : 0;
  const DeltaSet deltas = this->Apply(ops);
  if (kPostgres) {  // the batched path, not the op-by-op one it falls back on
    EXPECT_EQ(this->PostgresBatches("together"), together + 1);
    EXPECT_EQ(this->PostgresBatches("fallback"), 0);
  }
  ExpectOk(ops[0]);
  EXPECT_TRUE(ops[0].created_user);
  ExpectOk(ops[1]);
  EXPECT_FALSE(ops[1].created_user);
  ExpectStatus(ops[2].status, Status::Code::kNotFound, "Conversation not found");
  ExpectOk(ops[3]);
  ExpectStatus(ops[4].status, Status::Code::kNotFound, "Utterance not found");
  ExpectStatus(ops[5].status, Status::Code::kInvalidArgument,
               "user_id, conversation_id and utterance_id do not belong together", "utterance_id");
  ExpectStatus(ops[6].status, Status::Code::kInvalidArgument,
               "user_id does not own the conversation", "user_id");
  ExpectOk(ops[7]);
  for (const WriteOp& op : ops) {
    if (&op != &ops[0]) {
      EXPECT_FALSE(op.created_user);
    }
  }

  const std::vector<ErrorRecord> x_errors = Concat(Concat(x1.errors, x2.errors), extra);
  std::vector<ErrorDelta> want = Fold(x.user_id, x_errors, kHalfLife);
  for (const ErrorDelta& d : Fold(a.user_id, a1.errors, kHalfLife)) want.push_back(d);
  std::sort(want.begin(), want.end(), [](const ErrorDelta& l, const ErrorDelta& r) {
    return std::tie(l.user_id, l.subcategory_id) < std::tie(r.user_id, r.subcategory_id);
  });
  ExpectDeltas(deltas, want);
  ExpectPoints(this->Load(x.user_id), Fold(x.user_id, x_errors, kHalfLife));
  ExpectPoints(this->Load(a.user_id), Fold(a.user_id, a1.errors, kHalfLife));
  EXPECT_TRUE(this->Load(bob.user_id).points.empty());
  EXPECT_EQ(this->UserText(x.user_id), Show(User{x.user_id, "xena", std::nullopt, kT0 + kHour}));
  Utterance x1_stored = x1;
  x1_stored.errors = SortedById(Concat(x1.errors, extra));
  EXPECT_EQ(this->ConversationText(x.conversation_id),
            Show(ConversationView{Conversation{x.conversation_id, x.user_id, kT0 + kHour},
                                  {x1_stored, x2}}));
  ExpectStatus(this->store()->GetConversation(lost.conversation_id).status(),
               Status::Code::kNotFound, "Conversation not found");
}

// Users and conversations in one batch with utterances see each other as
// in batches of their own: a conversation of a user made earlier in the
// batch, an email taken earlier in the batch (in another case), a
// conversation of nobody. On PostgreSQL this is one batched lookup and one
// insert per table; a replayed user or conversation sends a batch op by op.
TYPED_TEST(StoreContractTest, UsersAndConversationsOfOneBatchSeeEachOther) {
  constexpr bool kPostgres = std::is_same_v<TypeParam, PostgresKind>;
  const User ann{NewUuidV7(kT0), "ann", "Ann@Example.com", kT0};
  const User ann_again{NewUuidV7(kT0 + 1), "ann2", "ann@EXAMPLE.com", kT0 + 1};
  const User bob{NewUuidV7(kT0 + 2), "bob", std::nullopt, kT0 + 2};
  const User carl{NewUuidV7(kT0 + 3), "carl", std::nullopt, kT0 + 3};
  const Conversation ann_conv{NewUuidV7(kT0 + 4), ann.user_id, kT0 + 4};
  const Conversation lost{NewUuidV7(kT0 + 5), NewUuidV7(kT0 + 5), kT0 + 5};
  const Conversation bob_conv{NewUuidV7(kT0 + 6), bob.user_id, kT0 + 6};
  const Utterance said = MakeUtterance(Learner{ann.user_id, ann_conv.conversation_id}, "hi",
                                       kT0 + kHour, MakeErrors({"spelling"}, kT0 + kHour));
  std::vector<WriteOp> ops{UserOp(ann),          UserOp(ann_again),      ConversationOp(ann_conv),
                           ConversationOp(lost), UtteranceOp(said),      UserOp(bob),
                           UserOp(carl),         ConversationOp(bob_conv)};
  const int64_t together = kPostgres ? this->PostgresBatches("together") : 0;
  const int64_t fallback = kPostgres ? this->PostgresBatches("fallback") : 0;
  this->Apply(ops);
  if (kPostgres) {
    EXPECT_EQ(this->PostgresBatches("together"), together + 1);
    EXPECT_EQ(this->PostgresBatches("fallback"), fallback);
  }
  ExpectOk(ops[0]);
  EXPECT_TRUE(ops[0].created_user);
  ExpectStatus(ops[1].status, Status::Code::kConflict, "Email already registered");
  EXPECT_FALSE(ops[1].created_user);
  ExpectOk(ops[2]);
  ExpectStatus(ops[3].status, Status::Code::kNotFound, "User not found");
  ExpectOk(ops[4]);
  for (int i : {5, 6}) {
    ExpectOk(ops[i]);
    EXPECT_TRUE(ops[i].created_user);
  }
  ExpectOk(ops[7]);
  for (const User& u : {ann, bob, carl}) EXPECT_EQ(this->UserText(u.user_id), Show(u));
  EXPECT_EQ(this->UserText(ann_again.user_id), "NotFound: User not found");
  auto by_email = this->store()->FindUserByEmail("ANN@example.COM");
  EXPECT_EQ(by_email.ok() ? Show(*by_email) : by_email.status().ToString(), Show(ann));
  EXPECT_EQ(this->ConversationText(ann_conv.conversation_id),
            Show(ConversationView{ann_conv, {said}}));
  EXPECT_EQ(this->ConversationText(bob_conv.conversation_id), Show(ConversationView{bob_conv, {}}));
  EXPECT_EQ(this->ConversationText(lost.conversation_id), "NotFound: Conversation not found");
  ExpectPoints(this->Load(ann.user_id), Fold(ann.user_id, said.errors, kHalfLife));

  // Sent again with their ids: replays, answered with what is stored.
  User ann_replay = ann;
  ann_replay.email = "ANN@example.com";
  ann_replay.created_at = kT0 + kMicrosPerDay;
  Conversation conv_replay = ann_conv;
  conv_replay.started_at = kT0 + kMicrosPerDay;
  std::vector<WriteOp> again{UserOp(ann_replay, true), ConversationOp(conv_replay, true),
                             UserOp(User{NewUuidV7(kT0 + 7), "dan", std::nullopt, kT0 + 7})};
  this->Apply(again);
  if (kPostgres) {
    EXPECT_EQ(this->PostgresBatches("fallback"), fallback + 1);
  }
  ExpectOk(again[0], /*replayed=*/true);
  EXPECT_EQ(Show(again[0].user), Show(ann));
  ExpectOk(again[1], /*replayed=*/true);
  EXPECT_EQ(again[1].conversation.started_at, ann_conv.started_at);
  ExpectOk(again[2]);
  EXPECT_TRUE(again[2].created_user);
}

// A replay among new utterances, and (on PostgreSQL, whose text cannot hold
// NUL) a value the store rejects among good ones: the others apply, as in a
// batch of their own.
TYPED_TEST(StoreContractTest, AReplayOrARejectedValueLeavesTheRestOfTheBatch) {
  constexpr bool kPostgres = std::is_same_v<TypeParam, PostgresKind>;
  const Learner a = this->AddLearner("ann", std::nullopt, kT0);
  auto at = [](int hours) { return kT0 + hours * kHour; };
  const Utterance r = MakeUtterance(a, "replayed", at(1), MakeErrors({"spelling"}, at(1)));
  ExpectOk(this->ApplyOne(UtteranceOp(r, true, 7)));
  std::vector<Utterance> stored{r};
  std::vector<ErrorRecord> applied;

  // A replay among new utterances (PostgreSQL sees it in its batched lookup).
  const Utterance v1 = MakeUtterance(a, "one", at(2), MakeErrors({"articles"}, at(2)));
  const Utterance v2 = MakeUtterance(a, "two", at(3), MakeErrors({"verb_tense"}, at(3)));
  Utterance again = r;
  again.errors = MakeErrors({"word_choice"}, at(4));  // a replay answers what is stored
  std::vector<WriteOp> ops{UtteranceOp(v1, true, 1), UtteranceOp(again, true, 7),
                           UtteranceOp(v2, true, 2)};
  DeltaSet deltas = this->Apply(ops);
  if (kPostgres) {
    EXPECT_EQ(this->PostgresBatches("fallback"), 1);
  }
  ExpectOk(ops[0]);
  ExpectOk(ops[1], /*replayed=*/true);
  EXPECT_EQ(ShowAll(ops[1].utterance.errors), ShowAll(r.errors));
  ExpectOk(ops[2]);
  ExpectDeltas(deltas, Fold(a.user_id, Concat(v1.errors, v2.errors), kHalfLife));
  applied = Concat(v1.errors, v2.errors);
  stored.push_back(v1);
  stored.push_back(v2);

  // Content with a NUL between good utterances: PostgreSQL's batched insert
  // fails on it, and the batch goes op by op.
  const Utterance w1 = MakeUtterance(a, "three", at(5), MakeErrors({"articles"}, at(5)));
  const Utterance nul = MakeUtterance(a, std::string("n\0l", 3), at(6), MakeErrors({"verb_tense"}, at(6)));
  const Utterance w2 = MakeUtterance(a, "four", at(7), MakeErrors({"spelling"}, at(7)));
  ops = {UtteranceOp(w1), UtteranceOp(nul), UtteranceOp(w2)};
  deltas = this->Apply(ops);
  if (kPostgres) {
    EXPECT_EQ(this->PostgresBatches("fallback"), 2);
  }
  ExpectOk(ops[0]);
  if (kPostgres) {
    ExpectStatus(ops[1].status, Status::Code::kInvalidArgument,
                 "text cannot contain a NUL character");
  } else {
    ExpectOk(ops[1]);
  }
  ExpectOk(ops[2]);
  std::vector<ErrorRecord> now = Concat(w1.errors, w2.errors);
  if (!kPostgres) now = Concat(now, nul.errors);
  ExpectDeltas(deltas, Fold(a.user_id, now, kHalfLife));
  applied = Concat(applied, now);
  stored.push_back(w1);
  if (!kPostgres) stored.push_back(nul);
  stored.push_back(w2);

  ExpectPoints(this->Load(a.user_id), Fold(a.user_id, Concat(r.errors, applied), kHalfLife));
  EXPECT_EQ(this->ConversationText(a.conversation_id),
            Show(ConversationView{Conversation{a.conversation_id, a.user_id, kT0}, stored}));
}

// ---------------------------------------------------------------- profiles

// The profile folds every batch: per subcategory the count, the earliest
// first_seen (even when an older error comes in a later batch), the latest
// last_seen and the decay sum, as a fresh computation gives; another
// learner's errors stay out.
TYPED_TEST(StoreContractTest, LoadProfileFoldsEveryBatch) {
  const Learner a = this->AddLearner("a", std::nullopt, kT0);
  const Learner b = this->AddLearner("b", std::nullopt, kT0);
  std::vector<ErrorRecord> all;
  const Utterance u1 = this->Say(a, kT0 + kHour, {MakeError("verb_tense", kT0 + kHour),
                                                  MakeError("spelling", kT0 + 2 * kHour)});
  all = Concat(all, u1.errors);
  this->Say(b, kT0 + kHour, MakeErrors({"verb_tense", "articles"}, kT0 + kHour));
  {
    const Utterance u2 =
        MakeUtterance(a, "two", kT0 + 3 * kMicrosPerDay,
                      MakeErrors({"verb_tense"}, kT0 + 3 * kMicrosPerDay));
    const std::vector<ErrorRecord> earlier = MakeErrors({"verb_tense"}, kT0 + 30 * kMinute);
    std::vector<WriteOp> ops{UtteranceOp(u2),
                             ErrorsOp(u1.utterance_id, a.conversation_id, a.user_id, earlier)};
    const DeltaSet deltas = this->Apply(ops);
    ExpectOk(ops[0]);
    ExpectOk(ops[1]);
    ExpectDeltas(deltas, Fold(a.user_id, Concat(u2.errors, earlier), kHalfLife));
    all = Concat(Concat(all, u2.errors), earlier);
  }
  {
    const Utterance u3 = MakeUtterance(a, "three", kT0 + 10 * kMicrosPerDay,
                                       MakeErrors({"spelling"}, kT0 + 10 * kMicrosPerDay));
    const Utterance u4 = MakeUtterance(a, "four", kT0 + 5 * kMicrosPerDay,
                                       MakeErrors({"word_choice", "spelling"}, kT0 + 5 * kMicrosPerDay));
    std::vector<WriteOp> ops{UtteranceOp(u3), UtteranceOp(u4)};
    this->Apply(ops);
    ExpectOk(ops[0]);
    ExpectOk(ops[1]);
    all = Concat(Concat(all, u3.errors), u4.errors);
  }
  const Profile p = this->Load(a.user_id);
  EXPECT_TRUE(p.user_known);
  ExpectPoints(p, Fold(a.user_id, all, kHalfLife));
  EXPECT_EQ(p.TotalErrors(), 7);
  for (const auto& pt : p.points) EXPECT_EQ(Show(pt.memory), Show(MemoryState{}));
}

// An unknown user has an empty profile with user_known false; a known user
// without errors or attempts an empty one with user_known true.
TYPED_TEST(StoreContractTest, LoadProfileOfUnknownAndQuietUsers) {
  const Profile unknown = this->Load(NewUuidV7(kT0));
  EXPECT_EQ(ShowProfile(unknown), ShowProfile(Profile{}));
  const Learner a = this->AddLearner("a", std::nullopt, kT0);
  this->Say(a, kT0 + kHour, {});
  Profile quiet;
  quiet.user_known = true;
  EXPECT_EQ(ShowProfile(this->Load(a.user_id)), ShowProfile(quiet));
}

// Examples are the newest 30 errors that have a correction and whose
// utterance has content (errors added later included, with their
// utterance's content), newest first; a missing span is -1, a missing
// original "". Other learners' errors stay out.
TYPED_TEST(StoreContractTest, ExamplesAreTheNewestCorrectedErrorsWithContent) {
  const Learner a = this->AddLearner("a", std::nullopt, kT0);
  const Learner b = this->AddLearner("b", std::nullopt, kT0);
  std::vector<Example> eligible;
  auto example = [](const ErrorRecord& e, const std::string& content) {
    return Example{e.error_id, e.subcategory_id, content, e.original.value_or(""), *e.correction,
                   e.span ? e.span->start : -1, e.span ? e.span->end : -1, e.created_at};
  };
  std::vector<Utterance> said;
  for (int batch = 0; batch < 5; ++batch) {
    std::vector<WriteOp> ops;
    for (int j = 0; j < 7; ++j) {
      const int i = batch * 7 + j;
      const Micros at = kT0 + i * kHour;
      ErrorRecord e = MakeError(i % 2 ? "spelling" : "verb_tense", at);
      e.correction = fmt::format("fix {}", i);
      if (i == 10) e.span.reset();
      if (i == 33) e.original.reset();
      const std::string content = fmt::format("I goes home {}", i);
      said.push_back(MakeUtterance(a, content, at, {e}));
      ops.push_back(UtteranceOp(said.back()));
      eligible.push_back(example(e, content));
    }
    this->Apply(ops);
    for (const auto& op : ops) ExpectOk(op);
  }
  // Newer but not examples: no correction; no content.
  ErrorRecord uncorrected = MakeError("verb_tense", kT0 + 40 * kHour);
  uncorrected.correction.reset();
  this->Say(a, kT0 + 40 * kHour, {uncorrected});
  this->Say(a, kT0 + 41 * kHour, MakeErrors({"spelling"}, kT0 + 41 * kHour), std::nullopt);
  // An error added later to the first utterance: an example with its content.
  const ErrorRecord late = MakeError("articles", kT0 + 36 * kHour);
  this->AddErrors(said[0], {late});
  eligible.push_back(example(late, *said[0].content));
  this->Say(b, kT0 + 50 * kHour, MakeErrors({"spelling"}, kT0 + 50 * kHour));

  std::sort(eligible.begin(), eligible.end(),
            [](const Example& x, const Example& y) { return x.created_at > y.created_at; });
  eligible.resize(kMaxExamples);
  EXPECT_EQ(ShowAll(this->Load(a.user_id).examples), ShowAll(eligible));
}

// recent_correct holds the newest 100 correct answers, newest first; wrong
// answers stay out.
TYPED_TEST(StoreContractTest, RecentCorrectIsTheNewestHundredCorrectAnswers) {
  const Learner a = this->AddLearner("a", std::nullopt, kT0);
  std::vector<RecentCorrect> correct;
  std::vector<WriteOp> ops;
  for (int i = 0; i < 105; ++i) {
    const Micros at = kT0 + (i * 37 % 105) * kMinute;  // not in time order
    const std::string ex = fmt::format("ex-{}", i);
    ops.push_back(AttemptOp(a.user_id, ex, "verb_tense", true, at));
    correct.push_back(RecentCorrect{ex, at});
  }
  for (int i = 0; i < 5; ++i) {
    ops.push_back(AttemptOp(a.user_id, fmt::format("wrong-{}", i), "verb_tense", false,
                            kT0 + (200 + i) * kMinute));
  }
  this->Apply(ops);
  for (const auto& op : ops) ExpectOk(op);
  ExpectOk(this->ApplyOne(AttemptOp(a.user_id, "ex-last", "spelling", true, kT0 + 300 * kMinute)));
  correct.push_back(RecentCorrect{"ex-last", kT0 + 300 * kMinute});
  std::sort(correct.begin(), correct.end(), [](const RecentCorrect& x, const RecentCorrect& y) {
    return x.answered_at > y.answered_at;
  });
  correct.resize(kMaxRecentCorrect);
  EXPECT_EQ(ShowAll(this->Load(a.user_id).recent_correct), ShowAll(correct));
}

// ---------------------------------------------------------------- attempts

// An attempt by an unknown user is NotFound and records nothing.
TYPED_TEST(StoreContractTest, RecordAttemptOnUnknownUserIsNotFound) {
  const std::string ghost = NewUuidV7(kT0);
  ExpectStatus(this->ApplyOne(AttemptOp(ghost, "ex-1", "verb_tense", true, kT0)).status,
               Status::Code::kNotFound, "User not found");
  EXPECT_EQ(ShowProfile(this->Load(ghost)), ShowProfile(Profile{}));
}

// Each attempt returns the point's memory state after it: the stored state
// with the conversation errors committed so far folded in as lapses, then the
// attempt (core/mastery.h). Attempts in one batch see each other. LoadProfile
// shows the state on the point; an attempt on a subcategory without errors
// is kept and shows once an error there appears.
TYPED_TEST(StoreContractTest, RecordAttemptReturnsMemoryStateAndProfileShowsIt) {
  const Learner a = this->AddLearner("a", std::nullopt, kT0);
  this->Say(a, kT0 + kHour, MakeErrors({"verb_tense"}, kT0 + kHour));

  const MemoryState m1 = AfterAttempt(WithLapses(MemoryState{}, kT0 + kHour), true, kT0 + 2 * kHour);
  WriteOp op = this->ApplyOne(AttemptOp(a.user_id, "ex-1", "verb_tense", true, kT0 + 2 * kHour));
  ExpectOk(op);
  EXPECT_EQ(Show(op.memory), Show(m1));

  const MemoryState m2 = AfterAttempt(WithLapses(m1, kT0 + kHour), false, kT0 + 30 * kHour);
  op = this->ApplyOne(AttemptOp(a.user_id, "ex-2", "verb_tense", false, kT0 + 30 * kHour));
  ExpectOk(op);
  EXPECT_EQ(Show(op.memory), Show(m2));

  this->Say(a, kT0 + 50 * kHour, MakeErrors({"verb_tense"}, kT0 + 50 * kHour));
  const MemoryState m3 = AfterAttempt(WithLapses(m2, kT0 + 50 * kHour), true, kT0 + 60 * kHour);
  const MemoryState m4 = AfterAttempt(WithLapses(m3, kT0 + 50 * kHour), true, kT0 + 70 * kHour);
  std::vector<WriteOp> ops{AttemptOp(a.user_id, "ex-3", "verb_tense", true, kT0 + 60 * kHour),
                           AttemptOp(a.user_id, "ex-4", "verb_tense", true, kT0 + 70 * kHour)};
  this->Apply(ops);
  ExpectOk(ops[0]);
  ExpectOk(ops[1]);
  EXPECT_EQ(Show(ops[0].memory), Show(m3));
  EXPECT_EQ(Show(ops[1].memory), Show(m4));

  const MemoryState s1 = AfterAttempt(WithLapses(MemoryState{}, 0), true, kT0 + 80 * kHour);
  op = this->ApplyOne(AttemptOp(a.user_id, "ex-5", "spelling", true, kT0 + 80 * kHour));
  ExpectOk(op);
  EXPECT_EQ(Show(op.memory), Show(s1));

  Profile p = this->Load(a.user_id);
  ASSERT_EQ(p.points.size(), 1u);
  EXPECT_EQ(p.points[0].subcategory_id(), "verb_tense");
  EXPECT_EQ(Show(p.points[0].memory), Show(m4));
  EXPECT_EQ(ShowAll(p.recent_correct),
            ShowAll(std::vector<RecentCorrect>{{"ex-5", kT0 + 80 * kHour},
                                               {"ex-4", kT0 + 70 * kHour},
                                               {"ex-3", kT0 + 60 * kHour},
                                               {"ex-1", kT0 + 2 * kHour}}));

  this->Say(a, kT0 + 90 * kHour, MakeErrors({"spelling"}, kT0 + 90 * kHour));
  p = this->Load(a.user_id);
  const ErrorPoint* spelling = p.Find("spelling");
  ASSERT_NE(spelling, nullptr);
  EXPECT_EQ(Show(spelling->memory), Show(s1));
}

// Frequencies are written from the batch's merged deltas after its ops, so
// an attempt sees the errors committed before its batch as lapses, not an
// error earlier in the same batch.
TYPED_TEST(StoreContractTest, AttemptSeesErrorsCommittedBeforeItsBatch) {
  const Learner a = this->AddLearner("a", std::nullopt, kT0);
  this->Say(a, kT0 + kHour, MakeErrors({"verb_tense"}, kT0 + kHour));
  const MemoryState m1 = AfterAttempt(WithLapses(MemoryState{}, kT0 + kHour), true, kT0 + 2 * kHour);
  ExpectOk(this->ApplyOne(AttemptOp(a.user_id, "ex-1", "verb_tense", true, kT0 + 2 * kHour)));
  const Utterance u = MakeUtterance(a, "again", kT0 + 3 * kHour,
                                    MakeErrors({"verb_tense"}, kT0 + 3 * kHour));
  std::vector<WriteOp> ops{UtteranceOp(u),
                           AttemptOp(a.user_id, "ex-2", "verb_tense", true, kT0 + 4 * kHour)};
  this->Apply(ops);
  ExpectOk(ops[0]);
  ExpectOk(ops[1]);
  const MemoryState m2 = AfterAttempt(WithLapses(m1, kT0 + kHour), true, kT0 + 4 * kHour);
  EXPECT_EQ(Show(ops[1].memory), Show(m2));
  const Profile p = this->Load(a.user_id);
  ASSERT_NE(p.Find("verb_tense"), nullptr);
  EXPECT_EQ(Show(p.Find("verb_tense")->memory), Show(m2));
  EXPECT_EQ(p.Find("verb_tense")->last_seen, kT0 + 3 * kHour);
}

// A batch's attempts see the learners its earlier ops create, not those a
// later op creates, and build on each other point by point, between other
// kinds of ops, whatever path the store takes (PostgreSQL: its batched one,
// ApplyTogether).
TYPED_TEST(StoreContractTest, AttemptsSeeTheLearnersEarlierInTheirBatchAndEachOther) {
  constexpr bool kPostgres = std::is_same_v<TypeParam, PostgresKind>;
  const Learner a = this->AddLearner("a", std::nullopt, kT0);
  this->Say(a, kT0 + kHour, MakeErrors({"verb_tense", "articles"}, kT0 + kHour));
  const MemoryState v1 = AfterAttempt(WithLapses(MemoryState{}, kT0 + kHour), true, kT0 + 2 * kHour);
  ExpectOk(this->ApplyOne(AttemptOp(a.user_id, "ex-1", "verb_tense", true, kT0 + 2 * kHour)));

  const User zed{NewUuidV7(kT0), "zed", std::nullopt, kT0};
  const std::string ghost = NewUuidV7(kT0);
  const Utterance u = MakeUtterance(a, "more", kT0 + 3 * kHour,
                                    MakeErrors({"verb_tense"}, kT0 + 3 * kHour));
  std::vector<WriteOp> ops{
      AttemptOp(zed.user_id, "ex-2", "articles", true, kT0 + 3 * kHour),   // zed comes later
      AttemptOp(a.user_id, "ex-3", "verb_tense", false, kT0 + 4 * kHour),  // practised before
      UserOp(zed),
      UtteranceOp(u),
      AttemptOp(zed.user_id, "ex-4", "articles", true, kT0 + 5 * kHour),
      AttemptOp(a.user_id, "ex-5", "articles", true, kT0 + 6 * kHour),     // a first attempt
      AttemptOp(ghost, "ex-6", "articles", true, kT0 + 6 * kHour),
      AttemptOp(a.user_id, "ex-7", "verb_tense", true, kT0 + 7 * kHour),   // builds on ex-3
      AttemptOp(zed.user_id, "ex-8", "articles", false, kT0 + 8 * kHour)}; // builds on ex-4
  const int64_t together = kPostgres ? this->PostgresBatches("together") : 0;
  this->Apply(ops);
  if (kPostgres) {
    EXPECT_EQ(this->PostgresBatches("together"), together + 1);
  }
  ExpectStatus(ops[0].status, Status::Code::kNotFound, "User not found");
  ExpectStatus(ops[6].status, Status::Code::kNotFound, "User not found");
  for (int i : {1, 2, 3, 4, 5, 7, 8}) {
    SCOPED_TRACE(i);
    ExpectOk(ops[i]);
  }
  // The batch's own error (u) is not a lapse yet: counts are written at its end.
  const MemoryState v2 = AfterAttempt(WithLapses(v1, kT0 + kHour), false, kT0 + 4 * kHour);
  const MemoryState v3 = AfterAttempt(WithLapses(v2, kT0 + kHour), true, kT0 + 7 * kHour);
  const MemoryState a1 = AfterAttempt(WithLapses(MemoryState{}, kT0 + kHour), true, kT0 + 6 * kHour);
  const MemoryState z1 = AfterAttempt(WithLapses(MemoryState{}, 0), true, kT0 + 5 * kHour);
  const MemoryState z2 = AfterAttempt(WithLapses(z1, 0), false, kT0 + 8 * kHour);
  EXPECT_EQ(Show(ops[1].memory), Show(v2));
  EXPECT_EQ(Show(ops[7].memory), Show(v3));
  EXPECT_EQ(Show(ops[5].memory), Show(a1));
  EXPECT_EQ(Show(ops[4].memory), Show(z1));
  EXPECT_EQ(Show(ops[8].memory), Show(z2));

  const Profile p = this->Load(a.user_id);
  ASSERT_NE(p.Find("verb_tense"), nullptr);
  ASSERT_NE(p.Find("articles"), nullptr);
  EXPECT_EQ(Show(p.Find("verb_tense")->memory), Show(v3));
  EXPECT_EQ(Show(p.Find("articles")->memory), Show(a1));
  EXPECT_EQ(p.Find("verb_tense")->count, 2);
  EXPECT_EQ(ShowAll(p.recent_correct),
            ShowAll(std::vector<RecentCorrect>{{"ex-7", kT0 + 7 * kHour},
                                               {"ex-5", kT0 + 6 * kHour},
                                               {"ex-1", kT0 + 2 * kHour}}));
  EXPECT_EQ(ShowProfile(this->Load(ghost)), ShowProfile(Profile{}));
}

// ---------------------------------------------------------------- windows

// ProfileBetween counts only the learner's errors with created_at in
// [since, until] (both ends included), with the store's half-life; a window
// has counts only (no mastery, examples or attempts).
TYPED_TEST(StoreContractTest, ProfileBetweenCountsOnlyErrorsInTheWindow) {
  const Learner a = this->AddLearner("a", std::nullopt, kT0);
  const Learner b = this->AddLearner("b", std::nullopt, kT0);
  std::vector<ErrorRecord> inside;
  const std::vector<std::string> subs = {"verb_tense", "verb_tense", "spelling", "verb_tense",
                                         "spelling"};
  for (int d = 0; d < 5; ++d) {
    const Utterance u = this->Say(a, kT0 + d * kMicrosPerDay,
                                  MakeErrors({subs[d]}, kT0 + d * kMicrosPerDay));
    if (d >= 1 && d <= 3) inside = Concat(inside, u.errors);
  }
  this->Say(b, kT0 + 2 * kMicrosPerDay, MakeErrors({"articles"}, kT0 + 2 * kMicrosPerDay));
  ExpectOk(this->ApplyOne(AttemptOp(a.user_id, "ex-1", "verb_tense", true, kT0 + 2 * kHour)));

  auto w = this->store()->ProfileBetween(a.user_id, kT0 + kMicrosPerDay, kT0 + 3 * kMicrosPerDay);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ExpectPoints(*w, Fold(a.user_id, inside, kHalfLife));
  for (const auto& pt : w->points) EXPECT_EQ(Show(pt.memory), Show(MemoryState{}));
  EXPECT_TRUE(w->examples.empty());
  EXPECT_TRUE(w->recent_correct.empty());

  auto none = this->store()->ProfileBetween(a.user_id, kT0 + kHour, kT0 + kMicrosPerDay - 1);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->points.empty());
  auto unknown = this->store()->ProfileBetween(NewUuidV7(kT0), kT0, kT0 + 10 * kMicrosPerDay);
  ASSERT_TRUE(unknown.ok());
  EXPECT_TRUE(unknown->points.empty());
}

// ErrorsPerDay counts the learner's errors in [since, until] per UTC day
// (days since the epoch) and category, ordered by day then category.
TYPED_TEST(StoreContractTest, ErrorsPerDayBucketsByDayAndCategory) {
  const Learner a = this->AddLearner("a", std::nullopt, kT0);
  const Learner b = this->AddLearner("b", std::nullopt, kT0);
  const Micros d1 = kT0 + kMicrosPerDay, d3 = kT0 + 3 * kMicrosPerDay;
  this->Say(a, kT0 + kHour, MakeErrors({"verb_tense"}, kT0 + kHour));  // before `since`
  this->Say(a, kT0 + 2 * kHour, {MakeError("spelling", kT0 + 2 * kHour),
                                 MakeError("verb_tense", kT0 + 2 * kHour),
                                 MakeError("spelling", kT0 + 3 * kHour)});
  this->Say(a, d1 - 1, MakeErrors({"word_choice"}, d1 - 1));  // the day's last microsecond
  this->Say(a, d1, {MakeError("word_choice", d1), MakeError("articles", d1 + kHour)});
  this->Say(a, d3 + 5 * kHour, MakeErrors({"spelling"}, d3 + 5 * kHour));  // == until
  this->Say(a, d3 + 6 * kHour, MakeErrors({"spelling"}, d3 + 6 * kHour));  // after `until`
  this->Say(b, kT0 + 2 * kHour, MakeErrors({"verb_tense", "spelling"}, kT0 + 2 * kHour));

  auto days = this->store()->ErrorsPerDay(a.user_id, kT0 + 2 * kHour, d3 + 5 * kHour);
  ASSERT_TRUE(days.ok()) << days.status().ToString();
  const std::vector<DayCount> want = {
      {kDay0, "Grammar", 1},    {kDay0, "Spelling", 2},     {kDay0, "Vocabulary", 1},
      {kDay0 + 1, "Grammar", 1}, {kDay0 + 1, "Vocabulary", 1}, {kDay0 + 3, "Spelling", 1},
  };
  EXPECT_EQ(ShowAll(*days), ShowAll(want));
  auto unknown = this->store()->ErrorsPerDay(NewUuidV7(kT0), kT0, d3 + kMicrosPerDay);
  ASSERT_TRUE(unknown.ok());
  EXPECT_TRUE(unknown->empty());
}

// ---------------------------------------------------------------- conversations

// GetConversation answers the conversation with its utterances ordered by
// created_at then utterance_id (whatever order and batch they came in), each
// with its errors ordered by error_id, every field as stored; another
// conversation's utterances stay out; an unknown id is NotFound.
TYPED_TEST(StoreContractTest, GetConversationOrdersUtterancesAndErrors) {
  const Learner a = this->AddLearner("a", std::nullopt, kT0);
  const Learner other{a.user_id, NewUuidV7(kT0)};
  ExpectOk(this->ApplyOne(ConversationOp(Conversation{other.conversation_id, a.user_id, kT0})));
  this->Say(other, kT0 + kHour, MakeErrors({"spelling"}, kT0 + kHour));

  std::vector<ErrorRecord> e1 = SortedById(MakeErrors({"verb_tense", "spelling", "articles"},
                                                      kT0 + 2 * kHour));
  std::reverse(e1.begin(), e1.end());
  const Utterance u1 = MakeUtterance(a, "first said", kT0 + 2 * kHour, e1);
  const Utterance u2 = MakeUtterance(a, "said earlier", kT0 + kHour);
  // Two at the same time: ordered by utterance_id.
  std::vector<std::string> ids = {NewUuidV7(kT0 + 3 * kHour), NewUuidV7(kT0 + 3 * kHour)};
  std::sort(ids.begin(), ids.end());
  Utterance u3 = MakeUtterance(a, "same time, lower id", kT0 + 3 * kHour,
                               MakeErrors({"word_choice"}, kT0 + 3 * kHour));
  u3.utterance_id = ids[0];
  Utterance u4 = MakeUtterance(a, "same time, higher id", kT0 + 3 * kHour);
  u4.utterance_id = ids[1];
  ErrorRecord bare;
  bare.error_id = NewUuidV7(kT0 + 4 * kHour);
  bare.category = "Grammar";
  bare.subcategory = "verb tense";
  bare.subcategory_id = "verb_tense";
  bare.created_at = kT0 + 4 * kHour;
  const Utterance u5 = MakeUtterance(a, std::nullopt, kT0 + 4 * kHour, {bare});

  std::vector<WriteOp> first{UtteranceOp(u1), UtteranceOp(u4)};
  this->Apply(first);
  std::vector<WriteOp> second{UtteranceOp(u5), UtteranceOp(u3), UtteranceOp(u2)};
  this->Apply(second);
  for (const auto& op : first) ExpectOk(op);
  for (const auto& op : second) ExpectOk(op);
  const std::vector<ErrorRecord> added = MakeErrors({"articles", "spelling"}, kT0 + 5 * kHour);
  this->AddErrors(u2, added);

  ConversationView want{Conversation{a.conversation_id, a.user_id, kT0}, {u2, u1, u3, u4, u5}};
  want.utterances[0].errors = SortedById(added);
  want.utterances[1].errors = SortedById(e1);
  EXPECT_EQ(this->ConversationText(a.conversation_id), Show(want));
  ExpectStatus(this->store()->GetConversation(NewUuidV7(kT0)).status(), Status::Code::kNotFound,
               "Conversation not found");
}

// ---------------------------------------------------------------- search

// SearchCandidates answers the users whose email (case-insensitively) or
// username (ASCII case-insensitively) starts with the prefix, then the
// `recent` users created last (by created_at, then user_id), newest first,
// then those whose name shares the most trigrams with the prefix, most
// first (core/user_search.h). Ids do not tell the newest: clients may
// choose them, so here they sort the other way.
TYPED_TEST(StoreContractTest, SearchCandidatesMatchesPrefixesAndAddsTheNewest) {
  std::vector<User> users = {
      {"", "Zed", "Ann@Example.com", 0},  // 0: email
      {"", "Bob", "anna.k@x.org", 0},     // 1: email
      {"", "Annie", "carol@x.org", 0},    // 2: username
      {"", "ANNETTE", "dave@x.org", 0},   // 3: username, upper case
      {"", "Annabel", std::nullopt, 0},   // 4: username, no email
      {"", "Eve", "eve@x.org", 0},        // 5: neither
      {"", "Joanna", "joanna@x.org", 0},  // 6: "ann" inside, not a prefix
      {"", "Frank", "fann@x.org", 0},     // 7: neither
  };
  std::vector<WriteOp> ops;
  for (size_t i = 0; i < users.size(); ++i) {
    // Users 3 and 6 were created in the same microsecond.
    const Micros order = static_cast<Micros>((i * 5) % users.size());
    const Micros at = kT0 + std::min<Micros>(order, 6) * kMinute;
    users[i].user_id = NewUuidV7(kT0 - order * kMinute);
    users[i].created_at = at;
    ops.push_back(UserOp(users[i]));
  }
  this->Apply(ops);
  for (const auto& op : ops) ExpectOk(op);
  std::vector<User> newest = users;
  std::sort(newest.begin(), newest.end(), [](const User& x, const User& y) {
    return std::tie(x.created_at, x.user_id) > std::tie(y.created_at, y.user_id);
  });
  ASSERT_EQ(newest[0].username, "Joanna");  // created with ANNETTE, with the greater id
  ASSERT_EQ(newest[1].username, "ANNETTE");

  // The prefix matches in any order, then exactly the newest `recent`, then
  // the names sharing trigrams with the prefix, most first.
  auto check = [&](const std::string& prefix, size_t recent, std::vector<size_t> matches,
                   std::vector<std::vector<size_t>> similar) {
    SCOPED_TRACE(prefix);
    auto got = this->store()->SearchCandidates(prefix, recent);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    const size_t n = matches.size();
    const size_t r = std::min(recent, users.size());
    size_t t = 0;
    for (const auto& tier : similar) t += tier.size();
    ASSERT_EQ(got->size(), n + r + t) << ShowLines(*got);
    size_t at = n + r;
    for (const auto& tier : similar) {  // one tier: the users sharing as many trigrams
      std::vector<std::string> have, want;
      for (size_t i = 0; i < tier.size(); ++i) have.push_back(Show((*got)[at + i]));
      for (size_t i : tier) want.push_back(Show(users[i]));
      std::sort(have.begin(), have.end());
      std::sort(want.begin(), want.end());
      EXPECT_EQ(have, want);
      at += tier.size();
    }
    got->resize(n + r);
    std::vector<std::string> head, want_head;
    for (size_t i = 0; i < n; ++i) head.push_back(Show((*got)[i]));
    for (size_t i : matches) want_head.push_back(Show(users[i]));
    std::sort(head.begin(), head.end());
    std::sort(want_head.begin(), want_head.end());
    EXPECT_EQ(head, want_head);
    std::vector<User> tail(got->begin() + static_cast<std::ptrdiff_t>(n), got->end());
    std::vector<User> want_tail(newest.begin(),
                                newest.begin() + static_cast<std::ptrdiff_t>(std::min(recent, newest.size())));
    EXPECT_EQ(ShowAll(tail), ShowAll(want_tail));
  };
  // Trigrams come from names and from emails' local parts (0: "ann" from
  // Ann@, 1: "ann" and "nna" from anna.k, 7: "ann" from fann).
  check("ann", 3, {0, 1, 2, 3, 4}, {{0, 1, 2, 3, 4, 6, 7}});
  check("anna", 2, {1, 4}, {{1, 4, 6}, {0, 2, 3, 7}});  // ann and nna, then ann
  check("ann@", 0, {0}, {{0, 1, 2, 3, 4, 6, 7}});
  check("zz", 4, {}, {});
  check("eve@x.org", 1, {5}, {{5}});  // eve (org is in no name)
  check("joana", 0, {}, {{6}});       // a typo: joa and oan, as in Joanna
}

// PostgreSQL's migration 3 indexes the names of the learners a database of
// schema 2 holds (SQLite's migration 4: schema_upgrade_test.cc; RocksDB's
// key format 4: key_format_test.cc).
TYPED_TEST(StoreContractTest, PostgresIndexesTheNamesOfASchemaTwoDatabase) {
  if constexpr (!std::is_same_v<TypeParam, PostgresKind>) {
    GTEST_SKIP() << "PostgreSQL's migration";
  } else {
    const Learner m = this->AddLearner("Margarethe Lindqvist", std::nullopt, kT0);
    this->AddLearner("Lars Berg", std::nullopt, kT0);
    auto found = [&] {
      auto got = this->store()->SearchCandidates("lindqvst", 0);
      EXPECT_TRUE(got.ok()) << got.status().ToString();
      std::vector<std::string> ids;
      for (const User& u : got.ok() ? *got : std::vector<User>{}) ids.push_back(u.user_id);
      return ids;
    };
    EXPECT_EQ(found(), std::vector<std::string>{m.user_id});
    this->CloseStore();
    auto c = pg::Conn::Connect(
        PostgresKind::UrlOf(*PostgresKind::ServerUrl(), PostgresKind::Database(this->dir())));
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    auto aged = (*c)->Exec(
        "DROP TABLE user_trigrams; DELETE FROM schema_version; INSERT INTO schema_version VALUES(2)");
    ASSERT_TRUE(aged.ok()) << aged.status().ToString();
    c->reset();
    ASSERT_NO_FATAL_FAILURE(this->Reopen(kHalfLife));
    EXPECT_EQ(found(), std::vector<std::string>{m.user_id});
  }
}

// PostgreSQL's migration 4 indexes names beyond ASCII by the folded rule,
// and emails (SQLite's migration 5: schema_upgrade_test.cc; RocksDB's key
// format 5: key_format_test.cc).
TYPED_TEST(StoreContractTest, PostgresIndexesTheNamesBeyondAsciiOfASchemaThreeDatabase) {
  if constexpr (!std::is_same_v<TypeParam, PostgresKind>) {
    GTEST_SKIP() << "PostgreSQL's migration";
  } else {
    this->AddLearner("Lars Berg", std::nullopt, kT0);
    const std::string jose = testutil::AddAccentedLearner(this->store(), kT0 + kMinute);
    EXPECT_TRUE(testutil::FoundByGainedTrigrams(this->store(), jose));
    this->CloseStore();
    auto c = pg::Conn::Connect(
        PostgresKind::UrlOf(*PostgresKind::ServerUrl(), PostgresKind::Database(this->dir())));
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    auto aged = (*c)->Exec(fmt::format(
        "DELETE FROM user_trigrams WHERE trigram IN ('{}'); DELETE FROM schema_version;"
        " INSERT INTO schema_version VALUES(3)",
        fmt::join(testutil::kGainedTrigrams, "','")));
    ASSERT_TRUE(aged.ok()) << aged.status().ToString();
    auto left = (*c)->Exec("SELECT count(*) FROM user_trigrams");
    ASSERT_TRUE(left.ok());
    EXPECT_EQ(left->Int(0, 0), 4 + 3);  // lar, ars, ber, erg; arc, gar, jos
    c->reset();
    ASSERT_NO_FATAL_FAILURE(this->Reopen(kHalfLife));
    EXPECT_TRUE(testutil::FoundByGainedTrigrams(this->store(), jose));
  }
}

// PostgreSQL's migration 5 replaces the index on conversations(user_id)
// with one that lists a learner's conversations newest first (SQLite's
// migration 6: sqlite_store_test.cc checks its plan; RocksDB's key format 6:
// key_format_test.cc).
TYPED_TEST(StoreContractTest, PostgresListsTheConversationsOfASchemaFourDatabase) {
  if constexpr (!std::is_same_v<TypeParam, PostgresKind>) {
    GTEST_SKIP() << "PostgreSQL's migration";
  } else {
    const Learner a = this->AddLearner("a", std::nullopt, kT0);
    this->CloseStore();
    auto c = pg::Conn::Connect(
        PostgresKind::UrlOf(*PostgresKind::ServerUrl(), PostgresKind::Database(this->dir())));
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    const char* kIndexes =
        "SELECT string_agg(indexname, ' ' ORDER BY indexname) FROM pg_indexes"
        " WHERE tablename = 'conversations'";
    ASSERT_TRUE((*c)->Exec("DROP INDEX conversations_user_time;"
                           " CREATE INDEX conversations_user ON conversations(user_id);"
                           " DELETE FROM schema_version; INSERT INTO schema_version VALUES(4)")
                    .ok());
    EXPECT_EQ((*c)->Exec(kIndexes)->Text(0, 0), "conversations_pkey conversations_user");
    ASSERT_NO_FATAL_FAILURE(this->Reopen(kHalfLife));
    EXPECT_EQ((*c)->Exec(kIndexes)->Text(0, 0), "conversations_pkey conversations_user_time");
    c->reset();
    auto listed = this->store()->ListConversations(a.user_id, std::nullopt, 10);
    ASSERT_TRUE(listed.ok()) << listed.status().ToString();
    ASSERT_EQ(listed->size(), 1u);
    EXPECT_EQ((*listed)[0].conversation.conversation_id, a.conversation_id);
  }
}

// Names in any script, with accents or without, are found by a typo or a
// part inside them (core/search_fold.h): their trigrams are the folded
// name's.
TYPED_TEST(StoreContractTest, NamesBeyondAsciiAreFoundByTheirFoldedTrigrams) {
  std::vector<WriteOp> ops;
  const std::vector<std::string> names = {"José García", "Łukasz Wójcik", "Юлия Иванова",
                                          "Lars Berg", ""};
  for (size_t i = 0; i < names.size(); ++i) {
    const Micros at = kT0 + static_cast<Micros>(i) * kMinute;
    std::optional<std::string> email;
    if (names[i].empty()) email = "okonkwo.ada@example.org";  // found by its email's trigrams
    ops.push_back(UserOp(User{NewUuidV7(at), names[i], email, at}));
  }
  this->Apply(ops);
  for (const auto& op : ops) ExpectOk(op);
  auto found = [&](const std::string& query) {
    auto got = this->store()->SearchCandidates(query, 0);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    std::vector<std::string> out;
    for (const User& u : got.ok() ? *got : std::vector<User>{}) out.push_back(u.username);
    return out;
  };
  EXPECT_EQ(found("garcya"), std::vector<std::string>{"José García"});  // gar, arc
  EXPECT_EQ(found("rcia"), std::vector<std::string>{"José García"});    // rci, cia
  EXPECT_EQ(found("WOJCIK"), std::vector<std::string>{"Łukasz Wójcik"});
  EXPECT_EQ(found("иваова"), std::vector<std::string>{"Юлия Иванова"});  // ива, ова
  EXPECT_EQ(found("berg"), std::vector<std::string>{"Lars Berg"});
  // Too short for a trigram: the prefix alone, with a capital beyond ASCII
  // as typed (PostgreSQL's lower() folds it in the name; the query too).
  EXPECT_EQ(found("Łu"), std::vector<std::string>{"Łukasz Wójcik"});
  EXPECT_EQ(found("Юл"), std::vector<std::string>{"Юлия Иванова"});
  // A typo in an email's local part: oko, kon, onk, nko.
  EXPECT_EQ(found("okonkow"), std::vector<std::string>{""});
  EXPECT_EQ(found("ada.okonkwo"), std::vector<std::string>{""});
}

// Each prefix match (by email, by username) is capped at 50 users.
TYPED_TEST(StoreContractTest, SearchCandidatesCapsEachPrefixMatchAtFifty) {
  std::vector<WriteOp> ops;
  for (int i = 0; i < 55; ++i) {
    const Micros at = kT0 + i * kMinute;
    ops.push_back(UserOp(User{NewUuidV7(at), fmt::format("Q{:02}", i),
                              fmt::format("p{:02}@x.org", i), at}));
  }
  this->Apply(ops);
  for (const auto& op : ops) ExpectOk(op);
  for (const std::string prefix : {"p", "q"}) {
    SCOPED_TRACE(prefix);
    auto got = this->store()->SearchCandidates(prefix, 0);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(got->size(), 50u);
    std::vector<std::string> ids;
    for (const User& u : *got) {
      ids.push_back(u.user_id);
      const std::string name = u.username;
      EXPECT_TRUE(u.email->starts_with(prefix) || name.starts_with(prefix == "q" ? "Q" : prefix))
          << Show(u);
    }
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(std::unique(ids.begin(), ids.end()), ids.end());
  }
  auto all = this->store()->SearchCandidates("zz", 100);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 55u);
}

// Records keyed by ids that are prefixes of other ids ("learner-1" and
// "learner-10") stay apart in every read.
TYPED_TEST(StoreContractTest, IdsThatArePrefixesOfOtherIdsStayApart) {
  const Learner one{"learner-1", "conversation-1"};
  const Learner ten{"learner-10", "conversation-10"};
  std::vector<WriteOp> ops{UserOp(User{one.user_id, "one", "one@x.org", kT0}),
                           UserOp(User{ten.user_id, "ten", "one@x.org0", kT0}),
                           ConversationOp(Conversation{one.conversation_id, one.user_id, kT0}),
                           ConversationOp(Conversation{ten.conversation_id, ten.user_id, kT0})};
  this->Apply(ops);
  for (const auto& op : ops) ExpectOk(op);
  Utterance u1 = MakeUtterance(one, "one", kT0 + kHour, MakeErrors({"verb_tense"}, kT0 + kHour));
  u1.utterance_id = "utterance-1";
  u1.errors[0].error_id = "error-1";
  Utterance u10 = MakeUtterance(ten, "ten", kT0 + kHour,
                                MakeErrors({"verb_tense", "spelling"}, kT0 + kHour));
  u10.utterance_id = "utterance-10";
  u10.errors[0].error_id = "error-10";
  u10.errors[1].error_id = "error-100";
  std::vector<WriteOp> say{UtteranceOp(u1), UtteranceOp(u10),
                           AttemptOp(ten.user_id, "ex-10", "verb_tense", true, kT0 + 2 * kHour)};
  this->Apply(say);
  for (const auto& op : say) ExpectOk(op);

  ExpectPoints(this->Load(one.user_id), Fold(one.user_id, u1.errors, kHalfLife));
  ExpectPoints(this->Load(ten.user_id), Fold(ten.user_id, u10.errors, kHalfLife));
  const Profile p1 = this->Load(one.user_id);
  EXPECT_TRUE(p1.recent_correct.empty());
  ASSERT_EQ(p1.points.size(), 1u);
  EXPECT_EQ(Show(p1.points[0].memory), Show(MemoryState{}));
  EXPECT_EQ(p1.examples.size(), 1u);
  EXPECT_EQ(this->ConversationText(one.conversation_id),
            Show(ConversationView{Conversation{one.conversation_id, one.user_id, kT0}, {u1}}));
  auto days = this->store()->ErrorsPerDay(one.user_id, kT0, kT0 + kMicrosPerDay);
  ASSERT_TRUE(days.ok());
  EXPECT_EQ(ShowAll(*days), ShowAll(std::vector<DayCount>{{kDay0, "Grammar", 1}}));
  auto window = this->store()->ProfileBetween(one.user_id, kT0, kT0 + kMicrosPerDay);
  ASSERT_TRUE(window.ok());
  ExpectPoints(*window, Fold(one.user_id, u1.errors, kHalfLife));
  // AddErrors names utterance-1 with learner-10's ids: they do not belong together.
  ExpectStatus(this->ApplyOne(ErrorsOp("utterance-1", ten.conversation_id, ten.user_id,
                                       MakeErrors({"articles"}, kT0))).status,
               Status::Code::kInvalidArgument,
               "user_id, conversation_id and utterance_id do not belong together", "utterance_id");
  auto by_email = this->store()->FindUserByEmail("one@x.org");
  ASSERT_TRUE(by_email.ok());
  EXPECT_EQ(by_email->user_id, one.user_id);
}

// An empty string is stored as such, apart from an absent value: empty
// content, original, correction and explanation read back empty (and an
// empty correction on empty content is an example), absent ones absent;
// an empty code reads back empty too.
TYPED_TEST(StoreContractTest, EmptyStringsStayApartFromAbsentValues) {
  const Learner a = this->AddLearner("", std::nullopt, kT0);
  EXPECT_EQ(this->UserText(a.user_id), Show(User{a.user_id, "", std::nullopt, kT0}));
  ErrorRecord empty = MakeError("verb_tense", kT0 + kHour);
  empty.original = "";
  empty.correction = "";
  empty.explanation = "";
  empty.code = "";
  empty.span = Span{0, 0};
  ErrorRecord absent = MakeError("spelling", kT0 + 2 * kHour);
  absent.original.reset();
  absent.correction.reset();
  absent.explanation.reset();
  absent.span.reset();
  const Utterance u = this->Say(a, kT0 + kHour, {empty, absent}, std::string());
  Utterance want = u;
  want.errors = SortedById(u.errors);
  EXPECT_EQ(this->ConversationText(a.conversation_id),
            Show(ConversationView{Conversation{a.conversation_id, a.user_id, kT0}, {want}}));
  EXPECT_EQ(ShowAll(this->Load(a.user_id).examples),
            ShowAll(std::vector<Example>{
                {empty.error_id, "verb_tense", "", "", "", 0, 0, kT0 + kHour}}));
}

// A write that breaks a uniqueness rule of the stored records (a new user
// with an existing user_id and no client id) fails the whole batch:
// ApplyBatch answers Unavailable, every op carries it, nothing is applied
// and `deltas` is unchanged.
// PostgreSQL differs, by design (docs/postgres.md): a unique violation is
// what a race with another node looks like, so only that op fails, with
// Conflict, and the rest of the batch commits.
TYPED_TEST(StoreContractTest, BatchThatCannotCommitAppliesNothing) {
  const Learner a = this->AddLearner("ann", "ann@x.org", kT0);
  const Utterance u = MakeUtterance(a, "lost", kT0 + kHour, MakeErrors({"verb_tense"}, kT0 + kHour));
  const User newcomer{NewUuidV7(kT0 + 1), "new", "new@x.org", kT0 + 1};
  std::vector<WriteOp> ops{UtteranceOp(u), UserOp(newcomer),
                           UserOp(User{a.user_id, "other", "other@x.org", kT0 + 2})};
  std::vector<WriteOp*> ptrs;
  for (auto& op : ops) ptrs.push_back(&op);
  DeltaSet deltas(kHalfLife);
  const Status s = this->store()->ApplyBatch(ptrs, &deltas);
  if constexpr (std::is_same_v<TypeParam, PostgresKind>) {
    ASSERT_TRUE(s.ok()) << s.ToString();
    ExpectOk(ops[0]);
    ExpectOk(ops[1]);
    ExpectStatus(ops[2].status, Status::Code::kConflict,
                 "a concurrent write used the same id or email");
    EXPECT_EQ(deltas.size(), 1u);
    EXPECT_EQ(this->UserText(a.user_id), Show(User{a.user_id, "ann", "ann@x.org", kT0}));
    EXPECT_EQ(this->UserText(newcomer.user_id), Show(newcomer));
    EXPECT_EQ(this->Load(a.user_id).TotalErrors(), 1);
    return;
  }
  EXPECT_EQ(static_cast<int>(s.code()), static_cast<int>(Status::Code::kUnavailable))
      << s.ToString();
  for (const auto& op : ops) {
    EXPECT_EQ(static_cast<int>(op.status.code()), static_cast<int>(Status::Code::kUnavailable))
        << op.status.ToString();
  }
  EXPECT_TRUE(deltas.empty());
  EXPECT_EQ(this->UserText(a.user_id), Show(User{a.user_id, "ann", "ann@x.org", kT0}));
  ExpectStatus(this->store()->GetUser(newcomer.user_id).status(), Status::Code::kNotFound,
               "User not found");
  ExpectStatus(this->store()->FindUserByEmail("other@x.org").status(), Status::Code::kNotFound,
               "User not found");
  EXPECT_TRUE(this->Load(a.user_id).points.empty());
  EXPECT_EQ(this->ConversationText(a.conversation_id),
            Show(Conversation{a.conversation_id, a.user_id, kT0}));
}

// Ping answers ok on an open store.
TYPED_TEST(StoreContractTest, PingAnswers) {
  const Status s = this->store()->Ping();
  EXPECT_TRUE(s.ok()) << s.ToString();
}

// ---------------------------------------------------------------- reopening

// A small world with every kind of record, and the reads that show it.
struct World {
  Learner ann, bob, ingested;
  Utterance replayable;
  uint64_t hash = 0x8000000000000042ull;
  std::vector<ErrorRecord> ann_errors, bob_errors, ingested_errors;
  std::vector<ErrorRecord> window_errors;  // ann's in [kT0 + 1d, kT0 + 4d]
};

// Everything the read methods answer about the world, but decay sums.
struct Snapshot {
  std::vector<std::string> text;
  std::vector<double> decays;
};

template <typename Fixture>
World Populate(Fixture* t) {
  World w;
  w.ann = t->AddLearner("Ann", "Ann@Example.com", kT0);
  w.bob = t->AddLearner("Bob", "bob@example.com", kT0 + kMinute);
  w.ingested = Learner{NewUuidV7(kT0 + 2 * kMinute), NewUuidV7(kT0 + 2 * kMinute)};
  for (int d = 0; d < 6; ++d) {
    const Micros at = kT0 + d * kMicrosPerDay + d * kHour;
    const Utterance u = t->Say(w.ann, at, MakeErrors({d % 2 ? "spelling" : "verb_tense", "articles"}, at));
    w.ann_errors = Concat(w.ann_errors, u.errors);
    if (d >= 1 && d <= 3) w.window_errors = Concat(w.window_errors, u.errors);
  }
  const Micros at = kT0 + 7 * kMicrosPerDay;
  w.replayable = MakeUtterance(w.ann, "replay me", at, MakeErrors({"word_choice"}, at));
  ExpectOk(t->ApplyOne(UtteranceOp(w.replayable, true, w.hash)));
  const std::vector<ErrorRecord> more = MakeErrors({"verb_tense"}, at + kHour);
  t->AddErrors(w.replayable, more);
  w.ann_errors = Concat(Concat(w.ann_errors, w.replayable.errors), more);
  w.replayable.errors = SortedById(Concat(w.replayable.errors, more));
  std::vector<WriteOp> attempts{
      AttemptOp(w.ann.user_id, "ex-1", "verb_tense", true, kT0 + 8 * kMicrosPerDay),
      AttemptOp(w.ann.user_id, "ex-2", "spelling", false, kT0 + 8 * kMicrosPerDay + kHour),
      AttemptOp(w.bob.user_id, "ex-3", "articles", true, kT0 + 8 * kMicrosPerDay)};
  t->Apply(attempts);
  for (const auto& op : attempts) ExpectOk(op);
  const Utterance b = t->Say(w.bob, kT0 + 2 * kMicrosPerDay,
                             MakeErrors({"articles", "articles"}, kT0 + 2 * kMicrosPerDay));
  w.bob_errors = b.errors;
  const Utterance i = MakeUtterance(w.ingested, "ingested", kT0 + 3 * kMicrosPerDay,
                                    MakeErrors({"spelling"}, kT0 + 3 * kMicrosPerDay));
  ExpectOk(t->ApplyOne(IngestOp(i, "learner-7")));
  w.ingested_errors = i.errors;
  return w;
}

template <typename Fixture>
Snapshot Take(Fixture* t, const World& w) {
  Snapshot s;
  Store* store = t->store();
  for (const Learner* l : {&w.ann, &w.bob, &w.ingested}) {
    s.text.push_back(t->UserText(l->user_id));
    s.text.push_back(t->ConversationText(l->conversation_id));
    const Profile p = t->Load(l->user_id);
    s.text.push_back(ShowProfile(p));
    for (double d : Decays(p)) s.decays.push_back(d);
    auto days = store->ErrorsPerDay(l->user_id, kT0 - kMicrosPerDay, kT0 + 30 * kMicrosPerDay);
    s.text.push_back(days.ok() ? ShowLines(*days)
                               : days.status().ToString());
  }
  auto window = store->ProfileBetween(w.ann.user_id, kT0 + kMicrosPerDay, kT0 + 4 * kMicrosPerDay);
  s.text.push_back(window.ok() ? ShowProfile(*window) : window.status().ToString());
  if (window.ok()) {
    for (double d : Decays(*window)) s.decays.push_back(d);
  }
  auto by_email = store->FindUserByEmail("ANN@example.com");
  s.text.push_back(by_email.ok() ? Show(*by_email) : by_email.status().ToString());
  // Candidates as a set: a store may list a user whose name and email both
  // match once or twice (the search merges them).
  for (auto [prefix, recent] : {std::pair<const char*, size_t>{"b", 0}, {"zzz", 10}}) {
    auto candidates = store->SearchCandidates(prefix, recent);
    if (!candidates.ok()) {
      s.text.push_back(candidates.status().ToString());
      continue;
    }
    std::vector<std::string> lines = ShowAll(*candidates);
    std::sort(lines.begin(), lines.end());
    lines.erase(std::unique(lines.begin(), lines.end()), lines.end());
    s.text.push_back(fmt::format("{}", fmt::join(lines, "\n")));
  }
  return s;
}

// Closing the store and opening it again on the same directory keeps every
// record: every read answers the same, the profile's counts are still a
// fresh computation's, and later writes still see the stored records
// (a replay, a taken email, an existing conversation).
TYPED_TEST(StoreContractTest, ReopenKeepsEverything) {
  const World w = Populate(this);
  const Snapshot before = Take(this, w);
  ExpectPoints(this->Load(w.ann.user_id), Fold(w.ann.user_id, w.ann_errors, kHalfLife));
  ASSERT_NO_FATAL_FAILURE(this->Reopen(kHalfLife));
  const Snapshot after = Take(this, w);
  EXPECT_EQ(after.text, before.text);
  ASSERT_EQ(after.decays.size(), before.decays.size());
  for (size_t i = 0; i < after.decays.size(); ++i) {
    EXPECT_NEAR(after.decays[i], before.decays[i], kDecayTolerance) << i;
  }
  ExpectPoints(this->Load(w.ann.user_id), Fold(w.ann.user_id, w.ann_errors, kHalfLife));
  ExpectPoints(this->Load(w.bob.user_id), Fold(w.bob.user_id, w.bob_errors, kHalfLife));
  ExpectPoints(this->Load(w.ingested.user_id),
               Fold(w.ingested.user_id, w.ingested_errors, kHalfLife));

  const WriteOp replay = this->ApplyOne(UtteranceOp(w.replayable, true, w.hash));
  ExpectOk(replay, /*replayed=*/true);
  EXPECT_EQ(ShowAll(replay.utterance.errors), ShowAll(w.replayable.errors));
  ExpectStatus(this->ApplyOne(UserOp(User{NewUuidV7(kT0), "x", "ann@EXAMPLE.com", kT0})).status,
               Status::Code::kConflict, "Email already registered");
  const Utterance u = this->Say(w.bob, kT0 + 9 * kMicrosPerDay,
                                MakeErrors({"articles"}, kT0 + 9 * kMicrosPerDay));
  ExpectPoints(this->Load(w.bob.user_id),
               Fold(w.bob.user_id, Concat(w.bob_errors, u.errors), kHalfLife));
}

// Reopening with another half-life recomputes every decay sum from the
// errors (as a fresh DeltaSet with the new half-life gives) and keeps the
// counts; windows and later writes use the new half-life; going back
// recomputes again.
TYPED_TEST(StoreContractTest, ReopenWithAnotherHalfLifeRecomputesDecay) {
  const World w = Populate(this);
  const Micros kWeek = 7 * kMicrosPerDay;
  ASSERT_NO_FATAL_FAILURE(this->Reopen(kWeek));
  ExpectPoints(this->Load(w.ann.user_id), Fold(w.ann.user_id, w.ann_errors, kWeek));
  ExpectPoints(this->Load(w.bob.user_id), Fold(w.bob.user_id, w.bob_errors, kWeek));
  ExpectPoints(this->Load(w.ingested.user_id), Fold(w.ingested.user_id, w.ingested_errors, kWeek));
  auto window =
      this->store()->ProfileBetween(w.ann.user_id, kT0 + kMicrosPerDay, kT0 + 4 * kMicrosPerDay);
  ASSERT_TRUE(window.ok());
  ExpectPoints(*window, Fold(w.ann.user_id, w.window_errors, kWeek));

  const Utterance u = this->Say(w.ann, kT0 + 20 * kMicrosPerDay,
                                MakeErrors({"verb_tense", "spelling"}, kT0 + 20 * kMicrosPerDay));
  const std::vector<ErrorRecord> ann_all = Concat(w.ann_errors, u.errors);
  ExpectPoints(this->Load(w.ann.user_id), Fold(w.ann.user_id, ann_all, kWeek));

  ASSERT_NO_FATAL_FAILURE(this->Reopen(kHalfLife));
  ExpectPoints(this->Load(w.ann.user_id), Fold(w.ann.user_id, ann_all, kHalfLife));
  ExpectPoints(this->Load(w.bob.user_id), Fold(w.bob.user_id, w.bob_errors, kHalfLife));
}

// Points add up exactly over many batches, while the store moves its data to
// disk, and after a reopen. RocksDB writes each batch's delta as a merge
// operand (PointMerge) that reads, flushes and compactions fold: 2,000
// utterances of 3 KB overflow its 4 MiB write buffer here.
TYPED_TEST(StoreContractTest, PointsAddUpOverManyBatchesAcrossFlushesAndAReopen) {
  const Learner ann = this->AddLearner("Ann", std::nullopt, kT0);
  const Learner bob = this->AddLearner("Bob", std::nullopt, kT0);
  const std::string filler(3000, 'x');
  std::vector<ErrorRecord> ann_errors, bob_errors;
  for (int i = 0; i < 2000; ++i) {
    const Micros at = kT0 + i * kMinute;
    const bool to_bob = i % 4 == 0;
    std::vector<std::string> subs{"verb_tense"};
    if (i % 3 == 0) subs.push_back("articles");
    const Utterance u = this->Say(to_bob ? bob : ann, at, MakeErrors(subs, at), filler);
    auto& into = to_bob ? bob_errors : ann_errors;
    into.insert(into.end(), u.errors.begin(), u.errors.end());
  }
  ExpectPoints(this->Load(ann.user_id), Fold(ann.user_id, ann_errors, kHalfLife));
  ExpectPoints(this->Load(bob.user_id), Fold(bob.user_id, bob_errors, kHalfLife));
  ASSERT_NO_FATAL_FAILURE(this->Reopen(kHalfLife));
  ExpectPoints(this->Load(ann.user_id), Fold(ann.user_id, ann_errors, kHalfLife));
  ExpectPoints(this->Load(bob.user_id), Fold(bob.user_id, bob_errors, kHalfLife));
}

// ---------------------------------------------------------------- copying

// A store of kind `Kind` for a copy to go into, on a directory of its own,
// cleaned up (and checked, as the fixture's own) at the end.
template <typename Kind>
struct CopyTarget {
  CopyTarget() {
    dir = fs::temp_directory_path() /
          fmt::format("errata-copy-{}-{}", Kind::kName, NewUuidV7(NowMicros()));
    fs::create_directories(dir);
    auto s = Kind::Open(dir, kHalfLife);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (s.ok()) store = std::move(*s);
  }
  ~CopyTarget() {
    store.reset();
    Kind::ExpectConsistent(dir);
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  fs::path dir;
  std::unique_ptr<Store> store;
};

// Calls fn.template operator()<Kind>() for each kind of store this run has
// (PostgreSQL only with a server).
template <typename Fn>
void ForEachTarget(Fn fn) {
  fn.template operator()<SqliteKind>();
  fn.template operator()<RocksdbKind>();
  if (PostgresKind::ServerUrl()) fn.template operator()<PostgresKind>();
}

// A copy into each kind of store answers every read as the source does,
// with the same ids, times and request hashes: an utterance sent again is
// a replay there too, and a taken email stays taken. The memory states are
// the source's, not the ones a replay of the attempts would give: here an
// error written after two attempts falls between them in time, which a
// replay would count as a lapse. Small pages cross every kind of record.
TYPED_TEST(StoreContractTest, ACopyAnswersEveryReadAsTheSource) {
  const World w = Populate(this);
  std::vector<WriteOp> attempts{
      AttemptOp(w.bob.user_id, "ex-6", "articles", true, kT0 + 9 * kMicrosPerDay),
      AttemptOp(w.bob.user_id, "ex-7", "articles", true, kT0 + 11 * kMicrosPerDay)};
  this->Apply(attempts);
  const Utterance late = this->Say(w.bob, kT0 + 10 * kMicrosPerDay,
                                   MakeErrors({"articles"}, kT0 + 10 * kMicrosPerDay));
  const MemoryState replayed = AfterAttempt(
      WithLapses(AfterAttempt(MemoryState{}, true, kT0 + 9 * kMicrosPerDay), kT0 + 10 * kMicrosPerDay),
      true, kT0 + 11 * kMicrosPerDay);
  const Profile bob = this->Load(w.bob.user_id);
  ASSERT_NE(bob.Find("articles"), nullptr);
  ASSERT_NE(Show(bob.Find("articles")->memory), Show(replayed)) << "the case shows no difference";
  const Snapshot before = Take(this, w);

  ForEachTarget([&]<typename Target>() {
    SCOPED_TRACE(Target::kName);
    CopyTarget<Target> target;
    ASSERT_NE(target.store, nullptr);
    CopyOptions options;
    options.batch = 3;
    int batches = 0;
    options.progress = [&](const CopyCounts&) { ++batches; };
    CopyCounts counts;
    const Status s = CopyStore(this->store(), target.store.get(), options, &counts);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(counts.users, 3);
    EXPECT_EQ(counts.conversations, 3);
    EXPECT_EQ(counts.utterances, 10);
    EXPECT_EQ(counts.errors, 18);
    EXPECT_EQ(counts.attempts, 5);
    EXPECT_GE(batches, 7);

    StoreView copy{target.store.get()};
    const Snapshot after = Take(&copy, w);
    EXPECT_EQ(after.text, before.text);
    ASSERT_EQ(after.decays.size(), before.decays.size());
    for (size_t i = 0; i < after.decays.size(); ++i) {
      EXPECT_NEAR(after.decays[i], before.decays[i], kDecayTolerance) << i;
    }
    ExpectPoints(copy.Load(w.bob.user_id),
                 Fold(w.bob.user_id, Concat(w.bob_errors, late.errors), kHalfLife));

    std::vector<WriteOp> again{UtteranceOp(w.replayable, true, w.hash),
                               UtteranceOp(w.replayable, true, w.hash + 1),
                               UserOp(User{NewUuidV7(kT0), "x", "ANN@example.com", kT0})};
    std::vector<WriteOp*> ptrs{&again[0], &again[1], &again[2]};
    DeltaSet deltas(kHalfLife);
    ASSERT_TRUE(target.store->ApplyBatch(ptrs, &deltas).ok());
    if (target.store->DeferredSync()) {
      ASSERT_TRUE(target.store->SyncCommitted().ok());
    }
    ExpectOk(again[0], /*replayed=*/true);
    EXPECT_EQ(ShowAll(again[0].utterance.errors), ShowAll(w.replayable.errors));
    EXPECT_EQ(again[1].status.code(), Status::Code::kConflict) << again[1].status.ToString();
    ExpectStatus(again[2].status, Status::Code::kConflict, "Email already registered");
  });
}

// A copy compares equal to its source on every kind of store, whatever
// order each lists its records in; a record written to one side afterwards
// is named, as only in that store or as different in both.
TYPED_TEST(StoreContractTest, ACopyComparesEqualToItsSourceAndADifferenceIsNamed) {
  const World w = Populate(this);
  std::vector<WriteOp> attempts{
      AttemptOp(w.bob.user_id, "ex-6", "articles", true, kT0 + 9 * kMicrosPerDay),
      AttemptOp(w.ann.user_id, "ex-7", "verb_tense", false, kT0 + 11 * kMicrosPerDay)};
  this->Apply(attempts);

  ForEachTarget([&]<typename Target>() {
    SCOPED_TRACE(Target::kName);
    CopyTarget<Target> target;
    ASSERT_NE(target.store, nullptr);
    CopyCounts counts;
    ASSERT_TRUE(CopyStore(this->store(), target.store.get(), CopyOptions{}, &counts).ok());

    CompareOptions options;
    options.page = 2;
    CompareReport report;
    Status s = CompareStores(this->store(), target.store.get(), options, &report);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_TRUE(report.same());
    EXPECT_EQ(report.groups_differing, 0);
    EXPECT_TRUE(report.differences.empty());
    EXPECT_EQ(report.from.users, 3);
    EXPECT_EQ(report.from.errors, counts.errors);
    EXPECT_EQ(report.to.attempts, counts.attempts);
    EXPECT_EQ(report.to.utterances, report.from.utterances);

    // The copy gets a learner and one more error on an utterance it has.
    const User zoe{NewUuidV7(kT0), "Zoe", std::nullopt, kT0};
    std::vector<WriteOp> more{
        UserOp(zoe),
        ErrorsOp(w.replayable.utterance_id, w.replayable.conversation_id, w.replayable.user_id,
                 MakeErrors({"articles"}, kT0 + 20 * kMicrosPerDay))};
    std::vector<WriteOp*> ptrs{&more[0], &more[1]};
    DeltaSet deltas(kHalfLife);
    ASSERT_TRUE(target.store->ApplyBatch(ptrs, &deltas).ok());
    ExpectOk(more[0]);
    ExpectOk(more[1]);
    if (target.store->DeferredSync()) {
      ASSERT_TRUE(target.store->SyncCommitted().ok());
    }

    s = CompareStores(this->store(), target.store.get(), options, &report);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_FALSE(report.same());
    EXPECT_EQ(report.groups_differing, 2);
    EXPECT_EQ(report.groups_examined, 2);
    EXPECT_EQ(report.to.users, report.from.users + 1);
    EXPECT_EQ(report.to.errors, report.from.errors + 1);
    ASSERT_EQ(report.differences.size(), 2u);
    EXPECT_EQ(report.differences[0].kind, "user");
    EXPECT_EQ(report.differences[0].id, zoe.user_id);
    EXPECT_EQ(report.differences[0].where, RecordDifference::Where::kOnlyInTo);
    EXPECT_EQ(report.differences[1].kind, "utterance");
    EXPECT_EQ(report.differences[1].id, w.replayable.utterance_id);
    EXPECT_EQ(report.differences[1].where, RecordDifference::Where::kBothDiffer);

    // The other way round, examining one group only.
    options.examine_groups = 1;
    s = CompareStores(target.store.get(), this->store(), options, &report);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(report.groups_differing, 2);
    EXPECT_EQ(report.groups_examined, 1);
    ASSERT_EQ(report.differences.size(), 1u);
    EXPECT_EQ(report.differences[0].id, zoe.user_id);
    EXPECT_EQ(report.differences[0].where, RecordDifference::Where::kOnlyInFrom);
  });
}

// A copy keeps the source's tombstones (docs/erasure.md): the erased
// learner's id is refused in every kind of target too, and the comparison
// counts them and names one only on one side.
TYPED_TEST(StoreContractTest, ACopyKeepsTheTombstonesOfErasedLearners) {
  const Learner ann = this->AddLearner("Ann", std::nullopt, kT0);
  const Learner bob = this->AddLearner("Bob", std::nullopt, kT0);
  this->Say(ann, kT0 + kMinute, MakeErrors({"articles"}, kT0 + kMinute));
  WriteOp erase = EraseOp(ann.user_id);
  erase.erased_at = kT0 + kHour;
  ExpectOk(this->ApplyOne(erase));

  ForEachTarget([&]<typename Target>() {
    SCOPED_TRACE(Target::kName);
    CopyTarget<Target> target;
    ASSERT_NE(target.store, nullptr);
    CopyCounts counts;
    ASSERT_TRUE(CopyStore(this->store(), target.store.get(), CopyOptions{}, &counts).ok());
    EXPECT_EQ(counts.users, 1);
    EXPECT_EQ(counts.erased, 1);
    const Learner again{ann.user_id, NewUuidV7(kT0 + 2 * kHour)};
    std::vector<WriteOp> late{
        IngestOp(MakeUtterance(again, "late", kT0 + 2 * kHour, {}), "Ann"),
        UserOp(User{ann.user_id, "Ann", std::nullopt, kT0}, /*client_id=*/true)};
    std::vector<WriteOp*> ptrs{&late[0], &late[1]};
    DeltaSet deltas(kHalfLife);
    ASSERT_TRUE(target.store->ApplyBatch(ptrs, &deltas).ok());
    for (const WriteOp& op : late) {
      EXPECT_EQ(op.status.code(), Status::Code::kConflict) << op.status.ToString();
    }
    EXPECT_FALSE(target.store->GetUser(ann.user_id).ok());
    // An erase sent resent to the copy answers what the source's erase did.
    WriteOp resent = EraseOp(ann.user_id);
    std::vector<WriteOp*> one_erase{&resent};
    ASSERT_TRUE(target.store->ApplyBatch(one_erase, &deltas).ok());
    ExpectOk(resent, /*replayed=*/true);
    EXPECT_EQ(resent.erased_at, kT0 + kHour);
    EXPECT_EQ(std::tie(resent.erased.conversations, resent.erased.utterances, resent.erased.errors,
                       resent.erased.attempts),
              std::make_tuple(int64_t{1}, int64_t{1}, int64_t{1}, int64_t{0}));

    CompareReport report;
    ASSERT_TRUE(CompareStores(this->store(), target.store.get(), CompareOptions{}, &report).ok());
    EXPECT_TRUE(report.same());
    EXPECT_EQ(report.from.erased, 1);
    EXPECT_EQ(report.to.erased, 1);
    // Bob erased in the copy only: his user and conversation are only in
    // the source, his tombstone only in the copy.
    WriteOp erase_bob = EraseOp(bob.user_id);
    std::vector<WriteOp*> one{&erase_bob};
    ASSERT_TRUE(target.store->ApplyBatch(one, &deltas).ok());
    ExpectOk(erase_bob);
    if (target.store->DeferredSync()) {
      ASSERT_TRUE(target.store->SyncCommitted().ok());
    }
    ASSERT_TRUE(CompareStores(this->store(), target.store.get(), CompareOptions{}, &report).ok());
    EXPECT_FALSE(report.same());
    EXPECT_EQ(report.to.erased, 2);
    std::vector<std::string> named;
    for (const RecordDifference& d : report.differences) {
      named.push_back(fmt::format("{} {} {}", d.kind, d.id,
                                  d.where == RecordDifference::Where::kOnlyInFrom ? "from" : "to"));
    }
    std::sort(named.begin(), named.end());
    EXPECT_EQ(named, (std::vector<std::string>{"conversation " + bob.conversation_id + " from",
                                               "erased " + bob.user_id + " to",
                                               "user " + bob.user_id + " from"}));
  });
}

// A copy goes only into an empty store: into one that holds a learner it
// writes nothing and says why.
// A copy that stopped between its first batch and its last (BeginBulkLoad
// without EndBulkLoad) leaves a store that refuses to open, saying why; one
// that ended opens and answers every read.
TYPED_TEST(StoreContractTest, AStoreWhoseCopyDidNotFinishRefusesToOpen) {
  ASSERT_TRUE(this->store()->BeginBulkLoad().ok());
  const Learner ann = this->AddLearner("Ann", std::nullopt, kT0);
  this->Say(ann, kT0 + kMinute, MakeErrors({"articles"}, kT0 + kMinute));
  ASSERT_TRUE(this->store()->EndBulkLoad().ok());
  ASSERT_NO_FATAL_FAILURE(this->Reopen(kHalfLife));
  EXPECT_EQ(this->Load(ann.user_id).points.size(), 1u);
  auto by_name = this->store()->SearchCandidates("an", 0);
  ASSERT_TRUE(by_name.ok()) << by_name.status().ToString();
  EXPECT_EQ(by_name->size(), 1u);

  ASSERT_TRUE(this->store()->BeginBulkLoad().ok());
  this->AddLearner("Bob", std::nullopt, kT0);
  this->CloseStore();
  auto again = TypeParam::Open(this->dir(), kHalfLife);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(again.status().message().find("did not finish"), std::string::npos)
      << again.status().message();
}

// An export hands utterances over in the order they were written (time,
// then id), whatever order their ids sort in: a copy's target then appends
// errors (UUIDv7 ids) at the end of its tables (docs/copy.md).
TYPED_TEST(StoreContractTest, AnExportListsUtterancesInTheOrderTheyWereWritten) {
  const Learner ann = this->AddLearner("Ann", std::nullopt, kT0);
  const std::vector<std::pair<std::string, Micros>> written{
      {"ffffffff-0000-4000-8000-000000000001", kT0 + kMinute},
      {"00000000-0000-4000-8000-000000000002", kT0 + 3 * kMinute},
      {"80000000-0000-4000-8000-000000000003", kT0 + 3 * kMinute},
      {"40000000-0000-4000-8000-000000000004", kT0 + 2 * kMinute},
      {"c0000000-0000-4000-8000-000000000005", kT0 + kMicrosPerSecond}};
  for (const auto& [id, at] : written) {
    ExpectOk(this->ApplyOne(UtteranceOp(
        Utterance{id, ann.conversation_id, ann.user_id, "hi", at, MakeErrors({"articles"}, at)},
        /*client_id=*/true)));
  }
  std::vector<std::string> exported;
  auto utterances = [&](std::vector<WriteOp>& page) {
    for (const WriteOp& op : page) {
      if (op.kind == WriteOp::Kind::kAddUtterance) exported.push_back(op.utterance.utterance_id);
    }
    return Status::Ok();
  };
  Status s = this->store()->Export(2, ExportOrder::kWritten, utterances);
  ASSERT_TRUE(s.ok()) << s.ToString();
  const std::vector<std::string> in_time_order{written[4].first, written[0].first,
                                                written[3].first, written[1].first,
                                                written[2].first};
  EXPECT_EQ(exported, in_time_order);
  // In any order: the same utterances, each once.
  exported.clear();
  s = this->store()->Export(2, ExportOrder::kAny, utterances);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::sort(exported.begin(), exported.end());
  std::vector<std::string> ids;
  for (const auto& w : written) ids.push_back(w.first);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(exported, ids);
}

TYPED_TEST(StoreContractTest, ACopyIntoAStoreWithRecordsWritesNothing) {
  auto empty = StoreIsEmpty(this->store());
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_TRUE(*empty);
  const World w = Populate(this);
  empty = StoreIsEmpty(this->store());
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_FALSE(*empty);

  ForEachTarget([&]<typename Target>() {
    SCOPED_TRACE(Target::kName);
    CopyTarget<Target> target;
    ASSERT_NE(target.store, nullptr);
    const User zoe{NewUuidV7(kT0), "Zoe", "zoe@example.com", kT0};
    WriteOp op = UserOp(zoe);
    std::vector<WriteOp*> ptrs{&op};
    DeltaSet deltas(kHalfLife);
    ASSERT_TRUE(target.store->ApplyBatch(ptrs, &deltas).ok());
    if (target.store->DeferredSync()) {
      ASSERT_TRUE(target.store->SyncCommitted().ok());
    }
    CopyCounts counts;
    const Status s = CopyStore(this->store(), target.store.get(), CopyOptions{}, &counts);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
    EXPECT_NE(s.message().find("already holds records"), std::string::npos) << s.message();
    EXPECT_EQ(counts.users, 0);
    StoreView copy{target.store.get()};
    EXPECT_EQ(copy.UserText(w.ann.user_id), "NotFound: User not found");
    EXPECT_EQ(copy.UserText(zoe.user_id), Show(zoe));
  });
}

// A target that fails half-way (disk full, PostgreSQL down) stops the copy
// with its error, after the pages it took; the source's reader stops too.
TYPED_TEST(StoreContractTest, ACopyWhoseTargetFailsStopsWithTheError) {
  Populate(this);
  CopyTarget<SqliteKind> target;
  ASSERT_NE(target.store, nullptr);
  FaultStore faulty(target.store.get());
  CopyOptions options;
  options.batch = 2;
  int batches = 0;
  options.progress = [&](const CopyCounts&) {
    if (++batches == 2) faulty.set_failing(true);
  };
  CopyCounts counts;
  const Status s = CopyStore(this->store(), &faulty, options, &counts);
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();
  EXPECT_EQ(batches, 2);
  EXPECT_EQ(counts.users, 3);
  EXPECT_EQ(counts.conversations, 1);
}

// ---------------------------------------------------------------- PostgreSQL's own

// The case's database, for a connection of the test's own beside the store's.
std::string CaseUrl(const fs::path& dir) {
  return PostgresKind::UrlOf(*PostgresKind::ServerUrl(), PostgresKind::Database(dir));
}

// Waits (up to 10 s) until a session other than the test's waits for a lock.
bool SomeoneWaitsForALock(pg::Conn* c) {
  for (int i = 0; i < 1000; ++i) {
    auto r = c->Exec(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        " AND pid <> pg_backend_pid() AND datname = current_database()");
    if (r.ok() && r->Int(0, 0) > 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// Another node's erase locks the learner's row, then deletes what is under it:
// errors, then utterances. Before (session 25), this node's batch adding
// errors to one of the learner's utterances took the utterance's row through
// the errors' foreign key first, and came to the user's row only at the new
// frequency row's foreign key: each waited for the other, and PostgreSQL
// failed one with 40P01 (the batch: 503 for all its requests). The batch
// now takes its learners' rows first; it waits for the erase, and then finds
// nothing to add to.
TYPED_TEST(StoreContractTest, PostgresABatchBesideAnEraseTakesTheLearnersRowFirst) {
  if constexpr (!std::is_same_v<TypeParam, PostgresKind>) {
    GTEST_SKIP() << "PostgreSQL's lock order";
  } else {
    const Learner ann = this->AddLearner("ann", std::nullopt, kT0);
    const Utterance u = this->Say(ann, kT0 + 1, MakeErrors({"articles"}, kT0 + 1));
    auto eraser = pg::Conn::Connect(CaseUrl(this->dir()), "SET lock_timeout = 10000");
    ASSERT_TRUE(eraser.ok()) << eraser.status().ToString();
    pg::Conn* e = eraser->get();
    auto step = [&](const std::string& sql) {
      auto r = e->Exec(sql);
      EXPECT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
      return r.ok();
    };
    const std::string id = "'" + ann.user_id + "'";
    ASSERT_TRUE(step("BEGIN; SELECT 1 FROM users WHERE user_id = " + id + " FOR UPDATE"));
    std::vector<WriteOp> ops{ErrorsOp(u.utterance_id, ann.conversation_id, ann.user_id,
                                      MakeErrors({"word_choice"}, kT0 + 2))};
    std::vector<WriteOp*> ptrs{&ops[0]};
    DeltaSet deltas(kHalfLife);
    std::thread batch([&] {
      const Status s = this->store()->ApplyBatch(ptrs, &deltas);
      EXPECT_TRUE(s.ok()) << s.ToString();
    });
    auto admin = pg::Conn::Connect(CaseUrl(this->dir()));
    ASSERT_TRUE(admin.ok()) << admin.status().ToString();
    EXPECT_TRUE(SomeoneWaitsForALock(admin->get()));
    // The erase's deletes, children first (PostgresStore::EraseUser).
    bool erased = step("DELETE FROM errors WHERE user_id = " + id) &&
                  step("DELETE FROM utterances WHERE user_id = " + id) &&
                  step("DELETE FROM error_frequencies WHERE user_id = " + id) &&
                  step("DELETE FROM conversations WHERE user_id = " + id) &&
                  step("DELETE FROM user_trigrams WHERE user_id = " + id) &&
                  step("DELETE FROM users WHERE user_id = " + id);
    step(erased ? "COMMIT" : "ROLLBACK");
    batch.join();
    EXPECT_TRUE(erased);
    EXPECT_EQ(ops[0].status.code(), Status::Code::kNotFound) << ops[0].status.ToString();
    EXPECT_EQ(PostgresKind::Leftovers(this->store(), this->dir(), ann.user_id), 0);
  }
}

// Every pooled connection busy (one here, held by a read snapshot): a read
// waits for one up to the limit, then answers Unavailable (503). Before, it
// waited without end, and with every HTTP thread waiting so, even /healthz
// went unanswered.
TYPED_TEST(StoreContractTest, PostgresAReadWaitsForAPooledConnectionUpToALimit) {
  if constexpr (!std::is_same_v<TypeParam, PostgresKind>) {
    GTEST_SKIP() << "PostgreSQL's pool";
  } else {
    const Learner ann = this->AddLearner("ann", std::nullopt, kT0);
    this->CloseStore();
    PgDeadlines deadlines;
    deadlines.borrow_ms = 300;
    auto opened = PostgresStore::Open(CaseUrl(this->dir()), kHalfLife, 1, deadlines);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    std::unique_ptr<PostgresStore> store = std::move(*opened);
    auto snapshot = store->BeginReadSnapshot();  // holds the pool's one connection
    ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
    const auto t0 = std::chrono::steady_clock::now();
    auto read = std::async(std::launch::async, [&] { return store->GetUser(ann.user_id); });
    const bool answered = read.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
    const auto waited = std::chrono::steady_clock::now() - t0;
    EXPECT_TRUE(answered) << "the read still waits for a connection";
    snapshot->reset();  // gives the connection back (and lets a waiting read go on)
    const auto got = read.get();
    if (answered) {
      EXPECT_EQ(got.status().code(), Status::Code::kUnavailable) << got.status().ToString();
      EXPECT_GE(waited, std::chrono::milliseconds(250));
    }
    EXPECT_TRUE(store->GetUser(ann.user_id).ok());  // free again
    EXPECT_EQ(store->Ping().code(), Status::Code::kOk);
  }
}

// A connection's defaults end one to a peer that stopped answering (a black
// hole) in seconds, not after the kernel's minutes of retransmissions; the
// URL can still set its own.
TYPED_TEST(StoreContractTest, PostgresConnectionsGiveUpOnASilentPeer) {
  if constexpr (!std::is_same_v<TypeParam, PostgresKind>) {
    GTEST_SKIP() << "PostgreSQL's connection defaults";
  } else {
    auto c = pg::Conn::Connect(CaseUrl(this->dir()));
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ((*c)->Option("tcp_user_timeout"), "10000");
    EXPECT_EQ((*c)->Option("keepalives"), "1");
    EXPECT_EQ((*c)->Option("keepalives_idle"), "10");
    auto own = pg::Conn::Connect(CaseUrl(this->dir()) + "?tcp_user_timeout=3000");
    ASSERT_TRUE(own.ok()) << own.status().ToString();
    EXPECT_EQ((*own)->Option("tcp_user_timeout"), "3000");
  }
}

// A session that became read-only (its server is a standby now, after a
// failover) fails writes with 25006 for good: the connection is reset, as a
// lost one is, and the next use gets a new session (with a multi-host URL,
// on the host that takes writes).
TYPED_TEST(StoreContractTest, PostgresAReadOnlySessionIsReset) {
  if constexpr (!std::is_same_v<TypeParam, PostgresKind>) {
    GTEST_SKIP() << "PostgreSQL's failover";
  } else {
    auto c = pg::Conn::Connect(CaseUrl(this->dir()));
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    pg::Conn* conn = c->get();
    const char* write = "INSERT INTO meta(key, value) VALUES('read-only test', 'x');"
                        " DELETE FROM meta WHERE key = 'read-only test'";
    ASSERT_TRUE(conn->Exec("SET default_transaction_read_only = on").ok());
    ASSERT_TRUE(conn->Exec("BEGIN").ok());
    auto failed = conn->Exec(write);  // in a transaction: it is lost, the caller starts over
    EXPECT_EQ(failed.status().code(), Status::Code::kUnavailable) << failed.status().ToString();
    EXPECT_TRUE(conn->broken());
    ASSERT_TRUE(conn->EnsureUsable().ok());
    EXPECT_FALSE(conn->InTransaction());
    auto r = conn->Exec(write);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    // Outside a transaction (a batch's first statement), the statement is
    // sent once more on the new session, as after a lost connection.
    ASSERT_TRUE(conn->Exec("SET default_transaction_read_only = on").ok());
    r = conn->Exec(write);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_FALSE(conn->broken());
  }
}

// A profile's statements read one snapshot. Here the load takes it, then
// waits at the learner's points (the table is locked) while an error row of
// theirs commits; before (session 25), its next statement saw that error
// among the examples, a profile with an example its counts lacked.
TYPED_TEST(StoreContractTest, PostgresAProfileLoadsFromOneSnapshot) {
  if constexpr (!std::is_same_v<TypeParam, PostgresKind>) {
    GTEST_SKIP() << "PostgreSQL's read";
  } else {
    const Learner ann = this->AddLearner("ann", std::nullopt, kT0);
    const Utterance u = this->Say(ann, kT0 + 1, MakeErrors({"articles"}, kT0 + 1));
    const Profile before = this->Load(ann.user_id);
    ASSERT_EQ(before.examples.size(), 1u);
    auto locker = pg::Conn::Connect(CaseUrl(this->dir()));
    ASSERT_TRUE(locker.ok()) << locker.status().ToString();
    ASSERT_TRUE((*locker)->Exec("BEGIN; LOCK TABLE error_frequencies IN ACCESS EXCLUSIVE MODE").ok());
    auto load = std::async(std::launch::async, [&] { return this->store()->LoadProfile(ann.user_id); });
    auto other = pg::Conn::Connect(CaseUrl(this->dir()));
    ASSERT_TRUE(other.ok()) << other.status().ToString();
    EXPECT_TRUE(SomeoneWaitsForALock(other->get()));
    const ErrorRecord e = MakeError("articles", kT0 + 5);
    auto added = (*other)->Exec(fmt::format(
        "INSERT INTO errors(error_id, utterance_id, conversation_id, user_id, category,"
        " subcategory, subcategory_id, span_start, span_end, original, correction, created_at)"
        " VALUES('{}', '{}', '{}', '{}', 'Grammar', 'articles', 'articles', 2, 6, 'goes', 'went', {})",
        e.error_id, u.utterance_id, ann.conversation_id, ann.user_id, e.created_at));
    EXPECT_TRUE(added.ok()) << added.status().ToString();
    ASSERT_TRUE((*locker)->Exec("ROLLBACK").ok());
    auto got = load.get();
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ASSERT_EQ(got->points.size(), 1u);
    EXPECT_EQ(got->points[0].count, 1);
    EXPECT_EQ(got->examples.size(), 1u) << "an example from after the load's snapshot";
  }
}

}  // namespace
}  // namespace errata
