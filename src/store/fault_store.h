// FaultStore: a Store that forwards to another and fails on demand, for tests
// of what errata does when its store is down or its disk is full.
#pragma once

#include <atomic>
#include <functional>

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

  std::string Describe() const override { return "fault:" + inner_->Describe(); }
  Status ApplyBatch(const std::vector<WriteOp*>& ops, DeltaSet* deltas) override {
    if (failing_) {
      const Status s = Status::Unavailable("injected fault: disk full");
      for (WriteOp* op : ops) op->status = s;
      return s;
    }
    return inner_->ApplyBatch(ops, deltas);
  }
  bool DeferredSync() const override { return inner_->DeferredSync(); }
  Status SyncCommitted() override { return inner_->SyncCommitted(); }
  Result<User> GetUser(const std::string& id) override {
    return failing_ ? Result<User>(Down()) : inner_->GetUser(id);
  }
  Result<User> FindUserByEmail(const std::string& email) override {
    return failing_ ? Result<User>(Down()) : inner_->FindUserByEmail(email);
  }
  Result<ConversationView> GetConversation(const std::string& id) override {
    return failing_ ? Result<ConversationView>(Down()) : inner_->GetConversation(id);
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
  Result<std::vector<DayCount>> ErrorsPerDay(const std::string& id, Micros a, Micros b) override {
    return failing_ ? Result<std::vector<DayCount>>(Down()) : inner_->ErrorsPerDay(id, a, b);
  }
  Status Ping() override { return failing_ ? Down() : inner_->Ping(); }

 private:
  static Status Down() { return Status::Unavailable("injected fault: store down"); }
  Store* inner_;
  std::atomic<bool> failing_{false};
};

}  // namespace errata
