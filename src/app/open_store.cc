#include "app/open_store.h"

#include <filesystem>

#include "store/postgres/postgres_store.h"
#include "store/rocksdb/rocksdb_store.h"
#include "store/sqlite/sqlite_store.h"

namespace errata::app {

Result<std::unique_ptr<Store>> OpenStore(const std::string& url, const std::string& data_dir,
                                         Micros half_life, int readers) {
  if (url.starts_with("postgres://") || url.starts_with("postgresql://")) {
    auto s = PostgresStore::Open(url, half_life, readers);
    if (!s.ok()) return s.status();
    return std::unique_ptr<Store>(std::move(*s));
  }
  if (url.starts_with("rocksdb:")) {
    std::string path = url.substr(8);
    if (path.empty()) path = (std::filesystem::path(data_dir) / "rocksdb").string();
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) return Status::Unavailable("cannot create " + path + ": " + ec.message());
    auto s = RocksdbStore::Open({path, half_life});
    if (!s.ok()) return s.status();
    return std::unique_ptr<Store>(std::move(*s));
  }
  if (!url.empty() && !url.starts_with("sqlite:")) {
    return Status::InvalidArgument("unsupported store URL: " + url);
  }
  std::string path = url.empty() ? "" : url.substr(7);
  if (path.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(data_dir, ec);
    if (ec) return Status::Unavailable("cannot create " + data_dir + ": " + ec.message());
    path = (std::filesystem::path(data_dir) / "errata.db").string();
  }
  auto s = SqliteStore::Open({path, half_life, readers});
  if (!s.ok()) return s.status();
  return std::unique_ptr<Store>(std::move(*s));
}

}  // namespace errata::app
