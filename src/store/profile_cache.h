// ProfileCache: a bounded, sharded LRU of learners' profiles that reads
// through to the Store. Hot learners are served from memory; the Writer
// applies each committed batch's deltas so cached profiles stay exact.
// With a SharedProfiles (Redis, --cache redis://...), reads go to it instead
// while it is up, and the local LRU (with its TTL) only serves while it is
// down; the Writer's commit brackets and deltas go to both.
// Thread-safe: any thread may Get. One of the Writer's threads at a time
// calls Apply* and EndCommit (the publish thread, with a local cache), and
// BeginCommit may come from another (the writer's) meanwhile.
#pragma once

#include <array>
#include <atomic>
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

// How a commit that the cache bracketed ended (ProfileCache::EndCommit).
enum class CommitEnd {
  // Committed, and its effects were applied; or failed for certain, with none.
  kSettled,
  // Failed, and may have committed all the same (PostgreSQL: the connection
  // dropped after COMMIT was sent; Store::MayHaveCommitted). A retry would be
  // a replay that adds nothing, so the shared cache keeps the learners marked
  // as in a commit: every node reads them from the store until the marks are
  // reaped with the profiles (docs/redis.md, "A failed batch"). The marks, not
  // this node's memory, carry the doubt: it outlives the node.
  kInDoubt,
  // The learners' profiles are suspect (an earlier batch of theirs was in
  // doubt): the shared copies are dropped, the local ones read again.
  kReload,
};

// A profile cache shared by every node (store/redis/redis_profiles.h). The
// calls of one commit come from one thread, in order: BeginCommit before the
// store commit, the Apply* of its effects, then EndCommit before the writes
// are acknowledged. It never throws and never blocks a write on its own
// failure: it counts the error, reports itself down (ok() false) and recovers
// by itself.
class SharedProfiles {
 public:
  virtual ~SharedProfiles() = default;
  virtual std::string Describe() const = 0;
  // In use: reads may be served from it.
  virtual bool ok() const = 0;
  // Why it is not ok (empty when it is).
  virtual std::string last_error() const = 0;

  // What a lookup hands on: after a miss, to Fill, so a fill cannot race a
  // commit; after a hit or a fill, to Current, which tells later whether the
  // shared copy is still the one read then.
  struct Ticket {
    std::string generation;
    std::string version;
    // When the learner's commit-state record in the shared cache expires, by
    // the steady clock (µs); 0 when unknown or it has none. A record that is
    // dropped and made again restarts its versions: its expiry tells.
    Micros state_expires = 0;
    // kBypass: *out holds the shared copy, which may lack the commit in
    // progress; serve it only if the store cannot be read.
    bool copy = false;
  };
  enum class Lookup {
    kHit,          // *out is the learner's profile
    kMiss,         // absent: load from the store, then Fill with *ticket
    kBypass,       // a commit for the learner is in progress: read the store, do not fill
    kUnavailable,  // down: use the local cache
  };
  virtual Lookup Get(const std::string& user_id, std::shared_ptr<const Profile>* out,
                     Ticket* ticket) = 0;
  // Whether the learner's shared copy is still the one a kHit (or a kMiss
  // and its Fill) handed out `ticket` for: no commit touched the learner
  // since, none is in progress, no recovery began. False when it cannot
  // tell (the ticket, or the shared cache, says too little).
  virtual bool Current(const std::string& user_id, const Ticket& ticket) = 0;
  virtual void Fill(const std::string& user_id, const Profile& profile, const Ticket& ticket) = 0;

  virtual void BeginCommit(const std::vector<std::string>& user_ids) = 0;
  virtual void ApplyDeltas(const DeltaSet& deltas) = 0;
  virtual void ApplyAttempt(const Attempt& attempt, const MemoryState& memory) = 0;
  virtual void AddExamples(const std::string& user_id, const std::vector<Example>& examples) = 0;
  virtual void MarkUserKnown(const std::string& user_id) = 0;
  // The learner was erased: drop the shared copy.
  virtual void ForgetUser(const std::string& user_id) = 0;
  // Ends the commit BeginCommit started (see CommitEnd).
  virtual void EndCommit(CommitEnd end) = 0;
};

class ProfileCache {
 public:
  struct Options {
    size_t capacity = 0;  // learners held at most; 0: no limit but max_bytes
    // How long a loaded profile is served before it is loaded again. 0: never
    // expire (one node owns the writes). Nodes sharing a store without Redis
    // set it short (1 s): a node may serve a profile up to ttl old after a
    // write through another node; writes are never lost.
    Micros ttl = 0;
    // The memory the cached profiles may hold, by Profile::MemoryBytes plus
    // each entry's own cost (docs/profile-memory.md); 0: no limit but capacity.
    size_t max_bytes = size_t{768} << 20;
  };
  // `shared` (may be null) outlives the cache.
  ProfileCache(Store* store, Metrics* metrics, Options options, SharedProfiles* shared = nullptr);

  // "local", or the shared cache's description (redis://host:port/db).
  std::string Describe() const;
  // False while the shared cache is configured but down (reads then use the
  // store through the local cache); true otherwise.
  bool shared_ok() const { return shared_ == nullptr || shared_->ok(); }
  // Whether a shared cache (Redis) is configured.
  bool shared() const { return shared_ != nullptr; }
  std::string shared_error() const { return shared_ == nullptr ? "" : shared_->last_error(); }

  // The learner's profile (empty for a learner with no errors). On a miss it
  // loads from the store; a store failure comes back as its Status.
  // The returned profile is immutable and stays valid while held.
  Result<std::shared_ptr<const Profile>> Get(const std::string& user_id);

  // Brackets a commit of writes for `user_ids`: Begin before the transaction
  // commits, End after its effects were applied here. Reads that load from
  // the store meanwhile are served but not cached, so a load can neither miss
  // the commit nor count it twice. The calls below are made between the two
  // (by one of the Writer's threads), and their effects show at EndCommit.
  // `end`: kInDoubt, the batch failed and may have committed all the same
  // (on PostgreSQL, a connection that drops after COMMIT was sent; a retry
  // is then a replay that adds nothing): the shared cache keeps its marks.
  // kReload: the learners' profiles are suspect, as a batch of theirs was in
  // doubt. The Writer brackets them so once the store answers again
  // (Finish). The shared copies are dropped, and the local ones are read
  // again from the store at their next read (served as they are only while
  // it cannot be).
  void BeginCommit(const std::vector<std::string>& user_ids);
  void EndCommit(const std::vector<std::string>& user_ids, CommitEnd end = CommitEnd::kSettled);

  // Applies committed deltas to the cached profiles they touch.
  void ApplyDeltas(const DeltaSet& deltas);
  // Records a committed attempt: the point's new memory state, and the
  // exercise among the recent correct answers when it was right.
  void ApplyAttempt(const Attempt& attempt, const MemoryState& memory);
  // Adds the learner's newest corrected errors (for own-words exercises).
  void AddExamples(const std::string& user_id, const std::vector<Example>& examples);
  // Records that the learner now exists (after a committed create).
  void MarkUserKnown(const std::string& user_id);
  // Records that the learner is gone (after a committed erase): a cached
  // profile becomes the empty one of an unknown user, and the shared cache
  // drops its copy.
  void ForgetUser(const std::string& user_id);
  // Caches the empty profile of a learner the commit in progress created
  // (WriteOp::created_user), before its deltas are applied: the store holds
  // nothing else of them, so their first reads need no load. Like the
  // commit's other edits it shows at EndCommit. It only fills free room, at
  // the cold end of the LRU: a bulk import of new learners never evicts
  // anyone, and a new learner nobody reads is the first to go. Local cache
  // only (a shared cache fills on its own misses).
  void AddNewUser(const std::string& user_id);
  size_t size() const;
  // The estimated memory the cached profiles hold (what max_bytes bounds).
  size_t bytes() const;

  // Warm restart (docs/warm-restart.md). The cached learners' ids, at most
  // `max`: each shard's most recently read first, the shards interleaved.
  std::vector<std::string> HotLearners(size_t max) const;
  enum class Preloaded {
    kLoaded,   // cached, at the cold end
    kPresent,  // already cached (a read got there first)
    kFull,     // the learner's shard has no free room: nothing is evicted for it
    kSkipped,  // not done: a commit for the learner overlapped the load, or the
               // cache is not local without a TTL (Redis, or nodes sharing a store)
    kFailed,   // the store failed
  };
  // Loads a learner's profile into free room, like a read's miss but
  // counted apart and never evicting anyone; the same commit guard applies.
  Preloaded Preload(const std::string& user_id);

 private:
  // The LRU list points at the map's own keys: an id is held once.
  using Lru = std::list<const std::string*>;
  struct Entry {
    std::shared_ptr<const Profile> profile;
    Lru::iterator lru;
    Micros loaded_at = 0;  // kSuspect: read it again from the store
    size_t bytes = 0;      // EntryBytes when cached
  };
  // A loaded_at that no read serves without trying the store first.
  static constexpr Micros kSuspect = INT64_MIN;
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Entry> map;  // guarded by mu
    Lru lru;                                     // guarded by mu; front = most recent
    size_t bytes = 0;                            // guarded by mu; the entries' EntryBytes
    // With a shared cache: for an entry that is a copy of the shared one,
    // the ticket it was read with, so that a read asks only whether it is
    // still current. Apart from the entries: nothing without a shared cache.
    std::unordered_map<std::string, SharedProfiles::Ticket> tickets;  // guarded by mu
    // Per hash slot of user ids: commits in progress, and a generation bumped
    // when one starts or ends. A load is cached only if no commit touching its
    // slot was in progress or started meanwhile (guarded by mu).
    std::array<uint32_t, 256> committing{};
    std::array<uint32_t, 256> generation{};

    // The commit guard of a load: BeginLoad before it, Unchanged after it
    // (both with mu held) says whether the loaded profile may be cached. No
    // commit in progress at the end and the same generation means none was in
    // progress at the start either: its end would have bumped the generation.
    struct LoadGuard {
      size_t slot;
      uint32_t generation;
    };
    LoadGuard BeginLoad(size_t slot) const { return {slot, generation[slot]}; }
    bool Unchanged(const LoadGuard& g) const {
      return committing[g.slot] == 0 && generation[g.slot] == g.generation;
    }
  };
  static size_t Slot(const std::string& user_id);
  Shard& ShardFor(const std::string& user_id);
  // Lets `edit` change the cached profile of `user_id` (nothing if the
  // learner is not cached). The edits of a commit go to one staged copy per
  // learner, which EndCommit swaps in. Profiles are immutable once
  // published, so readers never lock them, and a learner's several edits in
  // one commit cost one copy.
  template <typename Edit>
  void Update(const std::string& user_id, Edit edit);
  // Swaps the staged copies in (those whose learner is still cached).
  void Publish();
  // Makes the next read of each learner's entry try the store first, and
  // takes away the tickets that vouch for them (a failed batch's learners).
  void MarkSuspect(const std::vector<std::string>& user_ids);
  // Caches a loaded profile as the most recent entry; an unknown user's (no
  // such learner) only into free room, at the cold end (shard.mu held).
  void Insert(Shard& shard, const std::string& user_id, std::shared_ptr<const Profile> p);
  // With a shared cache up: the shared copy, or this node's copy of it when
  // still current (docs/redis.md, "Reads: the node's own copy").
  Result<std::shared_ptr<const Profile>> GetShared(const std::string& user_id, bool* unavailable);
  // Caches a new entry of `bytes` at the hot or the cold end of the LRU, and
  // swaps an entry's profile; both keep the shard's bytes (shard.mu held).
  void Add(Shard& shard, const std::string& user_id, std::shared_ptr<const Profile> p,
           size_t bytes, bool hot);
  void Replace(Shard& shard, Entry& e, const std::string& user_id,
               std::shared_ptr<const Profile> p);
  // What an entry costs: its profile's MemoryBytes, its id, and the map's,
  // the LRU's and the shared pointer's blocks.
  static size_t EntryBytes(const std::string& user_id, const Profile& p);
  // Evicts from the cold end while the shard is over its learners or bytes,
  // keeping at least the most recent entry (shard.mu held).
  void EvictOver(Shard& shard);
  // Keeps the totals behind size(), bytes() and /metrics.
  void Account(int64_t entries, int64_t bytes);
  // Caches a learner at the cold end of the LRU if the shard has free room
  // and does not hold them; returns whether it did. shard.mu is held.
  bool InsertCold(Shard& shard, const std::string& user_id, std::shared_ptr<const Profile> p);

  Store* store_;
  Metrics* metrics_;
  Options options_;
  SharedProfiles* shared_;
  size_t per_shard_;        // learners per shard
  size_t per_shard_bytes_;  // bytes per shard
  std::vector<std::unique_ptr<Shard>> shards_;
  // Entries over all shards, kept by Insert: the writer used to lock every
  // shard after each commit just to count them for /metrics.
  std::atomic<int64_t> entries_{0};
  std::atomic<int64_t> bytes_{0};
  // The commit in progress (the thread that calls Apply* and EndCommit only):
  // its staged profiles.
  std::unordered_map<std::string, std::shared_ptr<Profile>> staged_;
};

}  // namespace errata
