// SqliteStore: the embedded store, one database file in WAL mode.
// One write connection (used only by the Writer thread) and a small pool of
// read connections shared by the HTTP threads; WAL lets them read while the
// writer commits.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/sqlite/sqlite_db.h"
#include "store/store.h"

namespace errata {

class SqliteStore : public Store {
 public:
  struct Options {
    std::string path;            // the database file
    Micros half_life = 14 * kMicrosPerDay;
    int read_connections = 4;
  };
  // Opens or creates the database and migrates its schema to the current version.
  static Result<std::unique_ptr<SqliteStore>> Open(const Options& options);

  std::string Describe() const override { return "sqlite:" + options_.path; }
  Status ApplyBatch(const std::vector<WriteOp*>& ops, DeltaSet* deltas) override;
  Result<User> GetUser(const std::string& user_id) override;
  Result<User> FindUserByEmail(const std::string& email) override;
  Result<ConversationView> GetConversation(const std::string& conversation_id) override;
  Result<Profile> LoadProfile(const std::string& user_id) override;
  Result<Profile> ProfileBetween(const std::string& user_id, Micros since, Micros until) override;
  Result<std::vector<User>> SearchCandidates(const std::string& prefix, size_t recent) override;
  Result<std::vector<DayCount>> ErrorsPerDay(const std::string& user_id, Micros since,
                                             Micros until) override;
  Status Ping() override;

 private:
  explicit SqliteStore(Options options) : options_(std::move(options)) {}

  // A read connection borrowed from the pool for one call.
  class Reader;
  std::unique_ptr<sqlite::Db> Borrow();
  void Return(std::unique_ptr<sqlite::Db> db);

  Status Migrate();
  Status RecomputeDecayIfNeeded();
  Status Apply(WriteOp* op, DeltaSet* deltas);
  Status CreateUser(WriteOp* op);
  Status CreateConversation(WriteOp* op);
  Status AddUtterance(WriteOp* op, DeltaSet* deltas);
  Status AddErrors(WriteOp* op, DeltaSet* deltas);
  Status RecordAttempt(WriteOp* op);
  Status InsertErrors(const Utterance& u);
  Status LoadExamples(sqlite::Db* db, const std::string& user_id, Profile* p);
  Status UpsertFrequencies(const DeltaSet& deltas);
  Result<bool> CheckReplay(WriteOp* op);

  Options options_;
  std::unique_ptr<sqlite::Db> writer_;
  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<std::unique_ptr<sqlite::Db>> pool_;  // guarded by pool_mu_
};

}  // namespace errata
