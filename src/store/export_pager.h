// ExportPager: what every store's Export shares. It turns the records a store
// reads into the write ops that make them again (store.h, ExportSink), and
// hands them to the sink a page at a time.
#pragma once

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/mastery.h"
#include "store/store.h"

namespace errata {

class ExportPager {
 public:
  ExportPager(size_t page, const ExportSink& sink) : page_(page == 0 ? 1 : page), sink_(sink) {}

  Status User(errata::User u) {
    WriteOp& op = Next(WriteOp::Kind::kCreateUser);
    op.user = std::move(u);
    return Flush(false);
  }
  Status Conversation(errata::Conversation c) {
    WriteOp& op = Next(WriteOp::Kind::kCreateConversation);
    op.conversation = std::move(c);
    return Flush(false);
  }
  // An utterance with all its errors, including those added to it later.
  Status Utterance(errata::Utterance u, uint64_t request_hash) {
    WriteOp& op = Next(WriteOp::Kind::kAddUtterance);
    op.utterance = std::move(u);
    op.request_hash = request_hash;
    return Flush(false);
  }
  // One learner's attempts, in the order they are to be applied, and the
  // memory state of each point the learner has one for. The last attempt at
  // each point carries its state; a state with no attempt is dropped (every
  // state comes from an attempt).
  Status Learner(std::vector<Attempt> attempts,
                 const std::unordered_map<std::string, MemoryState>& memory) {
    std::unordered_map<std::string, size_t> last;  // subcategory id -> index in ops_
    for (Attempt& a : attempts) {
      WriteOp& op = Next(WriteOp::Kind::kRecordAttempt);
      op.attempt = std::move(a);
      last[op.attempt.subcategory_id] = ops_.size() - 1;
    }
    for (const auto& [sub, i] : last) {
      auto m = memory.find(sub);
      if (m == memory.end()) continue;
      ops_[i].memory_given = true;
      ops_[i].memory = m->second;
    }
    return Flush(false);  // a learner's attempts stay in one page
  }
  // An erased learner's tombstone (docs/erasure.md).
  Status Erased(std::string user_id, Micros at, const WriteOp::Erased& counts) {
    WriteOp& op = Next(WriteOp::Kind::kRecordErasure);
    op.user.user_id = std::move(user_id);
    op.erased_at = at;
    op.erased = counts;
    return Flush(false);
  }
  // Hands over what is left.
  Status Finish() { return Flush(true); }

 private:
  WriteOp& Next(WriteOp::Kind kind) {
    ops_.emplace_back();
    ops_.back().kind = kind;
    return ops_.back();
  }
  Status Flush(bool all) {
    if (ops_.empty() || (!all && ops_.size() < page_)) return Status::Ok();
    Status s = sink_(ops_);
    ops_.clear();
    return s;
  }

  size_t page_;
  const ExportSink& sink_;
  std::vector<WriteOp> ops_;
};

}  // namespace errata
