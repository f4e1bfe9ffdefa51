// `errata compare --from STORE --to STORE`: whether two stores hold the same
// records (store/compare.h, docs/copy.md "Checking a copy"); `errata copy
// --verify` runs it after a copy. STORE is what `serve --store` takes.
#pragma once

#include <cstdio>
#include <string>

#include "store/compare.h"

namespace errata::app {

struct CompareOptions {
  std::string from;
  std::string to;
  std::string data_dir = "./data";  // for sqlite:/rocksdb: without a path
  double half_life_days = 14;        // as serve's: a store kept with another is recomputed
  bool progress = true;
};

// Returns the process exit code: 0 the same records, 1 they differ or a
// store failed, 2 bad arguments.
int RunCompare(const CompareOptions& options);

// Compares two open stores and prints the outcome: on `out` the verdict
// and the records that differ, on stderr the progress and any failure.
// Returns the exit code, as RunCompare. `to` is named `to_name` if given
// (a backup compared before its rename is named by where it will be).
int CompareAndPrint(Store* from, Store* to, bool progress, FILE* out,
                    const std::string& to_name = "");

}  // namespace errata::app
