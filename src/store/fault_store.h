// FaultStore: a Store that forwards to another and fails on demand, for tests
// of what errata does when its store is down or its disk is full.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

#include "store/store.h"

namespace errata {

class FaultStore : public Store {
 public:
  explicit FaultStore(Store* inner) : inner_(inner) {}

  // While set, every call fails with Unavailable and changes nothing.
  void set_failing(bool failing) { failing_.store(failing); }
  // Runs at the start of every LoadProfile (set it before any thread loads):
  // lets a test make something happen while a load is in progress.
  std::function<void()> during_load;
  // Pipelined stores: runs after every PrepareBatch, with whether a batch was
  // being written meanwhile, and at the start of every WritePrepared (set
  // them before the writer starts): lets a test hold a write until the next
  // batch is prepared.
  std::function<void(bool behind)> after_prepare;
  std::function<void()> before_write;
  // The next WritePrepared fails with Unavailable and writes nothing.
  void fail_next_write() { fail_next_write_.store(true); }
  // The next batch (ApplyBatch or WritePrepared) commits, then fails with
  // Unavailable all the same: a commit whose outcome the writer cannot know,
  // as when PostgreSQL's connection drops after COMMIT was sent.
  void lose_next_commit_answer() { lose_next_answer_.store(true); }

  std::string Describe() const override { return "fault:" + inner_->Describe(); }
  Status ApplyBatch(const std::vector<WriteOp*>& ops, DeltaSet* deltas) override {
    if (failing_) return FailBatch(DiskFull(), ops);
    return Answer(inner_->ApplyBatch(ops, deltas), ops);
  }
  bool MayHaveCommitted() const override { return lost_answer_ || inner_->MayHaveCommitted(); }
  bool DeferredSync() const override { return inner_->DeferredSync(); }
  bool PrefersWriteOrder() const override { return inner_->PrefersWriteOrder(); }
  bool Pipelined() const override { return inner_->Pipelined(); }
  Result<std::unique_ptr<PreparedBatch>> PrepareBatch(const std::vector<WriteOp*>& ops,
                                                      const PreparedBatch* behind) override {
    if (failing_) return FailBatch(DiskFull(), ops);
    const PreparedBatch* inner_behind =
        behind != nullptr ? static_cast<const Prepared*>(behind)->inner.get() : nullptr;
    auto inner = inner_->PrepareBatch(ops, inner_behind);
    if (after_prepare) after_prepare(behind != nullptr);
    if (!inner.ok()) return inner.status();
    auto p = std::make_unique<Prepared>();
    p->inner = std::move(*inner);
    p->ops = ops;
    return std::unique_ptr<PreparedBatch>(std::move(p));
  }
  Status WritePrepared(const PreparedBatch* batch) override {
    if (before_write) before_write();
    const auto* p = static_cast<const Prepared*>(batch);
    if (failing_ || fail_next_write_.exchange(false)) {
      return FailBatch(DiskFull(), p->ops);
    }
    return Answer(inner_->WritePrepared(p->inner.get()), p->ops);
  }
  Status SyncCommitted() override { return inner_->SyncCommitted(); }
  Result<std::unique_ptr<ReadSnapshot>> BeginReadSnapshot() override {
    return failing_ ? Result<std::unique_ptr<ReadSnapshot>>(Down()) : inner_->BeginReadSnapshot();
  }
  Result<User> GetUser(const std::string& id) override {
    return failing_ ? Result<User>(Down()) : inner_->GetUser(id);
  }
  Result<User> FindUserByEmail(const std::string& email) override {
    return failing_ ? Result<User>(Down()) : inner_->FindUserByEmail(email);
  }
  Result<ConversationView> GetConversation(const std::string& id) override {
    return failing_ ? Result<ConversationView>(Down()) : inner_->GetConversation(id);
  }
  Result<std::vector<ConversationSummary>> ListConversations(
      const std::string& id, const std::optional<ConversationCursor>& after,
      size_t limit) override {
    return failing_ ? Result<std::vector<ConversationSummary>>(Down())
                    : inner_->ListConversations(id, after, limit);
  }
  Result<std::vector<Attempt>> ListAttempts(const std::string& id) override {
    return failing_ ? Result<std::vector<Attempt>>(Down()) : inner_->ListAttempts(id);
  }
  Result<Profile> LoadProfile(const std::string& id) override {
    if (during_load) during_load();
    return failing_ ? Result<Profile>(Down()) : inner_->LoadProfile(id);
  }
  Result<Profile> ProfileBetween(const std::string& id, Micros a, Micros b) override {
    return failing_ ? Result<Profile>(Down()) : inner_->ProfileBetween(id, a, b);
  }
  Result<std::vector<User>> SearchCandidates(const std::string& p, size_t n) override {
    return failing_ ? Result<std::vector<User>>(Down()) : inner_->SearchCandidates(p, n);
  }
  Status Export(size_t page, ExportOrder order, const ExportSink& sink) override {
    return failing_ ? Down() : inner_->Export(page, order, sink);
  }
  Result<std::vector<DayCount>> ErrorsPerDay(const std::string& id, Micros a, Micros b) override {
    return failing_ ? Result<std::vector<DayCount>>(Down()) : inner_->ErrorsPerDay(id, a, b);
  }
  Status Ping() override { return failing_ ? Down() : inner_->Ping(); }
  Status BeginBulkLoad() override { return failing_ ? Down() : inner_->BeginBulkLoad(); }
  Status EndBulkLoad() override { return failing_ ? Down() : inner_->EndBulkLoad(); }

 private:
  struct Prepared : PreparedBatch {
    std::unique_ptr<PreparedBatch> inner;
    std::vector<WriteOp*> ops;
    const DeltaSet& deltas() const override { return inner->deltas(); }
  };
  static Status DiskFull() { return Status::Unavailable("injected fault: disk full"); }
  static Status Down() { return Status::Unavailable("injected fault: store down"); }
  // A committed batch's answer, or its loss (lose_next_commit_answer).
  Status Answer(Status committed, const std::vector<WriteOp*>& ops) {
    lost_answer_ = false;
    if (!committed.ok() || !lose_next_answer_.exchange(false)) return committed;
    lost_answer_ = true;
    return FailBatch(Status::Unavailable("injected fault: the commit's answer was lost"), ops);
  }
  Store* inner_;
  std::atomic<bool> failing_{false};
  std::atomic<bool> fail_next_write_{false};
  std::atomic<bool> lose_next_answer_{false};
  bool lost_answer_ = false;  // the last batch's (MayHaveCommitted)
};

}  // namespace errata
