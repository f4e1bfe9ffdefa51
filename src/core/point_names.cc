#include "core/point_names.h"

#include <algorithm>
#include <mutex>
#include <unordered_map>

namespace errata {

// One table for the process, in shards behind a mutex each: interning
// happens when a profile is loaded (from the store, or from Redis on every
// shared-cache read) or gains a point, never on a cached read. A shard holds
// a reference to each of its copies; a copy whose only reference is the
// shard's is unreachable (nothing else can copy it but Intern, under the
// mutex) and is dropped when the shard has doubled since its last sweep.
class PointNamesTable {
 public:
  using Rep = PointNames::Rep;

  static PointNamesTable& Get() {
    static PointNamesTable* table = new PointNamesTable();  // never destroyed
    return *table;
  }

  boost::intrusive_ptr<const Rep> Intern(std::string_view id, std::string_view category,
                                         std::string_view subcategory) {
    const Key key{id, category, subcategory};
    Shard& shard = shards_[KeyHash{}(key) % kShards];
    std::lock_guard lock(shard.mu);
    auto it = shard.map.find(key);
    if (it != shard.map.end()) return it->second;
    auto rep = boost::intrusive_ptr<Rep>(new Rep());
    rep->subcategory_id = id;
    rep->category = category;
    rep->subcategory = subcategory;
    // The key views the copy's own strings, which never move.
    shard.map.emplace(Key{rep->subcategory_id, rep->category, rep->subcategory}, rep);
    if (shard.map.size() > shard.sweep_at) shard.Sweep();
    return rep;
  }

  size_t size() {
    size_t n = 0;
    for (Shard& shard : shards_) {
      std::lock_guard lock(shard.mu);
      n += shard.map.size();
    }
    return n;
  }

 private:
  struct Key {
    std::string_view id, category, subcategory;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const {
      size_t h = std::hash<std::string_view>{}(k.id);
      h = h * 31 + std::hash<std::string_view>{}(k.category);
      return h * 31 + std::hash<std::string_view>{}(k.subcategory);
    }
  };
  static constexpr size_t kShards = 16;
  static constexpr size_t kMinSweep = 64;
  struct Shard {
    std::mutex mu;
    std::unordered_map<Key, boost::intrusive_ptr<const Rep>, KeyHash> map;  // guarded by mu
    size_t sweep_at = kMinSweep;                                            // guarded by mu

    void Sweep() {  // mu held
      std::erase_if(map, [](const auto& kv) { return kv.second->use_count() == 1; });
      sweep_at = std::max<size_t>(kMinSweep, 2 * map.size());
    }
  };
  Shard shards_[kShards];
};

PointNames::PointNames(std::string_view subcategory_id, std::string_view category,
                       std::string_view subcategory)
    : rep_(PointNamesTable::Get().Intern(subcategory_id, category, subcategory)) {}

size_t PointNames::Interned() { return PointNamesTable::Get().size(); }

const std::string& PointNames::Empty() {
  static const std::string* empty = new std::string();
  return *empty;
}

}  // namespace errata
