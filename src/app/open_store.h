// Opens the store a command line names: SQLite in the data directory by
// default, or the store URL given: sqlite:PATH, rocksdb: (the directory
// rocksdb/ in the data directory) or rocksdb:PATH, postgres://...
#pragma once

#include <memory>
#include <string>

#include "store/postgres/postgres_store.h"
#include "store/store.h"

namespace errata::app {

// `deadlines` apply to a PostgreSQL store only.
Result<std::unique_ptr<Store>> OpenStore(const std::string& url, const std::string& data_dir,
                                         Micros half_life, int readers,
                                         const PgDeadlines& deadlines = {});

// The embedded store's file (SQLite) or directory (RocksDB) that OpenStore
// opens for these arguments, without a trailing slash (serve writes
// PATH.hot-learners beside it); empty for PostgreSQL or an unsupported URL.
std::string EmbeddedStorePath(const std::string& url, const std::string& data_dir);

// Whether two command-line stores are one (errata copy and compare refuse):
// the same URL, or embedded stores at one path however it is spelt
// (relative, with "..", a trailing slash or a symbolic link).
bool SameStore(const std::string& a, const std::string& b, const std::string& data_dir);

// Whether the embedded store `url` names is there (a RocksDB directory with
// its CURRENT file, an SQLite file); opening one that is not makes an empty
// store. If it is not, prints "errata COMMAND: FLAG PATH: no such store" to
// stderr and returns false. True for PostgreSQL: its database is the
// server's to make, and opening one never creates it.
bool CheckStoreExists(const char* command, const char* flag, const std::string& url,
                      const std::string& data_dir);

// OpenStore for a command's --from or --to (errata copy, errata compare):
// on failure prints "errata COMMAND: FLAG: why" to stderr (a RocksDB
// directory opens in one process at a time, and its lock error then says
// so) and returns null.
std::unique_ptr<Store> OpenForCommand(const char* command, const char* flag,
                                      const std::string& url, const std::string& data_dir,
                                      Micros half_life);

}  // namespace errata::app
