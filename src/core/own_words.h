// Exercises built from the learner's own words: where an error carries the
// words said and their correction, the learner's sentence becomes
//  - "correct what you said" (the corrected sentence is the answer), and
//  - a fill-in-the-blank on the erroneous span, whose options include the
//    learner's own wrong form and plausible distractors.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/exercise_bank.h"
#include "core/model.h"
#include "core/profile.h"

namespace errata {

// The examples an utterance gives (errors with a correction and content).
std::vector<Example> ExamplesOf(const Utterance& u);

// "correct what you said". nullopt when the correction cannot be placed in
// the sentence (no span, and the original words are not found in it), or
// when IsAcceptedAnswer would accept the learner's own sentence (it differs
// only in case, a final . ! ? or the apostrophe's shape).
std::optional<Exercise> CorrectWhatYouSaid(const Example& e);

// The fill-in-the-blank; `seed` orders the options. nullopt when the span
// cannot be placed, the correction is empty (a deletion has no blank) or
// differs from the words said only where answers are not compared.
std::optional<Exercise> FillTheBlank(const Example& e, uint64_t seed);

// Ids of generated exercises: "own:<subcategory_id>:<error_id>:fix|blank".
// Gives back the subcategory id, or nullopt for an id of another shape.
std::optional<std::string> OwnExerciseSubcategory(std::string_view exercise_id);

}  // namespace errata
