// BackupSqlite: a copy of an SQLite store's database file, made while a
// server goes on reading and writing it (docs/backup.md).
//
// SQLite's online backup API copies every page in one read transaction on
// its own read-only connection: the copy is the database as of one commit,
// and WAL lets the server's writer go on committing meanwhile. The copy is
// written to `to`.partial, checked (PRAGMA quick_check, or with full_check
// PRAGMA integrity_check), fsynced, and only then renamed to `to`, so a file
// at `to` is always a whole backup.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"

namespace errata {

struct SqliteBackupInfo {
  int64_t pages = 0;
  int64_t bytes = 0;
  double seconds = 0;        // the copy, from the read transaction's start to its end
  double check_seconds = 0;  // quick_check (or integrity_check) of the copy
};

// Copies the database file `from` to the new file `to` (which must not
// exist). Unavailable when the source cannot be read (busy for longer than
// the busy timeout, I/O) or the copy cannot be written (disk full); the
// partial file is removed. `full_check` checks the copy with PRAGMA
// integrity_check: beyond quick_check's pages and records, that every index
// holds exactly its table's rows, and the UNIQUE constraints (errata backup
// --verify).
Status BackupSqlite(const std::string& from, const std::string& to, SqliteBackupInfo* info,
                    bool full_check = false);

}  // namespace errata
