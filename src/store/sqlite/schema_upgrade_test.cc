// SQLite schema migration 2 (ids as 16-byte blobs, docs/write-path.md "Ids
// as 16 bytes"): a database of schema 1, with ids as text, opens at schema 2
// and answers every read as before.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <memory>
#include <string>
#include <vector>

#include "core/ids.h"
#include "store/sqlite/schema.h"
#include "store/sqlite/sqlite_store.h"
#include "store/temp_dir_test_util.h"
#include "store/upgrade_test_util.h"

namespace errata {
namespace {

constexpr Micros kT0 = 1'735'689'600'000'000;  // 2025-01-01T00:00:00Z

// The canonical text of a 16-byte blob column, in SQL.
std::string Text(const char* col) {
  return fmt::format(
      "lower(substr(hex({0}),1,8)||'-'||substr(hex({0}),9,4)||'-'||substr(hex({0}),13,4)||'-'||"
      "substr(hex({0}),17,4)||'-'||substr(hex({0}),21,12))",
      col);
}

class Sqlite {
 public:
  explicit Sqlite(const std::string& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
  }
  ~Sqlite() { sqlite3_close(db_); }
  void Exec(const std::string& sql) {
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
        << (err ? err : "") << "\n" << sql;
    sqlite3_free(err);
  }
  // The rows of `sql`, each as its columns' text joined by spaces.
  std::vector<std::string> Rows(const std::string& sql) {
    std::vector<std::string> out;
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sql;
    while (st != nullptr && sqlite3_step(st) == SQLITE_ROW) {
      std::string row;
      for (int i = 0; i < sqlite3_column_count(st); ++i) {
        const auto* t = sqlite3_column_text(st, i);
        if (i > 0) row += ' ';
        row += t ? reinterpret_cast<const char*>(t) : "NULL";
      }
      out.push_back(row);
    }
    sqlite3_finalize(st);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

class SchemaUpgradeTest : public ::testing::Test {
 protected:
  std::string Path(const char* name) const { return (dir_.path() / name).string(); }

  std::unique_ptr<SqliteStore> Open(const std::string& path) {
    auto s = SqliteStore::Open(SqliteStore::Options{path, 14 * kMicrosPerDay, 2});
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }

  // Writes `old` at schema 1 with the records of the schema-2 database
  // `current`, ids as text: what an older build wrote.
  void WriteSchemaOne(const std::string& current, const std::string& old) {
    Sqlite db(old);
    db.Exec(std::string("BEGIN;") + sqlite::kMigrations[0] + "PRAGMA user_version=1; COMMIT;");
    db.Exec(fmt::format("ATTACH '{}' AS cur", current));
    db.Exec("INSERT INTO users SELECT " + Text("user_id") +
            ", username, email, email_norm, created_at FROM cur.users");
    db.Exec("INSERT INTO conversations SELECT " + Text("conversation_id") + ", " +
            Text("user_id") + ", started_at FROM cur.conversations");
    db.Exec("INSERT INTO utterances SELECT " + Text("utterance_id") + ", " +
            Text("conversation_id") + ", " + Text("user_id") +
            ", content, created_at, request_hash FROM cur.utterances");
    db.Exec("INSERT INTO errors SELECT " + Text("error_id") + ", " + Text("utterance_id") + ", " +
            Text("conversation_id") + ", " + Text("user_id") +
            ", category, subcategory, subcategory_id, code, span_start, span_end, original,"
            " correction, explanation, created_at FROM cur.errors");
    db.Exec("INSERT INTO error_frequencies SELECT " + Text("user_id") +
            ", subcategory_id, category, subcategory, frequency, first_seen, last_seen,"
            " decay_log2 FROM cur.error_frequencies");
    db.Exec("INSERT INTO mastery SELECT " + Text("user_id") +
            ", subcategory_id, stability_days, difficulty, last_review, reviews, lapses,"
            " last_correct, last_lapse FROM cur.mastery");
    db.Exec("INSERT INTO attempts SELECT " + Text("attempt_id") + ", " + Text("user_id") +
            ", exercise_id, subcategory_id, correct, answer, answered_at FROM cur.attempts");
    db.Exec("INSERT INTO meta SELECT * FROM cur.meta");
    db.Exec("DETACH cur");
  }

  // Each id column's storage classes, "table.column type count".
  std::vector<std::string> IdTypes(const std::string& path) {
    Sqlite db(path);
    std::vector<std::string> out;
    for (const auto& [table, column] : std::vector<std::pair<const char*, const char*>>{
             {"users", "user_id"},
             {"conversations", "conversation_id"},
             {"conversations", "user_id"},
             {"utterances", "utterance_id"},
             {"utterances", "conversation_id"},
             {"utterances", "user_id"},
             {"errors", "error_id"},
             {"errors", "utterance_id"},
             {"errors", "conversation_id"},
             {"errors", "user_id"},
             {"error_frequencies", "user_id"},
             {"mastery", "user_id"},
             {"attempts", "attempt_id"},
             {"attempts", "user_id"}}) {
      for (const std::string& row : db.Rows(fmt::format(
               "SELECT typeof({1}), count(*) FROM {0} GROUP BY 1", table, column))) {
        out.push_back(fmt::format("{}.{} {}", table, column, row));
      }
    }
    return out;
  }

  static std::vector<std::string> AllOf(const char* type, const std::vector<std::string>& like) {
    std::vector<std::string> out;
    for (const std::string& row : like) {
      const size_t a = row.find(' '), b = row.rfind(' ');
      out.push_back(row.substr(0, a) + " " + type + row.substr(b));
    }
    return out;
  }

  testutil::TempDir dir_{"schema-upgrade"};
};

TEST_F(SchemaUpgradeTest, ANewDatabaseKeepsIdsAsBlobs) {
  auto store = Open(Path("errata.db"));
  ASSERT_NE(store, nullptr);
  testutil::FillForUpgrade(store.get(), kT0);
  store.reset();
  const auto types = IdTypes(Path("errata.db"));
  ASSERT_EQ(types.size(), 14u);
  EXPECT_EQ(types, AllOf("blob", types));
  EXPECT_EQ(Sqlite(Path("errata.db")).Rows("PRAGMA user_version"),
            std::vector<std::string>{std::to_string(sqlite::kSchemaVersion)});
}

TEST_F(SchemaUpgradeTest, ASchemaOneDatabaseOpensWithEveryAnswerUnchanged) {
  std::string before;
  {
    auto store = Open(Path("errata.db"));
    ASSERT_NE(store, nullptr);
    const auto learners = testutil::FillForUpgrade(store.get(), kT0);
    before = testutil::RenderEverything(store.get(), learners, kT0);
    store.reset();
    WriteSchemaOne(Path("errata.db"), Path("old.db"));
    const auto types = IdTypes(Path("old.db"));
    ASSERT_EQ(types.size(), 14u);
    EXPECT_EQ(types, AllOf("text", types));
    auto old = Open(Path("old.db"));  // upgrades it
    ASSERT_NE(old, nullptr);
    EXPECT_EQ(testutil::RenderEverything(old.get(), learners, kT0), before);
    // Migration 4 indexed the names there (learner0..2): a typo inside one finds it.
    auto found = old->SearchCandidates("lerner1", 0);
    ASSERT_TRUE(found.ok()) << found.status().ToString();
    ASSERT_EQ(found->size(), 3u);
    EXPECT_EQ(found->front().user_id, learners[1].user_id);
  }
  const auto types = IdTypes(Path("old.db"));
  EXPECT_EQ(types, AllOf("blob", types));
  Sqlite db(Path("old.db"));
  EXPECT_EQ(db.Rows("PRAGMA user_version"),
            std::vector<std::string>{std::to_string(sqlite::kSchemaVersion)});
  EXPECT_EQ(db.Rows("PRAGMA integrity_check"), std::vector<std::string>{"ok"});
  EXPECT_EQ(db.Rows("PRAGMA foreign_key_check"), std::vector<std::string>{});
  EXPECT_EQ(db.Rows("SELECT name FROM sqlite_schema WHERE type='index' AND sql IS NOT NULL"
                    " ORDER BY name"),
            (std::vector<std::string>{"attempts_user_time", "conversations_user_time", "errors_user_time",
                                      "errors_utterance", "users_created", "users_name",
                                      "utterances_conversation"}));
  EXPECT_EQ(db.Rows("SELECT name FROM sqlite_schema WHERE name LIKE '%_new'"),
            std::vector<std::string>{});
  EXPECT_EQ(db.Rows("SELECT count(*) FROM user_trigrams"), std::vector<std::string>{"18"});
}

// Migration 5: a database of schema 4 held the trigrams of names beyond
// ASCII by the ASCII rule ("José García": "arc", "gar", "jos"), and none of
// emails; it gets the folded name's and the email's.
TEST_F(SchemaUpgradeTest, ASchemaFourDatabaseGetsItsNamesBeyondAsciiIndexed) {
  std::string jose;
  {
    auto store = Open(Path("errata.db"));
    ASSERT_NE(store, nullptr);
    testutil::FillForUpgrade(store.get(), kT0);
    jose = testutil::AddAccentedLearner(store.get(), kT0 + kMicrosPerDay);
    EXPECT_TRUE(testutil::FoundByGainedTrigrams(store.get(), jose));
  }
  {
    Sqlite db(Path("errata.db"));
    db.Exec(fmt::format("DELETE FROM user_trigrams WHERE trigram IN ('{}');"
                        " PRAGMA user_version=4",
                        fmt::join(testutil::kGainedTrigrams, "','")));
    EXPECT_EQ(db.Rows("SELECT count(*) FROM user_trigrams"), std::vector<std::string>{"21"});
    EXPECT_EQ(db.Rows("PRAGMA user_version"), std::vector<std::string>{"4"});
  }
  auto store = Open(Path("errata.db"));  // upgrades it
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(testutil::FoundByGainedTrigrams(store.get(), jose));
  store.reset();
  Sqlite db(Path("errata.db"));
  EXPECT_EQ(db.Rows("PRAGMA user_version"),
            std::vector<std::string>{std::to_string(sqlite::kSchemaVersion)});
  EXPECT_EQ(db.Rows("SELECT count(*) FROM user_trigrams"), std::vector<std::string>{"30"});
}

}  // namespace
}  // namespace errata
