// ProfileCache: a bounded, sharded LRU of learners' profiles that reads
// through to the Store. Hot learners are served from memory; the Writer
// applies each committed batch's deltas so cached profiles stay exact.
// Thread-safe: any thread may Get; the Writer thread calls Apply*.
#pragma once

#include <array>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/delta_set.h"
#include "core/profile.h"
#include "metrics/metrics.h"
#include "store/store.h"

namespace errata {

class ProfileCache {
 public:
  struct Options {
    size_t capacity = 200'000;  // learners held at most
    Micros ttl = 0;             // 0: entries never expire (one node owns the writes)
  };
  ProfileCache(Store* store, Metrics* metrics, Options options);

  // The learner's profile (empty for a learner with no errors). On a miss it
  // loads from the store; a store failure comes back as its Status.
  // The returned profile is immutable and stays valid while held.
  Result<std::shared_ptr<const Profile>> Get(const std::string& user_id);

  // Brackets a commit of writes for `user_ids`: Begin before the transaction
  // commits, End after its effects were applied here. Reads that load from
  // the store meanwhile are served but not cached, so a load can neither miss
  // the commit nor count it twice.
  void BeginCommit(const std::vector<std::string>& user_ids);
  void EndCommit(const std::vector<std::string>& user_ids);

  // Applies committed deltas to the cached profiles they touch.
  void ApplyDeltas(const DeltaSet& deltas);
  // Records a committed attempt: the point's new memory state, and the
  // exercise among the recent correct answers when it was right.
  void ApplyAttempt(const Attempt& attempt, const MemoryState& memory);
  // Adds the learner's newest corrected errors (for own-words exercises).
  void AddExamples(const std::string& user_id, const std::vector<Example>& examples);
  // Records that the learner now exists (after a committed create).
  void MarkUserKnown(const std::string& user_id);
  size_t size() const;

 private:
  struct Entry {
    std::shared_ptr<const Profile> profile;
    std::list<std::string>::iterator lru;
    Micros loaded_at = 0;
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Entry> map;  // guarded by mu
    std::list<std::string> lru;                  // guarded by mu; front = most recent
    // Per hash slot of user ids: commits in progress, and a generation bumped
    // when one starts or ends. A load is cached only if no commit touching its
    // slot was in progress or started meanwhile (guarded by mu).
    std::array<uint32_t, 256> committing{};
    std::array<uint32_t, 256> generation{};
  };
  static size_t Slot(const std::string& user_id);
  Shard& ShardFor(const std::string& user_id);
  // Copies the cached profile of `user_id`, lets `edit` change it, and swaps
  // it in. Caller holds shard.mu. Does nothing if the learner is not cached.
  template <typename Edit>
  void Update(Shard& shard, const std::string& user_id, Edit edit);
  void Insert(Shard& shard, const std::string& user_id, std::shared_ptr<const Profile> p);

  Store* store_;
  Metrics* metrics_;
  Options options_;
  size_t per_shard_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace errata
