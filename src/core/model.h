// The records errata keeps: users, conversations, utterances and their errors.
// Plain values; the store persists them and the API renders them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"

namespace errata {

struct User {
  std::string user_id;
  std::string username;
  std::optional<std::string> email;  // unique case-insensitively; absent for ingest-created users
  Micros created_at = 0;
};

struct Conversation {
  std::string conversation_id;
  std::string user_id;
  Micros started_at = 0;
};

// Where an error lies in its utterance's content: characters (Unicode code
// points, as Python's str counts them) [start, end). Stored as given.
struct Span {
  int64_t start = 0;
  int64_t end = 0;
};

// One error observed in an utterance, after taxonomy resolution.
struct ErrorRecord {
  std::string error_id;
  std::string category;        // display name, canonical when known
  std::string subcategory;     // display name, canonical when known
  std::string subcategory_id;  // canonical id: the key counts are kept under
  std::string code;            // e.g. "R:VERB:SVA"; empty when none
  std::optional<Span> span;
  std::optional<std::string> original;
  std::optional<std::string> correction;
  std::optional<std::string> explanation;
  Micros created_at = 0;
};

struct Utterance {
  std::string utterance_id;
  std::string conversation_id;
  std::string user_id;
  std::optional<std::string> content;
  Micros created_at = 0;
  std::vector<ErrorRecord> errors;
};

// A practice attempt on an exercise, for one error point.
struct Attempt {
  std::string attempt_id;
  std::string user_id;
  std::string exercise_id;
  std::string subcategory_id;
  bool correct = false;
  std::optional<std::string> answer;
  Micros answered_at = 0;
};

}  // namespace errata
