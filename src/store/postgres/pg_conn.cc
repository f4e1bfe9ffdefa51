#include "store/postgres/pg_conn.h"
#include "core/text.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace errata::pg {

namespace {

// libpq's messages run over several lines ("...\n\tThis probably means..."):
// one line for logs and responses.
std::string Trim(std::string_view s) {
  std::string out;
  for (char ch : s) {
    if (ch == '\n' || ch == '\t' || ch == ' ') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += ch;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// SQLSTATEs after which the caller may retry: the connection or the server
// failed, resources ran out, or the transaction lost a race.
bool Retryable(std::string_view state) {
  return state.starts_with("08") ||  // connection exception
         state.starts_with("53") ||  // insufficient resources (disk full, too many connections)
         state.starts_with("57P") || // admin shutdown, crash shutdown, cannot connect now
         state.starts_with("58") ||  // system error (I/O)
         state == "40001" ||         // serialization failure
         state == "40P01" ||         // deadlock detected
         state == "25006" ||         // read-only transaction (a standby after failover)
         state == "57014" ||         // query canceled: statement_timeout
         state == "55P03";           // lock not available: lock_timeout
}

}  // namespace

std::string FormatDouble(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

Params& Params::Add(std::string_view v) {
  if (v.find('\0') != std::string_view::npos) has_nul_ = true;
  values_.emplace_back(v);
  null_.push_back(false);
  return *this;
}

Params& Params::Add(const std::optional<std::string>& v) { return v ? Add(*v) : AddNull(); }

Params& Params::Add(int64_t v) { return Add(std::to_string(v)); }

Params& Params::Add(double v) { return Add(FormatDouble(v)); }

Params& Params::AddNull() {
  values_.emplace_back();
  null_.push_back(true);
  return *this;
}

std::vector<const char*> Params::Pointers() const {
  std::vector<const char*> p(values_.size());
  for (size_t i = 0; i < values_.size(); ++i) p[i] = null_[i] ? nullptr : values_[i].c_str();
  return p;
}

void ArrayParam::Sep() {
  if (!first_) text_ += ',';
  first_ = false;
}

void ArrayParam::Add(std::string_view v) {
  Sep();
  text_ += '"';
  for (char c : v) {
    if (c == '"' || c == '\\') text_ += '\\';
    text_ += c;
  }
  text_ += '"';
}

void ArrayParam::Add(const std::optional<std::string>& v) {
  if (v) {
    Add(std::string_view(*v));
  } else {
    AddNull();
  }
}

void ArrayParam::Add(int64_t v) {
  Sep();
  text_ += std::to_string(v);
}

void ArrayParam::Add(double v) {
  Sep();
  text_ += FormatDouble(v);
}

void ArrayParam::AddNull() {
  Sep();
  text_ += "NULL";
}

std::string ArrayParam::Take() {
  std::string out = std::move(text_);
  out += '}';
  text_.assign(1, '{');
  first_ = true;
  return out;
}

std::optional<std::string> Rows::OptText(int row, int col) const {
  if (IsNull(row, col)) return std::nullopt;
  return Text(row, col);
}

int64_t Rows::Int(int row, int col) const {
  if (IsNull(row, col)) return 0;
  return std::strtoll(PQgetvalue(r_, row, col), nullptr, 10);
}

double Rows::Real(int row, int col) const {
  if (IsNull(row, col)) return 0;
  return std::strtod(PQgetvalue(r_, row, col), nullptr);  // reads "-Infinity" too
}

Conn::~Conn() { PQfinish(c_); }

Result<std::unique_ptr<Conn>> Conn::Connect(const std::string& url, std::string setup) {
  // Later keywords win: the defaults come first so that the URL can override them.
  // libpq's calls block with no deadline of their own, so a network that
  // drops packets silently (a black hole) would hold the caller, an HTTP
  // thread or the writer, for the kernel's ~15 minutes of retransmissions.
  // tcp_user_timeout (ms) ends a connection whose sent data stays
  // unacknowledged that long; keepalives notice a silent peer while a
  // statement runs (the first probe after 10 s without traffic, then every
  // 5 s; with tcp_user_timeout, the connection ends about 10 s after the
  // peer stopped answering). A healthy server acknowledges both at once, so
  // neither cuts a long statement short: statement_timeout does that.
  const char* keys[] = {"connect_timeout",    "application_name", "tcp_user_timeout",
                        "keepalives",         "keepalives_idle",  "keepalives_interval",
                        "keepalives_count",   "dbname",           nullptr};
  const char* values[] = {"5", "errata", "10000", "1", "10", "5", "3", url.c_str(), nullptr};
  PGconn* c = PQconnectdbParams(keys, values, 1);
  if (c == nullptr) return Status::Unavailable("postgres: out of memory");
  std::unique_ptr<Conn> conn(new Conn(c));
  // Notices ("relation already exists, skipping") are not errors: keep them off stderr.
  PQsetNoticeProcessor(c, [](void*, const char*) {}, nullptr);
  if (PQstatus(c) != CONNECTION_OK) {
    return Status::Unavailable("postgres: connect: " + Trim(PQerrorMessage(c)));
  }
  conn->setup_ = std::move(setup);
  if (!conn->setup_.empty()) {
    if (auto r = conn->Exec(conn->setup_); !r.ok()) return r.status();
  }
  return conn;
}

Status Conn::EnsureUsable() {
  if (!broken_ && PQstatus(c_) == CONNECTION_OK) return Status::Ok();
  PQreset(c_);
  prepared_.clear();
  if (PQstatus(c_) != CONNECTION_OK) {
    broken_ = true;
    return Status::Unavailable("postgres: reconnect: " + Trim(PQerrorMessage(c_)));
  }
  broken_ = false;
  if (!setup_.empty()) {
    if (auto r = Exec(setup_); !r.ok()) return r.status();
  }
  return Status::Ok();
}

Result<std::string> Conn::Literal(std::string_view text) {
  if (text.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument("text cannot contain a NUL character");
  }
  char* quoted = PQescapeLiteral(c_, text.data(), text.size());
  if (quoted == nullptr) return Status::InvalidArgument("postgres: " + Trim(PQerrorMessage(c_)));
  std::string out(quoted);
  PQfreemem(quoted);
  return out;
}

std::string Conn::Option(const char* keyword) const {
  PQconninfoOption* options = PQconninfo(c_);
  std::string out;
  for (PQconninfoOption* o = options; o != nullptr && o->keyword != nullptr; ++o) {
    if (std::strcmp(o->keyword, keyword) == 0 && o->val != nullptr) out = o->val;
  }
  PQconninfoFree(options);
  return out;
}

std::string Conn::Description() const {
  const char* host = PQhost(c_);
  const char* port = PQport(c_);
  const char* db = PQdb(c_);
  return std::string("postgres://") + (host ? host : "") + ":" + (port ? port : "") + "/" +
         (db ? db : "");
}

bool Conn::InTransaction() const {
  const PGTransactionStatusType t = PQtransactionStatus(c_);
  return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

Status Conn::Failure(PGresult* r, std::string_view what) {
  Rows owned(r);
  std::string msg = Trim(r != nullptr ? PQresultErrorMessage(r) : PQerrorMessage(c_));
  if (msg.empty()) msg = Trim(PQerrorMessage(c_));
  const char* state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  const std::string_view sqlstate = state != nullptr ? state : "";
  std::string text = "postgres: " + std::string(what) + ": " + msg;
  // 25006: a read-only transaction, on a server that is a standby now (a
  // failover). The session stays read-only, so it is reset like a lost one:
  // with a multi-host URL and target_session_attrs=read-write, PQreset finds
  // the host that takes writes.
  if (PQstatus(c_) != CONNECTION_OK || r == nullptr || sqlstate.starts_with("08") ||
      sqlstate.starts_with("57P") || sqlstate == "25006") {
    broken_ = true;
    return Status::Unavailable(std::move(text));
  }
  if (sqlstate == "23505") return Status::Conflict(std::move(text));  // unique_violation
  if (sqlstate == "23503") return Status::NotFound(std::move(text));  // foreign_key_violation
  if (sqlstate.starts_with("22")) return Status::InvalidArgument(std::move(text));  // data exception
  if (Retryable(sqlstate)) return Status::Unavailable(std::move(text));
  return Status::Internal(std::move(text));
}

Result<Rows> Conn::Exec(const Query& q, const Params& params) {
  if (params.has_nul()) return Status::InvalidArgument("text cannot contain a NUL character");
  const auto values = params.Pointers();
  return Run(q.name, [&]() -> PGresult* {
    if (!prepared_.contains(&q)) {
      PGresult* r = PQprepare(c_, q.name, q.sql, 0, nullptr);
      if (r == nullptr || PQresultStatus(r) != PGRES_COMMAND_OK) return r;
      PQclear(r);
      prepared_.insert(&q);
    }
    return PQexecPrepared(c_, q.name, params.size(), values.data(), nullptr, nullptr, 0);
  });
}

Result<Rows> Conn::Exec(std::string_view sql) {
  const std::string text(sql);
  // Between characters: the statement may name things in any script.
  return Run(text.size() > 60 ? std::string(Utf8Prefix(text, 60)) + "..." : text,
             [&] { return PQexec(c_, text.c_str()); });
}

template <typename F>
Result<Rows> Conn::Run(std::string_view what, F&& exec) {
  if (broken_) return Status::Unavailable("postgres: connection lost");
  const bool idle = PQtransactionStatus(c_) == PQTRANS_IDLE;
  for (int attempt = 0;; ++attempt) {
    PGresult* r = exec();
    const ExecStatusType st = r == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return Rows(r);
    Status s = Failure(r, what);
    // A connection that died while idle (the server restarted since its last
    // use) is reset and the statement sent once more; inside a transaction the
    // transaction is lost, and the caller has to start over.
    if (!broken_ || !idle || attempt > 0 || !EnsureUsable().ok()) return s;
  }
}

}  // namespace errata::pg
