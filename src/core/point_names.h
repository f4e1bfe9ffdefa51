// The names of an error point (subcategory id, category and subcategory
// display names), interned: every point with the same three names, in any
// learner's profile, shares one immutable copy. A cached profile then holds
// 8 bytes per point for its names instead of three strings, two of them on
// the heap (docs/profile-memory.md).
#pragma once

#include <string>
#include <string_view>

#include <boost/smart_ptr/intrusive_ptr.hpp>
#include <boost/smart_ptr/intrusive_ref_counter.hpp>

namespace errata {

class PointNames {
 public:
  PointNames() = default;  // three empty names
  // Interns the names: thread-safe; equal names give the same copy.
  PointNames(std::string_view subcategory_id, std::string_view category,
             std::string_view subcategory);

  const std::string& subcategory_id() const { return rep_ ? rep_->subcategory_id : Empty(); }
  const std::string& category() const { return rep_ ? rep_->category : Empty(); }
  const std::string& subcategory() const { return rep_ ? rep_->subcategory : Empty(); }

  bool operator==(const PointNames& o) const {
    return rep_ == o.rep_ || (subcategory_id() == o.subcategory_id() &&
                              category() == o.category() && subcategory() == o.subcategory());
  }

  // Distinct names held (for tests): names no point refers to any more are
  // dropped as the table grows.
  static size_t Interned();

 private:
  struct Rep : boost::intrusive_ref_counter<Rep, boost::thread_safe_counter> {
    std::string subcategory_id, category, subcategory;
  };
  friend class PointNamesTable;
  static const std::string& Empty();
  boost::intrusive_ptr<const Rep> rep_;
};

}  // namespace errata
