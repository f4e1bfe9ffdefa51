// For tests that open a RocksdbStore of their own.
#pragma once

#include <filesystem>

#include "store/rocksdb/rocksdb_store.h"

namespace errata::testutil {

// A store in `dir`/rocksdb with a small block cache and memtable, so tests
// stay light and reach flushes soon.
inline RocksdbStore::Options SmallRocksdb(const std::filesystem::path& dir) {
  RocksdbStore::Options o;
  o.path = (dir / "rocksdb").string();
  o.block_cache_bytes = 8ll << 20;
  o.write_buffer_bytes = 4ll << 20;
  return o;
}

}  // namespace errata::testutil
