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
};

inline constexpr int kSchemaVersion = sizeof(kMigrations) / sizeof(kMigrations[0]);

}  // namespace errata::sqlite
