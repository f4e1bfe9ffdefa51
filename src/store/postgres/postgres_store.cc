#include "store/postgres/postgres_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "core/mastery.h"
#include "core/text.h"
#include "core/user_search.h"
#include "log/log.h"
#include "store/export_pager.h"
#include "store/postgres/schema.h"
#include "store/thread_snapshot.h"

namespace errata {

using pg::ArrayParam;
using pg::Conn;
using pg::Params;
using pg::Query;
using pg::Rows;

namespace {

// PostgreSQL text cannot hold NUL, so no stored key contains one.
bool HasNul(const std::string& s) { return s.find('\0') != std::string::npos; }

// A read transaction that sees one snapshot throughout (the read snapshot,
// a profile's load, an export).
constexpr const char* kBeginSnapshot = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

// Rolls back, on leaving its scope, a transaction its reader left open (an
// error part-way); a broken connection is reset by its next user instead.
struct RollbackOnExit {
  Conn* c;
  bool own = true;  // false: the transaction is someone else's to end
  ~RollbackOnExit() {
    if (own && !c->broken() && c->InTransaction()) (void)c->Exec("ROLLBACK");
  }
};

// Serializes migrations and the decay recomputation across errata nodes,
// which may take long: no deadline for them (the sessions' below).
constexpr const char* kLockSql =
    "SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0;"
    " SELECT pg_advisory_xact_lock(7310575183114203489)";

// Deadlines (docs/postgres.md, "Deadlines"), so that a store that hangs (a
// table locked by someone else, a stalled disk) answers 503 rather than
// never. By default (PgDeadlines; serve's --pg-*-timeout-ms): a read is a
// few index lookups, 5 s; the writer waits at most 5 s for a lock, and its
// statements, up to 20,000 ops' worth, get 60 s. Each session runs its
// setup when it connects, and again after a reset.
std::string ReaderSetup(const PgDeadlines& d) {
  return "SET statement_timeout = " + std::to_string(d.read_ms);
}
std::string WriterSetup(const PgDeadlines& d) {
  return "SET statement_timeout = " + std::to_string(d.write_ms) +
         "; SET lock_timeout = " + std::to_string(d.lock_ms);
}

// ---------------------------------------------------------------- statements

// The errors of one utterance as parallel arrays: $4.. $14.
#define ERRATA_UNNEST_ERRORS                                                                   \
  " SELECT e.error_id, $1, $2, $3, e.category, e.subcategory, e.subcategory_id, e.code,"       \
  " e.span_start, e.span_end, e.original, e.correction, e.explanation, e.created_at"           \
  " FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[],"     \
  " $10::bigint[], $11::text[], $12::text[], $13::text[], $14::bigint[])"                      \
  " AS e(error_id, category, subcategory, subcategory_id, code, span_start, span_end,"         \
  " original, correction, explanation, created_at)"
#define ERRATA_INSERT_ERRORS                                                                   \
  "INSERT INTO errors(error_id, utterance_id, conversation_id, user_id, category, subcategory," \
  " subcategory_id, code, span_start, span_end, original, correction, explanation, created_at)" \
  ERRATA_UNNEST_ERRORS

const Query kMetaGet{"meta_get", "SELECT value FROM meta WHERE key=$1"};
const Query kMetaSet{"meta_set",
                     "INSERT INTO meta(key, value) VALUES($1, $2)"
                     " ON CONFLICT(key) DO UPDATE SET value=excluded.value"};
// log2(sum 2^(t_i/h)) per point, from its errors; each term relative to the
// largest so that nothing overflows, and terms too small to count dropped
// (power() raises an error on underflow).
const Query kRecomputeDecay{
    "recompute_decay",
    "UPDATE error_frequencies f SET decay_log2 = s.v FROM ("
    " SELECT user_id, subcategory_id, hi + ln(sum(CASE WHEN t - hi < -1000 THEN 0"
    "   ELSE power(2::float8, t - hi) END)) / ln(2::float8) AS v"
    " FROM (SELECT user_id, subcategory_id, created_at::float8 / $1::float8 AS t,"
    "   max(created_at::float8 / $1::float8) OVER (PARTITION BY user_id, subcategory_id) AS hi"
    "   FROM errors) e"
    " GROUP BY user_id, subcategory_id, hi) s"
    " WHERE f.user_id = s.user_id AND f.subcategory_id = s.subcategory_id"};

// Writes.
// The user (if the id is taken), whether the email is, and whether the id
// is an erased learner's.
const Query kUserLookup{"user_lookup",
                        "SELECT u.username, u.email, u.created_at,"
                        " EXISTS(SELECT 1 FROM users WHERE email_norm=$2),"
                        " EXISTS(SELECT 1 FROM erased_users WHERE user_id=$1)"
                        " FROM (SELECT 1) d LEFT JOIN users u ON u.user_id=$1"};
const Query kInsertUser{"insert_user",
                        "INSERT INTO users(user_id, username, email, email_norm, created_at)"
                        " VALUES($1,$2,$3,$4,$5)"};
// The trigrams of new learners' names ($1: trigrams, $2: their learners).
const Query kInsertTrigrams{
    "insert_trigrams",
    "INSERT INTO user_trigrams(trigram, user_id) SELECT * FROM unnest($1::text[], $2::text[])"
    " ON CONFLICT DO NOTHING"};
// The rows of kInsertTrigrams: each trigram of each name added.
struct TrigramRows {
  ArrayParam trigram, user;
  size_t size = 0;
  void Add(const std::string& user_id, const std::string& name,
           const std::optional<std::string>& email) {
    for (const std::string& g : UserTrigrams(name, email)) {
      trigram.Add(g);
      user.Add(user_id);
      ++size;
    }
  }
  Params Take() {
    size = 0;
    Params p;
    p.Add(trigram.Take()).Add(user.Take());
    return p;
  }
};
const Query kConversationLookup{
    "conversation_lookup",
    "SELECT c.user_id, c.started_at, EXISTS(SELECT 1 FROM users WHERE user_id=$2)"
    " FROM (SELECT 1) d LEFT JOIN conversations c ON c.conversation_id=$1"};
const Query kInsertConversation{
    "insert_conversation",
    "INSERT INTO conversations(conversation_id, user_id, started_at) VALUES($1,$2,$3)"};
// The utterance (if its id is taken) and the conversation's owner (if it exists).
const Query kUtteranceLookup{
    "utterance_lookup",
    "SELECT u.request_hash, u.created_at,"
    " (SELECT user_id FROM conversations WHERE conversation_id=$2)"
    " FROM (SELECT 1) d LEFT JOIN utterances u ON u.utterance_id=$1"};
const Query kUtteranceErrors{"utterance_errors",
                             "SELECT error_id, category, subcategory, subcategory_id, code,"
                             " span_start, span_end, original, correction, explanation,"
                             " created_at FROM errors WHERE utterance_id=$1 ORDER BY error_id"};
// Ingest's first sight of a user and conversation: whether it made the
// user, and whether the id is an erased learner's (then it makes nothing).
// One statement, so the check and the inserts see one snapshot: an erase
// commits its deletes and its tombstone together.
const Query kCreateMissing{
    "create_missing",
    "WITH e AS (SELECT EXISTS(SELECT 1 FROM erased_users WHERE user_id=$1) AS erased),"
    " u AS (INSERT INTO users(user_id, username, email, email_norm, created_at)"
    " SELECT $1, $2, NULL, NULL, $4 FROM e WHERE NOT e.erased"
    " ON CONFLICT(user_id) DO NOTHING RETURNING 1),"
    " c AS (INSERT INTO conversations(conversation_id, user_id, started_at)"
    " SELECT $3, $1, $4 FROM e WHERE NOT e.erased)"
    " SELECT EXISTS(SELECT 1 FROM u), (SELECT erased FROM e)"};
// An utterance and its errors in one statement.
const Query kInsertUtterance{
    "insert_utterance",
    "WITH u AS (INSERT INTO utterances(utterance_id, conversation_id, user_id, content,"
    " created_at, request_hash) VALUES($1, $2, $3, $15, $16, $17)) " ERRATA_INSERT_ERRORS};
// The batched path (ApplyTogether): what every op's checks read, in one
// statement, one row per op in order ($1..$4: the ops' utterance,
// conversation and user ids, and a new user's lower-case email): the
// utterance if its id is taken (request hash, time, conversation, user),
// the conversation's owner, whether the user exists, whether the email
// is taken, and whether a user that does not exist was erased.
const Query kBatchLookup{
    "batch_lookup",
    "SELECT u.request_hash, u.created_at, u.conversation_id, u.user_id,"
    " (SELECT c.user_id FROM conversations c WHERE c.conversation_id = i.conversation_id),"
    " k.known,"
    " CASE WHEN i.email_norm IS NULL THEN false"
    " ELSE EXISTS(SELECT 1 FROM users WHERE email_norm = i.email_norm) END,"
    " CASE WHEN k.known THEN false"
    " ELSE EXISTS(SELECT 1 FROM erased_users WHERE user_id = i.user_id) END"
    " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY"
    " AS i(utterance_id, conversation_id, user_id, email_norm, n)"
    " CROSS JOIN LATERAL (SELECT EXISTS(SELECT 1 FROM users WHERE user_id = i.user_id) AS known) k"
    " LEFT JOIN utterances u ON u.utterance_id = i.utterance_id ORDER BY i.n"};
const Query kInsertUsers{
    "insert_users",
    "INSERT INTO users(user_id, username, email, email_norm, created_at)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[])"};
const Query kInsertConversations{
    "insert_conversations",
    "INSERT INTO conversations(conversation_id, user_id, started_at)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])"};
// The batch's utterances ($1..$6) and all its errors ($7..$20), in one
// statement: the errors' foreign keys are checked at its end.
const Query kInsertUtterancesAndErrors{
    "insert_utterances_and_errors",
    "WITH u AS (INSERT INTO utterances(utterance_id, conversation_id, user_id, content,"
    " created_at, request_hash) SELECT * FROM unnest($1::text[], $2::text[], $3::text[],"
    " $4::text[], $5::bigint[], $6::bigint[]))"
    " INSERT INTO errors(error_id, utterance_id, conversation_id, user_id, category, subcategory,"
    " subcategory_id, code, span_start, span_end, original, correction, explanation, created_at)"
    " SELECT e.error_id, e.utterance_id, e.conversation_id, e.user_id, e.category, e.subcategory,"
    " e.subcategory_id, e.code, e.span_start, e.span_end, e.original, e.correction,"
    " e.explanation, e.created_at"
    " FROM unnest($7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::bigint[],"
    " $13::bigint[], $14::text[], $15::text[], $16::text[], $17::bigint[], $18::text[],"
    " $19::text[], $20::text[])"
    " AS e(error_id, category, subcategory, subcategory_id, code, span_start, span_end,"
    " original, correction, explanation, created_at, utterance_id, conversation_id, user_id)"};
const Query kErrorsTarget{"errors_target",
                          "SELECT conversation_id, user_id FROM utterances WHERE utterance_id=$1"};
const Query kInsertErrors{"insert_errors", ERRATA_INSERT_ERRORS};
const Query kUpsertFrequencies{
    "upsert_frequencies",
    "INSERT INTO error_frequencies(user_id, subcategory_id, category, subcategory, frequency,"
    " first_seen, last_seen, decay_log2)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[],"
    " $6::bigint[], $7::bigint[], $8::float8[])"
    " ON CONFLICT(user_id, subcategory_id) DO UPDATE SET"
    " frequency = error_frequencies.frequency + excluded.frequency,"
    " first_seen = LEAST(error_frequencies.first_seen, excluded.first_seen),"
    " last_seen = GREATEST(error_frequencies.last_seen, excluded.last_seen),"
    " decay_log2 = errata_logadd2(error_frequencies.decay_log2, excluded.decay_log2)"};
// The user's existence, the point's last conversation error, and its mastery
// row, locked so that another node's attempt on the same point waits.
const Query kAttemptLookup{
    "attempt_lookup",
    "SELECT EXISTS(SELECT 1 FROM users WHERE user_id=$1),"
    " (SELECT last_seen FROM error_frequencies f WHERE f.user_id=$1 AND f.subcategory_id=$2),"
    " m.stability_days, m.difficulty, m.last_review, m.reviews, m.lapses, m.last_correct,"
    " m.last_lapse FROM (SELECT 1) d LEFT JOIN LATERAL (SELECT * FROM mastery"
    " WHERE user_id=$1 AND subcategory_id=$2 FOR UPDATE) m ON true"};
// The attempt and the point's new mastery. For a point already practised the
// mastery row is locked (kAttemptLookup) and updated; for a first attempt it
// is inserted, and when another node inserted it meanwhile the unique
// violation sends the op round again, to build on that node's attempt.
#define ERRATA_INSERT_ATTEMPT                                                                  \
  "WITH a AS (INSERT INTO attempts(attempt_id, user_id, exercise_id, subcategory_id, correct," \
  " answer, answered_at) VALUES($10, $1, $11, $2, $12, $13, $14))"                             \
  " INSERT INTO mastery(user_id, subcategory_id, stability_days, difficulty, last_review,"     \
  " reviews, lapses, last_correct, last_lapse) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9)"
const Query kInsertFirstAttempt{"insert_first_attempt", ERRATA_INSERT_ATTEMPT};
const Query kInsertAttempt{
    "insert_attempt",
    ERRATA_INSERT_ATTEMPT
    " ON CONFLICT(user_id, subcategory_id) DO UPDATE SET stability_days=excluded.stability_days,"
    " difficulty=excluded.difficulty, last_review=excluded.last_review,"
    " reviews=excluded.reviews, lapses=excluded.lapses, last_correct=excluded.last_correct,"
    " last_lapse=excluded.last_lapse"};

// A batch's attempts (ApplyAttemptsTogether): for each distinct point, in
// sorted order so that two nodes lock mastery rows in one order, its last
// conversation error and its mastery row, locked as kAttemptLookup does.
const Query kAttemptsLookup{
    "attempts_lookup",
    "SELECT (SELECT last_seen FROM error_frequencies f WHERE f.user_id=k.u AND f.subcategory_id=k.s),"
    " m.stability_days, m.difficulty, m.last_review, m.reviews, m.lapses, m.last_correct,"
    " m.last_lapse FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(u, s, n)"
    " LEFT JOIN LATERAL (SELECT * FROM mastery WHERE user_id=k.u AND subcategory_id=k.s"
    " FOR UPDATE) m ON true ORDER BY k.n"};
// The attempts ($1..$7), the new states of points practised before ($8..$16:
// their rows are locked) and those of points practised for the first time
// ($17..$25: inserted, and a row another node inserted meanwhile is a unique
// violation, which sends the batch op by op), in one statement.
const Query kInsertAttempts{
    "insert_attempts",
    "WITH a AS (INSERT INTO attempts(attempt_id, user_id, exercise_id, subcategory_id, correct,"
    " answer, answered_at) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],"
    " $5::int[], $6::text[], $7::bigint[])),"
    " up AS (UPDATE mastery m SET stability_days=v.st, difficulty=v.d, last_review=v.lr,"
    " reviews=v.r, lapses=v.l, last_correct=v.lc, last_lapse=v.ll"
    " FROM unnest($8::text[], $9::text[], $10::float8[], $11::float8[], $12::bigint[],"
    " $13::bigint[], $14::bigint[], $15::bigint[], $16::bigint[]) AS v(u, s, st, d, lr, r, l, lc, ll)"
    " WHERE m.user_id=v.u AND m.subcategory_id=v.s)"
    " INSERT INTO mastery(user_id, subcategory_id, stability_days, difficulty, last_review,"
    " reviews, lapses, last_correct, last_lapse)"
    " SELECT * FROM unnest($17::text[], $18::text[], $19::float8[], $20::float8[], $21::bigint[],"
    " $22::bigint[], $23::bigint[], $24::bigint[], $25::bigint[])"};

// Reads.
const Query kSearchByPrefix{
    "search_by_prefix",
    "(SELECT user_id, username, email, created_at FROM users"
    " WHERE email_norm >= $1 AND email_norm < $1 || chr(1114111) LIMIT 50)"
    " UNION (SELECT user_id, username, email, created_at FROM users"
    " WHERE username <> '' AND lower(username) COLLATE \"C\" >= lower($1)"
    " AND lower(username) COLLATE \"C\" < lower($1) || chr(1114111)"
    " LIMIT 50)"};
// $1: the query's trigrams; $2: how many learners to read for each.
const Query kTrigramHolders{
    "trigram_holders",
    "SELECT g.n, t.user_id FROM unnest($1::text[]) WITH ORDINALITY AS g(trigram, n)"
    " CROSS JOIN LATERAL (SELECT user_id FROM user_trigrams WHERE trigram = g.trigram LIMIT $2) t"};
const Query kUsersById{"users_by_id",
                       "SELECT user_id, username, email, created_at FROM users"
                       " WHERE user_id = ANY($1::text[])"};
const Query kNewestUsers{"newest_users",
                         "SELECT user_id, username, email, created_at FROM users"
                         " ORDER BY created_at DESC, user_id DESC LIMIT $1"};
const Query kErrorsPerDay{
    "errors_per_day",
    "SELECT created_at / 86400000000 AS day, category, count(*) FROM errors"
    " WHERE user_id=$1 AND created_at>=$2 AND created_at<=$3 GROUP BY day, category"
    " ORDER BY day, category"};
const Query kGetUser{"get_user",
                     "SELECT user_id, username, email, created_at FROM users WHERE user_id=$1"};
const Query kFindUserByEmail{
    "find_user_by_email",
    "SELECT user_id, username, email, created_at FROM users WHERE email_norm=$1"};
const Query kGetConversation{"get_conversation",
                             "SELECT user_id, started_at FROM conversations"
                             " WHERE conversation_id=$1"};
// A learner's conversations newest first, each with its utterance count and
// last utterance time. $1: the user, $2: how many; kConversationsAfter adds
// a cursor ($3 started_at, $4 conversation id): those after it in the order.
// (The counts are subqueries, run for the page's rows only.)
#define ERRATA_CONVERSATIONS_SELECT                                                         \
  "SELECT c.conversation_id, c.started_at,"                                                 \
  " (SELECT count(*) FROM utterances u WHERE u.conversation_id = c.conversation_id),"      \
  " (SELECT max(u.created_at) FROM utterances u WHERE u.conversation_id = c.conversation_id)" \
  " FROM conversations c WHERE c.user_id = $1"
#define ERRATA_CONVERSATIONS_ORDER " ORDER BY c.started_at DESC, c.conversation_id DESC LIMIT $2"
const Query kConversationsFirst{"conversations_first",
                                ERRATA_CONVERSATIONS_SELECT ERRATA_CONVERSATIONS_ORDER};
const Query kConversationsAfter{"conversations_after",
                                ERRATA_CONVERSATIONS_SELECT
                                " AND (c.started_at, c.conversation_id) < ($3, $4)"
                                ERRATA_CONVERSATIONS_ORDER};
#undef ERRATA_CONVERSATIONS_SELECT
#undef ERRATA_CONVERSATIONS_ORDER
const Query kConversationUtterances{
    "conversation_utterances",
    "SELECT utterance_id, content, created_at FROM utterances WHERE conversation_id=$1"
    " ORDER BY created_at, utterance_id"};
const Query kConversationErrors{
    "conversation_errors",
    "SELECT utterance_id, error_id, category, subcategory, subcategory_id, code, span_start,"
    " span_end, original, correction, explanation, created_at FROM errors"
    " WHERE utterance_id IN (SELECT utterance_id FROM utterances WHERE conversation_id=$1)"
    " ORDER BY error_id"};
const Query kUserExists{"user_exists", "SELECT 1 FROM users WHERE user_id=$1"};
// The columns AttemptAt reads.
#define ERRATA_ATTEMPT_COLUMNS \
  "SELECT user_id, attempt_id, exercise_id, subcategory_id, correct, answer, answered_at"
Attempt AttemptAt(const Rows& r, int i) {
  return Attempt{r.Text(i, 1), r.Text(i, 0), r.Text(i, 2), r.Text(i, 3),
                 r.Int(i, 4) != 0, r.OptText(i, 5), r.Int(i, 6)};
}
const Query kListAttempts{"list_attempts",
                          ERRATA_ATTEMPT_COLUMNS
                          " FROM attempts WHERE user_id=$1 ORDER BY answered_at, attempt_id"};
// Erasing a learner, or changing their name or email (PostgresStore::
// EraseUser, UpdateUser): the user's row is locked first, so another node's
// write for the learner waits for an erase and then finds no user, and two
// nodes' updates of one learner go one after the other.
const Query kLockUser{"lock_user",
                      "SELECT username, email, created_at FROM users WHERE user_id=$1 FOR UPDATE"};
// $2: the name's and email's trigrams, as a text[] literal.
const Query kEraseTrigrams{"erase_trigrams",
                           "DELETE FROM user_trigrams WHERE user_id=$1 AND trigram = ANY($2::text[])"};
const Query kEmailTaken{"email_taken", "SELECT EXISTS(SELECT 1 FROM users WHERE email_norm=$1)"};
const Query kUpdateUser{"update_user",
                        "UPDATE users SET username=$2, email=$3, email_norm=$4 WHERE user_id=$1"};
#define ERRATA_ERASE(name, sql) \
  Query { name, "WITH d AS (" sql " RETURNING 1) SELECT count(*) FROM d" }
const Query kEraseTables[] = {  // children first, each with its count
    ERRATA_ERASE("erase_errors", "DELETE FROM errors WHERE user_id=$1"),
    ERRATA_ERASE("erase_utterances",
                 "DELETE FROM utterances WHERE conversation_id IN"
                 " (SELECT conversation_id FROM conversations WHERE user_id=$1)"),
    ERRATA_ERASE("erase_attempts", "DELETE FROM attempts WHERE user_id=$1"),
    ERRATA_ERASE("erase_mastery", "DELETE FROM mastery WHERE user_id=$1"),
    ERRATA_ERASE("erase_points", "DELETE FROM error_frequencies WHERE user_id=$1"),
    ERRATA_ERASE("erase_conversations", "DELETE FROM conversations WHERE user_id=$1"),
    ERRATA_ERASE("erase_user", "DELETE FROM users WHERE user_id=$1"),
};
#undef ERRATA_ERASE
const Query kInsertTombstone{
    "insert_tombstone",
    "INSERT INTO erased_users(user_id, erased_at, conversations, utterances, errors, attempts)"
    " VALUES($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING"};
const Query kTombstone{"tombstone",
                       "SELECT erased_at, conversations, utterances, errors, attempts"
                       " FROM erased_users WHERE user_id=$1"};
// Whether any of the learners ($1, a text[] literal) was erased (CheckNotErasedMeanwhile).
// A join rather than `= ANY($1)`: with few tombstones PostgreSQL hashes them
// instead of comparing every id with every tombstone; with many it probes
// the index.
const Query kAnyErased{"any_erased",
                       "SELECT EXISTS(SELECT 1 FROM unnest($1::text[]) i(user_id)"
                       " JOIN erased_users e ON e.user_id = i.user_id)"};
Params TombstoneParams(const WriteOp& op) {
  return Params()
      .Add(op.user.user_id)
      .Add(op.erased_at)
      .Add(op.erased.conversations)
      .Add(op.erased.utterances)
      .Add(op.erased.errors)
      .Add(op.erased.attempts);
}

// `items` as a PostgreSQL array literal of texts: {"a","b"}.
std::string TextArray(const std::vector<std::string>& items) {
  std::string out = "{";
  for (const std::string& item : items) {
    if (out.size() > 1) out.push_back(',');
    out.push_back('"');
    for (char c : item) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}
const Query kProfilePoints{
    "profile_points",
    "SELECT f.subcategory_id, f.category, f.subcategory, f.frequency, f.first_seen, f.last_seen,"
    " f.decay_log2, m.stability_days, m.difficulty, m.last_review, m.reviews, m.lapses,"
    " m.last_correct, m.last_lapse FROM error_frequencies f LEFT JOIN mastery m"
    " ON m.user_id=f.user_id AND m.subcategory_id=f.subcategory_id WHERE f.user_id=$1"};
const Query kProfileExamples{
    "profile_examples",
    "SELECT e.error_id, e.subcategory_id, u.content, e.original, e.correction, e.span_start,"
    " e.span_end, e.created_at FROM errors e JOIN utterances u USING(utterance_id)"
    " WHERE e.user_id=$1 AND e.correction IS NOT NULL AND u.content IS NOT NULL"
    " ORDER BY e.created_at DESC, e.error_id DESC LIMIT 30"};
const Query kProfileRecentCorrect{
    "profile_recent_correct",
    "SELECT exercise_id, answered_at FROM attempts WHERE user_id=$1 AND correct=1"
    " ORDER BY answered_at DESC, attempt_id DESC LIMIT 100"};
const Query kErrorsBetween{
    "errors_between",
    "SELECT subcategory_id, category, subcategory, created_at FROM errors"
    " WHERE user_id=$1 AND created_at>=$2 AND created_at<=$3"};
const Query kPing{"ping", "SELECT 1"};

// Reads one error from columns c .. c+10: error_id, category, subcategory,
// subcategory_id, code, span_start, span_end, original, correction, explanation, created_at.
ErrorRecord ReadError(const Rows& r, int row, int c) {
  ErrorRecord e;
  e.error_id = r.Text(row, c);
  e.category = r.Text(row, c + 1);
  e.subcategory = r.Text(row, c + 2);
  e.subcategory_id = r.Text(row, c + 3);
  e.code = r.OptText(row, c + 4).value_or("");
  if (!r.IsNull(row, c + 5)) e.span = Span{r.Int(row, c + 5), r.Int(row, c + 6)};
  e.original = r.OptText(row, c + 7);
  e.correction = r.OptText(row, c + 8);
  e.explanation = r.OptText(row, c + 9);
  e.created_at = r.Int(row, c + 10);
  return e;
}

MemoryState ReadMemory(const Rows& r, int row, int c) {
  return MemoryState{r.Real(row, c),     r.Real(row, c + 1), r.Int(row, c + 2), r.Int(row, c + 3),
                     r.Int(row, c + 4), r.Int(row, c + 5), r.Int(row, c + 6)};
}

// Errors as columns, one array parameter each, in the order of
// ERRATA_UNNEST_ERRORS: error_id, category, subcategory, subcategory_id,
// code, span_start, span_end, original, correction, explanation, created_at.
struct ErrorColumns {
  ArrayParam id, cat, sub, sub_id, code, start, end, orig, corr, expl, at;

  void Add(const ErrorRecord& e) {
    id.Add(e.error_id);
    cat.Add(e.category);
    sub.Add(e.subcategory);
    sub_id.Add(e.subcategory_id);
    if (e.code.empty()) {
      code.AddNull();
    } else {
      code.Add(e.code);
    }
    if (e.span) {
      start.Add(e.span->start);
      end.Add(e.span->end);
    } else {
      start.AddNull();
      end.AddNull();
    }
    orig.Add(e.original);
    corr.Add(e.correction);
    expl.Add(e.explanation);
    at.Add(e.created_at);
  }
  void TakeInto(Params* p) {
    for (ArrayParam* a : {&id, &cat, &sub, &sub_id, &code, &start, &end, &orig, &corr, &expl, &at}) {
      p->Add(a->Take());
    }
  }
};

// Appends $1..$14 of the error-inserting statements for utterance u.
void AddErrorParams(const Utterance& u, Params* p) {
  p->Add(u.utterance_id).Add(u.conversation_id).Add(u.user_id);
  ErrorColumns columns;
  for (const auto& e : u.errors) columns.Add(e);
  columns.TakeInto(p);
}

// Whether a failed statement concerns only the op that ran it (a race with
// another writer, or a value PostgreSQL cannot store) rather than the batch.
bool OpLevel(const Status& s) {
  return s.code() == Status::Code::kConflict || s.code() == Status::Code::kNotFound ||
         s.code() == Status::Code::kInvalidArgument;
}

}  // namespace

// A copy's bulk load (BeginBulkLoad, EndBulkLoad): the secondary indexes'
// definitions wait in meta under "deferred_index:<name>".
constexpr const char* kUnfinishedCopy =
    "SELECT count(*) FROM meta WHERE starts_with(key, 'deferred_index:')";
constexpr const char* kDeferIndexes =
    "DO $$ DECLARE r record; BEGIN"
    " FOR r IN SELECT indexname, indexdef FROM pg_indexes"
    "  WHERE schemaname = current_schema() AND indexdef LIKE 'CREATE INDEX %' LOOP"
    "  INSERT INTO meta(key, value) VALUES('deferred_index:' || r.indexname, r.indexdef);"
    "  EXECUTE format('DROP INDEX %I', r.indexname);"
    " END LOOP; END $$";
constexpr const char* kBuildIndexes =
    "SET LOCAL maintenance_work_mem = '256MB';"
    " DO $$ DECLARE r record; BEGIN"
    " FOR r IN SELECT value FROM meta WHERE starts_with(key, 'deferred_index:') LOOP"
    "  EXECUTE r.value;"
    " END LOOP;"
    " DELETE FROM meta WHERE starts_with(key, 'deferred_index:'); END $$";

namespace {

// This thread's read snapshot (BeginReadSnapshot): the connection whose
// REPEATABLE READ transaction it is.
using SnapshotSlot = ThreadSnapshotSlot<Conn>;

}  // namespace

// RAII: a pooled read connection for the length of one call, reset first if
// an earlier call found it broken; or, when this thread holds a read
// snapshot of the store, that snapshot's connection and transaction.
class PostgresStore::Reader {
 public:
  explicit Reader(PostgresStore* s) : store_(s), conn_(SnapshotSlot::Of(s)) {
    if (conn_ != nullptr) return;
    auto borrowed = s->Borrow();
    if (!borrowed.ok()) {
      status_ = borrowed.status();
      return;
    }
    owned_ = std::move(*borrowed);
    conn_ = owned_.get();
    status_ = conn_->EnsureUsable();
  }
  ~Reader() {
    if (owned_ != nullptr) store_->Return(std::move(owned_));
  }
  const Status& status() const { return status_; }
  Conn* operator->() { return conn_; }
  Conn* get() { return conn_; }

 private:
  PostgresStore* store_;
  std::unique_ptr<Conn> owned_;  // null inside a read snapshot
  Conn* conn_;
  Status status_;
};

class PostgresStore::ThreadSnapshot : public ReadSnapshot {
 public:
  ThreadSnapshot(PostgresStore* s, std::unique_ptr<Conn> conn) : store_(s), conn_(std::move(conn)) {
    slot_.emplace(s, conn_.get());
  }
  ~ThreadSnapshot() override {
    slot_.reset();
    if (conn_->InTransaction()) conn_->Exec("ROLLBACK");  // read only: nothing to keep
    store_->Return(std::move(conn_));
  }

 private:
  PostgresStore* store_;
  std::unique_ptr<Conn> conn_;
  std::optional<SnapshotSlot> slot_;
};

// REPEATABLE READ: every statement of the transaction sees the snapshot its
// first one took, so one is run here.
Result<std::unique_ptr<Store::ReadSnapshot>> PostgresStore::BeginReadSnapshot() {
  if (SnapshotSlot::Held()) return Status::Internal("a read snapshot is already open");
  auto borrowed = Borrow();
  if (!borrowed.ok()) return borrowed.status();
  std::unique_ptr<Conn> conn = std::move(*borrowed);
  Status s = conn->EnsureUsable();
  if (s.ok()) {
    s = conn->Exec(std::string(kBeginSnapshot) + "; SELECT 1").status();
  }
  if (!s.ok()) {
    if (conn->InTransaction()) conn->Exec("ROLLBACK");
    Return(std::move(conn));
    return s;
  }
  return std::unique_ptr<ReadSnapshot>(new ThreadSnapshot(this, std::move(conn)));
}

Result<std::unique_ptr<PostgresStore>> PostgresStore::Open(const std::string& url,
                                                           Micros half_life, int pool_size,
                                                           PgDeadlines deadlines) {
  std::unique_ptr<PostgresStore> store(new PostgresStore(url, half_life));
  store->borrow_ms_ = deadlines.borrow_ms;
  auto w = Conn::Connect(url, WriterSetup(deadlines));
  if (!w.ok()) return w.status();
  store->writer_ = std::move(*w);
  store->NoteWriterServer();
  if (Status s = store->Migrate(); !s.ok()) return s;
  if (auto r = store->writer_->Exec(kUnfinishedCopy); !r.ok() || r->Int(0, 0) > 0) {
    return r.ok() ? UnfinishedCopy(store->Describe()) : r.status();
  }
  if (Status s = store->RecomputeDecayIfNeeded(); !s.ok()) return s;
  for (int i = 0; i < std::max(pool_size, 1); ++i) {
    auto r = Conn::Connect(url, ReaderSetup(deadlines));
    if (!r.ok()) return r.status();
    store->pool_.push_back(std::move(*r));
  }
  return store;
}

Status PostgresStore::Migrate() {
  Conn* c = writer_.get();
  auto begin = c->Exec(std::string("BEGIN; ") + kLockSql +
                       "; CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL);"
                       " SELECT COALESCE(max(version), 0) FROM schema_version");
  if (!begin.ok()) {
    c->Exec("ROLLBACK");
    return begin.status();
  }
  const int64_t version = begin->Int(0, 0);
  if (version > postgres::kSchemaVersion) {
    c->Exec("ROLLBACK");
    return Status::Internal("database schema version " + std::to_string(version) +
                            " is newer than this binary's " +
                            std::to_string(postgres::kSchemaVersion));
  }
  for (int64_t v = version; v < postgres::kSchemaVersion; ++v) {
    auto r = c->Exec(std::string(postgres::kMigrations[v]) +
                     "; DELETE FROM schema_version; INSERT INTO schema_version VALUES(" +
                     std::to_string(v + 1) + ")");
    Status s = r.status();
    // Migration 3 indexes every learner by the current rule; 4 only those
    // the earlier rule (the ASCII name's trigrams alone) left short.
    if (s.ok() && v + 1 == 3) s = IndexEveryUser(false);
    if (s.ok() && v + 1 == 4 && version == 3) s = IndexEveryUser(true);
    if (!s.ok()) {
      c->Exec("ROLLBACK");
      return s;
    }
  }
  return c->Exec("COMMIT").status();
}

// Migrations 3 and 4: the trigrams of the learners there already (only
// those GainsTrigramsOverAsciiNameRule when `gaining`), in statements of at
// most 100,000 trigrams.
Status PostgresStore::IndexEveryUser(bool gaining) {
  auto r = writer_->Exec(
      "SELECT user_id, username, email FROM users WHERE username <> '' OR email IS NOT NULL");
  if (!r.ok()) return r.status();
  TrigramRows rows;
  for (int i = 0; i < r->size(); ++i) {
    const std::string name = r->Text(i, 1);
    const std::optional<std::string> email = r->OptText(i, 2);
    if (!gaining || GainsTrigramsOverAsciiNameRule(name, email)) {
      rows.Add(r->Text(i, 0), name, email);
    }
    if (rows.size >= 100'000 || (i + 1 == r->size() && rows.size > 0)) {
      if (auto done = writer_->Exec(kInsertTrigrams, rows.Take()); !done.ok()) return done.status();
    }
  }
  return Status::Ok();
}

// decay_log2 depends on the half-life; when it changes, recompute from the errors.
Status PostgresStore::RecomputeDecayIfNeeded() {
  Conn* c = writer_.get();
  const std::string want = std::to_string(half_life_);
  auto fail = [c](Status s) {
    c->Exec("ROLLBACK");
    return s;
  };
  if (auto r = c->Exec(std::string("BEGIN; ") + kLockSql); !r.ok()) return fail(r.status());
  auto have = c->Exec(kMetaGet, Params().Add("decay_half_life_us"));
  if (!have.ok()) return fail(have.status());
  if (!have->empty() && have->Text(0, 0) == want) return c->Exec("COMMIT").status();
  if (auto r = c->Exec(kRecomputeDecay, Params().Add(static_cast<double>(half_life_))); !r.ok()) {
    return fail(r.status());
  }
  if (auto r = c->Exec(kMetaSet, Params().Add("decay_half_life_us").Add(want)); !r.ok()) {
    return fail(r.status());
  }
  return c->Exec("COMMIT").status();
}

// Every connection busy for this long means they are stuck (a network that
// lost PostgreSQL; each one's own deadlines end that in time) or the node
// is over its capacity: either way a 503 now serves the client better than
// an HTTP thread held for as long as it lasts, which with every thread held
// would leave even /healthz unanswered.
Result<std::unique_ptr<Conn>> PostgresStore::Borrow() {
  std::unique_lock lock(pool_mu_);
  auto free = [this] { return !pool_.empty(); };
  if (borrow_ms_ <= 0) {
    pool_cv_.wait(lock, free);
  } else if (!pool_cv_.wait_for(lock, std::chrono::milliseconds(borrow_ms_), free)) {
    return Status::Unavailable(
        fmt::format("postgres: no read connection free within {} ms", borrow_ms_));
  }
  auto c = std::move(pool_.back());
  pool_.pop_back();
  return c;
}

void PostgresStore::Return(std::unique_ptr<Conn> c) {
  {
    std::lock_guard lock(pool_mu_);
    pool_.push_back(std::move(c));
  }
  pool_cv_.notify_one();
}

// A batch goes the batched way first (ApplyTogether): a handful of
// statements for the whole batch, attempts included. When that meets
// anything but the plain case (a replay, a race with another node, a value
// PostgreSQL rejects), it is rolled back and the batch goes op by op, each
// under a savepoint (ApplyInSavepoint).
Status PostgresStore::ApplyBatch(const std::vector<WriteOp*>& ops, DeltaSet* deltas) {
  if (!EraseIsAlone(ops)) return FailBatch(EraseNotAlone(), ops);
  DeltaSet batch(half_life_);
  Status s = writer_->EnsureUsable();
  if (s.ok() && writer_->InTransaction()) s = writer_->Exec("ROLLBACK").status();
  bool together = false;
  const bool batchable = Batchable(ops);
  if (s.ok() && batchable) {
    s = ApplyTogether(ops, &batch, &together);
    if (s.ok() && !together) {
      s = writer_->Exec("ROLLBACK").status();
      batch = DeltaSet(half_life_);
    }
  }
  if (!together) {
    // The first op's savepoint goes with BEGIN, in its round trip.
    if (s.ok() && !ops.empty()) s = BeginBatch(ops, "; SAVEPOINT op");
    for (size_t i = 0; s.ok() && i < ops.size(); ++i) s = ApplyInSavepoint(ops[i], &batch, i == 0);
  }
  if (s.ok() && ops.empty()) s = writer_->Exec("BEGIN").status();
  if (s.ok()) s = UpsertFrequencies(batch);
  may_have_committed_ = false;
  if (s.ok()) {
    s = writer_->Exec("COMMIT").status();
    // An error PostgreSQL answered rolled the transaction back; a connection
    // lost meanwhile leaves it unknown whether the COMMIT arrived.
    may_have_committed_ = !s.ok() && writer_->broken();
  }
  if (!s.ok()) {
    if (!writer_->broken() && writer_->InTransaction()) writer_->Exec("ROLLBACK");
    return FailBatch(s, ops);
  }
  (together ? batches_together_ : batchable ? batches_fallback_ : batches_op_by_op_)
      .fetch_add(1, std::memory_order_relaxed);
  NoteWriterServer();  // it may have reconnected, to another host
  *deltas = std::move(batch);
  return Status::Ok();
}

// Opens a batch's transaction and locks its learners' rows in users, in id
// order, before anything else (docs/postgres.md, "Lock order"): FOR KEY
// SHARE, or FOR UPDATE when the batch erases a learner or changes one's
// name or email (then all of them: such batches are few). An erase locks
// its learner's row and then deletes the rows under it, so a batch that
// had locked one of those first (an utterance it adds errors to, through
// the foreign key; a mastery row) and only then came to the user's row (a
// new frequency row's foreign key) waited for the erase while the erase
// waited for it: deadlock, and the whole batch failed with 503. Now a
// batch holds nothing of a learner when it waits for their row, and an
// erase holding the row waits for nobody who waits for it. Every batch
// takes its users' rows in one order, so they cannot deadlock on them
// either. One simple query with BEGIN: no round trip more than before.
Status PostgresStore::BeginBatch(const std::vector<WriteOp*>& ops, std::string_view then) {
  std::vector<std::string_view> ids;
  ids.reserve(ops.size());
  bool exclusive = false;
  for (const WriteOp* op : ops) {
    switch (op->kind) {
      case WriteOp::Kind::kCreateUser: ids.push_back(op->user.user_id); break;
      case WriteOp::Kind::kCreateConversation: ids.push_back(op->conversation.user_id); break;
      case WriteOp::Kind::kRecordAttempt: ids.push_back(op->attempt.user_id); break;
      case WriteOp::Kind::kRecordErasure: break;  // a tombstone: no row in users
      case WriteOp::Kind::kEraseUser:
      case WriteOp::Kind::kUpdateUser:
        exclusive = true;
        ids.push_back(op->user.user_id);
        break;
      default: ids.push_back(op->utterance.user_id); break;
    }
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  ArrayParam array;
  size_t n = 0;
  for (std::string_view id : ids) {
    if (id.find('\0') != std::string_view::npos) continue;  // no such learner (text cannot hold NUL)
    array.Add(id);
    ++n;
  }
  if (n == 0) return writer_->Exec(fmt::format("BEGIN{}", then)).status();
  auto literal = writer_->Literal(array.Take());
  if (!literal.ok()) return literal.status();
  return writer_
      ->Exec(fmt::format("BEGIN; SELECT 1 FROM users WHERE user_id = ANY({}::text[])"
                         " ORDER BY user_id FOR {}{}",
                         *literal, exclusive ? "UPDATE" : "KEY SHARE", then))
      .status();
}

bool PostgresStore::Batchable(const std::vector<WriteOp*>& ops) {
  if (ops.empty()) return false;
  std::unordered_set<std::string_view> utterances;
  for (const WriteOp* op : ops) {
    // Op by op: an erase (EraseUser), a copy's tombstones and a learner's
    // new name or email (few).
    if (op->kind == WriteOp::Kind::kEraseUser || op->kind == WriteOp::Kind::kRecordErasure ||
        op->kind == WriteOp::Kind::kUpdateUser) {
      return false;
    }
    if (op->kind == WriteOp::Kind::kAddUtterance) {
      // The same utterance twice: the second is a replay or a conflict.
      if (!utterances.insert(op->utterance.utterance_id).second) return false;
    }
  }
  return true;
}

// The batched path, for any batch whose utterance ids are distinct: BEGIN,
// one lookup for every op's checks, the checks in memory (seeing what the
// batch's earlier ops add, as the op-by-op path sees their rows), then one
// insert per table for the whole batch, and the attempts last
// (ApplyAttemptsTogether). *done is false when the batch needs the op-by-op
// path after all: a user, conversation or utterance id already taken (a
// replay or a conflicting reuse), or a statement that failed for an op's
// sake (a race with another node, a value PostgreSQL rejects); the
// transaction is then still open, for the caller to roll back. A failure of
// the batch (the connection, the disk) is returned.
Status PostgresStore::ApplyTogether(const std::vector<WriteOp*>& ops, DeltaSet* deltas,
                                    bool* done) {
  *done = false;
  ArrayParam lookup_utterance, lookup_conversation, lookup_user, lookup_email;
  for (const WriteOp* op : ops) {
    switch (op->kind) {
      case WriteOp::Kind::kCreateUser:
        lookup_utterance.AddNull();
        lookup_conversation.AddNull();
        lookup_user.Add(op->user.user_id);
        if (op->user.email) {
          lookup_email.Add(AsciiLower(*op->user.email));
        } else {
          lookup_email.AddNull();
        }
        break;
      case WriteOp::Kind::kCreateConversation:
        lookup_utterance.AddNull();
        lookup_conversation.Add(op->conversation.conversation_id);
        lookup_user.Add(op->conversation.user_id);
        lookup_email.AddNull();
        break;
      case WriteOp::Kind::kRecordAttempt:
        lookup_utterance.AddNull();
        lookup_conversation.AddNull();
        lookup_user.Add(op->attempt.user_id);
        lookup_email.AddNull();
        break;
      default:
        lookup_utterance.Add(op->utterance.utterance_id);
        lookup_conversation.Add(op->utterance.conversation_id);
        lookup_user.Add(op->utterance.user_id);
        lookup_email.AddNull();
        break;
    }
  }
  if (Status st = BeginBatch(ops); !st.ok()) return st;
  auto found = writer_->Exec(kBatchLookup, Params()
                                               .Add(lookup_utterance.Take())
                                               .Add(lookup_conversation.Take())
                                               .Add(lookup_user.Take())
                                               .Add(lookup_email.Take()));
  if (!found.ok()) return OpLevel(found.status()) ? Status::Ok() : found.status();
  if (found->size() != static_cast<int>(ops.size())) {
    return Status::Internal("batch lookup: one row per op expected");
  }
  struct Owners {
    std::string conversation_id, user_id;
  };
  std::unordered_map<std::string, std::string> new_conversations;  // id -> owner
  std::unordered_set<std::string> new_users, new_emails;
  std::unordered_map<std::string, Owners> new_utterances;
  ArrayParam user_id, user_name, user_email, user_email_norm, user_at;
  TrigramRows trigrams;  // of the new learners' names
  ArrayParam conversation_id, conversation_user, conversation_at;
  ArrayParam utterance_id, utterance_conversation, utterance_user, content, utterance_at, hash;
  ErrorColumns errors;
  ArrayParam error_utterance, error_conversation, error_user;
  size_t error_count = 0;
  std::vector<WriteOp*> attempts;
  for (size_t i = 0; i < ops.size(); ++i) {
    WriteOp* op = ops[i];
    const int row = static_cast<int>(i);
    op->status = Status::Ok();
    op->replayed = false;
    op->created_user = false;
    Utterance& u = op->utterance;
    if (op->kind == WriteOp::Kind::kRecordAttempt) {
      // Its learner exists, or an earlier op of the batch makes them (as op by op).
      if (!found->Bool(row, 5) && !new_users.contains(op->attempt.user_id)) {
        op->status = Status::NotFound("User not found");
      } else {
        attempts.push_back(op);
      }
      continue;
    }
    if (op->kind == WriteOp::Kind::kCreateUser) {
      const User& nu = op->user;
      // A taken id (a replay or a conflict), here or earlier in the batch: op by op.
      if (found->Bool(row, 5) || new_users.contains(nu.user_id)) return Status::Ok();
      if (found->Bool(row, 7)) {
        op->status = LearnerErased();
        continue;
      }
      std::optional<std::string> norm;
      if (nu.email) norm = AsciiLower(*nu.email);
      if (norm && (found->Bool(row, 6) || new_emails.contains(*norm))) {
        op->status = Status::Conflict("Email already registered");
        continue;
      }
      new_users.insert(nu.user_id);
      if (norm) new_emails.insert(*norm);
      user_id.Add(nu.user_id);
      user_name.Add(nu.username);
      user_email.Add(nu.email);
      user_email_norm.Add(norm);
      user_at.Add(nu.created_at);
      trigrams.Add(nu.user_id, nu.username, nu.email);
      op->created_user = true;
      continue;
    }
    if (op->kind == WriteOp::Kind::kCreateConversation) {
      const Conversation& c = op->conversation;
      if (!found->IsNull(row, 4) || new_conversations.contains(c.conversation_id)) {
        return Status::Ok();  // a taken id: op by op
      }
      if (!found->Bool(row, 5) && !new_users.contains(c.user_id)) {
        op->status = Status::NotFound("User not found");
        continue;
      }
      conversation_id.Add(c.conversation_id);
      conversation_user.Add(c.user_id);
      conversation_at.Add(c.started_at);
      new_conversations.emplace(c.conversation_id, c.user_id);
      continue;
    }
    if (op->kind == WriteOp::Kind::kAddUtterance) {
      if (!found->IsNull(row, 0)) return Status::Ok();  // a replay or a conflict: op by op
      std::string owner;
      bool known = false;
      if (auto it = new_conversations.find(u.conversation_id); it != new_conversations.end()) {
        known = true;
        owner = it->second;
      } else if (!found->IsNull(row, 4)) {
        known = true;
        owner = found->Text(row, 4);
      }
      if (!CheckConversationForUtterance(op, known, owner)) continue;
      if (!known) {  // ingest's first sight of the conversation, perhaps of the user
        if (found->Bool(row, 7)) {
          op->status = LearnerErased();
          continue;
        }
        if (!found->Bool(row, 5) && new_users.insert(u.user_id).second) {
          user_id.Add(u.user_id);
          user_name.Add(op->user.username);
          user_email.AddNull();
          user_email_norm.AddNull();
          user_at.Add(u.created_at);
          trigrams.Add(u.user_id, op->user.username, std::nullopt);
          op->created_user = true;
        }
        conversation_id.Add(u.conversation_id);
        conversation_user.Add(u.user_id);
        conversation_at.Add(u.created_at);
        new_conversations.emplace(u.conversation_id, u.user_id);
      }
      utterance_id.Add(u.utterance_id);
      utterance_conversation.Add(u.conversation_id);
      utterance_user.Add(u.user_id);
      content.Add(u.content);
      utterance_at.Add(u.created_at);
      hash.Add(static_cast<int64_t>(op->request_hash));
      new_utterances.emplace(u.utterance_id, Owners{u.conversation_id, u.user_id});
    } else {  // kAddErrors
      Owners target;
      if (auto it = new_utterances.find(u.utterance_id); it != new_utterances.end()) {
        target = it->second;
      } else if (!found->IsNull(row, 0)) {
        target = Owners{found->Text(row, 2), found->Text(row, 3)};
      } else {
        op->status = Status::NotFound("Utterance not found");
        continue;
      }
      if (target.conversation_id != u.conversation_id || target.user_id != u.user_id) {
        op->status = Status::InvalidArgument(
            "user_id, conversation_id and utterance_id do not belong together", "utterance_id");
        continue;
      }
    }
    error_count += u.errors.size();
    for (const ErrorRecord& e : u.errors) {
      errors.Add(e);
      error_utterance.Add(u.utterance_id);
      error_conversation.Add(u.conversation_id);
      error_user.Add(u.user_id);
    }
    deltas->AddAll(u);
  }
  // An op-level failure sends the batch op by op; any other fails it.
  auto run = [&](const Query& q, Params p, bool* ok) {
    auto r = writer_->Exec(q, p);
    *ok = r.ok();
    return r.ok() || OpLevel(r.status()) ? Status::Ok() : r.status();
  };
  bool ok = true;
  if (!new_users.empty()) {
    const std::string made = user_id.Take();
    Status st = run(kInsertUsers,
                    Params()
                        .Add(made)
                        .Add(user_name.Take())
                        .Add(user_email.Take())
                        .Add(user_email_norm.Take())
                        .Add(user_at.Take()),
                    &ok);
    if (!st.ok() || !ok) return st;
    if (st = CheckNotErasedMeanwhile(made); !st.ok()) return OpLevel(st) ? Status::Ok() : st;
  }
  if (trigrams.size > 0) {
    Status st = run(kInsertTrigrams, trigrams.Take(), &ok);
    if (!st.ok() || !ok) return st;
  }
  if (!new_conversations.empty()) {
    Status st = run(kInsertConversations,
                    Params()
                        .Add(conversation_id.Take())
                        .Add(conversation_user.Take())
                        .Add(conversation_at.Take()),
                    &ok);
    if (!st.ok() || !ok) return st;
  }
  if (!new_utterances.empty() || error_count > 0) {
    Params p;
    for (ArrayParam* a : {&utterance_id, &utterance_conversation, &utterance_user, &content,
                          &utterance_at, &hash}) {
      p.Add(a->Take());
    }
    errors.TakeInto(&p);
    for (ArrayParam* a : {&error_utterance, &error_conversation, &error_user}) p.Add(a->Take());
    Status st = run(kInsertUtterancesAndErrors, std::move(p), &ok);
    if (!st.ok() || !ok) return st;
  }
  if (!attempts.empty()) return ApplyAttemptsTogether(attempts, done);
  *done = true;
  return Status::Ok();
}

// The batch's attempts, after its other ops (which they cannot see but for
// new learners: the errors' counts are upserted at the batch's end on both
// paths): one lookup of every point they practise, the memory states worked
// out in batch order (a second attempt at a point builds on the first), and
// one statement for the attempts and the points' states. *done as for
// ApplyTogether: false after an op-level failure (a taken attempt id, a
// first state another node inserted meanwhile).
Status PostgresStore::ApplyAttemptsTogether(const std::vector<WriteOp*>& attempts, bool* done) {
  struct Point {
    Micros last_error = 0;
    bool practised = false;  // a mastery row exists (and is locked)
    MemoryState memory;
  };
  std::map<std::pair<std::string_view, std::string_view>, Point> points;
  for (const WriteOp* op : attempts) points[{op->attempt.user_id, op->attempt.subcategory_id}];
  ArrayParam key_user, key_point;
  for (const auto& [key, point] : points) {
    key_user.Add(key.first);
    key_point.Add(key.second);
  }
  auto found = writer_->Exec(kAttemptsLookup, Params().Add(key_user.Take()).Add(key_point.Take()));
  if (!found.ok()) return OpLevel(found.status()) ? Status::Ok() : found.status();
  if (found->size() != static_cast<int>(points.size())) {
    return Status::Internal("attempts lookup: one row per point expected");
  }
  int row = 0;
  for (auto& [key, point] : points) {
    point.last_error = found->IsNull(row, 0) ? 0 : found->Int(row, 0);
    point.practised = !found->IsNull(row, 1);
    if (point.practised) point.memory = ReadMemory(*found, row, 1);
    ++row;
  }
  ArrayParam id, user, exercise, point_id, correct, answer, at;
  for (WriteOp* op : attempts) {
    const Attempt& a = op->attempt;
    Point& p = points[{a.user_id, a.subcategory_id}];
    if (!op->memory_given) {
      op->memory = AfterAttempt(WithLapses(p.memory, p.last_error), a.correct, a.answered_at);
    }
    p.memory = op->memory;
    id.Add(a.attempt_id);
    user.Add(a.user_id);
    exercise.Add(a.exercise_id);
    point_id.Add(a.subcategory_id);
    correct.Add(static_cast<int64_t>(a.correct));
    answer.Add(a.answer);
    at.Add(a.answered_at);
  }
  Params params;
  for (ArrayParam* c : {&id, &user, &exercise, &point_id, &correct, &answer, &at}) {
    params.Add(c->Take());
  }
  for (const bool practised : {true, false}) {  // updated, then inserted
    ArrayParam cols[9];
    for (const auto& [key, p] : points) {
      if (p.practised != practised) continue;
      const MemoryState& m = p.memory;
      cols[0].Add(key.first);
      cols[1].Add(key.second);
      cols[2].Add(m.stability_days);
      cols[3].Add(m.difficulty);
      cols[4].Add(m.last_review);
      cols[5].Add(m.reviews);
      cols[6].Add(m.lapses);
      cols[7].Add(m.last_correct);
      cols[8].Add(m.last_lapse);
    }
    for (ArrayParam& c : cols) params.Add(c.Take());
  }
  auto r = writer_->Exec(kInsertAttempts, params);
  if (!r.ok()) return OpLevel(r.status()) ? Status::Ok() : r.status();
  *done = true;
  return Status::Ok();
}

// Runs one op under the savepoint "op" (the first op also opens the
// transaction; later ones release the previous op's savepoint in the same
// round trip; COMMIT releases the last). When a statement fails because of
// this op alone (a unique or foreign-key violation from a race with another
// node, or a value PostgreSQL rejects), the op is rolled back to the
// savepoint; after a race it runs once more, now seeing the other node's
// committed row (so a concurrent identical write becomes a replay), and if it
// still fails it is reported on the op. Any other failure fails the batch.
Status PostgresStore::ApplyInSavepoint(WriteOp* op, DeltaSet* deltas, bool first) {
  // The first op's savepoint was opened with the batch (BeginBatch).
  if (!first) {
    if (auto r = writer_->Exec("RELEASE SAVEPOINT op; SAVEPOINT op"); !r.ok()) return r.status();
  }
  for (int attempt = 0;; ++attempt) {
    Status s = Apply(op, deltas);
    if (s.ok()) return s;
    if (!OpLevel(s)) return s;
    if (auto r = writer_->Exec("ROLLBACK TO SAVEPOINT op"); !r.ok()) return r.status();
    if (attempt == 0 && s.code() != Status::Code::kInvalidArgument) continue;
    op->replayed = false;
    op->created_user = false;
    switch (s.code()) {
      case Status::Code::kConflict:
        op->status = Status::Conflict("a concurrent write used the same id or email");
        break;
      case Status::Code::kNotFound:
        op->status = Status::NotFound("a record this write refers to does not exist");
        break;
      default:  // text with a NUL character, mostly
        op->status = Status::InvalidArgument(s.message().starts_with("text cannot")
                                                 ? s.message()
                                                 : "a value cannot be stored");
        break;
    }
    return Status::Ok();
  }
}

// Applies one op. A validation failure is recorded in op->status and returns
// ok, so the batch goes on; an SQL failure returns non-ok.
Status PostgresStore::Apply(WriteOp* op, DeltaSet* deltas) {
  op->status = Status::Ok();
  op->replayed = false;
  op->created_user = false;
  switch (op->kind) {
    case WriteOp::Kind::kCreateUser: return CreateUser(op);
    case WriteOp::Kind::kCreateConversation: return CreateConversation(op);
    case WriteOp::Kind::kAddUtterance: return AddUtterance(op, deltas);
    case WriteOp::Kind::kAddErrors: return AddErrors(op, deltas);
    case WriteOp::Kind::kRecordAttempt: return RecordAttempt(op);
    case WriteOp::Kind::kEraseUser: return EraseUser(op);
    case WriteOp::Kind::kRecordErasure:
      return writer_->Exec(kInsertTombstone, TombstoneParams(*op)).status();
    case WriteOp::Kind::kUpdateUser: return UpdateUser(op);
  }
  return Status::Internal("unknown op");
}

// Deletes every row of the learner (docs/erasure.md), children first, after
// locking the user's row (FOR UPDATE; BeginBatch has, and this finds it).
// Another node's batch for the learner takes a share lock on that row before
// anything else (BeginBatch): one that came first has committed before the
// deletes read, and one that comes after waits for the erase's commit and
// then finds no user. (Should a delete still fail on a foreign key,
// ApplyInSavepoint runs the erase once more.)
Status PostgresStore::EraseUser(WriteOp* op) {
  const std::string& id = op->user.user_id;
  if (HasNul(id)) {
    op->status = Status::NotFound("User not found");
    return Status::Ok();
  }
  Conn* c = writer_.get();
  auto user = c->Exec(kLockUser, Params().Add(id));
  if (!user.ok()) return user.status();
  if (user->empty()) {
    // Erased before: the first erase's answer again. Never a learner: NotFound.
    auto tomb = c->Exec(kTombstone, Params().Add(id));
    if (!tomb.ok()) return tomb.status();
    if (tomb->empty()) {
      op->status = Status::NotFound("User not found");
      return Status::Ok();
    }
    op->replayed = true;
    op->erased_at = tomb->Int(0, 0);
    op->erased = WriteOp::Erased{tomb->Int(0, 1), tomb->Int(0, 2), tomb->Int(0, 3), tomb->Int(0, 4)};
    return Status::Ok();
  }
  const std::optional<std::string> email = user->OptText(0, 1);
  if (auto r = c->Exec(kEraseTrigrams,
                       Params().Add(id).Add(TextArray(UserTrigrams(user->Text(0, 0), email))));
      !r.ok()) {
    return r.status();
  }
  int64_t unused = 0;
  int64_t* counts[] = {&op->erased.errors,   &op->erased.utterances,    &op->erased.attempts,
                       &unused,              &unused,                   &op->erased.conversations,
                       &unused};
  static_assert(std::size(counts) == std::size(kEraseTables));
  for (size_t i = 0; i < std::size(kEraseTables); ++i) {
    auto r = c->Exec(kEraseTables[i], Params().Add(id));
    if (!r.ok()) return r.status();
    *counts[i] = r->Int(0, 0);
  }
  return c->Exec(kInsertTombstone, TombstoneParams(*op)).status();
}

// Checks, after this transaction inserted learners, that no other node's
// erase took one of their ids meanwhile (docs/erasure.md, "Erasing beside
// other nodes' writes"). An insert of an id whose old row an erase has
// deleted but not committed waits for that commit and then goes ahead,
// while the tombstone check before it ran in an older snapshot and saw
// none. This new statement sees the tombstone. Then Conflict: the op is
// rolled back and run again (ApplyInSavepoint; the batched path goes op by
// op), and is refused as an erased learner's. One round trip, only for a
// transaction that makes learners. `user_ids`: a text[] literal.
Status PostgresStore::CheckNotErasedMeanwhile(const std::string& user_ids) {
  auto r = writer_->Exec(kAnyErased, Params().Add(user_ids));
  if (!r.ok()) return r.status();
  return r->Bool(0, 0) ? Status::Conflict("the learner was erased meanwhile") : Status::Ok();
}

Status PostgresStore::CreateUser(WriteOp* op) {
  User& u = op->user;
  const std::optional<std::string> norm =
      u.email ? std::optional<std::string>(AsciiLower(*u.email)) : std::nullopt;
  auto r = writer_->Exec(kUserLookup, Params().Add(u.user_id).Add(norm));
  if (!r.ok()) return r.status();
  if (op->client_id && !r->IsNull(0, 0)) {
    const bool same = r->Text(0, 0) == u.username &&
                      AsciiLower(r->OptText(0, 1).value_or("")) == AsciiLower(u.email.value_or(""));
    if (!same) op->status = Status::Conflict("user_id already exists with other details");
    op->replayed = same;
    if (same) u.email = r->OptText(0, 1);  // a replay answers what is stored
    u.created_at = r->Int(0, 2);
    return Status::Ok();
  }
  if (r->Bool(0, 4)) {
    op->status = LearnerErased();
    return Status::Ok();
  }
  if (r->Bool(0, 3)) {
    op->status = Status::Conflict("Email already registered");
    return Status::Ok();
  }
  auto ins = writer_->Exec(
      kInsertUser, Params().Add(u.user_id).Add(u.username).Add(u.email).Add(norm).Add(u.created_at));
  if (!ins.ok()) return ins.status();
  if (Status s = CheckNotErasedMeanwhile(TextArray({u.user_id})); !s.ok()) return s;
  op->created_user = true;
  return IndexUser(u.user_id, u.username, u.email);
}

// A learner's new name or email (docs/users.md). Another node taking the
// same email meanwhile makes the UPDATE fail on the unique index:
// ApplyInSavepoint runs the op again, which then finds the email taken.
Status PostgresStore::UpdateUser(WriteOp* op) {
  if (HasNul(op->user.user_id)) {
    op->status = Status::NotFound("User not found");
    return Status::Ok();
  }
  Conn* c = writer_.get();
  auto r = c->Exec(kLockUser, Params().Add(op->user.user_id));
  if (!r.ok()) return r.status();
  if (r->empty()) {
    op->status = Status::NotFound("User not found");
    return Status::Ok();
  }
  const User before{op->user.user_id, r->Text(0, 0), r->OptText(0, 1), r->Int(0, 2)};
  const User after = UpdatedUser(before, *op);
  if (TakesAnotherEmail(before, after)) {
    auto taken = c->Exec(kEmailTaken, Params().Add(AsciiLower(*after.email)));
    if (!taken.ok()) return taken.status();
    if (taken->Bool(0, 0)) {
      op->status = EmailTaken();
      op->user = before;
      return Status::Ok();
    }
  }
  op->user = after;
  if (after.username == before.username && after.email == before.email) return Status::Ok();
  const std::optional<std::string> norm =
      after.email ? std::optional<std::string>(AsciiLower(*after.email)) : std::nullopt;
  if (auto u = c->Exec(kUpdateUser,
                       Params().Add(after.user_id).Add(after.username).Add(after.email).Add(norm));
      !u.ok()) {
    return u.status();
  }
  if (auto d = c->Exec(kEraseTrigrams, Params().Add(before.user_id).Add(TextArray(UserTrigrams(
                                           before.username, before.email))));
      !d.ok()) {
    return d.status();
  }
  return IndexUser(after.user_id, after.username, after.email);
}

Status PostgresStore::CreateConversation(WriteOp* op) {
  Conversation& c = op->conversation;
  auto r = writer_->Exec(kConversationLookup, Params().Add(c.conversation_id).Add(c.user_id));
  if (!r.ok()) return r.status();
  if (op->client_id && !r->IsNull(0, 0)) {
    ConversationTaken(op, r->Text(0, 0), r->Int(0, 1));
    return Status::Ok();
  }
  if (!r->Bool(0, 2)) {
    op->status = Status::NotFound("User not found");
    return Status::Ok();
  }
  return writer_
      ->Exec(kInsertConversation, Params().Add(c.conversation_id).Add(c.user_id).Add(c.started_at))
      .status();
}

Status PostgresStore::AddUtterance(WriteOp* op, DeltaSet* deltas) {
  Utterance& u = op->utterance;
  auto r = writer_->Exec(kUtteranceLookup, Params().Add(u.utterance_id).Add(u.conversation_id));
  if (!r.ok()) return r.status();
  // An earlier write of the same utterance id: a replay, or a conflicting reuse.
  if (op->client_id && !r->IsNull(0, 0)) {
    const bool same = static_cast<uint64_t>(r->Int(0, 0)) == op->request_hash;
    u.created_at = r->Int(0, 1);
    if (!same) {
      op->status = UtteranceIdTaken();
      return Status::Ok();
    }
    op->replayed = true;
    auto errs = writer_->Exec(kUtteranceErrors, Params().Add(u.utterance_id));
    if (!errs.ok()) return errs.status();
    u.errors.clear();
    for (int i = 0; i < errs->size(); ++i) u.errors.push_back(ReadError(*errs, i, 0));
    return Status::Ok();
  }
  const bool found = !r->IsNull(0, 2);
  if (!CheckConversationForUtterance(op, found, found ? r->Text(0, 2) : std::string())) {
    return Status::Ok();
  }
  if (!found) {
    auto c = writer_->Exec(kCreateMissing, Params()
                                               .Add(u.user_id)
                                               .Add(op->user.username)
                                               .Add(u.conversation_id)
                                               .Add(u.created_at));
    if (!c.ok()) return c.status();
    if (c->Bool(0, 1)) {
      op->status = LearnerErased();
      return Status::Ok();
    }
    op->created_user = c->Bool(0, 0);
    if (op->created_user) {
      if (Status s = CheckNotErasedMeanwhile(TextArray({u.user_id})); !s.ok()) return s;
      if (Status s = IndexUser(u.user_id, op->user.username, std::nullopt); !s.ok()) return s;
    }
  }
  Params p;
  AddErrorParams(u, &p);
  p.Add(u.content).Add(u.created_at).Add(static_cast<int64_t>(op->request_hash));
  if (auto ins = writer_->Exec(kInsertUtterance, p); !ins.ok()) return ins.status();
  deltas->AddAll(u);
  return Status::Ok();
}

Status PostgresStore::AddErrors(WriteOp* op, DeltaSet* deltas) {
  Utterance& u = op->utterance;
  auto r = writer_->Exec(kErrorsTarget, Params().Add(u.utterance_id));
  if (!r.ok()) return r.status();
  if (r->empty()) {
    op->status = Status::NotFound("Utterance not found");
    return Status::Ok();
  }
  if (r->Text(0, 0) != u.conversation_id || r->Text(0, 1) != u.user_id) {
    op->status = Status::InvalidArgument(
        "user_id, conversation_id and utterance_id do not belong together", "utterance_id");
    return Status::Ok();
  }
  if (!u.errors.empty()) {
    Params p;
    AddErrorParams(u, &p);
    if (auto ins = writer_->Exec(kInsertErrors, p); !ins.ok()) return ins.status();
  }
  deltas->AddAll(u);
  return Status::Ok();
}

// One statement for the whole batch; rows in key order, so that two nodes
// upserting the same points lock them in the same order.
Status PostgresStore::UpsertFrequencies(const DeltaSet& deltas) {
  if (deltas.empty()) return Status::Ok();
  std::vector<const ErrorDelta*> sorted;
  sorted.reserve(deltas.size());
  for (const auto& d : deltas.deltas()) sorted.push_back(&d);
  std::sort(sorted.begin(), sorted.end(), [](const ErrorDelta* a, const ErrorDelta* b) {
    if (a->user_id != b->user_id) return a->user_id < b->user_id;
    return a->subcategory_id < b->subcategory_id;
  });
  ArrayParam user, sub_id, cat, sub, count, first, last, decay;
  for (const ErrorDelta* d : sorted) {
    user.Add(d->user_id);
    sub_id.Add(d->subcategory_id);
    cat.Add(d->category);
    sub.Add(d->subcategory);
    count.Add(d->count);
    first.Add(d->first_seen);
    last.Add(d->last_seen);
    decay.Add(d->decay_log2);
  }
  Params p;
  for (ArrayParam* a : {&user, &sub_id, &cat, &sub, &count, &first, &last, &decay}) {
    p.Add(a->Take());
  }
  return writer_->Exec(kUpsertFrequencies, p).status();
}

Status PostgresStore::RecordAttempt(WriteOp* op) {
  Attempt& a = op->attempt;
  auto r = writer_->Exec(kAttemptLookup, Params().Add(a.user_id).Add(a.subcategory_id));
  if (!r.ok()) return r.status();
  if (!r->Bool(0, 0)) {
    op->status = Status::NotFound("User not found");
    return Status::Ok();
  }
  const Micros last_error = r->IsNull(0, 1) ? 0 : r->Int(0, 1);
  const bool practised = !r->IsNull(0, 2);
  MemoryState m;
  if (practised) m = ReadMemory(*r, 0, 2);
  m = op->memory_given ? op->memory : AfterAttempt(WithLapses(m, last_error), a.correct, a.answered_at);
  Params p;
  p.Add(a.user_id).Add(a.subcategory_id).Add(m.stability_days).Add(m.difficulty);
  p.Add(m.last_review).Add(m.reviews).Add(m.lapses).Add(m.last_correct).Add(m.last_lapse);
  p.Add(a.attempt_id).Add(a.exercise_id).Add(static_cast<int64_t>(a.correct)).Add(a.answer);
  p.Add(a.answered_at);
  auto ins = writer_->Exec(practised ? kInsertAttempt : kInsertFirstAttempt, p);
  if (!ins.ok()) return ins.status();
  op->memory = m;
  return Status::Ok();
}

Result<User> PostgresStore::GetUser(const std::string& user_id) {
  if (HasNul(user_id)) return Status::NotFound("User not found");
  Reader c(this);
  if (!c.status().ok()) return c.status();
  auto r = c->Exec(kGetUser, Params().Add(user_id));
  if (!r.ok()) return r.status();
  if (r->empty()) return Status::NotFound("User not found");
  return User{r->Text(0, 0), r->Text(0, 1), r->OptText(0, 2), r->Int(0, 3)};
}

Result<User> PostgresStore::FindUserByEmail(const std::string& email) {
  if (HasNul(email)) return Status::NotFound("User not found");
  Reader c(this);
  if (!c.status().ok()) return c.status();
  auto r = c->Exec(kFindUserByEmail, Params().Add(AsciiLower(email)));
  if (!r.ok()) return r.status();
  if (r->empty()) return Status::NotFound("User not found");
  return User{r->Text(0, 0), r->Text(0, 1), r->OptText(0, 2), r->Int(0, 3)};
}

Result<std::vector<User>> PostgresStore::SearchCandidates(const std::string& prefix,
                                                          size_t recent) {
  if (HasNul(prefix)) return std::vector<User>();
  Reader c(this);
  if (!c.status().ok()) return c.status();
  std::vector<User> out;
  for (auto* q : {&kSearchByPrefix, &kNewestUsers}) {
    auto r = q == &kSearchByPrefix ? c->Exec(*q, Params().Add(prefix))
                                   : c->Exec(*q, Params().Add(static_cast<int64_t>(recent)));
    if (!r.ok()) return r.status();
    for (int i = 0; i < r->size(); ++i) {
      out.push_back(User{r->Text(i, 0), r->Text(i, 1), r->OptText(i, 2), r->Int(i, 3)});
    }
  }
  // Names sharing the most trigrams with the query.
  const std::vector<std::string> grams = NameTrigrams(prefix);
  if (grams.empty()) return out;
  ArrayParam gram_param;
  for (const std::string& g : grams) gram_param.Add(g);
  auto r = c->Exec(kTrigramHolders, Params().Add(gram_param.Take())
                                        .Add(static_cast<int64_t>(kTrigramCommon + 1)));
  if (!r.ok()) return r.status();
  std::vector<std::vector<std::string>> holders(grams.size());
  for (int i = 0; i < r->size(); ++i) holders[r->Int(i, 0) - 1].push_back(r->Text(i, 1));
  const std::vector<std::string> ids = MostSharedTrigrams(holders, kTrigramCandidates);
  if (ids.empty()) return out;
  ArrayParam id_param;
  for (const std::string& id : ids) id_param.Add(id);
  auto users = c->Exec(kUsersById, Params().Add(id_param.Take()));
  if (!users.ok()) return users.status();
  std::unordered_map<std::string, User> by_id;
  for (int i = 0; i < users->size(); ++i) {
    by_id.emplace(users->Text(i, 0),
                  User{users->Text(i, 0), users->Text(i, 1), users->OptText(i, 2), users->Int(i, 3)});
  }
  for (const std::string& id : ids) {  // most shared first
    if (auto it = by_id.find(id); it != by_id.end()) out.push_back(std::move(it->second));
  }
  return out;
}

// A new learner, by the trigrams of its name and email (the learner
// search's typos).
Status PostgresStore::IndexUser(const std::string& user_id, const std::string& username,
                                const std::optional<std::string>& email) {
  TrigramRows rows;
  rows.Add(user_id, username, email);
  if (rows.size == 0) return Status::Ok();
  return writer_->Exec(kInsertTrigrams, rows.Take()).status();
}

Result<std::vector<DayCount>> PostgresStore::ErrorsPerDay(const std::string& user_id, Micros since,
                                                          Micros until) {
  if (HasNul(user_id)) return std::vector<DayCount>();
  Reader c(this);
  if (!c.status().ok()) return c.status();
  auto r = c->Exec(kErrorsPerDay, Params().Add(user_id).Add(since).Add(until));
  if (!r.ok()) return r.status();
  std::vector<DayCount> out;
  for (int i = 0; i < r->size(); ++i) out.push_back({r->Int(i, 0), r->Text(i, 1), r->Int(i, 2)});
  return out;
}

Result<ConversationView> PostgresStore::GetConversation(const std::string& id) {
  if (HasNul(id)) return Status::NotFound("Conversation not found");
  Reader c(this);
  if (!c.status().ok()) return c.status();
  auto conv = c->Exec(kGetConversation, Params().Add(id));
  if (!conv.ok()) return conv.status();
  if (conv->empty()) return Status::NotFound("Conversation not found");
  ConversationView v;
  v.conversation = Conversation{id, conv->Text(0, 0), conv->Int(0, 1)};
  auto us = c->Exec(kConversationUtterances, Params().Add(id));
  if (!us.ok()) return us.status();
  std::unordered_map<std::string, size_t> index;
  for (int i = 0; i < us->size(); ++i) {
    index[us->Text(i, 0)] = v.utterances.size();
    v.utterances.push_back(Utterance{us->Text(i, 0), id, v.conversation.user_id,
                                     us->OptText(i, 1), us->Int(i, 2), {}});
  }
  auto es = c->Exec(kConversationErrors, Params().Add(id));
  if (!es.ok()) return es.status();
  for (int i = 0; i < es->size(); ++i) {
    auto it = index.find(es->Text(i, 0));
    if (it != index.end()) v.utterances[it->second].errors.push_back(ReadError(*es, i, 1));
  }
  return v;
}

Result<std::vector<Attempt>> PostgresStore::ListAttempts(const std::string& user_id) {
  std::vector<Attempt> out;
  if (HasNul(user_id)) return out;
  Reader c(this);
  if (!c.status().ok()) return c.status();
  auto r = c->Exec(kListAttempts, Params().Add(user_id));
  if (!r.ok()) return r.status();
  for (int i = 0; i < r->size(); ++i) out.push_back(AttemptAt(*r, i));
  return out;
}

Result<std::vector<ConversationSummary>> PostgresStore::ListConversations(
    const std::string& user_id, const std::optional<ConversationCursor>& after, size_t limit) {
  std::vector<ConversationSummary> out;
  if (HasNul(user_id) || (after && HasNul(after->conversation_id))) return out;
  Reader c(this);
  if (!c.status().ok()) return c.status();
  Params params;
  params.Add(user_id).Add(static_cast<int64_t>(limit));
  if (after) params.Add(after->started_at).Add(after->conversation_id);
  auto r = c->Exec(after ? kConversationsAfter : kConversationsFirst, params);
  if (!r.ok()) return r.status();
  for (int i = 0; i < r->size(); ++i) {
    ConversationSummary s{Conversation{r->Text(i, 0), user_id, r->Int(i, 1)}, r->Int(i, 2),
                          std::nullopt};
    if (!r->IsNull(i, 3)) s.last_utterance_at = r->Int(i, 3);
    out.push_back(std::move(s));
  }
  return out;
}

Result<Profile> PostgresStore::LoadProfile(const std::string& user_id) {
  Profile p;
  if (HasNul(user_id)) return p;
  Reader c(this);
  if (!c.status().ok()) return c.status();
  // Its statements read one snapshot: a commit between two of them would
  // otherwise give, say, a batch's examples without its counts, and a cache
  // would keep that. Inside a read snapshot (BeginReadSnapshot) they already
  // do; else a REPEATABLE READ transaction of its own, opened in the round
  // trip of the first statement: one round trip more than before (COMMIT),
  // paid on a cache's misses only.
  const bool own = !c->InTransaction();
  const RollbackOnExit end{c.get(), own};
  if (own) {
    auto literal = c->Literal(user_id);
    if (!literal.ok()) return literal.status();
    auto user = c->Exec(std::string(kBeginSnapshot) + "; SELECT 1 FROM users WHERE user_id = " +
                        *literal);
    if (!user.ok()) return user.status();
    p.user_known = !user->empty();
  } else {
    auto user = c->Exec(kUserExists, Params().Add(user_id));
    if (!user.ok()) return user.status();
    p.user_known = !user->empty();
  }
  if (!p.user_known) return p;
  auto r = c->Exec(kProfilePoints, Params().Add(user_id));
  if (!r.ok()) return r.status();
  for (int i = 0; i < r->size(); ++i) {
    ErrorPoint point{PointNames(r->Text(i, 0), r->Text(i, 1), r->Text(i, 2)), r->Int(i, 3),
                     r->Int(i, 4), r->Int(i, 5), r->Real(i, 6), {}};
    if (!r->IsNull(i, 7)) point.memory = ReadMemory(*r, i, 7);
    p.points.push_back(std::move(point));
  }
  if (Status s = LoadExamples(c.get(), user_id, &p); !s.ok()) return s;
  if (own) {
    if (auto done = c->Exec("COMMIT"); !done.ok()) return done.status();
  }
  return p;
}

// The learner's newest corrected errors and newest correct answers.
Status PostgresStore::LoadExamples(Conn* c, const std::string& user_id, Profile* p) {
  auto ex = c->Exec(kProfileExamples, Params().Add(user_id));
  if (!ex.ok()) return ex.status();
  for (int i = 0; i < ex->size(); ++i) {
    p->examples.push_back(Example{ex->Text(i, 0), ex->Text(i, 1), ex->Text(i, 2), ex->Text(i, 3),
                                  ex->Text(i, 4), ex->IsNull(i, 5) ? -1 : ex->Int(i, 5),
                                  ex->IsNull(i, 6) ? -1 : ex->Int(i, 6), ex->Int(i, 7)});
  }
  auto rc = c->Exec(kProfileRecentCorrect, Params().Add(user_id));
  if (!rc.ok()) return rc.status();
  for (int i = 0; i < rc->size(); ++i) {
    p->recent_correct.push_back(RecentCorrect{rc->Text(i, 0), rc->Int(i, 1)});
  }
  return Status::Ok();
}

Result<Profile> PostgresStore::ProfileBetween(const std::string& user_id, Micros since,
                                              Micros until) {
  Profile p;
  if (HasNul(user_id)) return p;
  Reader c(this);
  if (!c.status().ok()) return c.status();
  auto r = c->Exec(kErrorsBetween, Params().Add(user_id).Add(since).Add(until));
  if (!r.ok()) return r.status();
  DeltaSet set(half_life_);
  for (int i = 0; i < r->size(); ++i) {
    ErrorRecord e{.category = r->Text(i, 1), .subcategory = r->Text(i, 2),
                  .subcategory_id = r->Text(i, 0), .created_at = r->Int(i, 3)};
    set.Add(user_id, e);
  }
  for (const auto& d : set.deltas()) p.Apply(d);
  return p;
}

std::string PostgresStore::Describe() const {
  std::lock_guard lock(description_mu_);
  return description_;
}

void PostgresStore::NoteWriterServer() {
  std::string now = writer_->Description();
  std::lock_guard lock(description_mu_);
  if (now == description_) return;
  if (!description_.empty()) {
    log::Warn("the PostgreSQL writer is on another server now", {{"from", description_},
                                                                  {"to", now}});
  }
  description_ = std::move(now);
}

void PostgresStore::RenderMetrics(std::string* out) const {
  *out +=
      "# HELP errata_postgres_batches_total Write batches committed, by how: together (a few"
      " statements for all the ops), fallback (met a replay, a race or a rejected value, then"
      " went op by op), op_by_op (an utterance id twice in the batch).\n"
      "# TYPE errata_postgres_batches_total counter\n";
  for (const auto& [path, n] : {std::pair{"together", &batches_together_},
                                std::pair{"fallback", &batches_fallback_},
                                std::pair{"op_by_op", &batches_op_by_op_}}) {
    *out += fmt::format("errata_postgres_batches_total{{path=\"{}\"}} {}\n", path,
                        n->load(std::memory_order_relaxed));
  }
}

Status PostgresStore::Ping() {
  Reader c(this);
  if (!c.status().ok()) return c.status();
  return c->Exec(kPing, Params()).status();
}

namespace {
const Query kExportMemory{
    "export_memory",
    "SELECT subcategory_id, stability_days, difficulty, last_review, reviews, lapses,"
    " last_correct, last_lapse FROM mastery WHERE user_id=$1"};
}  // namespace

// One REPEATABLE READ transaction holds the snapshot; each table is read
// through a cursor, `page` rows at a time, with no statement timeout (a
// cursor's first fetch may sort). Utterances come joined with their errors.
Status PostgresStore::Export(size_t page, ExportOrder, const ExportSink& sink) {
  Reader c(this);
  if (!c.status().ok()) return c.status();
  const RollbackOnExit end{c.get()};
  if (auto r = c->Exec(std::string(kBeginSnapshot) + "; SET LOCAL statement_timeout = 0");
      !r.ok()) {
    return r.status();
  }
  ExportPager out(page, sink);
  const std::string fetch = fmt::format("FETCH {} FROM export", std::max<size_t>(page, 1));
  // Declares the cursor `export` for `sql` and calls row(rows, i) for each row.
  auto each = [&](const char* sql, auto row) -> Status {
    if (auto r = c->Exec(std::string("DECLARE export NO SCROLL CURSOR FOR ") + sql); !r.ok()) {
      return r.status();
    }
    for (;;) {
      auto r = c->Exec(fetch);
      if (!r.ok()) return r.status();
      for (int i = 0; i < r->size(); ++i) {
        if (Status s = row(*r, i); !s.ok()) return s;
      }
      if (r->empty()) break;
    }
    auto r = c->Exec("CLOSE export");
    return r.ok() ? Status::Ok() : r.status();
  };
  Status s = each("SELECT user_id, username, email, created_at FROM users",
                  [&](const Rows& r, int i) {
                    return out.User(User{r.Text(i, 0), r.Text(i, 1), r.OptText(i, 2), r.Int(i, 3)});
                  });
  if (!s.ok()) return s;
  s = each("SELECT conversation_id, user_id, started_at FROM conversations",
           [&](const Rows& r, int i) {
             return out.Conversation(Conversation{r.Text(i, 0), r.Text(i, 1), r.Int(i, 2)});
           });
  if (!s.ok()) return s;
  Utterance u;
  uint64_t hash = 0;
  s = each(
      "SELECT u.utterance_id, u.conversation_id, u.user_id, u.content, u.created_at,"
      " u.request_hash, e.error_id, e.category, e.subcategory, e.subcategory_id, e.code,"
      " e.span_start, e.span_end, e.original, e.correction, e.explanation, e.created_at"
      " FROM utterances u LEFT JOIN errors e ON e.utterance_id = u.utterance_id"
      " ORDER BY u.created_at, u.utterance_id, e.error_id",
      [&](const Rows& r, int i) {
        std::string id = r.Text(i, 0);
        if (id != u.utterance_id) {
          if (!u.utterance_id.empty()) {
            if (Status st = out.Utterance(std::move(u), hash); !st.ok()) return st;
          }
          u = Utterance{std::move(id), r.Text(i, 1), r.Text(i, 2), r.OptText(i, 3), r.Int(i, 4), {}};
          hash = static_cast<uint64_t>(r.Int(i, 5));
        }
        if (!r.IsNull(i, 6)) u.errors.push_back(ReadError(r, i, 6));
        return Status::Ok();
      });
  if (!s.ok()) return s;
  if (!u.utterance_id.empty()) {
    if (s = out.Utterance(std::move(u), hash); !s.ok()) return s;
  }
  // Each learner's attempts in time order; at the next learner's first
  // attempt, the previous learner's memory states.
  std::vector<Attempt> attempts;
  auto flush_learner = [&]() -> Status {
    if (attempts.empty()) return Status::Ok();
    auto m = c->Exec(kExportMemory, Params().Add(attempts.front().user_id));
    if (!m.ok()) return m.status();
    std::unordered_map<std::string, MemoryState> memory;
    for (int i = 0; i < m->size(); ++i) memory[m->Text(i, 0)] = ReadMemory(*m, i, 1);
    Status st = out.Learner(std::move(attempts), memory);
    attempts.clear();
    return st;
  };
  s = each(
      ERRATA_ATTEMPT_COLUMNS " FROM attempts ORDER BY user_id, answered_at, attempt_id",
      [&](const Rows& r, int i) {
        if (!attempts.empty() && attempts.front().user_id != r.Text(i, 0)) {
          if (Status st = flush_learner(); !st.ok()) return st;
        }
        attempts.push_back(AttemptAt(r, i));
        return Status::Ok();
      });
  if (!s.ok()) return s;
  if (s = flush_learner(); !s.ok()) return s;
  s = each("SELECT user_id, erased_at, conversations, utterances, errors, attempts"
           " FROM erased_users",
           [&](const Rows& r, int i) {
             return out.Erased(r.Text(i, 0), r.Int(i, 1),
                               WriteOp::Erased{r.Int(i, 2), r.Int(i, 3), r.Int(i, 4), r.Int(i, 5)});
           });
  if (!s.ok()) return s;
  if (auto r = c->Exec("COMMIT"); !r.ok()) return r.status();
  return out.Finish();
}

Status PostgresStore::BeginBulkLoad() { return BulkLoadStep(kDeferIndexes); }

Status PostgresStore::EndBulkLoad() { return BulkLoadStep(kBuildIndexes); }

// One of the bulk load's steps, in a transaction of its own under the
// migrations' lock.
Status PostgresStore::BulkLoadStep(const char* sql) {
  Conn* c = writer_.get();
  Status s = c->EnsureUsable();
  if (s.ok() && c->InTransaction()) s = c->Exec("ROLLBACK").status();
  if (s.ok()) s = c->Exec(std::string("BEGIN; ") + kLockSql + "; " + sql + "; COMMIT").status();
  if (!s.ok() && !c->broken() && c->InTransaction()) c->Exec("ROLLBACK");
  return s;
}

}  // namespace errata
