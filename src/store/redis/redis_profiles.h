// RedisProfiles: learners' profiles shared by every errata node through Redis
// (--cache redis://...). See docs/redis.md for the design; in short:
//
//  - Reads: one EVALSHA (scripts.h kRead) returns the profile hash, or a miss
//    (then the caller loads the store and Fill()s it through kFill, which
//    writes only if no commit for the learner started or ended meanwhile), or
//    "bypass" while a commit for the learner is in progress.
//  - Writes: the writer brackets each batch: kBegin marks its learners
//    (token + version bump) before the store commit; after it, one kApply per
//    learner (pipelined, one round trip) applies the committed effects to
//    profiles already in Redis, ends the mark, and bumps the version again.
//    Absent learners are not created.
//  - Failures: any error marks the cache down (ok() false, metric
//    errata_shared_cache_up 0, counted in errata_shared_cache_errors_total);
//    writes still commit and are acknowledged (the store is the truth), and
//    reads use the store through the local cache. A monitor thread probes
//    Redis; when it answers again, the node turns its writes back on, waits
//    for a batch that skipped Redis to finish, bumps errata:gen and deletes
//    every errata:p:* key (they may have missed deltas), then serves reads
//    from Redis again. No restart needed.
//
// Connections: hiredis sync contexts with timeouts; one for the writer, a
// small pool for readers, one for the monitor; each reconnects lazily.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "metrics/metrics.h"
#include "store/profile_cache.h"
#include "store/redis/redis_conn.h"

namespace errata::redis {

class RedisProfiles : public SharedProfiles {
 public:
  struct Options {
    Url url;
    std::chrono::milliseconds connect_timeout{200};
    std::chrono::milliseconds command_timeout{200};
    size_t readers = 8;                          // pooled reader connections at most
    std::chrono::seconds profile_ttl{3600};      // errata:p:*, refreshed on every write
    std::chrono::seconds state_ttl{86400};       // errata:s:*, refreshed on every commit
    std::chrono::seconds reap_after{30};         // a commit mark older than this is abandoned
    std::chrono::milliseconds probe_interval{100};  // while down: try to come back
    std::chrono::milliseconds ping_interval{1000};  // while up: check Redis still answers
  };
  RedisProfiles(Options options, Metrics* metrics);
  ~RedisProfiles() override;  // stops the monitor

  // Starts the monitor thread, which brings the cache up as soon as Redis
  // answers (at once when it does).
  void Start();
  void Stop();
  // Waits up to `timeout` for ok(); for start-up logs and tests.
  bool WaitUntilUp(std::chrono::milliseconds timeout) const;

  std::string Describe() const override { return options_.url.Describe(); }
  bool ok() const override { return reads_on_.load(std::memory_order_acquire); }
  std::string last_error() const override;

  Lookup Get(const std::string& user_id, std::shared_ptr<const Profile>* out,
             Ticket* ticket) override;
  bool Current(const std::string& user_id, const Ticket& ticket) override;
  void Fill(const std::string& user_id, const Profile& profile, const Ticket& ticket) override;

  void BeginCommit(const std::vector<std::string>& user_ids) override;
  void ApplyDeltas(const DeltaSet& deltas) override;
  void ApplyAttempt(const Attempt& attempt, const MemoryState& memory) override;
  void AddExamples(const std::string& user_id, const std::vector<Example>& examples) override;
  void MarkUserKnown(const std::string& user_id) override;
  void ForgetUser(const std::string& user_id) override;
  void EndCommit(CommitEnd end) override;

 private:
  // A reader connection leased from the pool.
  class Lease {
   public:
    explicit Lease(RedisProfiles* owner);
    ~Lease();
    RedisConn* operator->() { return conn_.get(); }
    RedisConn& operator*() { return *conn_; }

   private:
    RedisProfiles* owner_;
    std::unique_ptr<RedisConn> conn_;
    uint64_t epoch_ = 0;
  };
  // The batch the writer is committing.
  struct Batch {
    bool redis = false;  // its effects go to Redis
    std::string token;
    std::vector<std::string> users;  // distinct, marked by kBegin
    std::unordered_map<std::string, std::vector<std::string>> effects;  // kApply ops per learner
  };

  std::unique_ptr<RedisConn> NewConn() const;
  // Marks the cache down after a failed command; counts the error. With
  // skipping_batch, the current batch goes on without Redis (atomically with
  // the mark, so a recovery cannot start in between unnoticed).
  void MarkDown(const std::string& what, const Status& status, bool skipping_batch = false);
  std::vector<std::string>& EffectsOf(const std::string& user_id);
  void Monitor();
  // Brings the cache back: see the file comment. True when up.
  bool Recover(RedisConn& conn);
  Status LoadScripts(RedisConn& conn);
  Status WipeProfiles(RedisConn& conn);

  Options options_;
  Metrics* metrics_;
  std::string node_;  // random, for commit tokens

  // Script SHAs; written once by the first Recover, before anything uses them.
  std::string sha_read_, sha_fill_, sha_begin_, sha_apply_;

  // Up/down state. writes_on_: batches mark and apply in Redis; reads_on_:
  // reads use it (ok()). Both are cleared on any failure (downs_ counts
  // those); Recover sets writes_on_, then reads_on_ once it has wiped.
  mutable std::mutex state_mu_;
  mutable std::condition_variable state_cv_;
  std::atomic<bool> writes_on_{false};
  std::atomic<bool> reads_on_{false};
  uint64_t downs_ = 0;             // guarded by state_mu_
  // Bumped by every recovery: a connection opened before it may be broken
  // (Redis went away meanwhile) and is reopened before use.
  std::atomic<uint64_t> recoveries_{0};
  bool skipped_active_ = false;    // a batch that skipped Redis is committing; guarded
  std::string last_error_ = "not connected yet";  // guarded
  bool stopping_ = false;          // guarded

  // The writer's side: one batch at a time (commit_mu_ is held from
  // BeginCommit to EndCommit).
  std::mutex commit_mu_;
  std::unique_ptr<RedisConn> writer_conn_;
  uint64_t writer_epoch_ = 0;
  Batch batch_;
  uint64_t seq_ = 0;

  // Reader pool.
  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  // Idle connections, with the recoveries_ count they were made under.
  std::vector<std::pair<std::unique_ptr<RedisConn>, uint64_t>> idle_;  // guarded by pool_mu_
  size_t leased_ = 0;                             // guarded by pool_mu_

  std::thread monitor_;
};

}  // namespace errata::redis
