// Faults SQLite itself gives on demand, for tests of what errata does with
// them. SQLite has no fault injection errata can reach in a release build
// (sqlite3_test_control's are compiled out of Debian's), but two of its
// public hooks make a statement fail as an I/O error or out-of-memory would:
//
//  - a progress handler that returns non-zero interrupts the statement that
//    runs: its sqlite3_step answers SQLITE_INTERRUPT, as a failed read of a
//    page (SQLITE_IOERR) or a corrupt one would, after the rows it gave;
//  - an authorizer that answers SQLITE_DENY makes sqlite3_prepare fail
//    (SQLITE_AUTH), as it fails out of memory or on a schema it cannot read.
//
// While a SqliteFaults lives, every connection opened (sqlite3_auto_extension)
// gets both; they do nothing until a test names what to fail. One at a time.
#pragma once

#include <sqlite3.h>

#include <cstring>
#include <mutex>
#include <string>

namespace errata::testutil {

class SqliteFaults {
 public:
  SqliteFaults() {
    std::lock_guard lock(mu());
    state() = State{};
    sqlite3_auto_extension(reinterpret_cast<void (*)()>(&OnOpen));
  }
  ~SqliteFaults() {
    sqlite3_cancel_auto_extension(reinterpret_cast<void (*)()>(&OnOpen));
    std::lock_guard lock(mu());
    state() = State{};
  }
  SqliteFaults(const SqliteFaults&) = delete;
  SqliteFaults& operator=(const SqliteFaults&) = delete;

  // Every step of a statement whose SQL contains `sql` fails (SQLITE_INTERRUPT),
  // on every connection; "" for none.
  void FailStepsOf(std::string sql) {
    std::lock_guard lock(mu());
    state().interrupt = std::move(sql);
  }
  // Every prepare of a statement that reads table `table`, or of the
  // transaction statement `table` ("BEGIN", "COMMIT"), fails (SQLITE_AUTH);
  // "" for none. Statements already prepared (cached) are not prepared again.
  void FailPreparesOf(std::string table) {
    std::lock_guard lock(mu());
    state().deny = std::move(table);
  }
  // How many steps and prepares were failed.
  int failed() {
    std::lock_guard lock(mu());
    return state().failed;
  }

 private:
  struct State {
    std::string interrupt;
    std::string deny;
    int failed = 0;
  };
  static std::mutex& mu() {
    static std::mutex m;
    return m;
  }
  static State& state() {
    static State s;
    return s;
  }

  static int OnOpen(sqlite3* db, char**, const void*) {
    sqlite3_progress_handler(db, 1, &Progress, db);
    sqlite3_set_authorizer(db, &Authorize, nullptr);
    return SQLITE_OK;
  }

  static int Progress(void* arg) {
    auto* db = static_cast<sqlite3*>(arg);
    std::lock_guard lock(mu());
    if (state().interrupt.empty()) return 0;
    for (sqlite3_stmt* st = sqlite3_next_stmt(db, nullptr); st != nullptr;
         st = sqlite3_next_stmt(db, st)) {
      const char* sql = sqlite3_sql(st);
      if (sqlite3_stmt_busy(st) && sql != nullptr &&
          std::strstr(sql, state().interrupt.c_str()) != nullptr) {
        ++state().failed;
        return 1;
      }
    }
    return 0;
  }

  static int Authorize(void*, int action, const char* a, const char*, const char*, const char*) {
    std::lock_guard lock(mu());
    if (state().deny.empty() || a == nullptr) return SQLITE_OK;
    if ((action == SQLITE_READ || action == SQLITE_TRANSACTION) && state().deny == a) {
      ++state().failed;
      return SQLITE_DENY;
    }
    return SQLITE_OK;
  }
};

}  // namespace errata::testutil
