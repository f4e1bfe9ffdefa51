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
// `options`' batch and progress, and prints the outcome: "DONE A to B: N
// users, ... in S s" on stdout (B is `to_name`, if given, else what `to`
// describes), or "errata COMMAND: why" on stderr; then, with verify,
// compares them (CompareAndPrint). Returns the exit code, as RunCopy.
int CopyAndPrint(const char* command, const char* done, Store* from, Store* to,
                 const CopyOptions& options, const std::string& to_name = "");

// The copy of CopyAndPrint alone: progress on stderr, and a failure as
// "errata COMMAND: why (copied before it: ...)". Prints nothing when it
// succeeds, so that a caller with more to do (errata backup: compare,
// rename) says "done" only once all of it is. Returns the exit code.
int CopyStores(const char* command, Store* from, Store* to, const CopyOptions& options,
               CopyCounts* counts, double* seconds);

// "DONE A to B: N users, ... in S s" on stdout.
void PrintCopied(const char* done, const std::string& from, const std::string& to,
                 const CopyCounts& counts, double seconds);

// "N users, N conversations, N utterances, N errors, N attempts".
void PrintCounts(FILE* f, const CopyCounts& counts);

}  // namespace errata::app
