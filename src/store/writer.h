// Writer: the group-commit write path. Every write request goes through one
// bounded queue to one thread, which commits many requests in one
// transaction (one fsync), updates the cached profiles, and only then
// acknowledges each request through its callback. With a pipelined store
// (RocksDB), a second thread writes one batch while the first prepares the
// next.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "metrics/metrics.h"
#include "store/profile_cache.h"
#include "store/store.h"

namespace errata {

// One client request's writes; they commit (or fail) together with the rest of
// the batch they land in.
struct WriteRequest {
  std::vector<WriteOp> ops;
  Status status;  // the transaction's: Unavailable when the commit failed
  // Called once after the commit is durable (or failed), on one of the
  // Writer's threads: the publish thread (local cache), the writer thread
  // (shared cache), or for a store with DeferredSync the sync thread. Keep
  // it short: post the response to the connection's executor.
  std::function<void(WriteRequest&)> done;
  // Its QueueWeight, kept by Writer::Submit for when it leaves the queue.
  size_t weight = 0;
};

// What a request counts against the queue's ops bound: each op weighs 1 plus
// its errors. One /v1/utterances op may carry 1,000 errors (about 1 MiB of
// body): counted as one op, the queue's 10,000 requests could hold 10 GiB of
// them; weighed, about 100 (100,000 / 1,001) of them fill it.
size_t QueueWeight(const WriteRequest& r);

// Whether the request erases a learner: an erase (WriteOp::Kind::kEraseUser)
// is a request of its own, and is committed in a batch of its own. (Only its
// first op is looked at: an ingest request holds a thousand, and the writer
// asks with its queue locked. A request that hid an erase among other ops
// would fail its batch: Store's EraseIsAlone.)
inline bool Erases(const WriteRequest& r) {
  return r.ops.size() == 1 && r.ops[0].kind == WriteOp::Kind::kEraseUser;
}

class Writer {
 public:
  struct Options {
    Micros flush_interval = 0;     // longest wait to fill a batch, µs (docs/write-path.md)
    size_t max_batch = 1000;       // requests per transaction at most
    size_t queue_capacity = 10000; // requests waiting at most; then 503
    size_t max_batch_ops = 20000;  // ops per transaction at most (bulk ingests are
                                   // large requests); one request is never split
    // With a store that can (Store::Pipelined), prepare the next batch while
    // one is written (docs/write-path.md, "Pipelined commits").
    bool pipelined = true;
    // Ops waiting at most, each weighing 1 plus its errors (QueueWeight; an
    // ingest line is one op); then 503. What bounds the queue's memory:
    // 10,000 ingests of 1,000 lines would hold gigabytes. A request is
    // always taken into an empty queue, however heavy it is.
    size_t queue_ops_capacity = 100000;
  };
  Writer(Store* store, ProfileCache* cache, Metrics* metrics, Options options);
  ~Writer();

  void Start();
  // Stops taking requests, commits what is queued, and joins the thread.
  void Stop();

  // Queues a request. Unavailable when the queue is full or the writer is
  // stopping: then `request->done` is never called. Thread-safe.
  Status Submit(std::unique_ptr<WriteRequest> request);

  size_t depth() const;
  // The weight of the queued requests (QueueWeight): what the ops bound counts.
  size_t queued_weight() const;
  // At 90% of either bound: /readyz then says not ready, so that a load
  // balancer sends new work elsewhere before writes are refused.
  bool nearly_full() const;
  // False after a failed commit, until one succeeds again.
  bool healthy() const { return healthy_.load(); }

 private:
  // A batch on its way through the store: its requests, their ops and the
  // learners they change, and (pipelined) the store's prepared writes.
  struct Flight {
    std::vector<std::unique_ptr<WriteRequest>> requests;
    std::vector<WriteOp*> ops;
    std::vector<std::string> users;
    std::unique_ptr<PreparedBatch> prepared;  // pipelined: null if preparing failed
    std::chrono::steady_clock::time_point start;
    // The outcome: the status of its preparing, then of its commit; the
    // commit's duration; its deltas (in `deltas`, or in `prepared` for a
    // pipelined store).
    Status status;
    bool may_have_committed = false;  // failed, yet may have committed (Store::MayHaveCommitted)
    // Its commit ran: false when it failed before (its preparing failed, or
    // the batch before it did), so /metrics counts no commit for it.
    bool written = false;
    double seconds = 0;
    DeltaSet deltas{0};
    const DeltaSet& Deltas() const { return prepared ? prepared->deltas() : deltas; }
  };

  void Run();
  // wait=false: whatever is queued now, possibly nothing, without lingering.
  std::vector<std::unique_ptr<WriteRequest>> TakeBatch(bool wait = true);
  static Flight Board(std::vector<std::unique_ptr<WriteRequest>> batch);
  void Commit(Flight& f);
  // Sets the outcome of f's commit (and whether a failed one may have
  // committed), on the thread that called the store.
  void Settle(Flight& f, Status s);
  // Hands a committed (or failed: f.status) batch to the publish thread, or
  // finishes it on this one when there is none.
  void Publish(Flight f);
  // After the store's commit (or its failure): the cache, then the answers.
  void Finish(Flight& f);
  // The publish thread (local cache only): finishes batches in commit order
  // while the writer goes on with the next.
  void PublishLoop();

  // Pipelined commits: this thread prepares batch N+1 while the commit
  // thread writes batch N.
  // Not with a shared cache: its commits are one at a time (SharedProfiles).
  bool pipelined() const {
    return options_.pipelined && store_->Pipelined() && !cache_->shared();
  }
  void RunPipelined();
  void Prepare(Flight& f, const PreparedBatch* behind);
  void StartWrite(const PreparedBatch* batch);
  Status AwaitWrite();
  void CommitLoop();
  // The sync thread (stores with DeferredSync): fsyncs what the writer
  // committed, then acknowledges it, in commit order.
  void SyncLoop();

  Store* store_;
  ProfileCache* cache_;
  Metrics* metrics_;
  Options options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<WriteRequest>> queue_;  // guarded by mu_
  size_t queued_weight_ = 0;                         // queue_'s QueueWeight; guarded by mu_
  bool stopping_ = false;                            // guarded by mu_
  std::atomic<bool> healthy_{true};
  // Learners of failed batches that may have committed, whose cached profiles
  // are read again after the next commit that succeeds (Finish's thread).
  std::unordered_set<std::string> suspects_;
  std::thread thread_;
  // Committed batches waiting for their fsync (DeferredSync stores only).
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  std::vector<std::unique_ptr<WriteRequest>> unsynced_;  // guarded by sync_mu_
  bool sync_stopping_ = false;                           // guarded by sync_mu_
  std::thread sync_thread_;
  // The batch the commit thread writes (pipelined stores only).
  std::mutex commit_mu_;
  std::condition_variable commit_cv_;
  const PreparedBatch* commit_job_ = nullptr;  // guarded by commit_mu_
  bool commit_done_ = false;                   // guarded by commit_mu_
  Status commit_status_;                       // guarded by commit_mu_
  bool commit_stopping_ = false;               // guarded by commit_mu_
  std::thread commit_thread_;
  // Committed batches waiting for their cache updates and answers.
  std::mutex publish_mu_;
  std::condition_variable publish_cv_;
  std::deque<Flight> publishing_;  // guarded by publish_mu_
  bool publish_stopping_ = false;  // guarded by publish_mu_
  std::thread publish_thread_;
};

}  // namespace errata
