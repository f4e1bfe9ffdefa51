#include "store/sqlite/sqlite_store.h"

#include <fmt/format.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <unordered_map>

#include "core/ids.h"
#include "core/mastery.h"
#include "core/user_search.h"
#include "core/text.h"
#include "log/log.h"
#include "metrics/metrics.h"
#include "store/export_pager.h"
#include "store/sqlite/schema.h"
#include "store/thread_snapshot.h"

namespace errata {

using sqlite::Db;
using sqlite::Role;
using sqlite::Stmt;
using sqlite::StoredId;

namespace {

// The longest a RESTART checkpoint waits for readers to leave the WAL with
// the writer parked (docs/checkpoint.md).
constexpr std::chrono::milliseconds kRestartReaderWait{20};

// Steps a statement that returns no rows.
Status Run(Db* db, Stmt* st, const char* what) {
  const int rc = st->Step();
  return rc == SQLITE_DONE ? Status::Ok() : db->Error(rc, what);
}

// Runs one-row lookups; *found says whether a row came back.
Status StepRow(Db* db, Stmt* st, bool* found, const char* what) {
  const int rc = st->Step();
  if (rc == SQLITE_ROW) {
    *found = true;
    return Status::Ok();
  }
  *found = false;
  return rc == SQLITE_DONE ? Status::Ok() : db->Error(rc, what);
}

ErrorRecord ReadError(Stmt* st, int c) {
  ErrorRecord e;
  e.error_id = st->Id(c);
  e.category = st->Text(c + 1);
  e.subcategory = st->Text(c + 2);
  e.subcategory_id = st->Text(c + 3);
  e.code = st->Text(c + 4);
  if (!st->IsNull(c + 5)) e.span = Span{st->Int(c + 5), st->Int(c + 6)};
  e.original = st->OptText(c + 7);
  e.correction = st->OptText(c + 8);
  e.explanation = st->OptText(c + 9);
  e.created_at = st->Int(c + 10);
  return e;
}

constexpr const char* kErrorColumns =
    "error_id, category, subcategory, subcategory_id, code, span_start, span_end, original, "
    "correction, explanation, created_at";

}  // namespace

namespace {

// This thread's read snapshot (BeginReadSnapshot): the connection whose read
// transaction it is.
using SnapshotSlot = ThreadSnapshotSlot<Db>;

// Ends a read transaction; if a statement left unfinished by an error path
// keeps it open (or COMMIT could not be prepared or run), ROLLBACK ends it
// (and aborts the statement).
void EndRead(Db* db) {
  Stmt* commit;
  if (db->Prepare("COMMIT", &commit).ok()) commit->Step();
  if (!sqlite3_get_autocommit(db->raw())) db->Exec("ROLLBACK");
}

}  // namespace

// RAII: a pooled read connection for the length of one call, and one read
// transaction: every query of the call sees the same snapshot, and the WAL
// read lock is taken once instead of once per statement (docs/read-path.md).
// When this thread holds a read snapshot of the store, that snapshot's
// connection and transaction instead.
class SqliteStore::Reader {
 public:
  explicit Reader(SqliteStore* s) : store_(s), db_(SnapshotSlot::Of(s)) {
    if (db_ != nullptr) return;
    owned_ = s->Borrow();
    db_ = owned_.get();
    Stmt* begin;
    begun_ = db_->Prepare("BEGIN", &begin);
    if (begun_.ok()) begun_ = Run(db_, begin, "begin read");
  }
  ~Reader() {
    if (owned_ == nullptr) return;
    EndRead(db_);
    store_->Return(std::move(owned_));
  }
  Db* operator->() { return db_; }  // but Prepare through the Reader's own
  Db* get() { return db_; }
  // Db::Prepare, or the error that kept the read transaction from
  // beginning: every read's first step is a Prepare, so a failed BEGIN
  // fails the read instead of letting its queries see one snapshot each.
  [[nodiscard]] Status Prepare(const char* sql, Stmt** out) {
    if (!begun_.ok()) return begun_;
    return db_->Prepare(sql, out);
  }

 private:
  SqliteStore* store_;
  std::unique_ptr<Db> owned_;  // null inside a read snapshot
  Db* db_;
  Status begun_;
};

class SqliteStore::ThreadSnapshot : public ReadSnapshot {
 public:
  ThreadSnapshot(SqliteStore* s, std::unique_ptr<Db> db) : store_(s), db_(std::move(db)) {
    slot_.emplace(s, db_.get());
  }
  ~ThreadSnapshot() override {
    slot_.reset();
    EndRead(db_.get());
    store_->Return(std::move(db_));
  }

 private:
  SqliteStore* store_;
  std::unique_ptr<Db> db_;
  std::optional<SnapshotSlot> slot_;
};

// BEGIN is deferred: the first read starts the transaction, and with it the
// snapshot, so one is made here.
Result<std::unique_ptr<Store::ReadSnapshot>> SqliteStore::BeginReadSnapshot() {
  if (SnapshotSlot::Held()) return Status::Internal("a read snapshot is already open");
  std::unique_ptr<Db> db = Borrow();
  Status s = db->Exec("BEGIN; SELECT 1 FROM users LIMIT 1");
  if (!s.ok()) {
    EndRead(db.get());
    Return(std::move(db));
    return s;
  }
  return std::unique_ptr<ReadSnapshot>(new ThreadSnapshot(this, std::move(db)));
}

SqliteStore::ProcessLock::~ProcessLock() {
  if (fd >= 0) ::close(fd);  // releases the flock
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const Options& options) {
  std::unique_ptr<SqliteStore> store(new SqliteStore(options));
  // errata's caches assume its process is the database's only writer: a
  // second server on the same file would serve counts that miss the first
  // one's writes. RocksDB refuses a second process by its LOCK file; this is
  // SQLite's. A file of its own, because closing any descriptor of the
  // database file would drop SQLite's own POSIX locks.
  if (options.path != ":memory:" && !options.path.empty()) {
    const std::string lock_path = options.path + ".lock";
    store->lock_.fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (store->lock_.fd < 0) {
      return Status::Unavailable(fmt::format("open {}: {}", lock_path, std::strerror(errno)));
    }
    if (::flock(store->lock_.fd, LOCK_EX | LOCK_NB) != 0) {
      return errno == EWOULDBLOCK
                 ? Status::Unavailable(fmt::format(
                       "{} is in use by another process (it holds {}): is a server running on it? "
                       "stop it first",
                       options.path, lock_path))
                 : Status::Unavailable(fmt::format("lock {}: {}", lock_path, std::strerror(errno)));
    }
  }
  auto w = Db::Open(options.path, Role::kWriter);
  if (!w.ok()) return w.status();
  store->writer_ = std::move(*w);
  Db* writer = store->writer_.get();
  // Installed after the pragmas: a later PRAGMA wal_autocheckpoint would
  // replace it.
  sqlite3_wal_hook(writer->raw(), &SqliteStore::OnWalCommit, store.get());
  // When the WAL rewinds, its file is cut back to the hard limit plus the
  // soft threshold (room for what commits while the checkpointer rewinds
  // it), so a burst (a bulk ingest, a decay recompute) does not keep a huge
  // file. Below that the file is reused in place: no truncate and regrow
  // each cycle, which keeps commits' fsyncs cheap.
  Stmt* ps;
  if (Status s = writer->Prepare("PRAGMA page_size", &ps); !s.ok()) return s;
  if (ps->Step() != SQLITE_ROW) return Status::Internal("read page_size");
  const int64_t page_size = ps->Int(0);
  ps->Reset();
  const int64_t wal_bytes = 32 + (store->hard_pages() + store->soft_pages()) * (page_size + 24);
  if (Status s = writer->Exec("PRAGMA journal_size_limit=" + std::to_string(wal_bytes)); !s.ok()) {
    return s;
  }
  if (Status s = store->Migrate(); !s.ok()) return s;
  if (Status s = store->RefuseUnfinishedCopy(); !s.ok()) return s;
  if (Status s = store->RecomputeDecayIfNeeded(); !s.ok()) return s;
  Stmt* erased;
  if (Status s = writer->Prepare("SELECT EXISTS(SELECT 1 FROM erased_users)", &erased);
      !s.ok()) {
    return s;
  }
  if (erased->Step() != SQLITE_ROW) return Status::Internal("read erased_users");
  store->any_erased_ = erased->Int(0) != 0;
  erased->Reset();
  for (int i = 0; i < options.read_connections; ++i) {
    auto r = Db::Open(options.path, Role::kReader);
    if (!r.ok()) return r.status();
    store->pool_.push_back(std::move(*r));
  }
  auto c = Db::Open(options.path, Role::kCheckpointer);
  if (!c.ok()) return c.status();
  store->ckpt_db_ = std::move(*c);
  store->StartCheckpointer();
  return store;
}

SqliteStore::~SqliteStore() {
  StopCheckpointer();
  if (wal_fd_ >= 0) ::close(wal_fd_);
  if (writer_ != nullptr) sqlite3_wal_hook(writer_->raw(), nullptr, nullptr);
  if (ckpt_db_ != nullptr) {
    // Everything into the database file and the WAL cut to zero bytes: the
    // next start has nothing to recover. If it fails, the WAL keeps the data
    // and the next start replays it.
    int n_log = -1, n_done = -1;
    const int rc = Checkpoint(SQLITE_CHECKPOINT_TRUNCATE, &n_log, &n_done);
    if (rc != SQLITE_OK) {
      failures_.fetch_add(1, std::memory_order_relaxed);
      log::Warn("final WAL checkpoint failed; the WAL keeps the data",
                {{"error", sqlite3_errstr(rc)}, {"wal_pages", n_log}, {"checkpointed", n_done}});
    }
  }
}

// ---------------------------------------------------------------- durability
//
// The writer commits with synchronous=NORMAL: COMMIT appends the transaction's
// frames to the WAL and returns without an fsync. The Writer acknowledges a
// batch only after SyncCommitted, which fdatasyncs the WAL file through a
// descriptor of our own (an fsync makes durable everything written to the
// file before it, whichever descriptor wrote it). It runs on the Writer's sync
// thread while the writer thread commits the next batch. A crash before the
// fdatasync loses only unacknowledged transactions: recovery keeps the WAL's
// frames up to the last complete commit whose checksums match.

Status SqliteStore::SyncCommitted() {
  const std::string wal = options_.path + "-wal";
  struct stat now{};
  if (::stat(wal.c_str(), &now) != 0) {
    return Status::Internal(fmt::format("stat {}: {}", wal, std::strerror(errno)));
  }
  if (wal_fd_ >= 0) {
    // The WAL is only ever replaced when every connection closes; check anyway.
    struct stat have{};
    if (::fstat(wal_fd_, &have) != 0 || have.st_ino != now.st_ino || have.st_dev != now.st_dev) {
      ::close(wal_fd_);
      wal_fd_ = -1;
    }
  }
  if (wal_fd_ < 0) {
    wal_fd_ = ::open(wal.c_str(), O_RDONLY | O_CLOEXEC);
    if (wal_fd_ < 0) return Status::Internal(fmt::format("open {}: {}", wal, std::strerror(errno)));
    // A new WAL file's name must be durable too: fsync its directory once.
    const std::string dir = std::filesystem::path(wal).parent_path().string();
    const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || ::fsync(dfd) != 0) {
      const int err = errno;
      if (dfd >= 0) ::close(dfd);
      ::close(wal_fd_);
      wal_fd_ = -1;
      return Status::Internal(fmt::format("fsync {}: {}", dir, std::strerror(err)));
    }
    ::close(dfd);
  }
  if (::fdatasync(wal_fd_) != 0) {
    return Status::Internal(fmt::format("fdatasync {}: {}", wal, std::strerror(errno)));
  }
  return Status::Ok();
}

// ---------------------------------------------------------------- checkpoints
//
// The writer connection never checkpoints (wal_autocheckpoint=0). After each
// commit this hook learns the WAL's length and wakes the checkpointer thread
// when enough of it is not in the database file yet (soft threshold) or the
// WAL is too long (hard limit). See docs/checkpoint.md.

int64_t SqliteStore::soft_pages() const { return std::max<int64_t>(1, options_.checkpoint_pages); }

int64_t SqliteStore::hard_pages() const {
  return options_.wal_limit_pages > 0 ? std::max(options_.wal_limit_pages, soft_pages())
                                      : 4 * soft_pages();
}

int SqliteStore::OnWalCommit(void* self, sqlite3*, const char*, int pages) {
  auto* s = static_cast<SqliteStore*>(self);
  bool wake = false;
  {
    std::lock_guard lock(s->wal_mu_);
    if (pages < s->wal_frames_) s->backfilled_ = 0;  // the WAL started over
    s->wal_frames_ = pages;
    ++s->commits_;
    const int64_t pending = pages - std::min<int64_t>(s->backfilled_, pages);
    if (!s->wake_ && (pending >= s->soft_pages() || pages >= s->hard_pages())) {
      s->wake_ = true;
      wake = true;
    }
  }
  if (wake) s->wal_cv_.notify_one();
  return SQLITE_OK;
}

void SqliteStore::StartCheckpointer() {
  ckpt_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "wal-checkpoint");
    CheckpointLoop();
  });
}

void SqliteStore::StopCheckpointer() {
  {
    std::lock_guard lock(wal_mu_);
    stop_ = true;
    gate_closed_ = false;
  }
  wal_cv_.notify_all();
  gate_cv_.notify_all();
  if (ckpt_thread_.joinable()) ckpt_thread_.join();
}

int SqliteStore::Checkpoint(int mode, int* log, int* done) {
  uint64_t commits_before;
  {
    std::lock_guard lock(wal_mu_);
    commits_before = commits_;
  }
  *log = -1;
  *done = -1;
  const int rc = sqlite3_wal_checkpoint_v2(ckpt_db_->raw(), "main", mode, log, done);
  if ((rc == SQLITE_OK || rc == SQLITE_BUSY) && *log >= 0) {
    checkpoints_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(wal_mu_);
    // With no commit meanwhile, the checkpoint saw the WAL's current length.
    if (commits_ == commits_before) wal_frames_ = *log;
    backfilled_ = *done;
  }
  return rc;
}

int SqliteStore::SyncDatabaseFile() {
  sqlite3_file* file = nullptr;
  const int rc = sqlite3_file_control(ckpt_db_->raw(), "main", SQLITE_FCNTL_FILE_POINTER, &file);
  if (rc != SQLITE_OK) return rc;
  if (file == nullptr || file->pMethods == nullptr) return SQLITE_MISUSE;
  return file->pMethods->xSync(file, SQLITE_SYNC_NORMAL);
}

void SqliteStore::CloseGate() {
  std::unique_lock lock(wal_mu_);
  gate_closed_ = true;
  gate_cv_.wait(lock, [this] { return !in_txn_ || stop_; });
}

void SqliteStore::OpenGate() {
  {
    std::lock_guard lock(wal_mu_);
    gate_closed_ = false;
  }
  gate_cv_.notify_all();
}

void SqliteStore::CheckpointLoop() {
  using std::chrono::milliseconds;
  const int64_t soft = soft_pages();
  const int64_t hard = hard_pages();
  milliseconds backoff{0};
  bool failed = false;  // the last round failed (disk full, I/O)
  int busy_rounds = 0;   // rounds in a row that found a reader in the WAL
  bool first = true;  // at start-up: the WAL may hold frames from a crashed run
  uint64_t commits_at_tick = 0;
  std::unique_lock lock(wal_mu_);
  while (!stop_) {
    bool idle = false;
    if (backoff.count() > 0) {
      wal_cv_.wait_for(lock, backoff, [this] { return stop_; });
    } else if (!first) {
      auto woken = [this] { return stop_ || wake_; };
      if (options_.checkpoint_idle.count() > 0) {
        idle = !wal_cv_.wait_for(lock, options_.checkpoint_idle, woken) &&
               commits_ == commits_at_tick;
      } else {
        wal_cv_.wait(lock, woken);
      }
    }
    if (stop_) break;
    commits_at_tick = commits_;
    wake_ = false;
    const int64_t frames = wal_frames_;
    const int64_t pending = frames - std::min(backfilled_, frames);
    const bool rewind = frames >= hard && pending > 0;
    const bool passive = first || pending >= soft || (idle && pending > 0) ||
                         (backoff.count() > 0 && pending > 0);
    first = false;
    if (!rewind && !passive) {
      backoff = milliseconds(0);
      // Nothing to copy. A writer held by the backstop may still be waiting
      // for a round: the WAL it saw is fully copied (a RESTART has just run),
      // so its next transaction rewinds the WAL. End the round, or the writer
      // would wait out backstop_wait for one that never comes.
      ++ckpt_rounds_;
      gate_cv_.notify_all();
      continue;
    }
    lock.unlock();
    // PASSIVE copies what it can without taking the write lock: the writer
    // goes on committing meanwhile.
    int n_log = -1, n_done = -1;
    const char* mode = "passive";
    // A PASSIVE checkpoint can answer BUSY when it reads the WAL index while
    // the writer updates it (SQLite then does not retry): try again at once.
    auto passive_checkpoint = [&] {
      int rc = Checkpoint(SQLITE_CHECKPOINT_PASSIVE, &n_log, &n_done);
      for (int retry = 0; rc == SQLITE_BUSY && retry < 10; ++retry) {
        std::this_thread::sleep_for(std::chrono::microseconds(500));
        rc = Checkpoint(SQLITE_CHECKPOINT_PASSIVE, &n_log, &n_done);
      }
      return rc;
    };
    using Clock = std::chrono::steady_clock;
    const auto t_start = Clock::now();
    int rc = passive_checkpoint();
    const int passive_pages = n_done;
    const auto t_passive = Clock::now();
    auto t_synced = t_passive, t_parked = t_passive;
    if (rc == SQLITE_OK && rewind) {
      // Under steady writes the WAL never catches up, so it never rewinds.
      // Park the writer between two transactions, copy the rest, and wait for
      // readers to leave the WAL; the writer's next transaction then starts it
      // over. First make the parked part short: SQLite fsyncs the database
      // file only when a checkpoint reaches the WAL's end, so the PASSIVE
      // passes have left their pages unsynced (safe: the WAL still has them),
      // and RESTART would fsync them all with the writer parked. Sync them
      // now and copy what came meanwhile, while the writer goes on; twice, as
      // the first sync is long (a whole WAL's worth of pages).
      mode = "restart";
      for (int round = 0; rc == SQLITE_OK && round < 2; ++round) {
        rc = SyncDatabaseFile();
        if (round == 0) t_synced = Clock::now();
        if (rc == SQLITE_OK) rc = passive_checkpoint();
      }
      if (rc == SQLITE_OK) {
        // With the writer parked, wait at most kRestartReaderWait for readers
        // to leave the WAL: a request's read takes a millisecond or so, and
        // one that takes longer (errata backup's copy holds one read for
        // seconds) is not waited out with every write held behind it.
        ckpt_db_->PollWhenBusy(static_cast<int>(kRestartReaderWait.count() * 2));
        CloseGate();
        t_parked = Clock::now();
        rc = Checkpoint(SQLITE_CHECKPOINT_RESTART, &n_log, &n_done);
        OpenGate();
        ckpt_db_->PollWhenBusy(sqlite::kCheckpointerPolls);
        if (rc == SQLITE_OK) rewinds_.fetch_add(1, std::memory_order_relaxed);
      }
    }
    const auto t_end = Clock::now();
    if (spdlog::should_log(spdlog::level::debug)) {
      auto ms = [](Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
      const bool parked = t_parked != t_passive;
      log::Debug("wal checkpoint", {{"mode", mode},
                                    {"rc", rc},
                                    {"passive_ms", ms(t_passive - t_start)},
                                    {"passive_pages", passive_pages},
                                    {"sync_ms", ms(t_synced - t_passive)},
                                    {"writer_parked_ms", parked ? ms(t_end - t_parked) : 0.0},
                                    {"total_ms", ms(t_end - t_start)},
                                    {"wal_pages", n_log}});
    }
    if (rc == SQLITE_OK) {
      if (failed) log::Info("WAL checkpoints work again", {{"wal_pages", n_log}});
      failed = false;
      backoff = milliseconds(0);
    } else if (rc == SQLITE_BUSY) {
      // A reader stayed in the WAL (RESTART gave up waiting): try again soon,
      // not at once, as the writer is parked while it waits; and less often
      // while the reader stays (a backup's copy).
      backoff = std::clamp(backoff * 2, milliseconds(250), milliseconds(2000));
    } else {
      failed = true;
      // Disk full, I/O error: nothing is lost (the WAL holds every commit);
      // the WAL grows until a checkpoint succeeds.
      failures_.fetch_add(1, std::memory_order_relaxed);
      backoff = std::clamp(backoff * 2, milliseconds(100), milliseconds(5000));
      log::Warn("WAL checkpoint failed; retrying",
                {{"mode", mode},
                 {"error", std::string(sqlite3_errstr(rc)) + ": " + ckpt_db_->LastError()},
                 {"wal_pages", frames},
                 {"retry_ms", static_cast<int64_t>(backoff.count())}});
    }
    lock.lock();
    // Two rounds in a row (250 ms apart at least) that found a reader in the
    // WAL: it is a long one (errata backup's copy), not a request's read
    // slowed by a busy machine, and the backstop stops holding the writer.
    busy_rounds = rc == SQLITE_BUSY ? busy_rounds + 1 : 0;
    reader_in_wal_ = busy_rounds >= 2;
    if (rc == SQLITE_BUSY) reader_busy_.fetch_add(1, std::memory_order_relaxed);
    ++ckpt_rounds_;  // a writer held back by a too-long WAL may go on
    gate_cv_.notify_all();
  }
}

SqliteStore::WalStats SqliteStore::wal_stats() const {
  WalStats s;
  {
    std::lock_guard lock(wal_mu_);
    s.wal_pages = wal_frames_;
  }
  s.checkpoints = checkpoints_.load(std::memory_order_relaxed);
  s.rewinds = rewinds_.load(std::memory_order_relaxed);
  s.failures = failures_.load(std::memory_order_relaxed);
  s.backstop_waits = backstop_waits_.load(std::memory_order_relaxed);
  s.reader_busy = reader_busy_.load(std::memory_order_relaxed);
  return s;
}

void SqliteStore::RenderMetrics(std::string* out) const {
  const WalStats s = wal_stats();
  auto line = [out](const char* name, const char* type, const char* help, auto v) {
    AppendSample(out, name, type, help, v);
  };
  line("errata_sqlite_wal_pages", "gauge", "Pages in the SQLite WAL.", s.wal_pages);
  line("errata_sqlite_checkpoints_total", "counter", "WAL checkpoints run.", s.checkpoints);
  line("errata_sqlite_wal_rewinds_total", "counter",
       "RESTART checkpoints that let the WAL start over (it reached its hard limit).", s.rewinds);
  line("errata_sqlite_checkpoint_failures_total", "counter",
       "WAL checkpoints that failed (retried later).", s.failures);
  line("errata_sqlite_checkpoint_reader_busy_total", "counter",
       "WAL checkpoint rounds that found a reader holding the WAL (retried later).",
       s.reader_busy);
  line("errata_sqlite_wal_backstop_waits_total", "counter",
       "Commits that waited for the checkpointer because the WAL was twice its hard limit.",
       s.backstop_waits);
}

Status SqliteStore::Migrate() {
  Stmt* st;
  if (Status s = writer_->Prepare("PRAGMA user_version", &st); !s.ok()) return s;
  if (st->Step() != SQLITE_ROW) return Status::Internal("read user_version");
  const int64_t version = st->Int(0);
  st->Reset();
  if (version > sqlite::kSchemaVersion) {
    return Status::Internal("database schema version " + std::to_string(version) +
                            " is newer than this binary's " +
                            std::to_string(sqlite::kSchemaVersion));
  }
  for (int64_t v = version; v < sqlite::kSchemaVersion; ++v) {
    const auto start = std::chrono::steady_clock::now();
    std::string sql = std::string("BEGIN IMMEDIATE;") + sqlite::kMigrations[v] +
                      "PRAGMA user_version=" + std::to_string(v + 1) + ";";
    Status s = writer_->Exec(sql);
    // Migration 4 indexes every learner by the current rule; 5 only those
    // the earlier rule (the ASCII name's trigrams alone) left short.
    if (s.ok() && v + 1 == 4) s = IndexEveryUser(false);
    if (s.ok() && v + 1 == 5 && version == 4) s = IndexEveryUser(true);
    if (s.ok()) s = writer_->Exec("COMMIT");
    if (!s.ok()) {
      writer_->Exec("ROLLBACK");
      return s;
    }
    // A database an older build wrote (a new one starts at 0).
    if (version > 0) {
      log::Info("SQLite schema migrated",
                {{"to", v + 1},
                 {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
                                 .count()}});
    }
  }
  return Status::Ok();
}

// Migrations 4 and 5: the trigrams of the learners there already (only
// those GainsTrigramsOverAsciiNameRule when `gaining`).
Status SqliteStore::IndexEveryUser(bool gaining) {
  Db* db = writer_.get();
  Stmt* st;
  if (Status s = db->Prepare(
          "SELECT user_id, username, email FROM users WHERE username <> '' OR email IS NOT NULL",
          &st);
      !s.ok()) {
    return s;
  }
  std::vector<User> users;
  if (Status s = sqlite::StepRows(db, st, "select users", [&] {
        User u{st->Id(0), st->Text(1), st->OptText(2), 0};
        if (!gaining || GainsTrigramsOverAsciiNameRule(u.username, u.email)) {
          users.push_back(std::move(u));
        }
      });
      !s.ok()) {
    return s;
  }
  for (const User& u : users) {
    if (Status s = IndexUser(u); !s.ok()) return s;
  }
  return Status::Ok();
}

// A new learner, by the trigrams of its name and email (the learner
// search's typos).
Status SqliteStore::IndexUser(const User& u) {
  Db* db = writer_.get();
  for (const std::string& gram : UserTrigrams(u.username, u.email)) {
    Stmt* st;
    if (Status s = db->Prepare(
            "INSERT OR IGNORE INTO user_trigrams(trigram, user_id) VALUES(?1, ?2)", &st);
        !s.ok()) {
      return s;
    }
    st->Bind(1, gram).BindId(2, u.user_id);
    Status s = Run(db, st, "insert trigram");
    st->Reset();
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

// Drops a learner's trigrams (IndexUser's), before an erase or a new name.
Status SqliteStore::UnindexUser(const User& u) {
  Db* db = writer_.get();
  Stmt* st;
  if (Status s = db->Prepare("DELETE FROM user_trigrams WHERE trigram=?1 AND user_id=?2", &st);
      !s.ok()) {
    return s;
  }
  for (const std::string& gram : UserTrigrams(u.username, u.email)) {
    st->Bind(1, gram).BindId(2, u.user_id);
    Status s = Run(db, st, "delete trigram");
    st->Reset();
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

// decay_log2 depends on the half-life; when it changes, recompute from the errors.
Status SqliteStore::RecomputeDecayIfNeeded() {
  const std::string want = std::to_string(options_.half_life);
  Stmt* get;
  if (Status s = writer_->Prepare("SELECT value FROM meta WHERE key='decay_half_life_us'", &get);
      !s.ok()) {
    return s;
  }
  bool found = false;
  if (Status s = StepRow(writer_.get(), get, &found, "meta"); !s.ok()) return s;
  const std::string have = found ? get->Text(0) : "";
  get->Reset();
  if (have == want) return Status::Ok();
  if (Status s = writer_->Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
  // Any failure rolls the whole recompute back: the new half-life is stored
  // only with every value computed for it, so a start that fails half-way
  // leaves the old half-life in meta, and the next start recomputes.
  Status s = RecomputeDecay(want);
  if (s.ok()) s = writer_->Exec("COMMIT");
  if (!s.ok()) writer_->Exec("ROLLBACK");
  return s;
}

// RecomputeDecayIfNeeded's work, inside its transaction.
Status SqliteStore::RecomputeDecay(const std::string& half_life) {
  Db* db = writer_.get();
  std::unordered_map<std::string, double> sums;
  Stmt* all;
  if (Status s = db->Prepare("SELECT user_id, subcategory_id, created_at FROM errors", &all);
      !s.ok()) {
    return s;
  }
  // A scan that stops early (I/O, corruption) must not pass for all the
  // errors: the values would be stored as computed from a part of them.
  if (Status s = sqlite::StepRows(db, all, "recompute decay", [&] {
        double& v = sums.try_emplace(all->Id(0) + '\0' + all->Text(1), kNoDecay).first->second;
        v = LogAdd2(v, DecayTerm(all->Int(2), options_.half_life));
      });
      !s.ok()) {
    return s;
  }
  Stmt* up;
  if (Status s = db->Prepare(
          "UPDATE error_frequencies SET decay_log2=?3 WHERE user_id=?1 AND subcategory_id=?2", &up);
      !s.ok()) {
    return s;
  }
  for (const auto& [key, v] : sums) {
    const size_t nul = key.find('\0');
    up->Reset().BindId(1, std::string_view(key).substr(0, nul));
    up->Bind(2, std::string_view(key).substr(nul + 1)).Bind(3, v);
    if (Status s = Run(db, up, "recompute decay"); !s.ok()) return s;
  }
  Stmt* set;
  if (Status s = db->Prepare(
          "INSERT INTO meta(key, value) VALUES('decay_half_life_us', ?1) "
          "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
          &set);
      !s.ok()) {
    return s;
  }
  set->Bind(1, half_life);
  return Run(db, set, "meta");
}

std::unique_ptr<Db> SqliteStore::Borrow() {
  std::unique_lock lock(pool_mu_);
  pool_cv_.wait(lock, [this] { return !pool_.empty(); });
  auto db = std::move(pool_.back());
  pool_.pop_back();
  return db;
}

// Each reader's map of the file goes (mmap_size 0 unmaps it) and a new one
// comes (pages mapped as reads touch them). Takes the pooled readers one
// after another, so a read waits at most for one remap; a remapped one goes
// to the pool's front, where Borrow takes last. (If every other reader is
// out on a read at that moment, one is remapped twice and another keeps its
// pages: harmless, and rare.)
void SqliteStore::ReleaseReadMappings() {
  for (int i = 0; i < options_.read_connections; ++i) {
    auto db = Borrow();
    if (Status s = db->Exec("PRAGMA mmap_size=0; PRAGMA mmap_size=" +
                            std::to_string(sqlite::kReaderMmapSize) + ";");
        !s.ok()) {
      log::Warn("SQLite reader remap failed", {{"error", s.message()}});
    }
    std::lock_guard lock(pool_mu_);
    pool_.insert(pool_.begin(), std::move(db));
  }
  pool_cv_.notify_all();
}

void SqliteStore::Return(std::unique_ptr<Db> db) {
  {
    std::lock_guard lock(pool_mu_);
    pool_.push_back(std::move(db));
  }
  pool_cv_.notify_one();
}

class SqliteStore::WriteTurn {
 public:
  // The checkpointer may hold the gate for a RESTART checkpoint (tens of
  // ms); wait for it rather than for the write lock (docs/checkpoint.md).
  // And a WAL twice the hard limit long makes the writer wait for the
  // checkpointer's round to end: one starved of CPU could otherwise let the
  // WAL grow without bound.
  explicit WriteTurn(SqliteStore* s) : s_(s) {
    std::unique_lock lock(s->wal_mu_);
    const uint64_t round = s->ckpt_rounds_;
    // Not while a reader holds the WAL (the last round found one): the
    // checkpointer cannot copy past it however long the writer waits, so
    // the WAL grows for as long as the reader stays (docs/backup.md).
    const bool too_long = s->wal_frames_ >= 2 * s->hard_pages() && !s->reader_in_wal_;
    if (too_long && !s->wake_) {
      s->wake_ = true;
      s->wal_cv_.notify_one();
    }
    auto held = [&] { return s->gate_closed_ || (too_long && s->ckpt_rounds_ == round); };
    if (held()) {
      if (too_long) s->backstop_waits_.fetch_add(1, std::memory_order_relaxed);
      s->gate_cv_.wait_for(lock, s->options_.backstop_wait, [&] { return !held() || s->stop_; });
    }
    s->in_txn_ = true;
  }
  ~WriteTurn() {
    {
      std::lock_guard lock(s_->wal_mu_);
      s_->in_txn_ = false;
    }
    s_->gate_cv_.notify_all();
  }
  WriteTurn(const WriteTurn&) = delete;
  WriteTurn& operator=(const WriteTurn&) = delete;

 private:
  SqliteStore* s_;
};

Status SqliteStore::ApplyBatch(const std::vector<WriteOp*>& ops, DeltaSet* deltas) {
  if (!EraseIsAlone(ops)) return FailBatch(EraseNotAlone(), ops);
  WriteTurn turn(this);
  DeltaSet batch(options_.half_life);
  // An erase overwrites what it deletes with zeros (secure_delete), in the
  // B-tree cells and the pages it frees, so the learner's words do not stay
  // in the database file's free space (docs/erasure.md). Only for the erase:
  // it is alone in its batch, and the hot paths keep secure_delete off
  // (docs/write-path.md).
  const bool erase = ops.size() == 1 && ops[0]->kind == WriteOp::Kind::kEraseUser;
  Status s = erase ? writer_->Exec("PRAGMA secure_delete=ON") : Status::Ok();
  if (s.ok()) s = writer_->Exec("BEGIN IMMEDIATE");
  for (size_t i = 0; s.ok() && i < ops.size(); ++i) s = Apply(ops[i], &batch);
  if (s.ok()) s = UpsertFrequencies(batch);
  if (s.ok()) s = writer_->Exec("COMMIT");
  if (!s.ok()) writer_->Exec("ROLLBACK");
  // Back off whatever the erase's outcome (it cannot fail: it sets a flag).
  if (erase) writer_->Exec("PRAGMA secure_delete=OFF");
  if (!s.ok()) return FailBatch(s, ops);
  *deltas = std::move(batch);
  return Status::Ok();
}

// Applies one op. A validation failure is recorded in op->status and returns
// ok, so the batch goes on; an SQL failure returns non-ok and fails the batch.
Status SqliteStore::Apply(WriteOp* op, DeltaSet* deltas) {
  op->status = Status::Ok();
  op->replayed = false;
  op->created_user = false;
  switch (op->kind) {
    case WriteOp::Kind::kCreateUser: return CreateUser(op);
    case WriteOp::Kind::kCreateConversation: return CreateConversation(op);
    case WriteOp::Kind::kAddUtterance: return AddUtterance(op, deltas);
    case WriteOp::Kind::kAddErrors: return AddErrors(op, deltas);
    case WriteOp::Kind::kRecordAttempt: return RecordAttempt(op);
    case WriteOp::Kind::kEraseUser: return EraseUser(op);
    case WriteOp::Kind::kRecordErasure: return RecordErasure(*op);
    case WriteOp::Kind::kUpdateUser: return UpdateUser(op);
  }
  return Status::Internal("unknown op");
}

// Deletes every row of the learner (docs/erasure.md), each table by an index
// on the learner's id, and the name's trigrams by their keys.
Status SqliteStore::EraseUser(WriteOp* op) {
  Db* db = writer_.get();
  const std::string& id = op->user.user_id;
  Stmt* user;
  if (Status s = db->Prepare("SELECT username, email FROM users WHERE user_id=?1", &user);
      !s.ok()) {
    return s;
  }
  user->BindId(1, id);
  bool found = false;
  if (Status s = StepRow(db, user, &found, "select user"); !s.ok()) return s;
  if (!found) return ReplayErasure(op);
  const std::string username = user->Text(0);
  const std::optional<std::string> email = user->OptText(1);
  user->Reset();
  if (Status s = UnindexUser(User{id, username, email, 0}); !s.ok()) return s;
  // Children first; the count of each table's deleted rows goes to `count`.
  struct Table {
    const char* sql;
    int64_t* count;
  };
  int64_t unused = 0;
  const Table tables[] = {
      {"DELETE FROM errors WHERE user_id=?1", &op->erased.errors},
      {"DELETE FROM utterances WHERE conversation_id IN"
       " (SELECT conversation_id FROM conversations WHERE user_id=?1)",
       &op->erased.utterances},
      {"DELETE FROM attempts WHERE user_id=?1", &op->erased.attempts},
      {"DELETE FROM mastery WHERE user_id=?1", &unused},
      {"DELETE FROM error_frequencies WHERE user_id=?1", &unused},
      {"DELETE FROM conversations WHERE user_id=?1", &op->erased.conversations},
      {"DELETE FROM users WHERE user_id=?1", &unused},
  };
  for (const Table& t : tables) {
    Stmt* st;
    if (Status s = db->Prepare(t.sql, &st); !s.ok()) return s;
    st->BindId(1, id);
    const int rc = st->Step();
    st->Reset();
    if (rc != SQLITE_DONE) return db->Error(rc, "erase learner");
    *t.count = sqlite3_changes(db->raw());
  }
  return RecordErasure(*op);
}

// An erase of a learner erased before answers what the first one did; of
// one who never was, NotFound.
Status SqliteStore::ReplayErasure(WriteOp* op) {
  Db* db = writer_.get();
  Stmt* st;
  if (Status s = db->Prepare(
          "SELECT erased_at, conversations, utterances, errors, attempts FROM erased_users"
          " WHERE user_id=?1",
          &st);
      !s.ok()) {
    return s;
  }
  st->BindId(1, op->user.user_id);
  bool found = false;
  if (Status s = StepRow(db, st, &found, "select tombstone"); !s.ok()) return s;
  if (!found) {
    op->status = Status::NotFound("User not found");
    return Status::Ok();
  }
  op->replayed = true;
  op->erased_at = st->Int(0);
  op->erased = WriteOp::Erased{st->Int(1), st->Int(2), st->Int(3), st->Int(4)};
  st->Reset();
  return Status::Ok();
}

Status SqliteStore::RecordErasure(const WriteOp& op) {
  Db* db = writer_.get();
  Stmt* st;
  if (Status s = db->Prepare(
          "INSERT OR IGNORE INTO erased_users(user_id, erased_at, conversations, utterances, errors,"
          " attempts) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
          &st);
      !s.ok()) {
    return s;
  }
  st->BindId(1, op.user.user_id).Bind(2, op.erased_at).Bind(3, op.erased.conversations);
  st->Bind(4, op.erased.utterances).Bind(5, op.erased.errors).Bind(6, op.erased.attempts);
  if (Status s = Run(db, st, "insert tombstone"); !s.ok()) return s;
  any_erased_ = true;
  return Status::Ok();
}

Result<bool> SqliteStore::RefuseErased(WriteOp* op, const std::string& user_id) {
  if (!any_erased_) return false;
  Db* db = writer_.get();
  Stmt* st;
  if (Status s = db->Prepare("SELECT 1 FROM erased_users WHERE user_id=?1", &st); !s.ok()) return s;
  st->BindId(1, user_id);
  bool found = false;
  if (Status s = StepRow(db, st, &found, "select tombstone"); !s.ok()) return s;
  st->Reset();
  if (found) op->status = LearnerErased();
  return found;
}

Status SqliteStore::CreateUser(WriteOp* op) {
  Db* db = writer_.get();
  User& u = op->user;
  bool found = false;
  if (op->client_id) {
    Stmt* st;
    if (Status s = db->Prepare(
            "SELECT username, email, created_at FROM users WHERE user_id=?1", &st);
        !s.ok()) {
      return s;
    }
    st->BindId(1, u.user_id);
    if (Status s = StepRow(db, st, &found, "select user"); !s.ok()) return s;
    if (found) {
      const bool same = st->Text(0) == u.username &&
                        AsciiLower(st->OptText(1).value_or("")) == AsciiLower(u.email.value_or(""));
      if (!same) op->status = Status::Conflict("user_id already exists with other details");
      op->replayed = same;
      if (same) u.email = st->OptText(1);  // a replay answers what is stored
      u.created_at = st->Int(2);
      st->Reset();
      return Status::Ok();
    }
    auto refused = RefuseErased(op, u.user_id);
    if (!refused.ok() || *refused) return refused.status();
  }
  if (u.email) {
    Stmt* st;
    if (Status s = db->Prepare("SELECT 1 FROM users WHERE email_norm=?1", &st); !s.ok()) return s;
    st->Bind(1, AsciiLower(*u.email));
    if (Status s = StepRow(db, st, &found, "select email"); !s.ok()) return s;
    st->Reset();
    if (found) {
      op->status = Status::Conflict("Email already registered");
      return Status::Ok();
    }
  }
  Stmt* ins;
  if (Status s = db->Prepare(
          "INSERT INTO users(user_id, username, email, email_norm, created_at) VALUES(?1,?2,?3,?4,?5)",
          &ins);
      !s.ok()) {
    return s;
  }
  ins->BindId(1, u.user_id).Bind(2, u.username).Bind(3, u.email);
  if (u.email) ins->Bind(4, AsciiLower(*u.email));
  ins->Bind(5, u.created_at);
  if (Status s = Run(db, ins, "insert user"); !s.ok()) return s;
  op->created_user = true;
  return IndexUser(u);
}

// A learner's new name or email (docs/users.md): the row, its email's
// unique index (users_email_norm) and name index follow the UPDATE; the
// trigrams of the old name and email go, the new ones' come.
Status SqliteStore::UpdateUser(WriteOp* op) {
  Db* db = writer_.get();
  Stmt* st;
  if (Status s = db->Prepare("SELECT username, email, created_at FROM users WHERE user_id=?1", &st);
      !s.ok()) {
    return s;
  }
  st->BindId(1, op->user.user_id);
  bool found = false;
  if (Status s = StepRow(db, st, &found, "select user"); !s.ok()) return s;
  if (!found) {
    op->status = Status::NotFound("User not found");
    return Status::Ok();
  }
  const User before{op->user.user_id, st->Text(0), st->OptText(1), st->Int(2)};
  st->Reset();
  const User after = UpdatedUser(before, *op);
  op->user = after;
  if (TakesAnotherEmail(before, after)) {
    Stmt* taken;
    if (Status s = db->Prepare("SELECT 1 FROM users WHERE email_norm=?1", &taken);
        !s.ok()) {
      return s;
    }
    taken->Bind(1, AsciiLower(*after.email));
    if (Status s = StepRow(db, taken, &found, "select email"); !s.ok()) return s;
    taken->Reset();
    if (found) {
      op->status = EmailTaken();
      op->user = before;
      return Status::Ok();
    }
  }
  if (after.username == before.username && after.email == before.email) return Status::Ok();
  Stmt* up;
  if (Status s = db->Prepare(
          "UPDATE users SET username=?2, email=?3, email_norm=?4 WHERE user_id=?1", &up);
      !s.ok()) {
    return s;
  }
  up->BindId(1, after.user_id).Bind(2, after.username).Bind(3, after.email);
  if (after.email) {
    up->Bind(4, AsciiLower(*after.email));
  } else {
    up->BindNull(4);
  }
  if (Status s = Run(db, up, "update user"); !s.ok()) return s;
  if (Status s = UnindexUser(before); !s.ok()) return s;
  return IndexUser(after);
}

Status SqliteStore::CreateConversation(WriteOp* op) {
  Db* db = writer_.get();
  Conversation& c = op->conversation;
  bool found = false;
  if (op->client_id) {
    Stmt* st;
    if (Status s = db->Prepare(
            "SELECT user_id, started_at FROM conversations WHERE conversation_id=?1", &st);
        !s.ok()) {
      return s;
    }
    st->BindId(1, c.conversation_id);
    if (Status s = StepRow(db, st, &found, "select conversation"); !s.ok()) return s;
    if (found) {
      ConversationTaken(op, st->Id(0), st->Int(1));
      st->Reset();
      return Status::Ok();
    }
  }
  Stmt* st;
  if (Status s = db->Prepare("SELECT 1 FROM users WHERE user_id=?1", &st); !s.ok()) return s;
  st->BindId(1, c.user_id);
  if (Status s = StepRow(db, st, &found, "select user"); !s.ok()) return s;
  st->Reset();
  if (!found) {
    op->status = Status::NotFound("User not found");
    return Status::Ok();
  }
  Stmt* ins;
  if (Status s = db->Prepare(
          "INSERT INTO conversations(conversation_id, user_id, started_at) VALUES(?1,?2,?3)",
          &ins);
      !s.ok()) {
    return s;
  }
  ins->BindId(1, c.conversation_id).BindId(2, c.user_id).Bind(3, c.started_at);
  return Run(db, ins, "insert conversation");
}

// Looks for an earlier write of the same utterance id. Returns true when the
// op is settled (a replay, with the stored errors loaded, or a conflict).
Result<bool> SqliteStore::CheckReplay(WriteOp* op) {
  Db* db = writer_.get();
  Utterance& u = op->utterance;
  Stmt* st;
  if (Status s = db->Prepare(
          "SELECT request_hash, created_at FROM utterances WHERE utterance_id=?1", &st);
      !s.ok()) {
    return s;
  }
  st->BindId(1, u.utterance_id);
  bool found = false;
  if (Status s = StepRow(db, st, &found, "select utterance"); !s.ok()) return s;
  if (!found) return false;
  const bool same = static_cast<uint64_t>(st->Int(0)) == op->request_hash;
  u.created_at = st->Int(1);
  st->Reset();
  if (!same) {
    op->status = UtteranceIdTaken();
    return true;
  }
  op->replayed = true;
  static const std::string sql = std::string("SELECT ") + kErrorColumns +
                                 " FROM errors WHERE utterance_id=?1 ORDER BY error_id";
  Stmt* errs;
  if (Status s = db->Prepare(sql.c_str(), &errs); !s.ok()) return s;
  errs->BindId(1, u.utterance_id);
  u.errors.clear();
  if (Status s = sqlite::StepRows(db, errs, "select errors",
                                  [&] { u.errors.push_back(ReadError(errs, 0)); });
      !s.ok()) {
    return s;
  }
  return true;
}

Status SqliteStore::AddUtterance(WriteOp* op, DeltaSet* deltas) {
  Db* db = writer_.get();
  Utterance& u = op->utterance;
  if (op->client_id) {
    auto settled = CheckReplay(op);
    if (!settled.ok()) return settled.status();
    if (*settled) return Status::Ok();
  }
  Stmt* st;
  if (Status s = db->Prepare("SELECT user_id FROM conversations WHERE conversation_id=?1", &st);
      !s.ok()) {
    return s;
  }
  st->BindId(1, u.conversation_id);
  bool found = false;
  if (Status s = StepRow(db, st, &found, "select conversation"); !s.ok()) return s;
  const std::string owner = found ? st->Id(0) : "";
  st->Reset();
  if (!CheckConversationForUtterance(op, found, owner)) return Status::Ok();
  if (!found) {
    auto refused = RefuseErased(op, u.user_id);
    if (!refused.ok() || *refused) return refused.status();
    Stmt* user;
    if (Status s = db->Prepare(
            "INSERT INTO users(user_id, username, email, email_norm, created_at) "
            "VALUES(?1, ?2, NULL, NULL, ?3) ON CONFLICT(user_id) DO NOTHING",
            &user);
        !s.ok()) {
      return s;
    }
    user->BindId(1, u.user_id).Bind(2, op->user.username).Bind(3, u.created_at);
    if (Status s = Run(db, user, "insert user"); !s.ok()) return s;
    op->created_user = sqlite3_changes(db->raw()) == 1;
    if (op->created_user) {
      if (Status s = IndexUser(User{u.user_id, op->user.username, std::nullopt, 0}); !s.ok()) {
        return s;
      }
    }
    Stmt* conv;
    if (Status s = db->Prepare(
            "INSERT INTO conversations(conversation_id, user_id, started_at) VALUES(?1,?2,?3)",
            &conv);
        !s.ok()) {
      return s;
    }
    conv->BindId(1, u.conversation_id).BindId(2, u.user_id).Bind(3, u.created_at);
    if (Status s = Run(db, conv, "insert conversation"); !s.ok()) return s;
  }
  Stmt* ins;
  if (Status s = db->Prepare(
          "INSERT INTO utterances(utterance_id, conversation_id, user_id, content, created_at, "
          "request_hash) VALUES(?1,?2,?3,?4,?5,?6)",
          &ins);
      !s.ok()) {
    return s;
  }
  const StoredId utterance_id(u.utterance_id), conversation_id(u.conversation_id),
      user_id(u.user_id);
  ins->BindRef(1, utterance_id).BindRef(2, conversation_id).BindRef(3, user_id);
  ins->BindRef(4, u.content).Bind(5, u.created_at);
  ins->Bind(6, static_cast<int64_t>(op->request_hash));
  if (Status s = Run(db, ins, "insert utterance"); !s.ok()) return s;
  if (Status s = InsertErrors(u); !s.ok()) return s;
  deltas->AddAll(u);
  return Status::Ok();
}

Status SqliteStore::AddErrors(WriteOp* op, DeltaSet* deltas) {
  Db* db = writer_.get();
  Utterance& u = op->utterance;
  Stmt* st;
  if (Status s = db->Prepare(
          "SELECT conversation_id, user_id FROM utterances WHERE utterance_id=?1", &st);
      !s.ok()) {
    return s;
  }
  st->BindId(1, u.utterance_id);
  bool found = false;
  if (Status s = StepRow(db, st, &found, "select utterance"); !s.ok()) return s;
  if (!found) {
    op->status = Status::NotFound("Utterance not found");
    return Status::Ok();
  }
  const bool together = st->Id(0) == u.conversation_id && st->Id(1) == u.user_id;
  st->Reset();
  if (!together) {
    op->status = Status::InvalidArgument(
        "user_id, conversation_id and utterance_id do not belong together", "utterance_id");
    return Status::Ok();
  }
  if (Status s = InsertErrors(u); !s.ok()) return s;
  deltas->AddAll(u);
  return Status::Ok();
}

Status SqliteStore::InsertErrors(const Utterance& u) {
  Db* db = writer_.get();
  Stmt* ins;
  if (Status s = db->Prepare(
          "INSERT INTO errors(error_id, utterance_id, conversation_id, user_id, category, subcategory,"
          " subcategory_id, code, span_start, span_end, original, correction, explanation, created_at)"
          " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14)",
          &ins);
      !s.ok()) {
    return s;
  }
  // The texts are the utterance's own fields, alive until after the step;
  // the utterance's ids are converted once, not once per error.
  const StoredId utterance_id(u.utterance_id), conversation_id(u.conversation_id),
      user_id(u.user_id);
  for (const auto& e : u.errors) {
    const StoredId error_id(e.error_id);
    ins->Reset().BindRef(1, error_id).BindRef(2, utterance_id).BindRef(3, conversation_id);
    ins->BindRef(4, user_id).BindRef(5, e.category).BindRef(6, e.subcategory);
    ins->BindRef(7, e.subcategory_id);
    if (!e.code.empty()) ins->BindRef(8, e.code);
    if (e.span) ins->Bind(9, e.span->start).Bind(10, e.span->end);
    ins->BindRef(11, e.original).BindRef(12, e.correction).BindRef(13, e.explanation);
    ins->Bind(14, e.created_at);
    if (Status s = Run(db, ins, "insert error"); !s.ok()) return s;
  }
  return Status::Ok();
}

Status SqliteStore::UpsertFrequencies(const DeltaSet& deltas) {
  Db* db = writer_.get();
  Stmt* up;
  if (Status s = db->Prepare(
          "INSERT INTO error_frequencies(user_id, subcategory_id, category, subcategory, frequency,"
          " first_seen, last_seen, decay_log2) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)"
          " ON CONFLICT(user_id, subcategory_id) DO UPDATE SET"
          " frequency = frequency + excluded.frequency,"
          " first_seen = min(first_seen, excluded.first_seen),"
          " last_seen = max(last_seen, excluded.last_seen),"
          " decay_log2 = logadd2(decay_log2, excluded.decay_log2)",
          &up);
      !s.ok()) {
    return s;
  }
  for (const auto& d : deltas.deltas()) {
    const StoredId user_id(d.user_id);
    up->Reset().BindRef(1, user_id).BindRef(2, d.subcategory_id).BindRef(3, d.category);
    up->BindRef(4, d.subcategory).Bind(5, d.count).Bind(6, d.first_seen).Bind(7, d.last_seen);
    up->Bind(8, d.decay_log2);
    if (Status s = Run(db, up, "upsert frequency"); !s.ok()) return s;
  }
  return Status::Ok();
}

Status SqliteStore::RecordAttempt(WriteOp* op) {
  Db* db = writer_.get();
  Attempt& a = op->attempt;
  bool found = false;
  Stmt* user;
  if (Status s = db->Prepare("SELECT 1 FROM users WHERE user_id=?1", &user); !s.ok()) return s;
  user->BindId(1, a.user_id);
  if (Status s = StepRow(db, user, &found, "select user"); !s.ok()) return s;
  user->Reset();
  if (!found) {
    op->status = Status::NotFound("User not found");
    return Status::Ok();
  }
  if (!op->memory_given) {
    Stmt* st;
    if (Status s = db->Prepare(
            "SELECT m.stability_days, m.difficulty, m.last_review, m.reviews, m.lapses, m.last_correct,"
            " m.last_lapse, (SELECT last_seen FROM error_frequencies f WHERE f.user_id=?1 AND f.subcategory_id=?2)"
            " FROM (SELECT 1) LEFT JOIN mastery m ON m.user_id=?1 AND m.subcategory_id=?2",
            &st);
        !s.ok()) {
      return s;
    }
    st->BindId(1, a.user_id).Bind(2, a.subcategory_id);
    if (Status s = StepRow(db, st, &found, "select mastery"); !s.ok()) return s;
    MemoryState m;
    if (!st->IsNull(0)) {
      m = MemoryState{st->Real(0), st->Real(1), st->Int(2), st->Int(3), st->Int(4), st->Int(5),
                      st->Int(6)};
    }
    const Micros last_error = st->IsNull(7) ? 0 : st->Int(7);
    st->Reset();
    op->memory = AfterAttempt(WithLapses(m, last_error), a.correct, a.answered_at);
  }
  const MemoryState& m = op->memory;
  Stmt* ins;
  if (Status s = db->Prepare(
          "INSERT INTO attempts(attempt_id, user_id, exercise_id, subcategory_id, correct, answer,"
          " answered_at) VALUES(?1,?2,?3,?4,?5,?6,?7)",
          &ins);
      !s.ok()) {
    return s;
  }
  ins->BindId(1, a.attempt_id).BindId(2, a.user_id).Bind(3, a.exercise_id);
  ins->Bind(4, a.subcategory_id);
  ins->Bind(5, static_cast<int64_t>(a.correct)).Bind(6, a.answer).Bind(7, a.answered_at);
  if (Status s = Run(db, ins, "insert attempt"); !s.ok()) return s;
  Stmt* up;
  if (Status s = db->Prepare(
          "INSERT INTO mastery(user_id, subcategory_id, stability_days, difficulty, last_review,"
          " reviews, lapses, last_correct, last_lapse) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)"
          " ON CONFLICT(user_id, subcategory_id) DO UPDATE SET stability_days=excluded.stability_days,"
          " difficulty=excluded.difficulty, last_review=excluded.last_review,"
          " reviews=excluded.reviews, lapses=excluded.lapses, last_correct=excluded.last_correct,"
          " last_lapse=excluded.last_lapse",
          &up);
      !s.ok()) {
    return s;
  }
  up->BindId(1, a.user_id).Bind(2, a.subcategory_id).Bind(3, m.stability_days);
  up->Bind(4, m.difficulty).Bind(5, m.last_review).Bind(6, m.reviews).Bind(7, m.lapses);
  up->Bind(8, m.last_correct).Bind(9, m.last_lapse);
  return Run(db, up, "upsert mastery");
}

Result<User> SqliteStore::GetUser(const std::string& user_id) {
  Reader db(this);
  Stmt* st;
  if (Status s = db.Prepare("SELECT username, email, created_at FROM users WHERE user_id=?1", &st);
      !s.ok()) {
    return s;
  }
  st->BindId(1, user_id);
  bool found = false;
  if (Status s = StepRow(db.get(), st, &found, "select user"); !s.ok()) return s;
  if (!found) return Status::NotFound("User not found");
  User u{user_id, st->Text(0), st->OptText(1), st->Int(2)};
  st->Reset();
  return u;
}

Result<User> SqliteStore::FindUserByEmail(const std::string& email) {
  Reader db(this);
  // One query on this connection: calling GetUser here would borrow a second
  // connection while holding this one, and enough such calls at once would
  // empty the pool and wait for each other.
  Stmt* st;
  if (Status s = db.Prepare(
          "SELECT user_id, username, email, created_at FROM users WHERE email_norm=?1",
          &st);
      !s.ok()) {
    return s;
  }
  st->Bind(1, AsciiLower(email));
  bool found = false;
  if (Status s = StepRow(db.get(), st, &found, "select user"); !s.ok()) return s;
  if (!found) return Status::NotFound("User not found");
  User u{st->Id(0), st->Text(1), st->OptText(2), st->Int(3)};
  st->Reset();
  return u;
}

Result<ConversationView> SqliteStore::GetConversation(const std::string& id) {
  Reader db(this);
  ConversationView v;
  Stmt* c;
  if (Status s = db.Prepare(
          "SELECT user_id, started_at FROM conversations WHERE conversation_id=?1", &c);
      !s.ok()) {
    return s;
  }
  c->BindId(1, id);
  bool found = false;
  if (Status s = StepRow(db.get(), c, &found, "select conversation"); !s.ok()) return s;
  if (!found) return Status::NotFound("Conversation not found");
  v.conversation = Conversation{id, c->Id(0), c->Int(1)};
  c->Reset();
  Stmt* us;
  if (Status s = db.Prepare(
          "SELECT utterance_id, content, created_at FROM utterances WHERE conversation_id=?1 "
          "ORDER BY created_at, utterance_id",
          &us);
      !s.ok()) {
    return s;
  }
  us->BindId(1, id);
  std::unordered_map<std::string, size_t> index;
  // A failed step fails the view: the learner export reads it, and must not
  // pass a part of the conversation off as all of it.
  if (Status s = sqlite::StepRows(db.get(), us, "select utterances", [&] {
        index[us->Id(0)] = v.utterances.size();
        v.utterances.push_back(Utterance{us->Id(0), id, v.conversation.user_id, us->OptText(1),
                                         us->Int(2), {}});
      });
      !s.ok()) {
    return s;
  }
  static const std::string sql =
      std::string("SELECT utterance_id, ") + kErrorColumns +
      " FROM errors WHERE utterance_id IN (SELECT utterance_id FROM utterances"
      " WHERE conversation_id=?1) ORDER BY error_id";
  Stmt* es;
  if (Status s = db.Prepare(sql.c_str(), &es); !s.ok()) return s;
  es->BindId(1, id);
  if (Status s = sqlite::StepRows(db.get(), es, "select errors", [&] {
        auto it = index.find(es->Id(0));
        if (it != index.end()) v.utterances[it->second].errors.push_back(ReadError(es, 1));
      });
      !s.ok()) {
    return s;
  }
  return v;
}

namespace {
// The columns AttemptAt reads.
constexpr const char* kAttemptColumns =
    "SELECT user_id, attempt_id, exercise_id, subcategory_id, correct, answer, answered_at";
Attempt AttemptAt(Stmt* st) {
  return Attempt{st->Id(1), st->Id(0), st->Text(2), st->Text(3), st->Int(4) != 0, st->OptText(5),
                 st->Int(6)};
}
}  // namespace

Result<std::vector<Attempt>> SqliteStore::ListAttempts(const std::string& user_id) {
  Reader db(this);
  static const std::string sql = std::string(kAttemptColumns) +
                                 " FROM attempts WHERE user_id=?1 ORDER BY answered_at, attempt_id";
  Stmt* st;
  if (Status s = db.Prepare(sql.c_str(), &st); !s.ok()) return s;
  st->BindId(1, user_id);
  std::vector<Attempt> out;
  if (Status s = sqlite::StepRows(db.get(), st, "list attempts",
                                  [&] { out.push_back(AttemptAt(st)); });
      !s.ok()) {
    return s;
  }
  return out;
}

Result<std::vector<ConversationSummary>> SqliteStore::ListConversations(
    const std::string& user_id, const std::optional<ConversationCursor>& after, size_t limit) {
  Reader db(this);
  Stmt* st;
  if (Status s = db.Prepare(
          after ? sqlite::kConversationsAfter : sqlite::kConversationsFirst, &st);
      !s.ok()) {
    return s;
  }
  st->BindId(1, user_id).Bind(2, static_cast<int64_t>(limit));
  if (after) st->Bind(3, after->started_at).BindId(4, after->conversation_id);
  std::vector<ConversationSummary> out;
  if (Status s = sqlite::StepRows(db.get(), st, "list conversations", [&] {
        ConversationSummary c{Conversation{st->Id(0), user_id, st->Int(1)}, st->Int(2),
                              std::nullopt};
        if (!st->IsNull(3)) c.last_utterance_at = st->Int(3);
        out.push_back(std::move(c));
      });
      !s.ok()) {
    return s;
  }
  return out;
}

Result<Profile> SqliteStore::LoadProfile(const std::string& user_id) {
  Reader db(this);
  Profile p;
  Stmt* user;
  if (Status s = db.Prepare("SELECT 1 FROM users WHERE user_id=?1", &user); !s.ok()) return s;
  user->BindId(1, user_id);
  if (Status s = StepRow(db.get(), user, &p.user_known, "select user"); !s.ok()) return s;
  user->Reset();
  if (!p.user_known) return p;
  Stmt* st;
  if (Status s = db.Prepare(
          "SELECT subcategory_id, category, subcategory, frequency, first_seen, last_seen, decay_log2"
          " FROM error_frequencies WHERE user_id=?1",
          &st);
      !s.ok()) {
    return s;
  }
  st->BindId(1, user_id);
  if (Status s = sqlite::StepRows(db.get(), st, "load profile", [&] {
        p.points.push_back(ErrorPoint{PointNames(st->TextView(0), st->TextView(1), st->TextView(2)),
                                      st->Int(3), st->Int(4), st->Int(5), st->Real(6), {}});
      });
      !s.ok()) {
    return s;
  }
  Stmt* m;
  if (Status s = db.Prepare(
          "SELECT subcategory_id, stability_days, difficulty, last_review, reviews, lapses,"
          " last_correct, last_lapse FROM mastery WHERE user_id=?1",
          &m);
      !s.ok()) {
    return s;
  }
  m->BindId(1, user_id);
  bool any_memory = false;
  if (Status s = sqlite::StepRows(db.get(), m, "load mastery", [&] {
        any_memory = true;
        ErrorPoint* point = p.Find(m->TextView(0));
        if (point != nullptr) {
          point->memory = MemoryState{m->Real(1), m->Real(2), m->Int(3), m->Int(4),
                                      m->Int(5), m->Int(6), m->Int(7)};
        }
      });
      !s.ok()) {
    return s;
  }
  // Each error row commits with its point, and each attempt with its memory
  // state, and none is ever deleted: a learner without points has no errors,
  // and one without memory states no attempts. Those queries are skipped (a
  // cold load runs on an HTTP thread: docs/read-path.md).
  if (!p.points.empty()) {
    if (Status s = LoadExamples(db.get(), user_id, &p); !s.ok()) return s;
  }
  if (any_memory) {
    if (Status s = LoadRecentCorrect(db.get(), user_id, &p); !s.ok()) return s;
  }
  return p;
}

// The learner's newest corrected errors.
Status SqliteStore::LoadExamples(Db* db, const std::string& user_id, Profile* p) {
  Stmt* ex;
  if (Status s = db->Prepare(
          "SELECT e.error_id, e.subcategory_id, u.content, e.original, e.correction, e.span_start,"
          " e.span_end, e.created_at FROM errors e JOIN utterances u USING(utterance_id)"
          " WHERE e.user_id=?1 AND e.correction IS NOT NULL AND u.content IS NOT NULL"
          " ORDER BY e.created_at DESC, e.error_id DESC LIMIT 30",
          &ex);
      !s.ok()) {
    return s;
  }
  ex->BindId(1, user_id);
  return sqlite::StepRows(db, ex, "load examples", [&] {
    p->examples.push_back(Example{ex->Id(0), ex->Text(1), ex->Text(2), ex->Text(3), ex->Text(4),
                                  ex->IsNull(5) ? -1 : ex->Int(5), ex->IsNull(6) ? -1 : ex->Int(6),
                                  ex->Int(7)});
  });
}

// The learner's newest correct answers.
Status SqliteStore::LoadRecentCorrect(Db* db, const std::string& user_id, Profile* p) {
  Stmt* rc_st;
  if (Status s = db->Prepare(
          "SELECT exercise_id, answered_at FROM attempts WHERE user_id=?1 AND correct=1"
          " ORDER BY answered_at DESC, attempt_id DESC LIMIT 100",
          &rc_st);
      !s.ok()) {
    return s;
  }
  rc_st->BindId(1, user_id);
  return sqlite::StepRows(db, rc_st, "load attempts", [&] {
    p->recent_correct.push_back(RecentCorrect{rc_st->Text(0), rc_st->Int(1)});
  });
}

Result<Profile> SqliteStore::ProfileBetween(const std::string& user_id, Micros since, Micros until) {
  Reader db(this);
  Stmt* st;
  if (Status s = db.Prepare(
          "SELECT subcategory_id, category, subcategory, created_at FROM errors"
          " WHERE user_id=?1 AND created_at>=?2 AND created_at<=?3",
          &st);
      !s.ok()) {
    return s;
  }
  st->BindId(1, user_id).Bind(2, since).Bind(3, until);
  DeltaSet set(options_.half_life);
  if (Status s = sqlite::StepRows(db.get(), st, "errors between", [&] {
        ErrorRecord e{.category = st->Text(1), .subcategory = st->Text(2),
                      .subcategory_id = st->Text(0), .created_at = st->Int(3)};
        set.Add(user_id, e);
      });
      !s.ok()) {
    return s;
  }
  Profile p;
  for (const auto& d : set.deltas()) p.Apply(d);
  return p;
}

Result<std::vector<User>> SqliteStore::SearchCandidates(const std::string& prefix,
                                                        size_t recent) {
  Reader db(this);
  std::vector<User> out;
  auto collect = [&](Stmt* st) -> Status {
    return sqlite::StepRows(db.get(), st, "search users", [&] {
      out.push_back(User{st->Id(0), st->Text(1), st->OptText(2), st->Int(3)});
    });
  };
  Stmt* by_email;
  if (Status s = db.Prepare(sqlite::kSearchByEmail, &by_email); !s.ok()) return s;
  by_email->Bind(1, prefix);
  if (Status s = collect(by_email); !s.ok()) return s;
  Stmt* by_name;
  if (Status s = db.Prepare(sqlite::kSearchByName, &by_name); !s.ok()) return s;
  by_name->Bind(1, prefix);
  if (Status s = collect(by_name); !s.ok()) return s;
  Stmt* newest;
  if (Status s = db.Prepare(sqlite::kNewestUsers, &newest); !s.ok()) return s;
  newest->Bind(1, static_cast<int64_t>(recent));
  if (Status s = collect(newest); !s.ok()) return s;
  std::vector<std::vector<std::string>> holders;
  for (const std::string& gram : NameTrigrams(prefix)) {
    Stmt* st;
    if (Status s = db.Prepare(sqlite::kTrigramHolders, &st); !s.ok()) return s;
    st->Bind(1, gram).Bind(2, static_cast<int64_t>(kTrigramCommon + 1));
    auto& ids = holders.emplace_back();
    if (Status s = sqlite::StepRows(db.get(), st, "search trigrams",
                                    [&] { ids.push_back(st->Id(0)); });
        !s.ok()) {
      return s;
    }
  }
  for (const std::string& id : MostSharedTrigrams(holders, kTrigramCandidates)) {
    Stmt* st;
    if (Status s = db.Prepare(sqlite::kUserById, &st); !s.ok()) return s;
    st->BindId(1, id);
    if (Status s = collect(st); !s.ok()) return s;
  }
  return out;
}

Result<std::vector<DayCount>> SqliteStore::ErrorsPerDay(const std::string& user_id, Micros since,
                                                        Micros until) {
  Reader db(this);
  Stmt* st;
  if (Status s = db.Prepare(
          "SELECT created_at / 86400000000 AS day, category, count(*) FROM errors"
          " WHERE user_id=?1 AND created_at>=?2 AND created_at<=?3 GROUP BY day, category"
          " ORDER BY day, category",
          &st);
      !s.ok()) {
    return s;
  }
  st->BindId(1, user_id).Bind(2, since).Bind(3, until);
  std::vector<DayCount> out;
  if (Status s = sqlite::StepRows(db.get(), st, "errors per day",
                                  [&] { out.push_back({st->Int(0), st->Text(1), st->Int(2)}); });
      !s.ok()) {
    return s;
  }
  return out;
}

Status SqliteStore::Ping() {
  Reader db(this);
  Stmt* st;
  if (Status s = db.Prepare("SELECT 1", &st); !s.ok()) return s;
  const int rc = st->Step();
  st->Reset();
  return rc == SQLITE_ROW ? Status::Ok() : db->Error(rc, "ping");
}

// One read transaction (Reader) holds the snapshot for the whole export.
// Utterances come with their errors from one join, sorted in the order they
// were written (Store::Export says why).
Status SqliteStore::Export(size_t page, ExportOrder, const ExportSink& sink) {
  Reader db(this);
  // Every statement is stepped through StepRows, which resets it however its
  // rows end (the sink stopped the export, a step failed): one left stepping
  // would keep the connection's read transaction open past the Reader.
  ExportPager out(page, sink);
  Stmt* users;
  if (Status s = db.Prepare("SELECT user_id, username, email, created_at FROM users", &users);
      !s.ok()) {
    return s;
  }
  if (Status s = sqlite::StepRows(db.get(), users, "export users", [&] {
        return out.User(User{users->Id(0), users->Text(1), users->OptText(2), users->Int(3)});
      });
      !s.ok()) {
    return s;
  }
  Stmt* convs;
  if (Status s =
          db.Prepare("SELECT conversation_id, user_id, started_at FROM conversations", &convs);
      !s.ok()) {
    return s;
  }
  if (Status s = sqlite::StepRows(db.get(), convs, "export conversations", [&] {
        return out.Conversation(Conversation{convs->Id(0), convs->Id(1), convs->Int(2)});
      });
      !s.ok()) {
    return s;
  }
  Stmt* utts;
  if (Status s = db.Prepare(
          "SELECT u.utterance_id, u.conversation_id, u.user_id, u.content, u.created_at,"
          " u.request_hash, e.error_id, e.category, e.subcategory, e.subcategory_id, e.code,"
          " e.span_start, e.span_end, e.original, e.correction, e.explanation, e.created_at"
          " FROM utterances u LEFT JOIN errors e ON e.utterance_id = u.utterance_id"
          " ORDER BY u.created_at, u.utterance_id, e.error_id",
          &utts);
      !s.ok()) {
    return s;
  }
  Utterance u;
  uint64_t hash = 0;
  if (Status s = sqlite::StepRows(db.get(), utts, "export utterances", [&] {
        std::string id = utts->Id(0);
        if (id != u.utterance_id) {
          if (!u.utterance_id.empty()) {
            if (Status s = out.Utterance(std::move(u), hash); !s.ok()) return s;
          }
          u = Utterance{std::move(id), utts->Id(1), utts->Id(2), utts->OptText(3), utts->Int(4),
                        {}};
          hash = static_cast<uint64_t>(utts->Int(5));
        }
        if (!utts->IsNull(6)) u.errors.push_back(ReadError(utts, 6));
        return Status::Ok();
      });
      !s.ok()) {
    return s;
  }
  if (!u.utterance_id.empty()) {
    if (Status s = out.Utterance(std::move(u), hash); !s.ok()) return s;
  }
  // Each learner's attempts in time order, then the learner's memory states.
  static const std::string export_attempts =
      std::string(kAttemptColumns) + " FROM attempts ORDER BY user_id, answered_at, attempt_id";
  Stmt* atts;
  if (Status s = db.Prepare(export_attempts.c_str(), &atts); !s.ok()) return s;
  Stmt* mem;
  if (Status s = db.Prepare(
          "SELECT subcategory_id, stability_days, difficulty, last_review, reviews, lapses,"
          " last_correct, last_lapse FROM mastery WHERE user_id=?1",
          &mem);
      !s.ok()) {
    return s;
  }
  std::string user;  // whose attempts `attempts` holds
  std::vector<Attempt> attempts;
  auto learner = [&]() -> Status {
    if (attempts.empty()) return Status::Ok();
    std::unordered_map<std::string, MemoryState> memory;
    mem->BindId(1, user);
    if (Status s = sqlite::StepRows(db.get(), mem, "export mastery", [&] {
          memory[mem->Text(0)] = MemoryState{mem->Real(1), mem->Real(2), mem->Int(3),
                                             mem->Int(4), mem->Int(5), mem->Int(6), mem->Int(7)};
        });
        !s.ok()) {
      return s;
    }
    Status s = out.Learner(std::move(attempts), memory);
    attempts.clear();
    return s;
  };
  if (Status s = sqlite::StepRows(db.get(), atts, "export attempts", [&] {
        std::string id = atts->Id(0);
        if (id != user) {
          if (Status s = learner(); !s.ok()) return s;
          user = std::move(id);
        }
        attempts.push_back(AttemptAt(atts));
        return Status::Ok();
      });
      !s.ok()) {
    return s;
  }
  if (Status s = learner(); !s.ok()) return s;
  Stmt* erased;
  if (Status s = db.Prepare(
          "SELECT user_id, erased_at, conversations, utterances, errors, attempts FROM erased_users",
          &erased);
      !s.ok()) {
    return s;
  }
  if (Status s = sqlite::StepRows(db.get(), erased, "export tombstones", [&] {
        const WriteOp::Erased counts{erased->Int(2), erased->Int(3), erased->Int(4),
                                     erased->Int(5)};
        return out.Erased(erased->Id(0), erased->Int(1), counts);
      });
      !s.ok()) {
    return s;
  }
  return out.Finish();
}

// ---------------------------------------------------------------- bulk load
//
// A copy (store/copy.h) into an empty store: each secondary index would take
// an entry per row at a random page, a page written to the WAL per entry once
// the index outgrows the cache. Built at the end from one sort, each is
// written once (docs/copy.md). Meanwhile their definitions wait in the meta
// table under "deferred_index:<name>", so a copy that stops half-way leaves a
// store that says so when opened.

namespace {

// Literals: Db::Prepare caches statements by their text's address.
constexpr const char* kDeferredNames =
    "SELECT substr(key, 16) FROM meta WHERE substr(key, 1, 15) = 'deferred_index:'";
constexpr const char* kDeferredDefinitions =
    "SELECT value FROM meta WHERE substr(key, 1, 15) = 'deferred_index:'";
constexpr const char* kForgetDeferred =
    "DELETE FROM meta WHERE substr(key, 1, 15) = 'deferred_index:'";

// The first column of every row of `sql`, one of the literals above.
Status Column(Db* db, const char* sql, std::vector<std::string>* out) {
  Stmt* st;
  if (Status s = db->Prepare(sql, &st); !s.ok()) return s;
  return sqlite::StepRows(db, st, "read", [&] { out->push_back(st->Text(0)); });
}

}  // namespace

Status SqliteStore::BeginBulkLoad() {
  WriteTurn turn(this);
  Status s = writer_->Exec(
      "BEGIN IMMEDIATE; INSERT INTO meta(key, value) SELECT 'deferred_index:' || name, sql"
      " FROM sqlite_master WHERE type = 'index' AND sql LIKE 'CREATE INDEX %'");
  std::vector<std::string> names;
  if (s.ok()) s = Column(writer_.get(), kDeferredNames, &names);
  for (size_t i = 0; s.ok() && i < names.size(); ++i) s = writer_->Exec("DROP INDEX " + names[i]);
  if (s.ok()) s = writer_->Exec("COMMIT");
  if (!s.ok()) writer_->Exec("ROLLBACK");
  return s;
}

Status SqliteStore::EndBulkLoad() {
  WriteTurn turn(this);
  Status s = writer_->Exec("BEGIN IMMEDIATE");
  std::vector<std::string> indexes;
  if (s.ok()) s = Column(writer_.get(), kDeferredDefinitions, &indexes);
  for (size_t i = 0; s.ok() && i < indexes.size(); ++i) s = writer_->Exec(indexes[i]);
  if (s.ok()) s = writer_->Exec(kForgetDeferred);
  if (s.ok()) s = writer_->Exec("COMMIT");
  if (!s.ok()) writer_->Exec("ROLLBACK");
  return s;
}

Status SqliteStore::RefuseUnfinishedCopy() {
  std::vector<std::string> deferred;
  if (Status s = Column(writer_.get(), kDeferredNames, &deferred); !s.ok()) return s;
  return deferred.empty() ? Status::Ok() : UnfinishedCopy(Describe());
}

}  // namespace errata
