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
  std::string path;
  if (url.starts_with("rocksdb:")) {
    path = url.substr(8);
    if (path.empty()) path = (std::filesystem::path(data_dir) / "rocksdb").string();
  } else if (url.empty() || url == "sqlite:") {
    path = (std::filesystem::path(data_dir) / "errata.db").string();
  } else if (url.starts_with("sqlite:")) {
    path = url.substr(7);
  }
  // "rocksdb:d/r/" is d/r: with the slash, PATH.hot-learners went inside
  // the RocksDB directory as d/r/.hot-learners.
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

bool SameStore(const std::string& a, const std::string& b, const std::string& data_dir) {
  if (a == b) return true;
  const std::string pa = EmbeddedStorePath(a, data_dir), pb = EmbeddedStorePath(b, data_dir);
  if (pa.empty() || pb.empty()) return false;
  // As text, "d/r" and "./d/r/" were two stores: one RocksDB opened twice.
  auto canonical = [](const std::string& path, std::error_code& ec) {
    const auto absolute = std::filesystem::absolute(path, ec);
    return ec ? std::filesystem::path(path) : std::filesystem::weakly_canonical(absolute, ec);
  };
  std::error_code ec_a, ec_b;
  const auto ca = canonical(pa, ec_a), cb = canonical(pb, ec_b);
  return ec_a || ec_b ? pa == pb : ca == cb;
}

bool CheckStoreExists(const char* command, const char* flag, const std::string& url,
                      const std::string& data_dir) {
  const std::string path = EmbeddedStorePath(url, data_dir);
  if (path.empty()) return true;  // PostgreSQL, or a URL OpenStore refuses
  std::error_code ec;
  const bool there = url.starts_with("rocksdb:")
                         ? std::filesystem::exists(std::filesystem::path(path) / "CURRENT", ec)
                         : std::filesystem::is_regular_file(path, ec);
  if (there) return true;
  std::fprintf(stderr, "errata %s: %s %s: no such store\n", command, flag, path.c_str());
  return false;
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
