// `errata copy --from STORE --to STORE`: copies every record of one store
// into another, empty one (store/copy.h, docs/copy.md). STORE is what
// `serve --store` takes.
#pragma once

#include <cstdio>
#include <string>

#include "store/copy.h"

namespace errata::app {

struct CopyOptions {
  std::string from;
  std::string to;
  std::string data_dir = "./data";  // for sqlite:/rocksdb: without a path
  size_t batch = 5000;  // records per target transaction
  double half_life_days = 14;
  bool progress = true;
  bool verify = false;  // compare the stores after the copy (errata compare)
};

// Returns the process exit code: 0 copied (and, with verify, the same
// records in both), 1 failure, 2 bad arguments.
int RunCopy(const CopyOptions& options);

// Copies the open store `from` into the open, empty store `to` with
// `options`' batch, progress and verify, and prints the outcome: "DONE A to
// B: N users, ... in S s" on stdout (B is `to_name`, if given, else what
// `to` describes), or "errata COMMAND: why" on stderr. Returns the exit
// code, as RunCopy.
int CopyAndPrint(const char* command, const char* done, Store* from, Store* to,
                 const CopyOptions& options, const std::string& to_name = "");

// "N users, N conversations, N utterances, N errors, N attempts".
void PrintCounts(FILE* f, const CopyCounts& counts);

}  // namespace errata::app
