#include "store/copy.h"

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "core/delta_set.h"

namespace errata {

const char* RecordKind(const WriteOp& op) {
  switch (op.kind) {
    case WriteOp::Kind::kCreateUser: return "user";
    case WriteOp::Kind::kCreateConversation: return "conversation";
    case WriteOp::Kind::kAddUtterance:
    case WriteOp::Kind::kAddErrors: return "utterance";
    case WriteOp::Kind::kRecordAttempt: return "attempt";
    case WriteOp::Kind::kEraseUser: return "erase";          // never exported
    case WriteOp::Kind::kUpdateUser: return "user update";  // never exported
    case WriteOp::Kind::kRecordErasure: return "erased";
  }
  return "record";
}

const std::string& RecordId(const WriteOp& op) {
  switch (op.kind) {
    case WriteOp::Kind::kCreateUser: return op.user.user_id;
    case WriteOp::Kind::kCreateConversation: return op.conversation.conversation_id;
    case WriteOp::Kind::kRecordAttempt: return op.attempt.attempt_id;
    case WriteOp::Kind::kEraseUser:
    case WriteOp::Kind::kRecordErasure:
    case WriteOp::Kind::kUpdateUser: return op.user.user_id;
    default: return op.utterance.utterance_id;
  }
}

void CountRecord(const WriteOp& op, CopyCounts* c) {
  switch (op.kind) {
    case WriteOp::Kind::kCreateUser: ++c->users; break;
    case WriteOp::Kind::kCreateConversation: ++c->conversations; break;
    case WriteOp::Kind::kAddUtterance:
    case WriteOp::Kind::kAddErrors:
      ++c->utterances;
      c->errors += static_cast<int64_t>(op.utterance.errors.size());
      break;
    case WriteOp::Kind::kRecordAttempt: ++c->attempts; break;
    case WriteOp::Kind::kEraseUser:
    case WriteOp::Kind::kUpdateUser: break;  // never exported
    case WriteOp::Kind::kRecordErasure: ++c->erased; break;
  }
}

namespace {

// A sink's way to stop an export early: not an error.
constexpr const char* kStop = "errata copy: stop";

}  // namespace

Result<bool> StoreIsEmpty(Store* store) {
  bool empty = true;
  Status s = store->Export(1, ExportOrder::kAny, [&empty](std::vector<WriteOp>&) {
    empty = false;
    return Status::Internal(kStop);
  });
  if (!s.ok() && !(s.code() == Status::Code::kInternal && s.message() == kStop)) return s;
  return empty;
}

namespace {

// Applies one page to the target; every op must apply.
Status ApplyPage(Store* to, std::vector<WriteOp>& page, CopyCounts* counts) {
  std::vector<WriteOp*> ops;
  ops.reserve(page.size());
  for (WriteOp& op : page) ops.push_back(&op);
  DeltaSet deltas(kMicrosPerDay);  // the target computes its own; unused here
  if (Status s = to->ApplyBatch(ops, &deltas); !s.ok()) return s;
  for (const WriteOp& op : page) {
    if (!op.status.ok() || op.replayed) {
      return Status::InvalidArgument(fmt::format(
          "the {} {} could not be copied: {}", RecordKind(op), RecordId(op),
          op.replayed ? "the target already holds it" : op.status.message()));
    }
    CountRecord(op, counts);
  }
  return Status::Ok();
}

}  // namespace

// The source's reads and the target's writes overlap: Export runs on a
// thread of its own and hands its pages over through a queue of two, and
// this thread applies them in order.
Status CopyStore(Store* from, Store* to, const CopyOptions& options, CopyCounts* counts) {
  *counts = CopyCounts{};
  auto empty = StoreIsEmpty(to);
  if (!empty.ok()) return empty.status();
  if (!*empty) {
    return Status::InvalidArgument(to->Describe() + " already holds records: copy into an empty store");
  }
  // The mark is on disk before the first batch: a copy that stops later
  // always leaves a store that says so.
  if (Status s = to->BeginBulkLoad(); !s.ok()) return s;
  if (to->DeferredSync()) {
    if (Status s = to->SyncCommitted(); !s.ok()) return s;
  }
  constexpr size_t kAhead = 2;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::vector<WriteOp>> pages;  // guarded by mu
  bool exported = false;                   // guarded by mu
  bool stop = false;                       // guarded by mu: the target failed
  Status exported_status;                  // guarded by mu
  std::thread reader([&] {
    auto hand_over = [&](std::vector<WriteOp>& page) {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return pages.size() < kAhead || stop; });
      if (stop) return Status::Internal(kStop);
      pages.push_back(std::move(page));
      cv.notify_all();
      return Status::Ok();
    };
    const ExportOrder order = to->PrefersWriteOrder() ? ExportOrder::kWritten : ExportOrder::kAny;
    Status s = from->Export(std::max<size_t>(options.batch, 1), order, hand_over);
    std::lock_guard lock(mu);
    exported = true;
    exported_status = s;
    cv.notify_all();
  });
  Status s;
  for (;;) {
    std::vector<WriteOp> page;
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return !pages.empty() || exported; });
      if (pages.empty()) break;
      page = std::move(pages.front());
      pages.pop_front();
      cv.notify_all();
    }
    if (s = ApplyPage(to, page, counts); !s.ok()) break;
    if (options.progress) options.progress(*counts);
  }
  {
    std::lock_guard lock(mu);
    stop = true;
    cv.notify_all();
  }
  reader.join();
  if (s.ok()) s = exported_status;
  if (s.ok()) s = to->EndBulkLoad();
  // A store with deferred sync (SQLite) makes its commits durable here, all
  // at once: nothing of a copy is used before it has finished.
  if (s.ok() && to->DeferredSync()) s = to->SyncCommitted();
  return s;
}

}  // namespace errata
