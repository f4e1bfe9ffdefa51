// Thin RAII wrappers over the SQLite C API: a connection and its cached
// prepared statements. Errors come back as Status; nothing throws.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>

#include "core/ids.h"
#include "core/status.h"

namespace errata::sqlite {

// An id as schema 2 stores it (docs/write-path.md, "Ids as 16 bytes"): a
// UUID's 16 bytes, or else its text, which matches no stored id. Made once
// and bound by reference (Stmt::BindRef) to each row that names it.
class StoredId {
 public:
  // `id` must outlive the StoredId (it is kept when it is not a UUID).
  explicit StoredId(std::string_view id) : uuid_(UuidToBytes(id, bytes_)), text_(id) {}
  bool uuid() const { return uuid_; }
  const char* bytes() const { return bytes_; }  // kUuidBytes of them, if uuid()
  std::string_view text() const { return text_; }

 private:
  char bytes_[kUuidBytes];
  bool uuid_;
  std::string_view text_;
};

// A prepared statement, reset and cleared on each Bind round.
class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& Reset();
  // The SQL text it was prepared from.
  const char* Sql() const { return sqlite3_sql(s_); }
  Stmt& Bind(int i, std::string_view v);
  Stmt& Bind(int i, const std::string& v) { return Bind(i, std::string_view(v)); }
  Stmt& Bind(int i, const char* v) { return Bind(i, std::string_view(v)); }
  Stmt& Bind(int i, int64_t v);
  Stmt& Bind(int i, double v);
  Stmt& BindNull(int i);
  // An id (schema 2 keeps ids as blobs), copied: a UUID as its 16 bytes;
  // anything else as text, which matches no stored id.
  Stmt& BindId(int i, std::string_view id);
  Stmt& Bind(int i, const std::optional<std::string>& v);
  // Bind without SQLite's copy of the text: `v` must stay alive and unchanged
  // until the statement is next reset (Reset, or Db::Prepare of it again).
  // For the write path's inserts, whose texts are fields of the op.
  Stmt& BindRef(int i, std::string_view v);
  Stmt& BindRef(int i, const std::string& v) { return BindRef(i, std::string_view(v)); }
  Stmt& BindRef(int i, std::string&& v) = delete;  // gone before the step
  Stmt& BindRef(int i, const std::optional<std::string>& v);
  Stmt& BindRef(int i, std::optional<std::string>&& v) = delete;
  Stmt& BindRef(int i, const StoredId& id);
  Stmt& BindRef(int i, StoredId&& id) = delete;
  // Steps once: SQLITE_ROW, SQLITE_DONE, or an error code.
  int Step();

  std::string Text(int col) const;
  // The column's text without a copy: valid until the next Step or Reset.
  std::string_view TextView(int col) const;
  std::optional<std::string> OptText(int col) const;
  // An id column: a 16-byte blob as the UUID's canonical text.
  std::string Id(int col) const;
  int64_t Int(int col) const { return sqlite3_column_int64(s_, col); }
  double Real(int col) const { return sqlite3_column_double(s_, col); }
  bool IsNull(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }

 private:
  sqlite3_stmt* s_;
};

// What a connection is for; it decides the open flags and pragmas.
// How much of the database file a reader maps (PRAGMA mmap_size): 2 GiB,
// the most Debian's SQLite maps.
inline constexpr int64_t kReaderMmapSize = 2147418112;

// How many times (0.5 ms apart, ~1 s) the checkpointer's connection polls
// a lock another connection holds, unless told otherwise (Db::PollWhenBusy).
inline constexpr int kCheckpointerPolls = 2000;

enum class Role {
  kWriter,        // creates the file, sets WAL; never checkpoints (docs/checkpoint.md)
  kReader,        // read-only
  kCheckpointer,  // read-write, small cache: only runs WAL checkpoints
};

// Readers map the database file, so an I/O error while reading a mapped page
// arrives as SIGBUS instead of an error code. This installs (once, unless a
// handler is already set) a handler that writes one JSON log line to stderr
// saying so, then dies of the signal as it would have: nothing acknowledged
// is lost, and recovery starts from the disk (docs/read-path.md).
void InstallSigbusReport();

// One connection. Not thread-safe: one thread uses it at a time.
class Db {
 public:
  ~Db();
  // Opens the database at `path` (the writer creates it), sets WAL and the
  // durability pragmas, registers errata's SQL functions.
  static Result<std::unique_ptr<Db>> Open(const std::string& path, Role role);

  Status Exec(std::string_view sql);
  // The cached prepared statement for `sql`, reset, in *out. A statement
  // that cannot be prepared (out of memory, the schema locked or unreadable)
  // is an error for the caller to return, 503 for busy and I/O as for any
  // step: it used to come back as nullptr, which most callers stepped.
  // Give it a string literal: the cache is keyed by its address, so a lookup
  // costs no allocation and one compare of the text (a hit does nothing more
  // than before). Another string may come back at an address a different
  // statement was cached under; the compare sees that and prepares it again.
  [[nodiscard]] Status Prepare(const char* sql, Stmt** out);
  std::string LastError() const { return sqlite3_errmsg(db_); }
  // A lock another connection holds is waited for by polling every 0.5 ms,
  // `polls` times at most, then the call answers SQLITE_BUSY (the
  // checkpointer's connection; others wait up to 5 s, SQLite's way).
  void PollWhenBusy(int polls);
  // Maps an SQLite result code to a Status (busy, full, I/O -> Unavailable).
  Status Error(int rc, std::string_view what) const;
  sqlite3* raw() { return db_; }

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::unordered_map<const char*, std::unique_ptr<Stmt>> stmts_;
};

// Steps `st` through its rows, calling `row()` on each, then resets it. A
// step that fails ends the rows and is the error (`what` names it in the
// message): every loop over rows goes through here, so none can take the
// rows it got before a failure (I/O, corruption, an interrupt) for all of
// them. `row` may return a Status; a non-ok one stops the rows and is
// returned.
template <typename Row>
[[nodiscard]] Status StepRows(Db* db, Stmt* st, const char* what, Row&& row) {
  int rc;
  while ((rc = st->Step()) == SQLITE_ROW) {
    if constexpr (std::is_same_v<std::invoke_result_t<Row&>, Status>) {
      if (Status s = row(); !s.ok()) {
        st->Reset();
        return s;
      }
    } else {
      row();
    }
  }
  st->Reset();
  return rc == SQLITE_DONE ? Status::Ok() : db->Error(rc, what);
}

}  // namespace errata::sqlite
