#include "app/open_store.h"

#include <cstdio>
#include <filesystem>

#include "store/postgres/postgres_store.h"
#include "store/rocksdb/rocksdb_store.h"
#include "store/sqlite/sqlite_store.h"

namespace errata::app {
namespace {

Status MakeDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  return ec ? Status::Unavailable("cannot create " + dir + ": " + ec.message()) : Status::Ok();
}

template <typename S>
Result<std::unique_ptr<Store>> AsStore(Result<std::unique_ptr<S>> opened) {
  if (!opened.ok()) return opened.status();
  return std::unique_ptr<Store>(std::move(*opened));
}

}  // namespace

std::string EmbeddedStorePath(const std::string& url, const std::string& data_dir) {
  if (url.starts_with("rocksdb:")) {
    const std::string path = url.substr(8);
    return path.empty() ? (std::filesystem::path(data_dir) / "rocksdb").string() : path;
  }
  if (url.empty() || url == "sqlite:") return (std::filesystem::path(data_dir) / "errata.db").string();
  if (url.starts_with("sqlite:")) return url.substr(7);
  return "";
}

bool SameStore(const std::string& a, const std::string& b, const std::string& data_dir) {
  return a == b ||
         (!EmbeddedStorePath(a, data_dir).empty() &&
          EmbeddedStorePath(a, data_dir) == EmbeddedStorePath(b, data_dir));
}

std::unique_ptr<Store> OpenForCommand(const char* command, const char* flag,
                                      const std::string& url, const std::string& data_dir,
                                      Micros half_life) {
  auto store = OpenStore(url, data_dir, half_life, 1);
  if (store.ok()) return std::move(*store);
  std::fprintf(stderr, "errata %s: %s: %s\n", command, flag, store.status().message().c_str());
  return nullptr;
}

Result<std::unique_ptr<Store>> OpenStore(const std::string& url, const std::string& data_dir,
                                         Micros half_life, int readers,
                                         const PgDeadlines& deadlines) {
  if (url.starts_with("postgres://") || url.starts_with("postgresql://")) {
    return AsStore(PostgresStore::Open(url, half_life, readers, deadlines));
  }
  if (!url.empty() && !url.starts_with("sqlite:") && !url.starts_with("rocksdb:")) {
    return Status::InvalidArgument("unsupported store URL: " + url);
  }
  const std::string path = EmbeddedStorePath(url, data_dir);
  if (url.starts_with("rocksdb:")) {
    if (Status s = MakeDir(path); !s.ok()) return s;
    auto opened = RocksdbStore::Open({path, half_life});
    // One process per directory, by RocksDB's LOCK file (SQLite's store
    // holds PATH.lock likewise): say what holds it.
    if (!opened.ok() && opened.status().message().find("/LOCK") != std::string::npos) {
      return Status::Unavailable(opened.status().message() + " (is a server running on it? stop it first)");
    }
    return AsStore(std::move(opened));
  }
  if (url.empty() || url == "sqlite:") {
    if (Status s = MakeDir(data_dir); !s.ok()) return s;
  }
  return AsStore(SqliteStore::Open({path, half_life, readers}));
}

}  // namespace errata::app
