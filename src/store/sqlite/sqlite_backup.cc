#include "store/sqlite/sqlite_backup.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <thread>

namespace errata {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct CloseDb {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbPtr = std::unique_ptr<sqlite3, CloseDb>;

Status Failed(sqlite3* db, int rc, const std::string& what) {
  std::string msg = what + ": " + (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  return (rc & 0xff) == SQLITE_CORRUPT ? Status::Internal(msg) : Status::Unavailable(msg);
}

Result<DbPtr> OpenDb(const std::string& path, int flags) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  DbPtr db(raw);
  if (rc != SQLITE_OK) return Failed(raw, rc, "open " + path);
  sqlite3_busy_timeout(raw, 5000);
  sqlite3_extended_result_codes(raw, 1);
  return db;
}

// fsync of a file or a directory.
Status Sync(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), (directory ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::Unavailable("open " + path + ": " + std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return Status::Unavailable("fsync " + path + ": " + std::strerror(err));
  return Status::Ok();
}

// Whether the database holds errata's tables (a file of another program, or
// an empty one, is no store to back up).
Status CheckIsStore(sqlite3* db, const std::string& path) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(
      db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'users'", -1, &stmt,
      nullptr);
  if ((rc & 0xff) == SQLITE_NOTADB) {
    return Status::InvalidArgument(path + " is not an errata store (not an SQLite database)");
  }
  if (rc != SQLITE_OK) return Failed(db, rc, "read " + path);
  rc = sqlite3_step(stmt);
  const bool found = rc == SQLITE_ROW && sqlite3_column_int(stmt, 0) == 1;
  sqlite3_finalize(stmt);
  if (rc != SQLITE_ROW) return Failed(db, rc, "read " + path);
  if (!found) return Status::InvalidArgument(path + " is not an errata store (no users table)");
  return Status::Ok();
}

// Pages copied between two flushes of the copy to disk.
constexpr int kStepPages = 2048;  // 8 MiB at SQLite's 4 KiB pages

// One read transaction on the source for the whole copy, so the copy is one
// commit's database: SQLite's backup otherwise reads each step in a
// transaction of its own, and starts over when another process (the
// server) has committed between two steps. Inside it the pages go over a
// step at a time, and each step is flushed to disk (fdatasync) before the
// next: written in one piece and synced at the end, a copy of hundreds of
// MiB filled the disk's queue, and the server's WAL syncs waited behind it
// (BENCHMARKS.md, "Session 21"). A lock met at the start (a WAL recovery
// running) is waited out for up to 5 s.
Status CopyPages(sqlite3* src, sqlite3* dst, const std::string& from, const std::string& to,
                 SqliteBackupInfo* info) {
  const auto start = Clock::now();
  int rc;
  while ((rc = sqlite3_exec(src, "BEGIN; SELECT count(*) FROM sqlite_schema", nullptr, nullptr,
                            nullptr)) != SQLITE_OK) {
    sqlite3_exec(src, "ROLLBACK", nullptr, nullptr, nullptr);
    if (((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) ||
        Clock::now() - start > std::chrono::seconds(5)) {
      return Failed(src, rc, "read " + from);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  struct EndRead {
    sqlite3* db;
    ~EndRead() { sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr); }
  } end_read{src};
  const int fd = ::open(to.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Status::Unavailable("open " + to + ": " + std::strerror(errno));
  struct CloseFd {
    int fd;
    ~CloseFd() { ::close(fd); }
  } close_fd{fd};
  sqlite3_backup* b = sqlite3_backup_init(dst, "main", src, "main");
  if (b == nullptr) return Failed(dst, sqlite3_errcode(dst), "backup of " + from);
  Status synced;
  while ((rc = sqlite3_backup_step(b, kStepPages)) == SQLITE_OK) {
    if (::fdatasync(fd) != 0) {
      synced = Status::Unavailable("fdatasync " + to + ": " + std::strerror(errno));
      break;
    }
  }
  info->pages = sqlite3_backup_pagecount(b);
  info->seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const int finish = sqlite3_backup_finish(b);
  if (!synced.ok()) return synced;
  if (rc != SQLITE_DONE) return Failed(nullptr, rc, "backup of " + from);
  if (finish != SQLITE_OK) return Failed(dst, finish, "backup of " + from);
  return Status::Ok();
}

// The copy's header says WAL, as the source's does: the copy goes back to a
// rollback journal, so it is one file that opens without a -wal beside it
// (a server on it turns WAL on again). Then PRAGMA quick_check, or
// integrity_check, which also reads every index against its table.
Status Finish(sqlite3* db, const std::string& path, bool full_check, SqliteBackupInfo* info) {
  const auto start = Clock::now();
  if (int rc = sqlite3_exec(db, "PRAGMA journal_mode=DELETE", nullptr, nullptr, nullptr);
      rc != SQLITE_OK) {
    return Failed(db, rc, "finish " + path);
  }
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db, full_check ? "PRAGMA integrity_check" : "PRAGMA quick_check",
                              -1, &stmt, nullptr);
  if (rc != SQLITE_OK) return Failed(db, rc, "check " + path);
  std::string first;
  rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) first = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  sqlite3_finalize(stmt);
  if (rc != SQLITE_ROW) return Failed(db, rc, "check " + path);
  if (first != "ok") return Status::Internal("the copy fails its check: " + first);
  info->check_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return Status::Ok();
}

Status Backup(const std::string& from, const std::string& partial, bool full_check,
              SqliteBackupInfo* info) {
  // Read-only: the backup never writes the source, and never checkpoints it.
  auto src = OpenDb(from, SQLITE_OPEN_READONLY);
  if (!src.ok()) return src.status();
  if (Status s = CheckIsStore(src->get(), from); !s.ok()) return s;
  {
    auto dst = OpenDb(partial, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    if (!dst.ok()) return dst.status();
    // No journal and no syncs of SQLite's own: a failed copy is deleted
    // whole; CopyPages syncs each step, and the finished file is fsynced
    // once more below.
    sqlite3_exec(dst->get(), "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF", nullptr, nullptr,
                 nullptr);
    if (Status s = CopyPages(src->get(), dst->get(), from, partial, info); !s.ok()) return s;
    src->reset();  // the read transaction ended with the copy
    if (Status s = Finish(dst->get(), partial, full_check, info); !s.ok()) return s;
  }
  if (Status s = Sync(partial, false); !s.ok()) return s;
  std::error_code ec;
  info->bytes = static_cast<int64_t>(fs::file_size(partial, ec));
  return Status::Ok();
}

}  // namespace

Status BackupSqlite(const std::string& from, const std::string& to, SqliteBackupInfo* info,
                    bool full_check) {
  std::error_code ec;
  if (!fs::is_regular_file(from, ec)) return Status::NotFound("no SQLite store at " + from);
  if (fs::exists(to, ec)) return Status::Conflict(to + " already exists: back up into a new file");
  const std::string partial = to + ".partial";
  fs::remove(partial, ec);  // a failed backup's
  Status s = Backup(from, partial, full_check, info);
  if (s.ok() && ::rename(partial.c_str(), to.c_str()) != 0) {
    s = Status::Unavailable("rename " + partial + ": " + std::strerror(errno));
  }
  if (s.ok()) {
    const fs::path dir = fs::absolute(to, ec).parent_path();
    s = Sync(dir.string(), true);
  }
  if (!s.ok()) {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(partial + suffix, ec);
  }
  return s;
}

}  // namespace errata
