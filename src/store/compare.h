// CompareStores: whether two stores hold the same records (errata compare,
// errata copy --verify; docs/copy.md, "Checking a copy").
//
// Both stores export every record (Store::Export) at once, on two threads,
// and each side folds its records into a digest: per kind of record and per
// group of ids (4,096 groups by a hash of the id), the number of records and
// the sum of their hashes. A sum does not depend on the order the store
// lists its records in, so any two kinds of store compare, with memory that
// does not grow with their size. A record's hash covers everything a copy
// must keep: ids, times, names, emails, contents, spans, request hashes and
// the memory states the attempts carry; not the counts and recency sums a
// store works out from them.
//
// When the digests differ, a second pass exports both again and names the
// records that differ in the first few groups that do: only in one store,
// or in both with other values.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "store/copy.h"
#include "store/store.h"

namespace errata {

struct RecordDifference {
  enum class Where { kOnlyInFrom, kOnlyInTo, kBothDiffer };
  std::string kind;  // "user", "conversation", "utterance", "attempt"
  std::string id;
  Where where = Where::kBothDiffer;
};

struct CompareReport {
  CopyCounts from, to;           // what each store holds
  int groups = 0;                // groups the digests have (4 kinds x 4,096)
  int groups_differing = 0;      // 0: the stores hold the same records
  int groups_examined = 0;       // of those, how many the second pass listed
  // The records that differ in the groups examined, by kind then id; at most
  // CompareOptions::max_differences.
  std::vector<RecordDifference> differences;
  bool same() const { return groups_differing == 0; }
};

struct CompareOptions {
  size_t page = 5000;           // ops per export page
  int examine_groups = 16;      // differing groups the second pass lists
  size_t max_differences = 20;  // records named at most
  // Called about once a second while the stores export, with the records
  // read so far from each.
  std::function<void(const CopyCounts& from, const CopyCounts& to)> progress;
};

Status CompareStores(Store* from, Store* to, const CompareOptions& options, CompareReport* report);

// "only in --from", "only in --to", "differs".
const char* DescribeWhere(RecordDifference::Where where);

}  // namespace errata
