// The PostgreSQL schema, as numbered migrations: the same tables and columns
// as the SQLite schema (store/sqlite/schema.h). Migration i brings the
// database from schema_version i to i + 1; a new version appends, never edits.
// Timestamps are BIGINT microseconds since the epoch; ids are TEXT with the
// "C" collation, so they compare and sort bytewise as in SQLite.
#pragma once

namespace errata::postgres {

inline constexpr const char* kMigrations[] = {
    // 1: the initial schema.
    R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE users(
  user_id TEXT COLLATE "C" PRIMARY KEY,
  username TEXT NOT NULL,
  email TEXT,
  email_norm TEXT COLLATE "C" UNIQUE,
  created_at BIGINT NOT NULL);
CREATE TABLE conversations(
  conversation_id TEXT COLLATE "C" PRIMARY KEY,
  user_id TEXT COLLATE "C" NOT NULL REFERENCES users(user_id),
  started_at BIGINT NOT NULL);
CREATE INDEX conversations_user ON conversations(user_id);
CREATE TABLE utterances(
  utterance_id TEXT COLLATE "C" PRIMARY KEY,
  conversation_id TEXT COLLATE "C" NOT NULL REFERENCES conversations(conversation_id),
  user_id TEXT COLLATE "C" NOT NULL REFERENCES users(user_id),
  content TEXT,
  created_at BIGINT NOT NULL,
  request_hash BIGINT NOT NULL DEFAULT 0);
CREATE INDEX utterances_conversation ON utterances(conversation_id, created_at);
CREATE TABLE errors(
  error_id TEXT COLLATE "C" PRIMARY KEY,
  utterance_id TEXT COLLATE "C" NOT NULL REFERENCES utterances(utterance_id),
  conversation_id TEXT COLLATE "C" NOT NULL,
  user_id TEXT COLLATE "C" NOT NULL,
  category TEXT NOT NULL,
  subcategory TEXT NOT NULL,
  subcategory_id TEXT COLLATE "C" NOT NULL,
  code TEXT,
  span_start BIGINT,
  span_end BIGINT,
  original TEXT,
  correction TEXT,
  explanation TEXT,
  created_at BIGINT NOT NULL);
CREATE INDEX errors_utterance ON errors(utterance_id);
CREATE INDEX errors_user_time ON errors(user_id, created_at);
CREATE TABLE error_frequencies(
  user_id TEXT COLLATE "C" NOT NULL REFERENCES users(user_id),
  subcategory_id TEXT COLLATE "C" NOT NULL,
  category TEXT NOT NULL,
  subcategory TEXT NOT NULL,
  frequency BIGINT NOT NULL,
  first_seen BIGINT NOT NULL,
  last_seen BIGINT NOT NULL,
  decay_log2 DOUBLE PRECISION NOT NULL,
  PRIMARY KEY(user_id, subcategory_id));
CREATE TABLE mastery(
  user_id TEXT COLLATE "C" NOT NULL REFERENCES users(user_id),
  subcategory_id TEXT COLLATE "C" NOT NULL,
  stability_days DOUBLE PRECISION NOT NULL,
  difficulty DOUBLE PRECISION NOT NULL,
  last_review BIGINT NOT NULL,
  reviews BIGINT NOT NULL,
  lapses BIGINT NOT NULL,
  last_correct BIGINT NOT NULL,
  last_lapse BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY(user_id, subcategory_id));
CREATE TABLE attempts(
  attempt_id TEXT COLLATE "C" PRIMARY KEY,
  user_id TEXT COLLATE "C" NOT NULL REFERENCES users(user_id),
  exercise_id TEXT COLLATE "C" NOT NULL,
  subcategory_id TEXT COLLATE "C" NOT NULL,
  correct INTEGER NOT NULL,
  answer TEXT,
  answered_at BIGINT NOT NULL);
CREATE INDEX attempts_user_time ON attempts(user_id, answered_at);
-- log2(2^a + 2^b), exact when either side is -Infinity (no errors), and never
-- underflowing: power() raises an error rather than return 0.
CREATE FUNCTION errata_logadd2(a DOUBLE PRECISION, b DOUBLE PRECISION)
RETURNS DOUBLE PRECISION LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN a = '-Infinity'::float8 THEN b
    WHEN b = '-Infinity'::float8 THEN a
    WHEN abs(a - b) > 1000 THEN greatest(a, b)
    ELSE greatest(a, b) + ln(1 + power(2::float8, least(a, b) - greatest(a, b))) / ln(2::float8)
  END
$$;
)sql",
    // 2: the learner search's indexes (SQLite's migration 3): usernames by
    // lower-case prefix, compared bytewise, of the users with a name, and the
    // newest users by creation time (ids do not tell: clients choose some).
    R"sql(
CREATE INDEX users_name ON users((lower(username) COLLATE "C")) WHERE username <> '';
CREATE INDEX users_created ON users(created_at, user_id);
)sql",
    // 3: the trigrams of every learner's name (SQLite's migration 4; core/
    // user_search.h NameTrigrams), for typos anywhere in a name.
    // PostgresStore::Migrate fills it from the users, in this migration's
    // transaction.
    R"sql(
CREATE TABLE user_trigrams(
  trigram TEXT COLLATE "C" NOT NULL,
  user_id TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY(trigram, user_id));
)sql",
    // 4: names beyond ASCII by their folded trigrams, and emails by their
    // local part's (SQLite's migration 5; core/user_search.h UserTrigrams).
    // No change of schema: PostgresStore::Migrate adds the trigrams of the
    // learners with a name beyond ASCII or an email, in this migration's
    // transaction.
    R"sql(
SELECT 1
)sql",
    // 5: a learner's conversations newest first (ListConversations; SQLite's
    // migration 6), read in the index's order; it serves what the index on
    // user_id did.
    R"sql(
CREATE INDEX IF NOT EXISTS conversations_user_time
  ON conversations(user_id, started_at, conversation_id);
DROP INDEX IF EXISTS conversations_user;
)sql",
    // 6: the ids of erased learners (SQLite's migration 7; docs/erasure.md,
    // "Tombstones"), which no write may make a learner of again, with when
    // and how much went (what a retried erase answers).
    R"sql(
CREATE TABLE IF NOT EXISTS erased_users(
  user_id TEXT COLLATE "C" PRIMARY KEY,
  erased_at BIGINT NOT NULL,
  conversations BIGINT NOT NULL,
  utterances BIGINT NOT NULL,
  errors BIGINT NOT NULL,
  attempts BIGINT NOT NULL);
)sql",
};

inline constexpr int kSchemaVersion = sizeof(kMigrations) / sizeof(kMigrations[0]);

}  // namespace errata::postgres
