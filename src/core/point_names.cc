#include "core/point_names.h"

#include <algorithm>
#include <mutex>
#include <unordered_map>

namespace errata {

// One table for the process, behind one mutex: interning happens when a
// profile is loaded or gains a point, never on a cached read. The table holds
// a reference to every copy; a copy whose only reference is the table's is
// unreachable (nothing else can copy it but Intern, under the mutex) and is
// dropped when the table has doubled since the last sweep.
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
    std::lock_guard lock(mu_);
    auto it = map_.find(key);
    if (it != map_.end()) return it->second;
    auto rep = boost::intrusive_ptr<Rep>(new Rep());
    rep->subcategory_id = id;
    rep->category = category;
    rep->subcategory = subcategory;
    // The key views the copy's own strings, which never move.
    map_.emplace(Key{rep->subcategory_id, rep->category, rep->subcategory}, rep);
    if (map_.size() > sweep_at_) Sweep();
    return rep;
  }

  size_t size() {
    std::lock_guard lock(mu_);
    return map_.size();
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

  void Sweep() {  // mu_ held
    std::erase_if(map_, [](const auto& kv) { return kv.second->use_count() == 1; });
    sweep_at_ = std::max<size_t>(kMinSweep, 2 * map_.size());
  }

  static constexpr size_t kMinSweep = 1024;
  std::mutex mu_;
  std::unordered_map<Key, boost::intrusive_ptr<const Rep>, KeyHash> map_;
  size_t sweep_at_ = kMinSweep;
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
