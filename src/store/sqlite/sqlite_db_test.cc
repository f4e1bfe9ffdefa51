// Db's process-wide set-up: the SIGBUS report for the readers' mapped pages.
#include "store/sqlite/sqlite_db.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

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
TEST(SqliteDbTest, WriterSkipsSecureDeleteAndMemoryAccounting) {
  testutil::TempDir dir("sqlite-db");
  auto db = Db::Open((dir.path() / "t.db").string(), Role::kWriter);
  ASSERT_TRUE(db.ok()) << db.status().message();
  Stmt* st = (*db)->Prepare("PRAGMA secure_delete");
  ASSERT_EQ(st->Step(), SQLITE_ROW);
  EXPECT_EQ(st->Int(0), 0);
  st->Reset();
  ASSERT_TRUE((*db)->Exec("CREATE TABLE t(k TEXT PRIMARY KEY) WITHOUT ROWID; "
                          "INSERT INTO t VALUES('a'), ('b');")
                  .ok());
  sqlite3_int64 used = -1, peak = -1;
  ASSERT_EQ(sqlite3_status64(SQLITE_STATUS_MEMORY_USED, &used, &peak, 0), SQLITE_OK);
  EXPECT_EQ(used, 0);
}

}  // namespace
}  // namespace errata::sqlite
