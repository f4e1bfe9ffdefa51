// Db's process-wide set-up (the SIGBUS report for the readers' mapped pages,
// the writer's settings), Stmt's binding of ids and the statement cache.
#include "store/sqlite/sqlite_db.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <signal.h>
#include <sqlite3.h>

#include <string>
#include <vector>

#include "store/temp_dir_test_util.h"

namespace errata::sqlite {
namespace {

// A reader that meets an I/O error in a mapped page dies of SIGBUS; the log
// must say why before it does.
TEST(SqliteDbDeathTest, SigbusIsReportedBeforeTheProcessDies) {
  EXPECT_EXIT(
      {
        InstallSigbusReport();
        ::raise(SIGBUS);
      },
      ::testing::KilledBySignal(SIGBUS), "SIGBUS: I/O error reading the mapped SQLite database");
}

// The writer neither zeroes freed cells (Debian builds SQLite with
// SECURE_DELETE on; errata deletes no learner data) nor counts SQLite's
// memory, whose global mutex every allocation took (docs/write-path.md).
// Memory accounting can only be turned off before SQLite initializes, so the
// check runs in a fresh process ("threadsafe" death tests re-run the test
// binary): another test may already have opened SQLite in this one.
TEST(SqliteDbDeathTest, WriterSkipsSecureDeleteAndMemoryAccounting) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        testutil::TempDir dir("sqlite-db");
        auto db = Db::Open((dir.path() / "t.db").string(), Role::kWriter);
        if (!db.ok()) std::_Exit(2);
        Stmt* st = nullptr;
        if (!(*db)->Prepare("PRAGMA secure_delete", &st).ok()) std::_Exit(5);
        if (st->Step() != SQLITE_ROW || st->Int(0) != 0) std::_Exit(3);
        st->Reset();
        if (!(*db)->Exec("CREATE TABLE t(k TEXT PRIMARY KEY) WITHOUT ROWID; "
                         "INSERT INTO t VALUES('a'), ('b');")
                 .ok()) {
          std::_Exit(4);
        }
        sqlite3_int64 used = -1;
        sqlite3_int64 peak = -1;
        sqlite3_status64(SQLITE_STATUS_MEMORY_USED, &used, &peak, 0);
        std::_Exit(used == 0 ? 0 : 5);
      },
      ::testing::ExitedWithCode(0), "");
}

// The statement cache is keyed by the text's address. A text that is not a
// literal may be freed and another written at the same address: Prepare then
// answers the new text's statement, not the cached one.
TEST(SqliteStmtTest, ANewTextAtACachedAddressGetsItsOwnStatement) {
  testutil::TempDir dir("sqlite-stmt");
  auto db = Db::Open((dir.path() / "t.db").string(), Role::kWriter);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  char text[32] = "SELECT 1";
  Stmt* one = nullptr;
  ASSERT_TRUE((*db)->Prepare(text, &one).ok());
  ASSERT_NE(one, nullptr);
  ASSERT_EQ(one->Step(), SQLITE_ROW);
  EXPECT_EQ(one->Int(0), 1);
  one->Reset();
  std::strcpy(text, "SELECT 2");
  Stmt* two = nullptr;
  ASSERT_TRUE((*db)->Prepare(text, &two).ok());
  ASSERT_NE(two, nullptr);
  ASSERT_EQ(two->Step(), SQLITE_ROW);
  EXPECT_EQ(two->Int(0), 2);
  two->Reset();
}

// An id binds as the UUID's 16 bytes, by copy (BindId) or by reference
// (BindRef of a StoredId), and reads back as its text (Id); an id that is not
// a UUID binds as text and matches no stored id.
TEST(SqliteStmtTest, IdsBindAsSixteenBytesAndReadBackAsText) {
  testutil::TempDir dir("sqlite-stmt");
  auto db = Db::Open((dir.path() / "t.db").string(), Role::kWriter);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  ASSERT_TRUE((*db)->Exec("CREATE TABLE t(id BLOB PRIMARY KEY, n INTEGER) WITHOUT ROWID").ok());
  const std::string a = "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
  const std::string b = "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c";
  Stmt* ins = nullptr;
  ASSERT_TRUE((*db)->Prepare("INSERT INTO t VALUES(?1, ?2)", &ins).ok());
  ins->BindId(1, a).Bind(2, int64_t{1});
  ASSERT_EQ(ins->Step(), SQLITE_DONE);
  const StoredId stored(b);
  ins->Reset().BindRef(1, stored).Bind(2, int64_t{2});
  ASSERT_EQ(ins->Step(), SQLITE_DONE);
  ins->Reset();
  Stmt* all = nullptr;
  ASSERT_TRUE((*db)->Prepare("SELECT id, typeof(id), length(id), n FROM t ORDER BY id", &all).ok());
  std::vector<std::string> rows;
  while (all->Step() == SQLITE_ROW) {
    rows.push_back(all->Id(0) + " " + all->Text(1) + " " + all->Text(2) + " " + all->Text(3));
  }
  all->Reset();
  EXPECT_EQ(rows, (std::vector<std::string>{a + " blob 16 1", b + " blob 16 2"}));
  Stmt* find = nullptr;
  ASSERT_TRUE((*db)->Prepare("SELECT n FROM t WHERE id=?1", &find).ok());
  const std::string upper = "0193A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5C";
  const StoredId upper_id(upper);
  find->BindRef(1, upper_id);
  ASSERT_EQ(find->Step(), SQLITE_ROW);
  EXPECT_EQ(find->Int(0), 2);
  find->Reset();
  // Text, even one spelling a stored id's 16 bytes, matches nothing.
  const std::string sixteen(stored.bytes(), kUuidBytes);
  const StoredId not_uuid(sixteen);
  EXPECT_FALSE(not_uuid.uuid());
  find->BindRef(1, not_uuid);
  EXPECT_EQ(find->Step(), SQLITE_DONE);
  find->Reset().BindId(1, "nope");
  EXPECT_EQ(find->Step(), SQLITE_DONE);
  find->Reset();
}

// A statement SQLite cannot prepare is an error with SQLite's reason, and
// caches nothing: the same text prepares once it can.
TEST(SqliteStmtTest, AStatementThatCannotBePreparedIsAnError) {
  testutil::TempDir dir("sqlite-stmt");
  auto db = Db::Open((dir.path() / "t.db").string(), Role::kWriter);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  static const char* const kSelect = "SELECT n FROM later";
  Stmt* st = reinterpret_cast<Stmt*>(1);
  const Status s = (*db)->Prepare(kSelect, &st);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(st, nullptr);
  EXPECT_NE(s.message().find("no such table: later"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find(kSelect), std::string::npos) << s.ToString();
  ASSERT_TRUE((*db)->Exec("CREATE TABLE later(n INTEGER); INSERT INTO later VALUES(1), (2)").ok());
  ASSERT_TRUE((*db)->Prepare(kSelect, &st).ok());
  int64_t sum = 0;
  EXPECT_TRUE(StepRows(db->get(), st, "sum", [&] { sum += st->Int(0); }).ok());
  EXPECT_EQ(sum, 3);
}

// StepRows stops at a row whose callback fails, answers that failure, and
// leaves the statement reset (not holding its read open).
TEST(SqliteStmtTest, StepRowsStopsWhereTheRowFails) {
  testutil::TempDir dir("sqlite-stmt");
  auto db = Db::Open((dir.path() / "t.db").string(), Role::kWriter);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  ASSERT_TRUE((*db)->Exec("CREATE TABLE t(n INTEGER); INSERT INTO t VALUES(1), (2), (3)").ok());
  Stmt* st = nullptr;
  ASSERT_TRUE((*db)->Prepare("SELECT n FROM t ORDER BY n", &st).ok());
  std::vector<int64_t> seen;
  const Status s = StepRows(db->get(), st, "rows", [&] {
    seen.push_back(st->Int(0));
    return seen.size() == 2 ? Status::Unavailable("stop") : Status::Ok();
  });
  EXPECT_EQ(s.message(), "stop");
  EXPECT_EQ(seen, (std::vector<int64_t>{1, 2}));
  EXPECT_FALSE(sqlite3_stmt_busy(sqlite3_next_stmt((*db)->raw(), nullptr)));
}

}  // namespace
}  // namespace errata::sqlite
