#include "store/writer.h"

#include <algorithm>
#include <pthread.h>

#include <chrono>
#include <optional>

#include "core/own_words.h"
#include "log/log.h"

namespace errata {

Writer::Writer(Store* store, ProfileCache* cache, Metrics* metrics, Options options)
    : store_(store), cache_(cache), metrics_(metrics), options_(options) {}

Writer::~Writer() { Stop(); }

void Writer::Start() {
  if (store_->DeferredSync()) sync_thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "writer-sync");
      SyncLoop();
    });
  // With a shared cache a commit's calls stay on one thread (SharedProfiles).
  if (!cache_->shared()) publish_thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "writer-publish");
      PublishLoop();
    });
  if (pipelined()) commit_thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "writer-commit");
      CommitLoop();
    });
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "writer");
    pipelined() ? RunPipelined() : Run();
  });
}

void Writer::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard lock(commit_mu_);
    commit_stopping_ = true;
  }
  commit_cv_.notify_all();
  if (commit_thread_.joinable()) commit_thread_.join();
  {
    std::lock_guard lock(publish_mu_);
    publish_stopping_ = true;
  }
  publish_cv_.notify_all();
  if (publish_thread_.joinable()) publish_thread_.join();  // before the sync thread it feeds
  {
    std::lock_guard lock(sync_mu_);
    sync_stopping_ = true;
  }
  sync_cv_.notify_all();
  if (sync_thread_.joinable()) sync_thread_.join();  // after it acknowledged the rest
}

size_t QueueWeight(const WriteRequest& r) {
  size_t weight = r.ops.size();
  for (const WriteOp& op : r.ops) weight += op.utterance.errors.size();
  return weight;
}

Status Writer::Submit(std::unique_ptr<WriteRequest> request) {
  request->weight = QueueWeight(*request);  // before the lock: an ingest has 10,000 ops
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Status::Unavailable("server is shutting down");
    // A request counts at most half the bound here: a large ingest (10,000
    // lines of errors outweigh the whole bound) gets in whenever the queue is
    // at most half full, not only when it is empty, which steady small writes
    // would never leave it. The queue then holds at most half the bound
    // beside it.
    const size_t admit = std::min(request->weight, options_.queue_ops_capacity / 2);
    if (queue_.size() >= options_.queue_capacity ||
        (!queue_.empty() && queued_weight_ + admit > options_.queue_ops_capacity)) {
      metrics_->QueueRejected();
      return Status::Unavailable("write queue is full");
    }
    queued_weight_ += request->weight;
    queue_.push_back(std::move(request));
    metrics_->SetQueueDepth(static_cast<int64_t>(queue_.size()));
  }
  cv_.notify_one();
  return Status::Ok();
}

size_t Writer::depth() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

size_t Writer::queued_weight() const {
  std::lock_guard lock(mu_);
  return queued_weight_;
}

bool Writer::nearly_full() const {
  std::lock_guard lock(mu_);
  return queue_.size() * 10 >= options_.queue_capacity * 9 ||
         queued_weight_ * 10 >= options_.queue_ops_capacity * 9;
}

// Waits for a first request, then lingers up to flush_interval for more,
// unless the batch is full. Returns an empty batch only when stopping.
std::vector<std::unique_ptr<WriteRequest>> Writer::TakeBatch(bool wait) {
  std::unique_lock lock(mu_);
  if (wait) cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
  if (wait && !stopping_ && queue_.size() < options_.max_batch && options_.flush_interval > 0) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::microseconds(options_.flush_interval);
    cv_.wait_until(lock, deadline,
                   [this] { return stopping_ || queue_.size() >= options_.max_batch; });
  }
  std::vector<std::unique_ptr<WriteRequest>> batch;
  size_t ops = 0;
  while (!queue_.empty() && batch.size() < options_.max_batch &&
         (batch.empty() || ops + queue_.front()->ops.size() <= options_.max_batch_ops)) {
    // An erase goes alone (Store: EraseIsAlone): it ends the batch before it,
    // and the next batch starts after it.
    const bool erase = Erases(*queue_.front());
    if (!batch.empty() && erase) break;
    ops += queue_.front()->ops.size();
    queued_weight_ -= queue_.front()->weight;
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
    if (erase) break;
  }
  metrics_->SetQueueDepth(static_cast<int64_t>(queue_.size()));
  return batch;
}

void Writer::Run() {
  for (;;) {
    auto batch = TakeBatch();
    if (batch.empty()) return;  // stopping, and the queue is drained
    Flight f = Board(std::move(batch));
    Commit(f);
  }
}

// Batch N is written on the commit thread while this thread prepares N+1 from
// what queued meanwhile: the checks of N+1 see N's writes as done. Once N is
// durable, N+1's write starts, and N's cache updates and answers go out while
// it runs. If N failed, N+1 fails with it, unwritten.
void Writer::RunPipelined() {
  std::optional<Flight> writing;  // on the commit thread
  for (;;) {
    auto batch = TakeBatch(/*wait=*/!writing);
    if (!writing && batch.empty()) return;  // stopping, and the queue is drained
    if (!batch.empty() && Erases(*batch.front())) {
      // An erase reads the store as it is: the batch being written goes
      // first, and nothing is prepared while the erase is written.
      if (writing) {
        Settle(*writing, AwaitWrite());
        Publish(std::move(*writing));
        writing.reset();
      }
      Flight erase = Board(std::move(batch));
      Commit(erase);
      continue;
    }
    std::optional<Flight> next;
    if (!batch.empty()) {
      next = Board(std::move(batch));
      Prepare(*next, writing ? writing->prepared.get() : nullptr);
    }
    if (writing) {
      Settle(*writing, AwaitWrite());
      if (!writing->status.ok() && next && next->prepared) {
        // N+1 counted on N's writes, which are not there, and its checks
        // rewrote some of its ops' inputs to answer them (a replay's stored
        // time and errors, a refused PATCH's record as it was): prepared
        // again from those, a refused PATCH would be answered 200 unapplied,
        // an utterance stored with another request's time. It fails with N,
        // unwritten: the store just failed a write, and its clients retry.
        next->prepared.reset();
        next->status = FailBatch(writing->status, next->ops);
      }
    }
    if (next) {
      // The learners of N+1 are marked before its write, while N's may still
      // be (the marks count), so no load caches a profile between the two.
      cache_->BeginCommit(next->users);
      if (next->prepared) {
        next->written = true;
        StartWrite(next->prepared.get());
      }
    }
    if (writing) {
      Publish(std::move(*writing));
      writing.reset();
    }
    if (!next) continue;
    if (next->prepared) {
      writing = std::move(next);
    } else {
      Publish(std::move(*next));  // preparing it failed
    }
  }
}

void Writer::Prepare(Flight& f, const PreparedBatch* behind) {
  auto prepared = store_->PrepareBatch(f.ops, behind);
  f.status = prepared.status();
  if (prepared.ok()) f.prepared = std::move(*prepared);
}

void Writer::StartWrite(const PreparedBatch* batch) {
  {
    std::lock_guard lock(commit_mu_);
    commit_job_ = batch;
    commit_done_ = false;
  }
  commit_cv_.notify_all();
}

Status Writer::AwaitWrite() {
  std::unique_lock lock(commit_mu_);
  commit_cv_.wait(lock, [this] { return commit_done_; });
  return commit_status_;
}

void Writer::CommitLoop() {
  for (;;) {
    const PreparedBatch* job = nullptr;
    {
      std::unique_lock lock(commit_mu_);
      commit_cv_.wait(lock, [this] { return commit_stopping_ || commit_job_ != nullptr; });
      if (commit_job_ == nullptr) return;  // stopping; the writer waited for the last one
      job = commit_job_;
    }
    const Status s = store_->WritePrepared(job);
    {
      std::lock_guard lock(commit_mu_);
      commit_job_ = nullptr;
      commit_status_ = s;
      commit_done_ = true;
    }
    commit_cv_.notify_all();
  }
}

namespace {
// The learner whose profile an op changes.
const std::string& UserOf(const WriteOp& op) {
  switch (op.kind) {
    case WriteOp::Kind::kCreateUser: return op.user.user_id;
    case WriteOp::Kind::kCreateConversation: return op.conversation.user_id;
    case WriteOp::Kind::kRecordAttempt: return op.attempt.user_id;
    case WriteOp::Kind::kEraseUser:
    case WriteOp::Kind::kRecordErasure:
    case WriteOp::Kind::kUpdateUser: return op.user.user_id;
    default: return op.utterance.user_id;
  }
}
}  // namespace

Writer::Flight Writer::Board(std::vector<std::unique_ptr<WriteRequest>> batch) {
  Flight f;
  f.start = std::chrono::steady_clock::now();
  f.requests = std::move(batch);
  for (auto& r : f.requests) {
    for (auto& op : r->ops) f.ops.push_back(&op);
  }
  f.users.reserve(f.ops.size());
  for (const WriteOp* op : f.ops) f.users.push_back(UserOf(*op));
  return f;
}

void Writer::Commit(Flight& f) {
  cache_->BeginCommit(f.users);
  f.written = true;
  Settle(f, store_->ApplyBatch(f.ops, &f.deltas));
  Publish(std::move(f));
}

void Writer::Settle(Flight& f, Status s) {
  f.may_have_committed = !s.ok() && store_->MayHaveCommitted();
  f.status = std::move(s);
}

// At most this many committed batches wait for the publish thread; then the
// writer waits too (it would only pile up answers and memory).
constexpr size_t kMaxPublishing = 4;

void Writer::Publish(Flight f) {
  f.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - f.start).count();
  healthy_.store(f.status.ok());
  if (!publish_thread_.joinable()) return Finish(f);
  {
    std::unique_lock lock(publish_mu_);
    publish_cv_.wait(lock, [this] { return publishing_.size() < kMaxPublishing; });
    publishing_.push_back(std::move(f));
  }
  publish_cv_.notify_all();
}

void Writer::PublishLoop() {
  for (;;) {
    std::unique_lock lock(publish_mu_);
    publish_cv_.wait(lock, [this] { return publish_stopping_ || !publishing_.empty(); });
    if (publishing_.empty()) return;  // stopping, and every batch is finished
    Flight f = std::move(publishing_.front());
    publishing_.pop_front();
    lock.unlock();
    publish_cv_.notify_all();  // room for the writer
    Finish(f);
  }
}

void Writer::Finish(Flight& f) {
  const std::vector<WriteOp*>& ops = f.ops;
  const Status& s = f.status;
  const DeltaSet& deltas = f.Deltas();
  if (f.written) {
    metrics_->ObserveCommit(f.requests.size(), ops.size(), f.seconds, s.ok());
  } else {
    metrics_->BatchUnwritten();
  }
  if (s.ok()) {
    // A learner this commit created has nothing else in the store: their
    // empty profile goes in first, so the deltas below fill it.
    for (const WriteOp* op : ops) {
      if (op->status.ok() && op->created_user) cache_->AddNewUser(UserOf(*op));
    }
    cache_->ApplyDeltas(deltas);
    for (WriteOp* op : ops) {
      if (!op->status.ok() || op->replayed) continue;
      switch (op->kind) {
        case WriteOp::Kind::kRecordAttempt:
          cache_->ApplyAttempt(op->attempt, op->memory);
          break;
        case WriteOp::Kind::kCreateUser:
          cache_->MarkUserKnown(op->user.user_id);
          break;
        case WriteOp::Kind::kAddUtterance:
          if (op->create_missing) cache_->MarkUserKnown(op->utterance.user_id);
          [[fallthrough]];
        case WriteOp::Kind::kAddErrors:
          cache_->AddExamples(op->utterance.user_id, ExamplesOf(op->utterance));
          break;
        case WriteOp::Kind::kCreateConversation:
        case WriteOp::Kind::kRecordErasure:
        case WriteOp::Kind::kUpdateUser:  // no part of the profile
          break;
        case WriteOp::Kind::kEraseUser:
          cache_->ForgetUser(op->user.user_id);
          metrics_->LearnerErased();
          // A record that it happened (the learner's id only), for operators
          // who must show that an erasure request was carried out.
          log::Info("learner erased", {{"user_id", op->user.user_id},
                                       {"conversations", op->erased.conversations},
                                       {"utterances", op->erased.utterances},
                                       {"errors", op->erased.errors},
                                       {"attempts", op->erased.attempts}});
          break;
      }
    }
  }
  // A failed batch may have committed all the same (PostgreSQL: its COMMIT's
  // answer was lost), and its retry would be a replay that adds nothing. The
  // shared cache (Redis) keeps its learners marked as in a commit, so that
  // every node reads them from the store until the marks are reaped with the
  // profiles: that survives this node (suspects_ does not, and a retry may
  // go to another node). This node's own entries are read again from the
  // store once it answers again (this commit): until then they are served as
  // they were, while the store is down, rather than not at all.
  cache_->EndCommit(f.users, f.may_have_committed ? CommitEnd::kInDoubt : CommitEnd::kSettled);
  if (f.may_have_committed) {
    suspects_.insert(f.users.begin(), f.users.end());
  } else if (s.ok() && !suspects_.empty()) {
    const std::vector<std::string> ids(suspects_.begin(), suspects_.end());
    suspects_.clear();
    cache_->BeginCommit(ids);
    cache_->EndCommit(ids, CommitEnd::kReload);
  }
  if (s.ok() && sync_thread_.joinable()) {
    // Committed, not yet on disk: the sync thread acknowledges it after its
    // fsync, while this thread goes on with the next batch.
    {
      std::lock_guard lock(sync_mu_);
      for (auto& r : f.requests) unsynced_.push_back(std::move(r));
    }
    sync_cv_.notify_one();
    return;
  }
  for (auto& r : f.requests) {
    r->status = s;
    if (r->done) r->done(*r);
  }
}

void Writer::SyncLoop() {
  for (;;) {
    std::vector<std::unique_ptr<WriteRequest>> acks;
    {
      std::unique_lock lock(sync_mu_);
      sync_cv_.wait(lock, [this] { return sync_stopping_ || !unsynced_.empty(); });
      if (unsynced_.empty()) return;  // stopping, and everything is acknowledged
      acks.swap(unsynced_);
    }
    // One fsync covers every batch committed before it started.
    const auto start = std::chrono::steady_clock::now();
    const Status s = store_->SyncCommitted();
    metrics_->ObserveSync(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (!s.ok()) {
      // After a failed fsync the kernel may have dropped the dirty pages: what
      // is on disk is unknown, and retrying could wrongly report success. Do
      // what PostgreSQL does: stop, and let recovery start from the disk.
      // Nothing here was acknowledged.
      log::Error("fsync of committed writes failed; exiting so that recovery starts from the disk",
                 {{"error", s.message()}, {"requests", acks.size()}});
      std::abort();
    }
    for (auto& r : acks) {
      r->status = Status::Ok();
      if (r->done) r->done(*r);
    }
  }
}

}  // namespace errata
