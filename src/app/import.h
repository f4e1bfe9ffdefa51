// `errata import m2 FILE`: loads an annotated learner corpus in M2 format
// through the same group-commit write path as the API. Re-importing the same
// file is a no-op: every id is derived from the file and the sentence.
#pragma once

#include <string>

namespace errata::app {

struct ImportOptions {
  std::string file;
  std::string user_email;        // empty: import+<file name>@errata.local
  int annotator = 0;             // whose edits to count (others are skipped)
  int sentences_per_conversation = 20;
  std::string data_dir = "./data";
  std::string store;
  double half_life_days = 14;
  bool progress = true;
};

// Returns the process exit code: 0 done, 1 failure (nothing applied on a
// malformed file or one without a sentence; a sentence the store refused
// is named on stderr, and the others are applied), 2 bad arguments (a
// --user that is not an email address).
int RunImportM2(const ImportOptions& options);

}  // namespace errata::app
