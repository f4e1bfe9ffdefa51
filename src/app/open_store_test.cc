// Which store a command line names: EmbeddedStorePath, SameStore (errata
// copy and compare refuse one store twice) and CheckStoreExists (neither
// makes a store by opening one that is not there).
#include "app/open_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "store/temp_dir_test_util.h"

namespace errata::app {
namespace {

namespace fs = std::filesystem;
using testutil::TempDir;

TEST(EmbeddedStorePathTest, DropsATrailingSlash) {
  // serve writes PATH.hot-learners: with the slash it went inside the
  // RocksDB directory, as d/r/.hot-learners.
  EXPECT_EQ(EmbeddedStorePath("rocksdb:d/r/", "data"), "d/r");
  EXPECT_EQ(EmbeddedStorePath("rocksdb:d/r//", "data"), "d/r");
  EXPECT_EQ(EmbeddedStorePath("rocksdb:/", "data"), "/");
  EXPECT_EQ(EmbeddedStorePath("rocksdb:", "data/"), "data/rocksdb");
  EXPECT_EQ(EmbeddedStorePath("sqlite:d/e.db", "data"), "d/e.db");
  EXPECT_EQ(EmbeddedStorePath("", "data"), "data/errata.db");
  EXPECT_EQ(EmbeddedStorePath("postgres://h/db", "data"), "");
}

TEST(SameStoreTest, OnePathSpeltTwoWaysIsOneStore) {
  TempDir dir("same-store");
  const std::string d = dir.path().string();
  fs::create_directories(dir.path() / "r");
  EXPECT_TRUE(SameStore("rocksdb:" + d + "/r", "rocksdb:" + d + "/r/", "data"));
  EXPECT_TRUE(SameStore("rocksdb:" + d + "/r", "rocksdb:" + d + "/./x/../r", "data"));
  EXPECT_TRUE(SameStore("rocksdb:", "rocksdb:" + d + "/rocksdb", d));
  EXPECT_TRUE(SameStore("", "sqlite:" + d + "/errata.db", d));
  EXPECT_TRUE(SameStore("sqlite:" + d + "/e.db", "sqlite:" + d + "//e.db", "data"));
  // Relative to the working directory, as the store opens it.
  const fs::path cwd = fs::current_path();
  fs::current_path(dir.path());
  EXPECT_TRUE(SameStore("rocksdb:r", "rocksdb:" + d + "/r/", "data"));
  fs::current_path(cwd);
  // Through a symbolic link.
  fs::create_directory_symlink(dir.path() / "r", dir.path() / "link");
  EXPECT_TRUE(SameStore("rocksdb:" + d + "/link", "rocksdb:" + d + "/r", "data"));

  EXPECT_FALSE(SameStore("rocksdb:" + d + "/r", "rocksdb:" + d + "/s", "data"));
  EXPECT_FALSE(SameStore("rocksdb:" + d + "/r", "sqlite:" + d + "/e.db", "data"));
  EXPECT_FALSE(SameStore("postgres://h/a", "postgres://h/b", "data"));
  EXPECT_TRUE(SameStore("postgres://h/a", "postgres://h/a", "data"));
}

TEST(CheckStoreExistsTest, OnlyAStoreThatIsThere) {
  TempDir dir("store-exists");
  const std::string d = dir.path().string();
  EXPECT_FALSE(CheckStoreExists("test", "--from", "sqlite:" + d + "/none.db", "data"));
  EXPECT_FALSE(CheckStoreExists("test", "--from", "", d));  // d/errata.db
  EXPECT_FALSE(CheckStoreExists("test", "--from", "rocksdb:" + d + "/none", "data"));
  // An empty directory is no RocksDB store: opening it would make one.
  fs::create_directories(dir.path() / "empty");
  EXPECT_FALSE(CheckStoreExists("test", "--from", "rocksdb:" + d + "/empty", "data"));
  std::ofstream(dir.path() / "empty" / "CURRENT") << "MANIFEST-000001\n";
  EXPECT_TRUE(CheckStoreExists("test", "--from", "rocksdb:" + d + "/empty/", "data"));
  std::ofstream(dir.path() / "errata.db") << "";
  EXPECT_TRUE(CheckStoreExists("test", "--from", "", d));
  // PostgreSQL's database is its server's to make: not checked here.
  EXPECT_TRUE(CheckStoreExists("test", "--from", "postgres://h/db", "data"));
  EXPECT_FALSE(fs::exists(dir.path() / "none.db"));
  EXPECT_FALSE(fs::exists(dir.path() / "none"));
}

}  // namespace
}  // namespace errata::app
