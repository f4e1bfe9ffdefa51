// Thin RAII wrappers over libpq: a connection with its prepared statements,
// query parameters and results. Errors come back as Status; nothing throws.
// All values travel in text format.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "core/status.h"

namespace errata::pg {

// A statement prepared once per connection, under `name`. Define these as
// namespace-scope constants: the connection remembers them by address.
struct Query {
  const char* name;
  const char* sql;
};

// Positional parameters ($1, $2, ...) in text format.
class Params {
 public:
  Params& Add(std::string_view v);
  Params& Add(const std::string& v) { return Add(std::string_view(v)); }
  Params& Add(const char* v) { return Add(std::string_view(v)); }
  Params& Add(const std::optional<std::string>& v);
  Params& Add(int64_t v);
  Params& Add(double v);
  Params& AddNull();
  int size() const { return static_cast<int>(values_.size()); }
  // A value holds a NUL character, which PostgreSQL text cannot store.
  bool has_nul() const { return has_nul_; }
  // Valid until the next Add.
  std::vector<const char*> Pointers() const;

 private:
  std::vector<std::string> values_;
  std::vector<bool> null_;
  bool has_nul_ = false;
};

// Builds a PostgreSQL array literal ('{"a","b",NULL}') element by element,
// to pass a column of values as one parameter (unnest($1::text[], ...)).
class ArrayParam {
 public:
  void Add(std::string_view v);
  void Add(const std::string& v) { Add(std::string_view(v)); }
  void Add(const char* v) { Add(std::string_view(v)); }
  void Add(const std::optional<std::string>& v);
  void Add(int64_t v);
  void Add(double v);
  void AddNull();
  std::string Take();

 private:
  void Sep();
  std::string text_ = "{";
  bool first_ = true;
};

// Formats a double so that float8 input reads it back exactly.
std::string FormatDouble(double v);

// A query's result, freed on destruction.
class Rows {
 public:
  Rows() = default;
  explicit Rows(PGresult* r) : r_(r) {}
  ~Rows() { PQclear(r_); }
  Rows(Rows&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  Rows& operator=(Rows&& o) noexcept {
    std::swap(r_, o.r_);
    return *this;
  }

  int size() const { return r_ == nullptr ? 0 : PQntuples(r_); }
  bool empty() const { return size() == 0; }
  bool IsNull(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
  std::string Text(int row, int col) const {
    return std::string(PQgetvalue(r_, row, col), PQgetlength(r_, row, col));
  }
  std::optional<std::string> OptText(int row, int col) const;
  int64_t Int(int row, int col) const;
  double Real(int row, int col) const;
  bool Bool(int row, int col) const { return PQgetvalue(r_, row, col)[0] == 't'; }

 private:
  PGresult* r_ = nullptr;
};

// One connection. Not thread-safe: one thread uses it at a time.
class Conn {
 public:
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // Connects to `url` (a libpq URI or key=value string). Sets a connect
  // timeout, application_name, tcp_user_timeout and keepalives unless the
  // URL sets them (docs/postgres.md, "URL"). `setup` (SQL,
  // e.g. "SET statement_timeout = ...") runs on every new session: now, and
  // after each reset.
  static Result<std::unique_ptr<Conn>> Connect(const std::string& url, std::string setup = "");

  // Makes the connection usable: after a failure that broke it, resets it
  // (PQreset), forgets its prepared statements and runs the setup again.
  // Unavailable when the server still cannot be reached.
  Status EnsureUsable();

  // Runs a prepared statement (preparing it first on this connection).
  // Errors: Unavailable (connection lost, server shutting down, resources,
  // deadlock, serialization, a statement or lock timeout, a read-only
  // transaction), Conflict (unique violation), NotFound (foreign
  // key violation), InvalidArgument (a value PostgreSQL rejects), Internal.
  // A statement sent outside a transaction on a connection found dead (the
  // server restarted since its last use) is sent once more after a reset, so
  // run writes only inside transactions.
  Result<Rows> Exec(const Query& q, const Params& params);
  // Runs one or more statements as a simple query (no parameters).
  Result<Rows> Exec(std::string_view sql);

  // `text` as an SQL string literal, quoted and escaped for this
  // connection ('it''s'), for a simple query that carries a value.
  Result<std::string> Literal(std::string_view text);

  // Whether a transaction is open (or failed and waiting for ROLLBACK).
  bool InTransaction() const;
  bool broken() const { return broken_; }
  // "postgres://host:port/db" of the server connected to (no user or password).
  std::string Description() const;
  // The value of a libpq connection option in use ("" when unset).
  std::string Option(const char* keyword) const;

 private:
  explicit Conn(PGconn* c) : c_(c) {}
  // Maps a failed result (or none) to a Status; marks the connection broken
  // when it was lost. Takes ownership of r.
  Status Failure(PGresult* r, std::string_view what);
  template <typename F>
  Result<Rows> Run(std::string_view what, F&& exec);

  PGconn* c_;
  std::string setup_;
  bool broken_ = false;
  std::unordered_set<const Query*> prepared_;
};

}  // namespace errata::pg
