// Db's process-wide set-up: the SIGBUS report for the readers' mapped pages.
#include "store/sqlite/sqlite_db.h"

#include <gtest/gtest.h>
#include <cstdlib>
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
        Stmt* st = (*db)->Prepare("PRAGMA secure_delete");
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

}  // namespace
}  // namespace errata::sqlite
