// Loading of errata's data files (taxonomy and exercise bank) at start-up:
// from the copies built into the binary, or from files given on the command
// line. Either is validated before the server starts.
#pragma once

#include <string>

#include "core/exercise_bank.h"
#include "core/taxonomy.h"

namespace errata::app {

struct DomainData {
  Taxonomy taxonomy;
  ExerciseBank bank;
};

// Loads and validates both. An empty path means the built-in copy. On failure
// the Status names the file and the item at fault.
Result<DomainData> LoadDomainData(const std::string& taxonomy_path,
                                  const std::string& exercises_path);

// The bank's coverage rules for a taxonomy: 5 exercises for every Grammar,
// Vocabulary and Mechanics point, 3 for Pronunciation and Fluency, 0 elsewhere.
std::vector<CoverageRule> CoverageRules(const Taxonomy& taxonomy);

}  // namespace errata::app
