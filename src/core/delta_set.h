// DeltaSet: the merged per-(user, subcategory) deltas of a batch of writes.
// A group commit upserts one row per key instead of one per error.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/model.h"
#include "core/profile.h"

namespace errata {

class DeltaSet {
 public:
  explicit DeltaSet(Micros half_life) : half_life_(half_life) {}

  // Adds one error of `user_id`.
  void Add(const std::string& user_id, const ErrorRecord& error);
  // Adds every error of an utterance.
  void AddAll(const Utterance& utterance);
  bool empty() const { return deltas_.empty(); }
  size_t size() const { return deltas_.size(); }
  void clear() { deltas_.clear(); index_.clear(); }
  const std::vector<ErrorDelta>& deltas() const { return deltas_; }
  // The delta of one point, or null.
  const ErrorDelta* Find(std::string_view user_id, std::string_view subcategory_id) const;

 private:
  Micros half_life_;
  std::vector<ErrorDelta> deltas_;
  static std::string Key(std::string_view user_id, std::string_view subcategory_id);
  std::unordered_map<std::string, size_t> index_;  // Key(): user_id + '\0' + subcategory_id
};

}  // namespace errata
