// `errata backup --to PATH`: a backup of an embedded store, made while a
// server goes on serving on it (docs/backup.md).
//  - SQLite: a page copy of the database file in one read transaction
//    (store/sqlite/sqlite_backup.h), checked; PATH is a new SQLite file.
//  - RocksDB: a copy of every record, read through a RocksDB secondary
//    instance beside the server, into a new RocksDB directory at PATH.
// Either way the backup is the store as of one moment: every write
// acknowledged before the backup began is in it. PostgreSQL has its own
// tools (pg_dump, pg_basebackup; docs/deploy.md).
#pragma once

#include <string>

namespace errata::app {

struct BackupOptions {
  std::string store;                // as serve --store; empty: SQLite in data_dir
  std::string data_dir = "./data";  // for sqlite:/rocksdb: without a path
  std::string to;                   // the new file (SQLite) or directory (RocksDB)
  double half_life_days = 14;
  bool progress = true;
  // RocksDB: compare the backup with what it was read from, record by
  // record; SQLite: PRAGMA integrity_check of the copy, not quick_check.
  bool verify = false;
};

// Returns the process exit code: 0 backed up, 1 failed (nothing is left at
// `to`), 2 bad arguments.
int RunBackup(const BackupOptions& options);

}  // namespace errata::app
