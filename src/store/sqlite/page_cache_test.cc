// The page-cache layer (page_cache.h): B-tree rebalancing goes through it
// (pages are parked at the temporary number), and the database stays exactly
// what was written, under a large cache and under a tiny one that evicts.
#include "store/sqlite/page_cache.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "store/sqlite/sqlite_db.h"
#include "store/temp_dir_test_util.h"

namespace errata::sqlite {
namespace {

class PageCacheTest : public ::testing::TestWithParam<int> {
 protected:
  std::string path() const { return (dir_.path() / "t.db").string(); }

  testutil::TempDir dir_{"pcache-test"};
};

// Random text keys in a WITHOUT ROWID table (errata's own layout) make page
// splits all over the tree; many of them swap page numbers.
TEST_P(PageCacheTest, RandomInsertsAcrossCommitsKeepEveryRow) {
  ASSERT_TRUE(InstallPageCache());
  const uint64_t renames_before = PageCacheTemporaryRenames();
  std::map<std::string, int64_t> want;
  {
    auto db = Db::Open(path(), Role::kWriter);
    ASSERT_TRUE(db.ok()) << db.status().message();
    Db& d = **db;
    ASSERT_TRUE(d.Exec("PRAGMA cache_size=" + std::to_string(GetParam())).ok());
    ASSERT_TRUE(d.Exec("CREATE TABLE t(k TEXT PRIMARY KEY, v INTEGER, pad TEXT) WITHOUT ROWID").ok());
    std::mt19937_64 rng(42);
    for (int txn = 0; txn < 200; ++txn) {
      ASSERT_TRUE(d.Exec("BEGIN").ok());
      for (int i = 0; i < 100; ++i) {
        const std::string k = std::to_string(rng()) + "-" + std::to_string(rng());
        const auto v = static_cast<int64_t>(rng() >> 1);
        Stmt* ins = nullptr;
        ASSERT_TRUE(
            d.Prepare("INSERT INTO t(k, v, pad) VALUES(?1, ?2, printf('%.100c', 'x'))", &ins).ok());
        ASSERT_EQ(ins->Bind(1, k).Bind(2, v).Step(), SQLITE_DONE) << d.LastError();
        want[k] = v;
      }
      ASSERT_TRUE(d.Exec("COMMIT").ok());
    }
  }
  EXPECT_GT(PageCacheTemporaryRenames(), renames_before) << "no page was ever parked";

  auto db = Db::Open(path(), Role::kWriter);
  ASSERT_TRUE(db.ok());
  Db& d = **db;
  Stmt* check = nullptr;
  ASSERT_TRUE(d.Prepare("PRAGMA integrity_check", &check).ok());
  ASSERT_EQ(check->Step(), SQLITE_ROW);
  EXPECT_EQ(check->Text(0), "ok");
  check->Reset();
  std::map<std::string, int64_t> got;
  Stmt* all = nullptr;
  ASSERT_TRUE(d.Prepare("SELECT k, v FROM t", &all).ok());
  while (all->Step() == SQLITE_ROW) got[all->Text(0)] = all->Int(1);
  EXPECT_EQ(got.size(), want.size());
  EXPECT_TRUE(got == want);
}

// 128 MiB (the writer's cache) and 20 pages (evicting on nearly every fetch).
INSTANTIATE_TEST_SUITE_P(CacheSizes, PageCacheTest, ::testing::Values(-131072, 20));

}  // namespace
}  // namespace errata::sqlite
