#include "store/sqlite/sqlite_db.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

#include "core/ids.h"
#include "core/profile.h"
#include "store/sqlite/page_cache.h"

namespace errata::sqlite {
namespace {

// logadd2(a, b) = log2(2^a + 2^b): merges recency-weighted counts in SQL.
void LogAdd2Fn(sqlite3_context* ctx, int, sqlite3_value** argv) {
  const bool a_null = sqlite3_value_type(argv[0]) == SQLITE_NULL;
  const bool b_null = sqlite3_value_type(argv[1]) == SQLITE_NULL;
  const double a = a_null ? kNoDecay : sqlite3_value_double(argv[0]);
  const double b = b_null ? kNoDecay : sqlite3_value_double(argv[1]);
  sqlite3_result_double(ctx, LogAdd2(a, b));
}

// uuid_blob(x): a UUID's text as its 16 bytes, for schema migration 2 (ids as
// blobs); anything else (a blob, NULL) as it is.
void UuidBlobFn(sqlite3_context* ctx, int, sqlite3_value** argv) {
  char b[kUuidBytes];
  if (sqlite3_value_type(argv[0]) == SQLITE_TEXT &&
      UuidToBytes(std::string_view(reinterpret_cast<const char*>(sqlite3_value_text(argv[0])),
                                   static_cast<size_t>(sqlite3_value_bytes(argv[0]))),
                  b)) {
    sqlite3_result_blob(ctx, b, kUuidBytes, SQLITE_TRANSIENT);
  } else {
    sqlite3_result_value(ctx, argv[0]);
  }
}

// The checkpointer's busy handler: polls every 0.5 ms, `polls` times at most
// (Db::PollWhenBusy). SQLite's own (sqlite3_busy_timeout) sleeps 1, 2, 5,
// 10, ... 100 ms between tries, so a RESTART checkpoint that finds a reader
// still in the WAL for a moment would keep the parked writer waiting ~100 ms
// instead of ~1.
int PollBusy(void* polls, int tries) {
  if (tries >= static_cast<int>(reinterpret_cast<intptr_t>(polls))) return 0;
  std::this_thread::sleep_for(std::chrono::microseconds(500));
  return 1;
}

}  // namespace

Stmt& Stmt::Reset() {
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
  return *this;
}

Stmt& Stmt::Bind(int i, std::string_view v) {
  sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::BindId(int i, std::string_view id) {
  const StoredId stored(id);
  if (stored.uuid()) {
    sqlite3_bind_blob(s_, i, stored.bytes(), kUuidBytes, SQLITE_TRANSIENT);
  } else {
    sqlite3_bind_text(s_, i, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
  }
  return *this;
}

Stmt& Stmt::BindRef(int i, const StoredId& id) {
  if (id.uuid()) {
    sqlite3_bind_blob(s_, i, id.bytes(), kUuidBytes, SQLITE_STATIC);
  } else {
    sqlite3_bind_text(s_, i, id.text().data(), static_cast<int>(id.text().size()),
                      SQLITE_STATIC);
  }
  return *this;
}

Stmt& Stmt::BindRef(int i, std::string_view v) {
  sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  return *this;
}
Stmt& Stmt::BindRef(int i, const std::optional<std::string>& v) {
  return v ? BindRef(i, std::string_view(*v)) : BindNull(i);
}
Stmt& Stmt::Bind(int i, int64_t v) {
  sqlite3_bind_int64(s_, i, v);
  return *this;
}
Stmt& Stmt::Bind(int i, double v) {
  sqlite3_bind_double(s_, i, v);
  return *this;
}
Stmt& Stmt::BindNull(int i) {
  sqlite3_bind_null(s_, i);
  return *this;
}
Stmt& Stmt::Bind(int i, const std::optional<std::string>& v) {
  return v ? Bind(i, std::string_view(*v)) : BindNull(i);
}

int Stmt::Step() { return sqlite3_step(s_); }

std::string Stmt::Text(int col) const {
  const auto* p = sqlite3_column_text(s_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(s_, col))
           : std::string();
}

std::string Stmt::Id(int col) const {
  if (sqlite3_column_type(s_, col) != SQLITE_BLOB || sqlite3_column_bytes(s_, col) != kUuidBytes) {
    return Text(col);
  }
  std::string out;
  out.reserve(36);
  AppendUuidText(static_cast<const char*>(sqlite3_column_blob(s_, col)), &out);
  return out;
}

std::string_view Stmt::TextView(int col) const {
  const auto* p = sqlite3_column_text(s_, col);
  return p ? std::string_view(reinterpret_cast<const char*>(p), sqlite3_column_bytes(s_, col))
           : std::string_view();
}

std::optional<std::string> Stmt::OptText(int col) const {
  if (IsNull(col)) return std::nullopt;
  return Text(col);
}

Db::~Db() {
  stmts_.clear();
  sqlite3_close_v2(db_);
}

namespace {
void OnSigbus(int sig) {
  static const char kMsg[] =
      "{\"level\":\"critical\",\"msg\":\"SIGBUS: I/O error reading the mapped SQLite database;"
      " exiting, recovery starts from the disk\"}\n";
  (void)!::write(STDERR_FILENO, kMsg, sizeof kMsg - 1);  // async-signal-safe
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}
}  // namespace

void InstallSigbusReport() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction old {};
    if (::sigaction(SIGBUS, nullptr, &old) != 0 || old.sa_handler != SIG_DFL) return;
    struct sigaction sa {};
    sa.sa_handler = &OnSigbus;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGBUS, &sa, nullptr);
  });
}

Result<std::unique_ptr<Db>> Db::Open(const std::string& path, Role role) {
  // Process-wide, before SQLite initializes itself (the first open does):
  // the page-cache layer (page_cache.h), and no memory accounting. With it on
  // (SQLite's default) every sqlite3_malloc and free takes one global mutex,
  // which the writer and every reader share (docs/write-path.md).
  InstallPageCache();
  static const bool no_memstatus = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK;
  (void)no_memstatus;
  if (role == Role::kReader) InstallSigbusReport();
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_NOMUTEX;
  switch (role) {
    case Role::kWriter: flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE; break;
    case Role::kReader: flags |= SQLITE_OPEN_READONLY; break;
    case Role::kCheckpointer: flags |= SQLITE_OPEN_READWRITE; break;
  }
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  std::unique_ptr<Db> db(new Db(raw));
  if (rc != SQLITE_OK) return db->Error(rc, "open " + path);
  // The checkpointer waits up to ~1 s for readers to leave the WAL (RESTART,
  // TRUNCATE; SqliteStore waits less with the writer parked); it never waits
  // for the writer (SqliteStore parks it first).
  if (role == Role::kCheckpointer) {
    db->PollWhenBusy(kCheckpointerPolls);
  } else {
    sqlite3_busy_timeout(raw, 5000);
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_create_function(raw, "logadd2", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr,
                          &LogAdd2Fn, nullptr, nullptr);
  sqlite3_create_function(raw, "uuid_blob", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr,
                          &UuidBlobFn, nullptr, nullptr);
  // WAL: readers never block the writer. synchronous=FULL: a commit is on disk
  // (the WAL is fsynced) before it returns, so an acknowledged write survives
  // power loss, not just a crash; on the checkpointer it makes a checkpoint
  // fsync the database file before the WAL may be reused.
  // wal_autocheckpoint=0: no commit ever runs a checkpoint; SqliteStore's
  // checkpointer thread does (docs/checkpoint.md). It also drops SQLite's
  // default WAL hook, so SqliteStore can install its own on the writer.
  std::string pragmas;
  switch (role) {
    case Role::kWriter:
      // synchronous=NORMAL: a commit does not fsync the WAL; the Writer calls
      // SqliteStore::SyncCommitted (an fdatasync of the WAL) before it
      // acknowledges, while the next batch runs (docs/write-path.md).
      // secure_delete=OFF: Debian turns it on, zeroing every cell a B-tree
      // rebalance frees; only an erase deletes learner data, and it turns
      // it on for its own transaction (SqliteStore::ApplyBatch).
      // foreign_keys=OFF: each op checks the parents of what it writes in
      // its own transaction (as RocksdbStore does, which has no foreign keys),
      // so SQLite's parent lookups were the same descents again: 11% of the
      // writer's instructions in a bulk load. The store's contract tests run
      // PRAGMA foreign_key_check after every case (docs/write-path.md).
      pragmas = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF;"
                "PRAGMA cache_size=-131072; PRAGMA wal_autocheckpoint=0; PRAGMA secure_delete=OFF;";
      break;
    case Role::kReader:
      // Readers map the database file (up to 2 GiB, the most Debian's SQLite
      // maps) and read its pages in place, sharing the kernel's page cache,
      // instead of copying each into a private cache; their small caches hold
      // the pages read from the WAL and the file past 2 GiB (docs/read-path.md).
      pragmas = "PRAGMA foreign_keys=ON; PRAGMA cache_size=-8192; PRAGMA mmap_size=" +
                std::to_string(kReaderMmapSize) + ";";
      break;
    case Role::kCheckpointer:
      // journal_mode=WAL (already so: the writer set it) reads the header and
      // opens the WAL, so the first checkpoint call is not a no-op.
      pragmas = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-2048;"
                "PRAGMA wal_autocheckpoint=0;";
      break;
  }
  Status s = db->Exec(pragmas);
  if (!s.ok()) return s;
  return db;
}

Status Db::Exec(std::string_view sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    return Error(rc, msg);
  }
  return Status::Ok();
}

Status Db::Prepare(const char* sql, Stmt** out) {
  auto it = stmts_.find(sql);
  if (it != stmts_.end()) {
    if (std::strcmp(it->second->Sql(), sql) == 0) {
      *out = &it->second->Reset();
      return Status::Ok();
    }
    stmts_.erase(it);  // a string that was not a literal, gone; another in its place
  }
  sqlite3_stmt* s = nullptr;
  if (const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
      rc != SQLITE_OK) {
    sqlite3_finalize(s);
    *out = nullptr;
    return Error(rc, std::string("prepare \"") + sql + "\": " + LastError());
  }
  auto& slot = stmts_[sql];
  slot = std::make_unique<Stmt>(s);
  *out = slot.get();
  return Status::Ok();
}

void Db::PollWhenBusy(int polls) {
  sqlite3_busy_handler(db_, &PollBusy, reinterpret_cast<void*>(static_cast<intptr_t>(polls)));
}

Status Db::Error(int rc, std::string_view what) const {
  std::string msg = std::string(what) + ": " + sqlite3_errstr(rc);
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT: return Status::Conflict(msg);
    case SQLITE_CORRUPT:
    case SQLITE_MISUSE:
    case SQLITE_INTERNAL: return Status::Internal(msg);
    default: return Status::Unavailable(msg);  // BUSY, LOCKED, FULL, IOERR, CANTOPEN, ...
  }
}

}  // namespace errata::sqlite
