#include "store/compare.h"

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "core/hash.h"

namespace errata {
namespace {

constexpr int kKinds = 5;      // user, conversation, utterance, attempt, tombstone
constexpr int kGroups = 4096;  // groups of ids per kind

int KindIndex(const WriteOp& op) {
  switch (op.kind) {
    case WriteOp::Kind::kCreateUser: return 0;
    case WriteOp::Kind::kCreateConversation: return 1;
    case WriteOp::Kind::kAddUtterance:
    case WriteOp::Kind::kAddErrors: return 2;
    case WriteOp::Kind::kRecordAttempt: return 3;
    case WriteOp::Kind::kEraseUser:
    case WriteOp::Kind::kUpdateUser: return 0;  // never exported
    case WriteOp::Kind::kRecordErasure: return 4;
  }
  return 2;
}

// The digest's slot of a record: its kind and the group of its id.
int Slot(const WriteOp& op) {
  const uint64_t h = Fingerprint().Add(RecordId(op)).value();
  return KindIndex(op) * kGroups + static_cast<int>(h % kGroups);
}

void AddOptional(Fingerprint& f, const std::optional<std::string>& s) {
  f.Add(int64_t{s.has_value()});
  if (s) f.Add(*s);
}

// Everything of a record that a copy keeps, and nothing a store works out
// from it. Errors are hashed in id order: a store may list them in another.
uint64_t RecordHash(const WriteOp& op) {
  Fingerprint f;
  f.Add(int64_t{KindIndex(op)});
  switch (op.kind) {
    case WriteOp::Kind::kCreateUser:
      f.Add(op.user.user_id).Add(op.user.username).Add(op.user.created_at);
      AddOptional(f, op.user.email);
      break;
    case WriteOp::Kind::kCreateConversation:
      f.Add(op.conversation.conversation_id).Add(op.conversation.user_id)
          .Add(op.conversation.started_at);
      break;
    case WriteOp::Kind::kAddUtterance:
    case WriteOp::Kind::kAddErrors: {
      const Utterance& u = op.utterance;
      f.Add(u.utterance_id).Add(u.conversation_id).Add(u.user_id).Add(u.created_at);
      AddOptional(f, u.content);
      f.Add(static_cast<int64_t>(op.request_hash));
      std::vector<const ErrorRecord*> errors;
      errors.reserve(u.errors.size());
      for (const ErrorRecord& e : u.errors) errors.push_back(&e);
      std::sort(errors.begin(), errors.end(),
                [](const ErrorRecord* a, const ErrorRecord* b) { return a->error_id < b->error_id; });
      f.Add(static_cast<int64_t>(errors.size()));
      for (const ErrorRecord* e : errors) {
        f.Add(e->error_id).Add(e->category).Add(e->subcategory).Add(e->subcategory_id)
            .Add(e->code).Add(e->created_at);
        f.Add(int64_t{e->span.has_value()});
        if (e->span) f.Add(e->span->start).Add(e->span->end);
        AddOptional(f, e->original);
        AddOptional(f, e->correction);
        AddOptional(f, e->explanation);
      }
      break;
    }
    case WriteOp::Kind::kRecordAttempt: {
      const Attempt& a = op.attempt;
      f.Add(a.attempt_id).Add(a.user_id).Add(a.exercise_id).Add(a.subcategory_id)
          .Add(int64_t{a.correct}).Add(a.answered_at);
      AddOptional(f, a.answer);
      f.Add(int64_t{op.memory_given});
      if (op.memory_given) {
        const MemoryState& m = op.memory;
        f.Add(std::bit_cast<int64_t>(m.stability_days)).Add(std::bit_cast<int64_t>(m.difficulty))
            .Add(m.last_review).Add(m.reviews).Add(m.lapses).Add(m.last_correct).Add(m.last_lapse);
      }
      break;
    }
    case WriteOp::Kind::kEraseUser:  // never exported
    case WriteOp::Kind::kUpdateUser:
      f.Add(op.user.user_id);
      break;
    case WriteOp::Kind::kRecordErasure:
      f.Add(op.user.user_id).Add(op.erased_at).Add(op.erased.conversations)
          .Add(op.erased.utterances).Add(op.erased.errors).Add(op.erased.attempts);
      break;
  }
  return f.value();
}

struct Group {
  int64_t records = 0;
  uint64_t sum = 0;  // of the records' hashes, modulo 2^64
  bool operator==(const Group&) const = default;
};

// One side of a comparison: its store's export, folded as it comes.
struct Side {
  Store* store = nullptr;
  std::vector<Group> digest = std::vector<Group>(kKinds * kGroups);
  // Second pass: the records of the examined slots, "<kind index><id>" -> hash.
  const std::set<int>* examine = nullptr;
  std::map<std::string, uint64_t> records;
  CopyCounts counts;  // guarded by the comparison's mutex
  Status status;

  void Fold(const WriteOp& op) {
    const int slot = Slot(op);
    if (examine == nullptr) {
      Group& g = digest[slot];
      ++g.records;
      g.sum += RecordHash(op);
    } else if (examine->count(slot) != 0) {
      records[std::string(1, static_cast<char>('0' + KindIndex(op))) + RecordId(op)] = RecordHash(op);
    }
  }
};

// The status of a side's export, saying which store it came from.
Status Named(Store* store, const Status& s) {
  std::string m = store->Describe() + ": " + s.message();
  switch (s.code()) {
    case Status::Code::kInvalidArgument: return Status::InvalidArgument(std::move(m));
    case Status::Code::kNotFound: return Status::NotFound(std::move(m));
    case Status::Code::kConflict: return Status::Conflict(std::move(m));
    case Status::Code::kUnavailable: return Status::Unavailable(std::move(m));
    default: return Status::Internal(std::move(m));
  }
}

// Exports both stores at once, each on a thread of its own, folding every
// record into its side; calls progress about once a second meanwhile.
Status ExportBoth(Side* from, Side* to, const CompareOptions& options) {
  std::mutex mu;
  std::condition_variable cv;
  int running = 2;  // guarded by mu
  auto run = [&](Side* side) {
    auto fold = [&](std::vector<WriteOp>& page) {
      CopyCounts add;
      for (const WriteOp& op : page) {
        side->Fold(op);
        CountRecord(op, &add);
      }
      std::lock_guard lock(mu);
      side->counts.users += add.users;
      side->counts.conversations += add.conversations;
      side->counts.utterances += add.utterances;
      side->counts.errors += add.errors;
      side->counts.attempts += add.attempts;
      side->counts.erased += add.erased;
      return Status::Ok();
    };
    // Digests do not depend on the order: each store reads its fastest.
    Status s = side->store->Export(std::max<size_t>(options.page, 1), ExportOrder::kAny, fold);
    std::lock_guard lock(mu);
    side->status = s;
    --running;
    cv.notify_all();
  };
  from->counts = to->counts = CopyCounts{};
  std::thread a(run, from), b(run, to);
  {
    std::unique_lock lock(mu);
    while (!cv.wait_for(lock, std::chrono::seconds(1), [&] { return running == 0; })) {
      if (options.progress) options.progress(from->counts, to->counts);
    }
  }
  a.join();
  b.join();
  if (!from->status.ok()) return Named(from->store, from->status);
  if (!to->status.ok()) return Named(to->store, to->status);
  return Status::Ok();
}

const char* const kKindNames[kKinds] = {"user", "conversation", "utterance", "attempt", "erased"};

}  // namespace

const char* DescribeWhere(RecordDifference::Where where) {
  switch (where) {
    case RecordDifference::Where::kOnlyInFrom: return "only in --from";
    case RecordDifference::Where::kOnlyInTo: return "only in --to";
    case RecordDifference::Where::kBothDiffer: return "differs";
  }
  return "differs";
}

Status CompareStores(Store* from, Store* to, const CompareOptions& options, CompareReport* report) {
  *report = CompareReport{};
  report->groups = kKinds * kGroups;
  Side a, b;
  a.store = from;
  b.store = to;
  if (Status s = ExportBoth(&a, &b, options); !s.ok()) return s;
  report->from = a.counts;
  report->to = b.counts;
  std::set<int> examine;
  for (int slot = 0; slot < kKinds * kGroups; ++slot) {
    if (a.digest[slot] == b.digest[slot]) continue;
    ++report->groups_differing;
    if (static_cast<int>(examine.size()) < options.examine_groups) examine.insert(slot);
  }
  if (examine.empty()) return Status::Ok();
  report->groups_examined = static_cast<int>(examine.size());

  Side again_a, again_b;
  again_a.store = from;
  again_b.store = to;
  again_a.examine = again_b.examine = &examine;
  if (Status s = ExportBoth(&again_a, &again_b, options); !s.ok()) return s;
  auto add = [&](const std::string& key, RecordDifference::Where where) {
    if (report->differences.size() >= options.max_differences) return;
    report->differences.push_back(
        RecordDifference{kKindNames[key[0] - '0'], key.substr(1), where});
  };
  // Both maps are in key order: kind, then id.
  auto i = again_a.records.begin();
  auto j = again_b.records.begin();
  while (i != again_a.records.end() || j != again_b.records.end()) {
    if (j == again_b.records.end() || (i != again_a.records.end() && i->first < j->first)) {
      add(i->first, RecordDifference::Where::kOnlyInFrom);
      ++i;
    } else if (i == again_a.records.end() || j->first < i->first) {
      add(j->first, RecordDifference::Where::kOnlyInTo);
      ++j;
    } else {
      if (i->second != j->second) add(i->first, RecordDifference::Where::kBothDiffer);
      ++i;
      ++j;
    }
  }
  return Status::Ok();
}

}  // namespace errata
