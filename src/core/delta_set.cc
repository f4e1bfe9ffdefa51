#include "core/delta_set.h"

namespace errata {

std::string DeltaSet::Key(std::string_view user_id, std::string_view subcategory_id) {
  std::string key;
  key.reserve(user_id.size() + 1 + subcategory_id.size());
  key.append(user_id).push_back('\0');
  key.append(subcategory_id);
  return key;
}

void DeltaSet::Add(const std::string& user_id, const ErrorRecord& e) {
  auto [it, inserted] = index_.try_emplace(Key(user_id, e.subcategory_id), deltas_.size());
  if (inserted) {
    deltas_.push_back(ErrorDelta{user_id, e.subcategory_id, e.category, e.subcategory});
  }
  deltas_[it->second].Add(e.created_at, half_life_);
}

const ErrorDelta* DeltaSet::Find(std::string_view user_id, std::string_view subcategory_id) const {
  auto it = index_.find(Key(user_id, subcategory_id));
  return it == index_.end() ? nullptr : &deltas_[it->second];
}

void DeltaSet::AddAll(const Utterance& u) {
  for (const auto& e : u.errors) Add(u.user_id, e);
}

}  // namespace errata
