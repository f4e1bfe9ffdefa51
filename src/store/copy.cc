#include "store/copy.h"

#include <fmt/format.h>

#include <vector>

#include "core/delta_set.h"

namespace errata {
namespace {

const char* KindName(WriteOp::Kind k) {
  switch (k) {
    case WriteOp::Kind::kCreateUser: return "user";
    case WriteOp::Kind::kCreateConversation: return "conversation";
    case WriteOp::Kind::kAddUtterance: return "utterance";
    case WriteOp::Kind::kAddErrors: return "errors";
    case WriteOp::Kind::kRecordAttempt: return "attempt";
  }
  return "record";
}

const std::string& IdOf(const WriteOp& op) {
  switch (op.kind) {
    case WriteOp::Kind::kCreateUser: return op.user.user_id;
    case WriteOp::Kind::kCreateConversation: return op.conversation.conversation_id;
    case WriteOp::Kind::kRecordAttempt: return op.attempt.attempt_id;
    default: return op.utterance.utterance_id;
  }
}

void Count(const WriteOp& op, CopyCounts* c) {
  switch (op.kind) {
    case WriteOp::Kind::kCreateUser: ++c->users; break;
    case WriteOp::Kind::kCreateConversation: ++c->conversations; break;
    case WriteOp::Kind::kAddUtterance:
    case WriteOp::Kind::kAddErrors:
      ++c->utterances;
      c->errors += static_cast<int64_t>(op.utterance.errors.size());
      break;
    case WriteOp::Kind::kRecordAttempt: ++c->attempts; break;
  }
}

// A sink's way to stop an export early: not an error.
constexpr const char* kStop = "errata copy: stop";

}  // namespace

Result<bool> StoreIsEmpty(Store* store) {
  bool empty = true;
  Status s = store->Export(1, [&empty](std::vector<WriteOp>&) {
    empty = false;
    return Status::Internal(kStop);
  });
  if (!s.ok() && !(s.code() == Status::Code::kInternal && s.message() == kStop)) return s;
  return empty;
}

Status CopyStore(Store* from, Store* to, const CopyOptions& options, CopyCounts* counts) {
  *counts = CopyCounts{};
  auto empty = StoreIsEmpty(to);
  if (!empty.ok()) return empty.status();
  if (!*empty) {
    return Status::InvalidArgument(to->Describe() + " already holds records: copy into an empty store");
  }
  const size_t batch = options.batch == 0 ? 1 : options.batch;
  std::vector<WriteOp*> ops;
  Status s = from->Export(batch, [&](std::vector<WriteOp>& page) -> Status {
    ops.clear();
    for (WriteOp& op : page) ops.push_back(&op);
    DeltaSet deltas(kMicrosPerDay);  // the target computes its own; unused here
    if (Status s = to->ApplyBatch(ops, &deltas); !s.ok()) return s;
    for (const WriteOp& op : page) {
      if (!op.status.ok() || op.replayed) {
        return Status::InvalidArgument(fmt::format(
            "the {} {} could not be copied: {}", KindName(op.kind), IdOf(op),
            op.replayed ? "the target already holds it" : op.status.message()));
      }
      Count(op, counts);
    }
    if (options.progress) options.progress(*counts);
    return Status::Ok();
  });
  // A store with deferred sync (SQLite) makes its commits durable here, all
  // at once: nothing of a copy is used before it has finished.
  if (s.ok() && to->DeferredSync()) s = to->SyncCommitted();
  return s;
}

}  // namespace errata
