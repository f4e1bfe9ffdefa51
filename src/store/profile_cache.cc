#include "store/profile_cache.h"

#include <cstdint>
#include <functional>

namespace errata {
namespace {
constexpr size_t kShards = 64;
}  // namespace

ProfileCache::ProfileCache(Store* store, Metrics* metrics, Options options,
                           SharedProfiles* shared)
    : store_(store),
      metrics_(metrics),
      options_(options),
      shared_(shared),
      per_shard_(options.capacity == 0 ? SIZE_MAX
                                       : std::max<size_t>(1, options.capacity / kShards)),
      per_shard_bytes_(options.max_bytes == 0 ? SIZE_MAX
                                              : std::max<size_t>(1, options.max_bytes / kShards)) {
  for (size_t i = 0; i < kShards; ++i) shards_.push_back(std::make_unique<Shard>());
}

ProfileCache::Shard& ProfileCache::ShardFor(const std::string& user_id) {
  return *shards_[std::hash<std::string>{}(user_id) % kShards];
}

std::string ProfileCache::Describe() const {
  return shared_ == nullptr ? "local" : shared_->Describe();
}

Result<std::shared_ptr<const Profile>> ProfileCache::Get(const std::string& user_id) {
  if (shared_ != nullptr && shared_->ok()) {
    bool unavailable = false;
    auto got = GetShared(user_id, &unavailable);
    if (!unavailable) return got;
    // down: the local cache, with its TTL, serves meanwhile
  }
  Shard& shard = ShardFor(user_id);
  Shard::LoadGuard guard;
  std::shared_ptr<const Profile> expired;
  {
    std::lock_guard lock(shard.mu);
    auto it = shard.map.find(user_id);
    if (it != shard.map.end()) {
      const Micros loaded_at = it->second.loaded_at;
      if (loaded_at != kSuspect && (options_.ttl == 0 || NowMicros() - loaded_at < options_.ttl)) {
        shard.lru.splice(shard.lru.begin(), shard.lru, it->second.lru);
        metrics_->CacheHit();
        return it->second.profile;
      }
      expired = it->second.profile;
    }
    guard = shard.BeginLoad(Slot(user_id));
  }
  metrics_->CacheMiss();
  // Load outside the lock. If a commit for this learner overlapped the load,
  // the load may or may not include it: return it, but do not cache it.
  auto loaded = store_->LoadProfile(user_id);
  if (!loaded.ok()) {
    // The store is down: an expired profile (at most the TTL older than the
    // outage, plus this node's own writes) beats an error. Writes fail
    // meanwhile, so it cannot fall further behind.
    if (expired != nullptr && loaded.status().code() == Status::Code::kUnavailable) return expired;
    return loaded.status();
  }
  loaded->ShrinkToFit();
  auto profile = std::make_shared<const Profile>(std::move(*loaded));
  std::lock_guard lock(shard.mu);
  if (shard.Unchanged(guard)) Insert(shard, user_id, profile);
  return profile;
}

Result<std::shared_ptr<const Profile>> ProfileCache::GetShared(const std::string& user_id,
                                                               bool* unavailable) {
  Shard& shard = ShardFor(user_id);
  std::shared_ptr<const Profile> mine;
  SharedProfiles::Ticket mine_ticket;
  Shard::LoadGuard guard;
  {
    std::lock_guard lock(shard.mu);
    if (auto t = shard.tickets.find(user_id); t != shard.tickets.end()) {
      auto it = shard.map.find(user_id);
      mine = it->second.profile;
      mine_ticket = t->second;
      shard.lru.splice(shard.lru.begin(), shard.lru, it->second.lru);
    }
    guard = shard.BeginLoad(Slot(user_id));
  }
  // This node's copy of the shared one, if Redis says it is still current:
  // a few bytes from Redis instead of the whole profile, and no decoding.
  if (mine != nullptr && shared_->Current(user_id, mine_ticket)) {
    metrics_->SharedCacheHit();
    metrics_->SharedCacheCurrent();
    return mine;
  }
  // Keeps the copy read now, with its ticket, unless a commit of this node
  // for the learner overlapped the read.
  auto remember = [&](const std::shared_ptr<const Profile>& p,
                      const SharedProfiles::Ticket& ticket) {
    if (ticket.version.empty() || ticket.state_expires == 0) return;
    std::lock_guard lock(shard.mu);
    if (!shard.Unchanged(guard)) return;
    Insert(shard, user_id, p);
    if (shard.map.contains(user_id)) shard.tickets.insert_or_assign(user_id, ticket);
  };
  std::shared_ptr<const Profile> p;
  SharedProfiles::Ticket ticket;
  const SharedProfiles::Lookup lookup = shared_->Get(user_id, &p, &ticket);
  switch (lookup) {
    case SharedProfiles::Lookup::kHit:
      remember(p, ticket);
      return p;
    case SharedProfiles::Lookup::kMiss:
    case SharedProfiles::Lookup::kBypass: {
      auto loaded = store_->LoadProfile(user_id);
      if (!loaded.ok()) {
        // The store is failing: the shared copy (without the commit in
        // progress, which is not acknowledged yet) is better than nothing.
        if (ticket.copy && p != nullptr) return p;
        return loaded.status();
      }
      loaded->ShrinkToFit();
      auto profile = std::make_shared<const Profile>(std::move(*loaded));
      if (lookup == SharedProfiles::Lookup::kMiss) {
        // The fill is refused inside Redis if a commit for this learner
        // started or ended since the lookup (see SharedProfiles::Ticket); then
        // the version moved, and Current will not vouch for this copy.
        shared_->Fill(user_id, *profile, ticket);
        remember(profile, ticket);
      }
      return profile;
    }
    case SharedProfiles::Lookup::kUnavailable:
      break;
  }
  *unavailable = true;
  return std::shared_ptr<const Profile>();
}

size_t ProfileCache::EntryBytes(const std::string& user_id, const Profile& p) {
  constexpr size_t kMapNode = 2 * sizeof(void*) + sizeof(std::string) + sizeof(Entry);  // + hash
  constexpr size_t kLruNode = 3 * sizeof(void*);
  constexpr size_t kSharedCount = 16;  // make_shared's counts beside the Profile
  // The allocator's rounding up to its size classes (jemalloc, docs/allocator.md),
  // about 12 bytes a block: the map node, the id, the LRU node, the shared
  // block and the points. Calibrated on W6 learners against RssAnon.
  constexpr size_t kMallocOverhead = 5 * 12;
  const size_t id_heap = user_id.size() > std::string().capacity() ? user_id.size() + 1 : 0;
  return p.MemoryBytes() + kMapNode + sizeof(void*) /* bucket */ + kLruNode + kSharedCount +
         kMallocOverhead + id_heap;
}

void ProfileCache::Account(int64_t entries, int64_t bytes) {
  if (entries != 0) {
    metrics_->SetCacheSize(entries_.fetch_add(entries, std::memory_order_relaxed) + entries);
  }
  if (bytes != 0) {
    metrics_->SetCacheBytes(bytes_.fetch_add(bytes, std::memory_order_relaxed) + bytes);
  }
}

void ProfileCache::EvictOver(Shard& shard) {
  int64_t entries = 0, bytes = 0;
  while (shard.lru.size() > 1 &&
         (shard.map.size() > per_shard_ || shard.bytes > per_shard_bytes_)) {
    auto victim = shard.map.find(*shard.lru.back());
    if (!shard.tickets.empty()) shard.tickets.erase(victim->first);
    shard.lru.pop_back();
    shard.bytes -= victim->second.bytes;
    --entries;
    bytes -= static_cast<int64_t>(victim->second.bytes);
    shard.map.erase(victim);
  }
  Account(entries, bytes);
}

void ProfileCache::Insert(Shard& shard, const std::string& user_id,
                          std::shared_ptr<const Profile> p) {
  auto it = shard.map.find(user_id);
  if (it != shard.map.end()) {
    Replace(shard, it->second, user_id, std::move(p));
    it->second.loaded_at = NowMicros();
    shard.lru.splice(shard.lru.begin(), shard.lru, it->second.lru);
  } else if (!p->user_known) {
    // A lookup of an id no learner has (a typo, a scan of random ids) only
    // takes free room, at the cold end: 3,000 of them evicted every hot
    // learner of a 640-learner cache. A learner created later is cached by
    // their commit (AddNewUser, or MarkUserKnown on this entry).
    InsertCold(shard, user_id, std::move(p));
    return;
  } else {
    const size_t b = EntryBytes(user_id, *p);
    Add(shard, user_id, std::move(p), b, /*hot=*/true);
  }
  EvictOver(shard);
}

void ProfileCache::Add(Shard& shard, const std::string& user_id, std::shared_ptr<const Profile> p,
                       size_t bytes, bool hot) {
  auto it = shard.map.emplace(user_id, Entry{std::move(p), {}, NowMicros(), bytes}).first;
  it->second.lru = shard.lru.insert(hot ? shard.lru.begin() : shard.lru.end(), &it->first);
  shard.bytes += bytes;
  Account(1, static_cast<int64_t>(bytes));
}

void ProfileCache::Replace(Shard& shard, Entry& e, const std::string& user_id,
                           std::shared_ptr<const Profile> p) {
  const size_t b = EntryBytes(user_id, *p);
  shard.bytes = shard.bytes + b - e.bytes;
  Account(0, static_cast<int64_t>(b) - static_cast<int64_t>(e.bytes));
  e.bytes = b;
  e.profile = std::move(p);
  if (!shard.tickets.empty()) shard.tickets.erase(user_id);  // no longer the shared copy
}

template <typename Edit>
void ProfileCache::Update(const std::string& user_id, Edit edit) {
  auto staged = staged_.find(user_id);
  if (staged == staged_.end()) {
    std::shared_ptr<Profile> copy;
    {
      Shard& shard = ShardFor(user_id);
      std::lock_guard lock(shard.mu);
      auto it = shard.map.find(user_id);
      if (it == shard.map.end()) return;
      copy = std::make_shared<Profile>(*it->second.profile);
    }
    staged = staged_.emplace(user_id, std::move(copy)).first;
  }
  edit(*staged->second);
}

void ProfileCache::Publish() {
  for (auto& [user_id, profile] : staged_) {
    profile->ShrinkToFit();  // a new point doubled the exact copy's vector
    Shard& shard = ShardFor(user_id);
    std::lock_guard lock(shard.mu);
    auto it = shard.map.find(user_id);  // evicted meanwhile: nothing to update
    if (it == shard.map.end()) continue;
    Replace(shard, it->second, user_id, std::move(profile));
    EvictOver(shard);
  }
  staged_.clear();
}

void ProfileCache::MarkSuspect(const std::vector<std::string>& user_ids) {
  for (const auto& id : user_ids) {
    Shard& shard = ShardFor(id);
    std::lock_guard lock(shard.mu);
    auto it = shard.map.find(id);
    if (it == shard.map.end()) continue;
    it->second.loaded_at = kSuspect;
    if (!shard.tickets.empty()) shard.tickets.erase(id);
  }
}

size_t ProfileCache::Slot(const std::string& user_id) {
  return (std::hash<std::string>{}(user_id) / kShards) % 256;
}

void ProfileCache::BeginCommit(const std::vector<std::string>& user_ids) {
  if (shared_ != nullptr) shared_->BeginCommit(user_ids);
  for (const auto& id : user_ids) {
    Shard& shard = ShardFor(id);
    std::lock_guard lock(shard.mu);
    ++shard.committing[Slot(id)];
    ++shard.generation[Slot(id)];
  }
}

void ProfileCache::EndCommit(const std::vector<std::string>& user_ids, CommitEnd end) {
  if (shared_ != nullptr) shared_->EndCommit(end);
  // Before the learners' slots reopen to loads: a load that starts after this
  // must find the commit's effects cached, not the profile before it.
  Publish();
  if (end == CommitEnd::kReload) MarkSuspect(user_ids);
  for (const auto& id : user_ids) {
    Shard& shard = ShardFor(id);
    std::lock_guard lock(shard.mu);
    --shard.committing[Slot(id)];
    ++shard.generation[Slot(id)];
  }
}

void ProfileCache::ApplyDeltas(const DeltaSet& deltas) {
  if (shared_ != nullptr) shared_->ApplyDeltas(deltas);
  for (const auto& d : deltas.deltas()) Update(d.user_id, [&d](Profile& p) { p.Apply(d); });
}

void ProfileCache::ApplyAttempt(const Attempt& a, const MemoryState& memory) {
  if (shared_ != nullptr) shared_->ApplyAttempt(a, memory);
  Update(a.user_id, [&](Profile& p) {
    if (ErrorPoint* point = p.Find(a.subcategory_id)) point->memory = memory;
    if (a.correct) p.AddRecentCorrect({a.exercise_id, a.answered_at});
  });
}

void ProfileCache::AddExamples(const std::string& user_id, const std::vector<Example>& examples) {
  if (examples.empty()) return;
  if (shared_ != nullptr) shared_->AddExamples(user_id, examples);
  Update(user_id, [&](Profile& p) { p.AddExamples(examples); });
}

void ProfileCache::MarkUserKnown(const std::string& user_id) {
  if (shared_ != nullptr) shared_->MarkUserKnown(user_id);
  if (!staged_.contains(user_id)) {
    Shard& shard = ShardFor(user_id);
    std::lock_guard lock(shard.mu);
    auto it = shard.map.find(user_id);
    if (it == shard.map.end() || it->second.profile->user_known) return;
  }
  Update(user_id, [](Profile& p) { p.user_known = true; });
}

void ProfileCache::ForgetUser(const std::string& user_id) {
  if (shared_ != nullptr) shared_->ForgetUser(user_id);
  Update(user_id, [](Profile& p) { p = Profile{}; });
}

void ProfileCache::AddNewUser(const std::string& user_id) {
  if (shared_ != nullptr) return;
  Shard& shard = ShardFor(user_id);
  std::lock_guard lock(shard.mu);
  // Until the commit is published a read finds what the store held before
  // it: no such learner. The known, empty profile is staged for the commit's
  // edits.
  if (!InsertCold(shard, user_id, std::make_shared<Profile>())) return;
  auto known = std::make_shared<Profile>();
  known->user_known = true;
  staged_[user_id] = std::move(known);
}

bool ProfileCache::InsertCold(Shard& shard, const std::string& user_id,
                              std::shared_ptr<const Profile> p) {
  const size_t b = EntryBytes(user_id, *p);
  if (shard.map.contains(user_id) || shard.map.size() >= per_shard_ ||
      shard.bytes + b > per_shard_bytes_) {
    return false;
  }
  Add(shard, user_id, std::move(p), b, /*hot=*/false);
  return true;
}

std::vector<std::string> ProfileCache::HotLearners(size_t max) const {
  std::vector<std::vector<std::string>> per_shard(shards_.size());
  for (size_t i = 0; i < shards_.size(); ++i) {
    std::lock_guard lock(shards_[i]->mu);
    for (const std::string* id : shards_[i]->lru) per_shard[i].push_back(*id);
  }
  std::vector<std::string> out;
  for (size_t rank = 0; out.size() < max; ++rank) {  // round by round over the shards
    const size_t before = out.size();
    for (auto& ids : per_shard) {
      if (rank < ids.size() && out.size() < max) out.push_back(std::move(ids[rank]));
    }
    if (out.size() == before) break;  // every shard is exhausted
  }
  return out;
}

ProfileCache::Preloaded ProfileCache::Preload(const std::string& user_id) {
  if (shared_ != nullptr || options_.ttl != 0) return Preloaded::kSkipped;
  Shard& shard = ShardFor(user_id);
  Shard::LoadGuard guard;
  {
    std::lock_guard lock(shard.mu);
    if (shard.map.contains(user_id)) return Preloaded::kPresent;
    if (shard.map.size() >= per_shard_ || shard.bytes >= per_shard_bytes_) return Preloaded::kFull;
    guard = shard.BeginLoad(Slot(user_id));
  }
  auto loaded = store_->LoadProfile(user_id);
  if (!loaded.ok()) return Preloaded::kFailed;
  std::lock_guard lock(shard.mu);
  if (!shard.Unchanged(guard)) return Preloaded::kSkipped;
  if (shard.map.contains(user_id)) return Preloaded::kPresent;
  loaded->ShrinkToFit();
  if (!InsertCold(shard, user_id, std::make_shared<const Profile>(std::move(*loaded)))) {
    return Preloaded::kFull;
  }
  metrics_->CachePreloaded();
  return Preloaded::kLoaded;
}

size_t ProfileCache::size() const {
  return static_cast<size_t>(entries_.load(std::memory_order_relaxed));
}

size_t ProfileCache::bytes() const {
  return static_cast<size_t>(bytes_.load(std::memory_order_relaxed));
}

}  // namespace errata
