#include "core/delta_set.h"

namespace errata {

void DeltaSet::Add(const std::string& user_id, const ErrorRecord& e) {
  std::string key;
  key.reserve(user_id.size() + 1 + e.subcategory_id.size());
  key.append(user_id).push_back('\0');
  key.append(e.subcategory_id);
  auto [it, inserted] = index_.try_emplace(std::move(key), deltas_.size());
  if (inserted) {
    deltas_.push_back(ErrorDelta{user_id, e.subcategory_id, e.category, e.subcategory});
  }
  deltas_[it->second].Add(e.created_at, half_life_);
}

void DeltaSet::AddAll(const Utterance& u) {
  for (const auto& e : u.errors) Add(u.user_id, e);
}

}  // namespace errata
