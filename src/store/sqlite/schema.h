// The SQLite schema, as numbered migrations. Migration i brings the database
// from PRAGMA user_version i to i + 1; a new version appends, never edits.
#pragma once

namespace errata::sqlite {

inline constexpr const char* kMigrations[] = {
    // 1: the initial schema.
    R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE users(
  user_id TEXT PRIMARY KEY,
  username TEXT NOT NULL,
  email TEXT,
  email_norm TEXT UNIQUE,
  created_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE conversations(
  conversation_id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(user_id),
  started_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX conversations_user ON conversations(user_id);
CREATE TABLE utterances(
  utterance_id TEXT PRIMARY KEY,
  conversation_id TEXT NOT NULL REFERENCES conversations(conversation_id),
  user_id TEXT NOT NULL REFERENCES users(user_id),
  content TEXT,
  created_at INTEGER NOT NULL,
  request_hash INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
CREATE INDEX utterances_conversation ON utterances(conversation_id, created_at);
CREATE TABLE errors(
  error_id TEXT PRIMARY KEY,
  utterance_id TEXT NOT NULL REFERENCES utterances(utterance_id),
  conversation_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  category TEXT NOT NULL,
  subcategory TEXT NOT NULL,
  subcategory_id TEXT NOT NULL,
  code TEXT,
  span_start INTEGER,
  span_end INTEGER,
  original TEXT,
  correction TEXT,
  explanation TEXT,
  created_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX errors_utterance ON errors(utterance_id);
CREATE INDEX errors_user_time ON errors(user_id, created_at);
CREATE TABLE error_frequencies(
  user_id TEXT NOT NULL REFERENCES users(user_id),
  subcategory_id TEXT NOT NULL,
  category TEXT NOT NULL,
  subcategory TEXT NOT NULL,
  frequency INTEGER NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  decay_log2 REAL NOT NULL,
  PRIMARY KEY(user_id, subcategory_id)) WITHOUT ROWID;
CREATE TABLE mastery(
  user_id TEXT NOT NULL REFERENCES users(user_id),
  subcategory_id TEXT NOT NULL,
  stability_days REAL NOT NULL,
  difficulty REAL NOT NULL,
  last_review INTEGER NOT NULL,
  reviews INTEGER NOT NULL,
  lapses INTEGER NOT NULL,
  last_correct INTEGER NOT NULL,
  last_lapse INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(user_id, subcategory_id)) WITHOUT ROWID;
CREATE TABLE attempts(
  attempt_id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(user_id),
  exercise_id TEXT NOT NULL,
  subcategory_id TEXT NOT NULL,
  correct INTEGER NOT NULL,
  answer TEXT,
  answered_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX attempts_user_time ON attempts(user_id, answered_at);
)sql",
    // 2: ids (users, conversations, utterances, errors, attempts) as the
    // UUID's 16 bytes instead of 36 characters of text (docs/write-path.md,
    // "Ids as 16 bytes"). Each table is rebuilt: created anew, filled from
    // the old one through uuid_blob() (sqlite_db.cc), and renamed; then the
    // indexes. The writer runs with foreign_keys=OFF, which a rebuild needs.
    R"sql(
CREATE TABLE users_new(
  user_id BLOB PRIMARY KEY,
  username TEXT NOT NULL,
  email TEXT,
  email_norm TEXT UNIQUE,
  created_at INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO users_new SELECT uuid_blob(user_id), username, email, email_norm, created_at FROM users;
CREATE TABLE conversations_new(
  conversation_id BLOB PRIMARY KEY,
  user_id BLOB NOT NULL REFERENCES users(user_id),
  started_at INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO conversations_new
  SELECT uuid_blob(conversation_id), uuid_blob(user_id), started_at FROM conversations;
CREATE TABLE utterances_new(
  utterance_id BLOB PRIMARY KEY,
  conversation_id BLOB NOT NULL REFERENCES conversations(conversation_id),
  user_id BLOB NOT NULL REFERENCES users(user_id),
  content TEXT,
  created_at INTEGER NOT NULL,
  request_hash INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
INSERT INTO utterances_new
  SELECT uuid_blob(utterance_id), uuid_blob(conversation_id), uuid_blob(user_id), content,
         created_at, request_hash FROM utterances;
CREATE TABLE errors_new(
  error_id BLOB PRIMARY KEY,
  utterance_id BLOB NOT NULL REFERENCES utterances(utterance_id),
  conversation_id BLOB NOT NULL,
  user_id BLOB NOT NULL,
  category TEXT NOT NULL,
  subcategory TEXT NOT NULL,
  subcategory_id TEXT NOT NULL,
  code TEXT,
  span_start INTEGER,
  span_end INTEGER,
  original TEXT,
  correction TEXT,
  explanation TEXT,
  created_at INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO errors_new
  SELECT uuid_blob(error_id), uuid_blob(utterance_id), uuid_blob(conversation_id),
         uuid_blob(user_id), category, subcategory, subcategory_id, code, span_start, span_end,
         original, correction, explanation, created_at FROM errors;
CREATE TABLE error_frequencies_new(
  user_id BLOB NOT NULL REFERENCES users(user_id),
  subcategory_id TEXT NOT NULL,
  category TEXT NOT NULL,
  subcategory TEXT NOT NULL,
  frequency INTEGER NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  decay_log2 REAL NOT NULL,
  PRIMARY KEY(user_id, subcategory_id)) WITHOUT ROWID;
INSERT INTO error_frequencies_new
  SELECT uuid_blob(user_id), subcategory_id, category, subcategory, frequency, first_seen,
         last_seen, decay_log2 FROM error_frequencies;
CREATE TABLE mastery_new(
  user_id BLOB NOT NULL REFERENCES users(user_id),
  subcategory_id TEXT NOT NULL,
  stability_days REAL NOT NULL,
  difficulty REAL NOT NULL,
  last_review INTEGER NOT NULL,
  reviews INTEGER NOT NULL,
  lapses INTEGER NOT NULL,
  last_correct INTEGER NOT NULL,
  last_lapse INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(user_id, subcategory_id)) WITHOUT ROWID;
INSERT INTO mastery_new
  SELECT uuid_blob(user_id), subcategory_id, stability_days, difficulty, last_review, reviews,
         lapses, last_correct, last_lapse FROM mastery;
CREATE TABLE attempts_new(
  attempt_id BLOB PRIMARY KEY,
  user_id BLOB NOT NULL REFERENCES users(user_id),
  exercise_id TEXT NOT NULL,
  subcategory_id TEXT NOT NULL,
  correct INTEGER NOT NULL,
  answer TEXT,
  answered_at INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO attempts_new
  SELECT uuid_blob(attempt_id), uuid_blob(user_id), exercise_id, subcategory_id, correct, answer,
         answered_at FROM attempts;
DROP TABLE attempts;
DROP TABLE mastery;
DROP TABLE error_frequencies;
DROP TABLE errors;
DROP TABLE utterances;
DROP TABLE conversations;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
ALTER TABLE conversations_new RENAME TO conversations;
ALTER TABLE utterances_new RENAME TO utterances;
ALTER TABLE errors_new RENAME TO errors;
ALTER TABLE error_frequencies_new RENAME TO error_frequencies;
ALTER TABLE mastery_new RENAME TO mastery;
ALTER TABLE attempts_new RENAME TO attempts;
CREATE INDEX conversations_user ON conversations(user_id);
CREATE INDEX utterances_conversation ON utterances(conversation_id, created_at);
CREATE INDEX errors_utterance ON errors(utterance_id);
CREATE INDEX errors_user_time ON errors(user_id, created_at);
CREATE INDEX attempts_user_time ON attempts(user_id, answered_at);
)sql",
    // 3: the learner search's indexes: usernames by lower-case prefix (only
    // those with a name: ingest makes nameless learners by the million, and
    // a query is never empty), and the newest users by creation time (ids do
    // not tell: clients choose some).
    R"sql(
CREATE INDEX users_name ON users(lower(username)) WHERE username <> '';
CREATE INDEX users_created ON users(created_at);
)sql",
    // 4: the trigrams of every learner's name (core/user_search.h
    // NameTrigrams), for typos anywhere in a name. SqliteStore::Migrate
    // fills it from the users, in this migration's transaction.
    R"sql(
CREATE TABLE user_trigrams(
  trigram TEXT NOT NULL,
  user_id BLOB NOT NULL,
  PRIMARY KEY(trigram, user_id)) WITHOUT ROWID;
)sql",
    // 5: names beyond ASCII by their folded trigrams ("José" -> "jos",
    // "ose"; core/search_fold.h), and emails by their local part's
    // (core/user_search.h UserTrigrams). No change of schema:
    // SqliteStore::Migrate adds the trigrams of the learners with a name
    // beyond ASCII or an email, in this migration's transaction (every
    // trigram of the rule before is kept).
    R"sql(
-- 5: the trigrams of names beyond ASCII and of emails (SqliteStore::Migrate)
)sql",
    // 6: a learner's conversations newest first (ListConversations), read
    // in the index's order; it serves what the index on user_id did.
    R"sql(
CREATE INDEX IF NOT EXISTS conversations_user_time
  ON conversations(user_id, started_at, conversation_id);
DROP INDEX IF EXISTS conversations_user;
)sql",
    // 7: the ids of erased learners (docs/erasure.md, "Tombstones"), which
    // no write may make a learner of again, with when and how much went
    // (what a retried erase answers).
    R"sql(
CREATE TABLE IF NOT EXISTS erased_users(
  user_id BLOB PRIMARY KEY,
  erased_at INTEGER NOT NULL,
  conversations INTEGER NOT NULL,
  utterances INTEGER NOT NULL,
  errors INTEGER NOT NULL,
  attempts INTEGER NOT NULL) WITHOUT ROWID;
)sql",
};

inline constexpr int kSchemaVersion = sizeof(kMigrations) / sizeof(kMigrations[0]);

// The learner search's queries (SqliteStore::SearchCandidates), here beside
// the indexes they need; sqlite_store_test.cc checks that their plans use
// them rather than scan the users.
// ?1: a lower-case prefix (char(1114111), U+10FFFF, sorts after any UTF-8).
inline constexpr const char* kSearchByEmail =
    "SELECT user_id, username, email, created_at FROM users"
    " WHERE email_norm >= ?1 AND email_norm < ?1 || char(1114111) LIMIT 50";
inline constexpr const char* kSearchByName =
    "SELECT user_id, username, email, created_at FROM users"
    " WHERE username <> '' AND lower(username) >= ?1 AND lower(username) < ?1 || char(1114111)"
    " LIMIT 50";
// ?1: a trigram, ?2: how many of its holders.
inline constexpr const char* kTrigramHolders =
    "SELECT user_id FROM user_trigrams WHERE trigram=?1 LIMIT ?2";
inline constexpr const char* kUserById =
    "SELECT user_id, username, email, created_at FROM users WHERE user_id=?1";
// A learner's conversations newest first, each with its utterance count and
// last utterance time (from the index on utterances(conversation_id,
// created_at)). ?1: the user, ?2: how many. kConversationsAfter adds a
// cursor, ?3 started_at and ?4 conversation id: those after it in the order.
#define ERRATA_CONVERSATIONS_SELECT                                             \
  "SELECT c.conversation_id, c.started_at,"                                     \
  " (SELECT count(*) FROM utterances u WHERE u.conversation_id = c.conversation_id)," \
  " (SELECT max(u.created_at) FROM utterances u WHERE u.conversation_id = c.conversation_id)" \
  " FROM conversations c WHERE c.user_id = ?1"
inline constexpr const char* kConversationsFirst =
    ERRATA_CONVERSATIONS_SELECT
    " ORDER BY c.started_at DESC, c.conversation_id DESC LIMIT ?2";
inline constexpr const char* kConversationsAfter =
    ERRATA_CONVERSATIONS_SELECT
    " AND (c.started_at < ?3 OR (c.started_at = ?3 AND c.conversation_id < ?4))"
    " ORDER BY c.started_at DESC, c.conversation_id DESC LIMIT ?2";
#undef ERRATA_CONVERSATIONS_SELECT
// ?1: how many.
inline constexpr const char* kNewestUsers =
    "SELECT user_id, username, email, created_at FROM users"
    " ORDER BY created_at DESC, user_id DESC LIMIT ?1";

}  // namespace errata::sqlite
