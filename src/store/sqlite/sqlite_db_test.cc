// Db's process-wide set-up: the SIGBUS report for the readers' mapped pages.
#include "store/sqlite/sqlite_db.h"

#include <gtest/gtest.h>
#include <signal.h>

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

}  // namespace
}  // namespace errata::sqlite
