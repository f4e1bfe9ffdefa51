#include "store/writer.h"

#include <pthread.h>

#include <chrono>

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
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "writer");
    Run();
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
    std::lock_guard lock(sync_mu_);
    sync_stopping_ = true;
  }
  sync_cv_.notify_all();
  if (sync_thread_.joinable()) sync_thread_.join();  // after it acknowledged the rest
}

Status Writer::Submit(std::unique_ptr<WriteRequest> request) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Status::Unavailable("server is shutting down");
    if (queue_.size() >= options_.queue_capacity) {
      metrics_->QueueRejected();
      return Status::Unavailable("write queue is full");
    }
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

// Waits for a first request, then lingers up to flush_interval for more,
// unless the batch is full. Returns an empty batch only when stopping.
std::vector<std::unique_ptr<WriteRequest>> Writer::TakeBatch() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
  if (!stopping_ && queue_.size() < options_.max_batch && options_.flush_interval > 0) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::microseconds(options_.flush_interval);
    cv_.wait_until(lock, deadline,
                   [this] { return stopping_ || queue_.size() >= options_.max_batch; });
  }
  std::vector<std::unique_ptr<WriteRequest>> batch;
  size_t ops = 0;
  while (!queue_.empty() && batch.size() < options_.max_batch &&
         (batch.empty() || ops + queue_.front()->ops.size() <= options_.max_batch_ops)) {
    ops += queue_.front()->ops.size();
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  metrics_->SetQueueDepth(static_cast<int64_t>(queue_.size()));
  return batch;
}

void Writer::Run() {
  for (;;) {
    auto batch = TakeBatch();
    if (batch.empty()) return;  // stopping, and the queue is drained
    Commit(batch);
  }
}

namespace {
// The learner whose profile an op changes.
const std::string& UserOf(const WriteOp& op) {
  switch (op.kind) {
    case WriteOp::Kind::kCreateUser: return op.user.user_id;
    case WriteOp::Kind::kCreateConversation: return op.conversation.user_id;
    case WriteOp::Kind::kRecordAttempt: return op.attempt.user_id;
    default: return op.utterance.user_id;
  }
}
}  // namespace

void Writer::Commit(std::vector<std::unique_ptr<WriteRequest>>& batch) {
  std::vector<WriteOp*> ops;
  for (auto& r : batch) {
    for (auto& op : r->ops) ops.push_back(&op);
  }
  std::vector<std::string> users;
  users.reserve(ops.size());
  for (const WriteOp* op : ops) users.push_back(UserOf(*op));
  cache_->BeginCommit(users);
  DeltaSet deltas(0);
  const auto start = std::chrono::steady_clock::now();
  const Status s = store_->ApplyBatch(ops, &deltas);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  metrics_->ObserveCommit(batch.size(), ops.size(), seconds, s.ok());
  healthy_.store(s.ok());
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
          break;
      }
    }
  }
  cache_->EndCommit(users);
  if (s.ok() && sync_thread_.joinable()) {
    // Committed, not yet on disk: the sync thread acknowledges it after its
    // fsync, while this thread goes on with the next batch.
    {
      std::lock_guard lock(sync_mu_);
      for (auto& r : batch) unsynced_.push_back(std::move(r));
    }
    sync_cv_.notify_one();
    return;
  }
  for (auto& r : batch) {
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
