// RocksdbStore's key formats (codec.h, docs/rocksdb.md "Ids as 16 bytes"):
// a database whose keys hold ids as text (format 1), that lacks the index
// of users by creation time (format 2) or the trigrams of their names
// (format 3), or holds names beyond ASCII by the ASCII rule's trigrams
// (format 4), or lacks the list of each learner's conversations (format 5),
// or may not hold tombstones (format 6), opens as format 7 and answers every
// read as before, also when an upgrade
// stopped part-way.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/ids.h"
#include "store/rocksdb/codec.h"
#include "store/rocksdb/rocksdb_store.h"
#include "store/rocksdb/rocksdb_test_util.h"
#include "store/upgrade_test_util.h"

namespace errata {
namespace {

namespace fs = std::filesystem;
namespace keys = rocksdb_codec::keys;
using rocksdb_codec::GetVarint;
using rocksdb_codec::PutVarint;

constexpr Micros kT0 = 1'735'689'600'000'000;  // 2025-01-01T00:00:00Z
constexpr Micros kHour = 3600 * kMicrosPerSecond;

// ---------------------------------------------------------------- format 1

// Parts of format-1 keys as session 12's codec built them (ids as text).
std::string Time(Micros t) { return keys::Time(t); }
std::string Len36() { return std::string(1, '\x24'); }

// The format-1 key of a format-2 key: the inverse of UpgradeKey, to age a
// database in the tests below. "" for a key without ids.
std::string DowngradeKey(std::string_view key) {
  auto text = [](std::string_view* in, std::string* out) {
    AppendUuidText(in->data(), out);
    in->remove_prefix(kUuidBytes);
  };
  auto prefix = [&](std::string_view* in, std::string* out) {
    uint64_t n = 0;
    EXPECT_TRUE(GetVarint(in, &n) && n == kUuidBytes);
    PutVarint(out, 36);
    text(in, out);
  };
  std::string out(1, key.front());
  std::string_view rest = key.substr(1);
  switch (key.front()) {
    case keys::kUser:
    case keys::kConversation:
    case keys::kUtterance:
      text(&rest, &out);
      return out;
    case keys::kUserName:
      out.append(rest.substr(0, rest.size() - kUuidBytes));
      rest.remove_prefix(rest.size() - kUuidBytes);
      text(&rest, &out);
      return out;
    case keys::kConversationUtterance:
      prefix(&rest, &out);
      out.append(rest.substr(0, 8));
      rest.remove_prefix(8);
      text(&rest, &out);
      return out;
    case keys::kLearner: {
      prefix(&rest, &out);
      const char kind = rest.front();
      out.push_back(kind);
      rest.remove_prefix(1);
      if (kind == keys::kPoint || kind == keys::kMemory) {
        out.append(rest);
      } else {
        out.append(rest.substr(0, 8));
        rest.remove_prefix(8);
        text(&rest, &out);
      }
      return out;
    }
    default:
      return "";
  }
}

TEST(KeyFormatTest, UpgradesEveryFormatOneKeyToTheKeyOfToday) {
  const std::string user = NewUuidV7(kT0), conversation = NewUuidV7(kT0 + 1),
                    utterance = NewUuidV7(kT0 + 2), error = NewUuidV7(kT0 + 3),
                    attempt = NewUuidV7(kT0 + 4);
  const Micros t = kT0 + kHour;
  // (format 1, format 2), the first spelled out as the old codec laid it out.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"u" + user, keys::User(user)},
      {"n" + std::string("ann") + '\0' + user, keys::UserName("ann", user)},
      {"c" + conversation, keys::Conversation(conversation)},
      {"t" + utterance, keys::Utterance(utterance)},
      {"v" + Len36() + conversation + Time(t) + utterance,
       keys::ConversationUtterance(conversation, t, utterance)},
      {"L" + Len36() + user + "l" + Time(t) + error, keys::LearnerError(user, t, error)},
      {"L" + Len36() + user + "a" + Time(t) + attempt, keys::Attempt(user, t, attempt)},
      {"L" + Len36() + user + "f" + "verb_tense", keys::Point(user, "verb_tense")},
      {"L" + Len36() + user + "g" + "verb_tense", keys::Memory(user, "verb_tense")},
  };
  std::string got;
  for (const auto& [old_key, key] : cases) {
    ASSERT_TRUE(keys::UpgradeKey(old_key, &got)) << old_key;
    EXPECT_EQ(got, key) << old_key;
    EXPECT_FALSE(keys::UpgradeKey(key, &got)) << "a format-2 key is left alone: " << old_key;
    EXPECT_EQ(DowngradeKey(key), old_key);
  }
  for (const std::string& plain : {keys::Email("ann@example.com"), keys::Meta("decay_half_life_us"),
                                   keys::UserNamePrefix("ann"), std::string()}) {
    EXPECT_FALSE(keys::UpgradeKey(plain, &got)) << plain;
  }
  // A key of an id that is not a UUID is left alone, not half converted.
  EXPECT_FALSE(keys::UpgradeKey("u" + std::string(36, 'x'), &got));
}

TEST(KeyFormatTest, ANonUuidIdNeverMatchesAStoredId) {
  const std::string user = NewUuidV7(kT0);
  char b[kUuidBytes];
  ASSERT_TRUE(UuidToBytes(user, b));
  const std::string sixteen(b, kUuidBytes);  // a "text id" spelling a stored id's bytes
  EXPECT_NE(keys::User(sixteen), keys::User(user));
  EXPECT_EQ(keys::User(user), "u" + sixteen);
  EXPECT_EQ(keys::IdText(std::string_view(keys::User(user)).substr(1)), user);
  EXPECT_EQ(keys::User("nope"), "unope");
}

// ---------------------------------------------------------------- a database

class KeyUpgradeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / fmt::format("errata-keyformat-{}", NewUuidV7(NowMicros()));
    ASSERT_TRUE(fs::create_directories(dir_));
    Open();
  }
  void TearDown() override {
    store_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void Open() {
    store_.reset();
    auto s = RocksdbStore::Open(testutil::SmallRocksdb(dir_));
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }

  void Fill() { learners_ = testutil::FillForUpgrade(store_.get(), kT0); }
  std::string Everything() { return testutil::RenderEverything(store_.get(), learners_, kT0); }

  // Makes the database one of key format 2: drops the index of users by
  // creation time, the trigrams of their names and the keys that list each
  // learner's conversations, and writes the format record "2" (with
  // format=3, keeps the first; with format=5, the first two; with format=6,
  // all three).
  // With `every` > 0, of format 1: also rewrites the keys with ids as format
  // 1 keys, each `every`-th one only (every=2: an upgrade that stopped
  // half-way), and drops the format record. Returns the keys rewritten.
  int Age(int every, int format = 2) {
    rocksdb::DB* db = store_->TEST_db();
    rocksdb::WriteBatch wb;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    int n = 0, aged = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if ((format < 3 && it->key().starts_with(std::string(1, keys::kUserCreated))) ||
          (format < 5 && it->key().starts_with(std::string(1, keys::kUserTrigram))) ||
          (format < 6 && IsLearnerConversation(it->key().ToStringView()))) {
        wb.Delete(it->key());
        continue;
      }
      const std::string old_key = every > 0 ? DowngradeKey(it->key().ToString()) : "";
      if (old_key.empty() || n++ % every != 0) continue;
      wb.Put(old_key, it->value());
      wb.Delete(it->key());
      ++aged;
    }
    EXPECT_TRUE(it->status().ok());
    if (every > 0) {
      wb.Delete(keys::Meta(keys::kKeyFormat));
    } else {
      wb.Put(keys::Meta(keys::kKeyFormat), std::to_string(format));
    }
    EXPECT_TRUE(db->Write(rocksdb::WriteOptions(), &wb).ok());
    return aged;
  }

  // Whether `key` lists a learner's conversation (format 6).
  static bool IsLearnerConversation(std::string_view key) {
    std::string_view user, rest;
    char kind = 0;
    return key.starts_with(keys::kLearner) &&
           keys::ParseLearnerKey(key.substr(1), &user, &kind, &rest) &&
           kind == keys::kLearnerConversation;
  }

  // The users in the index by creation time, newest first.
  std::vector<std::string> UsersByCreation() {
    std::unique_ptr<rocksdb::Iterator> it(store_->TEST_db()->NewIterator(rocksdb::ReadOptions()));
    std::vector<std::string> ids;
    const std::string prefix(1, keys::kUserCreated);
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      ids.insert(ids.begin(), keys::IdText(it->key().ToStringView().substr(1 + 8)));
    }
    return ids;
  }

  // The number of keys that start with `tag`.
  int CountTagged(char tag) {
    std::unique_ptr<rocksdb::Iterator> it(store_->TEST_db()->NewIterator(rocksdb::ReadOptions()));
    int n = 0;
    const std::string prefix(1, tag);
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) ++n;
    return n;
  }

  // The number of keys, and of keys in format 1.
  std::pair<int, int> CountKeys() {
    std::unique_ptr<rocksdb::Iterator> it(store_->TEST_db()->NewIterator(rocksdb::ReadOptions()));
    int all = 0, old = 0;
    std::string unused;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      ++all;
      old += keys::UpgradeKey(it->key().ToString(), &unused);
    }
    return {all, old};
  }

  std::string KeyFormat() {
    std::string v;
    rocksdb::Status s =
        store_->TEST_db()->Get(rocksdb::ReadOptions(), keys::Meta(keys::kKeyFormat), &v);
    return s.ok() ? v : s.ToString();
  }
  const std::string kCurrent = std::to_string(keys::kCurrentKeyFormat);

  fs::path dir_;
  std::unique_ptr<RocksdbStore> store_;
  std::vector<testutil::UpgradeLearner> learners_;
};

TEST_F(KeyUpgradeTest, ANewDatabaseIsOfTheCurrentFormat) {
  EXPECT_EQ(KeyFormat(), kCurrent);
}

TEST_F(KeyUpgradeTest, AFormatOneDatabaseOpensWithEveryAnswerUnchanged) {
  Fill();
  const std::string before = Everything();
  const auto [keys_before, old_before] = CountKeys();
  EXPECT_EQ(old_before, 0);
  const std::vector<std::string> newest = UsersByCreation();
  EXPECT_EQ(newest, (std::vector<std::string>{learners_[2].user_id, learners_[1].user_id,
                                              learners_[0].user_id}));
  const int trigrams = CountTagged(keys::kUserTrigram);
  EXPECT_EQ(trigrams, 18);  // learner0..2: lea, ear, arn, rne, ner, er<i>
  ASSERT_GT(Age(1), 40);
  // Every key is of format 1 now but the 3 emails and the half-life's meta
  // record; the format's record, the 3 users' creation-time keys, their
  // names' trigrams and their 3 conversations' keys under them are gone.
  EXPECT_EQ(CountKeys(),
            std::make_pair(keys_before - 7 - trigrams, keys_before - 11 - trigrams));
  ASSERT_NO_FATAL_FAILURE(Open());
  EXPECT_EQ(CountKeys(), std::make_pair(keys_before, 0));
  EXPECT_EQ(UsersByCreation(), newest);
  EXPECT_EQ(KeyFormat(), kCurrent);
  EXPECT_EQ(Everything(), before);
}

TEST_F(KeyUpgradeTest, AnUpgradeThatStoppedPartWayGoesOn) {
  Fill();
  const std::string before = Everything();
  const int keys_before = CountKeys().first;
  const int aged = Age(2);
  EXPECT_GT(aged, 20);
  EXPECT_EQ(CountKeys().second, aged);
  ASSERT_NO_FATAL_FAILURE(Open());
  EXPECT_EQ(CountKeys(), std::make_pair(keys_before, 0));
  EXPECT_EQ(Everything(), before);
}

TEST_F(KeyUpgradeTest, AFormatTwoDatabaseGetsItsUsersIndexedByCreationTime) {
  Fill();
  const std::string before = Everything();
  const int keys_before = CountKeys().first;
  EXPECT_EQ(Age(0), 0);
  EXPECT_EQ(KeyFormat(), "2");
  EXPECT_EQ(UsersByCreation(), std::vector<std::string>{});
  EXPECT_EQ(CountKeys().first, keys_before - 3 - 18 - 3);
  ASSERT_NO_FATAL_FAILURE(Open());
  EXPECT_EQ(KeyFormat(), kCurrent);
  EXPECT_EQ(CountKeys(), std::make_pair(keys_before, 0));
  EXPECT_EQ(UsersByCreation(), (std::vector<std::string>{learners_[2].user_id,
                                                         learners_[1].user_id,
                                                         learners_[0].user_id}));
  EXPECT_EQ(Everything(), before);
}

TEST_F(KeyUpgradeTest, AFormatThreeDatabaseGetsItsNamesIndexedByTrigram) {
  Fill();
  const std::string before = Everything();
  const int keys_before = CountKeys().first;
  auto typo = [&] {  // a typo inside the name: found by its trigrams only
    auto got = store_->SearchCandidates("lerner1", 0);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    std::vector<std::string> ids;
    for (const User& u : got.ok() ? *got : std::vector<User>{}) ids.push_back(u.user_id);
    return ids;
  };
  EXPECT_EQ(typo().front(), learners_[1].user_id);  // er1 and ner: the most shared
  EXPECT_EQ(Age(0, 3), 0);
  EXPECT_EQ(KeyFormat(), "3");
  EXPECT_EQ(CountKeys().first, keys_before - 18 - 3);
  EXPECT_TRUE(typo().empty());
  ASSERT_NO_FATAL_FAILURE(Open());
  EXPECT_EQ(KeyFormat(), kCurrent);
  EXPECT_EQ(CountKeys(), std::make_pair(keys_before, 0));
  EXPECT_EQ(typo().front(), learners_[1].user_id);
  EXPECT_EQ(Everything(), before);
}

TEST_F(KeyUpgradeTest, AFormatFourDatabaseGetsItsNamesBeyondAsciiIndexed) {
  Fill();
  const std::string jose = testutil::AddAccentedLearner(store_.get(), kT0 + kMicrosPerDay);
  EXPECT_TRUE(testutil::FoundByGainedTrigrams(store_.get(), jose));
  const std::string before = Everything();
  const int keys_before = CountKeys().first;
  rocksdb::WriteBatch wb;
  for (const std::string& gram : testutil::kGainedTrigrams) {
    wb.Delete(keys::UserTrigram(gram, jose));
  }
  wb.Put(keys::Meta(keys::kKeyFormat), "4");
  ASSERT_TRUE(store_->TEST_db()->Write(rocksdb::WriteOptions(), &wb).ok());
  EXPECT_EQ(CountKeys().first, keys_before - 9);
  EXPECT_FALSE(testutil::Offers(store_.get(), "rcia", jose));
  EXPECT_FALSE(testutil::Offers(store_.get(), "madrd", jose));
  ASSERT_NO_FATAL_FAILURE(Open());
  EXPECT_EQ(KeyFormat(), kCurrent);
  EXPECT_EQ(CountKeys(), std::make_pair(keys_before, 0));
  EXPECT_TRUE(testutil::FoundByGainedTrigrams(store_.get(), jose));
  EXPECT_EQ(Everything(), before);
}

TEST_F(KeyUpgradeTest, AFormatFiveDatabaseGetsItsLearnersConversationsListed) {
  Fill();
  const std::string before = Everything();
  const int keys_before = CountKeys().first;
  auto listed = [&] {
    auto got = store_->ListConversations(learners_[1].user_id, std::nullopt, 10);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    std::vector<std::string> ids;
    for (const auto& c : got.ok() ? *got : std::vector<ConversationSummary>{}) {
      ids.push_back(c.conversation.conversation_id);
    }
    return ids;
  };
  EXPECT_EQ(listed(), std::vector<std::string>{learners_[1].conversation_id});
  EXPECT_EQ(Age(0, 5), 0);
  EXPECT_EQ(KeyFormat(), "5");
  EXPECT_EQ(CountKeys().first, keys_before - 3);
  EXPECT_TRUE(listed().empty());
  ASSERT_NO_FATAL_FAILURE(Open());
  EXPECT_EQ(KeyFormat(), kCurrent);
  EXPECT_EQ(CountKeys(), std::make_pair(keys_before, 0));
  EXPECT_EQ(listed(), std::vector<std::string>{learners_[1].conversation_id});
  EXPECT_EQ(Everything(), before);
}

// Format 7 adds only what an erase writes (tombstones): a format-6 database
// gets the format record and not one key more.
TEST_F(KeyUpgradeTest, AFormatSixDatabaseOpensAsSevenWithNothingRewritten) {
  Fill();
  const std::string before = Everything();
  const auto keys_before = CountKeys();
  EXPECT_EQ(Age(0, 6), 0);
  EXPECT_EQ(KeyFormat(), "6");
  ASSERT_NO_FATAL_FAILURE(Open());
  EXPECT_EQ(KeyFormat(), kCurrent);
  EXPECT_EQ(CountKeys(), keys_before);
  EXPECT_EQ(Everything(), before);
}

TEST_F(KeyUpgradeTest, AFormatFromANewerBuildDoesNotOpen) {
  for (const std::string format : {"8", "x", ""}) {
    const fs::path dir = dir_ / ("format-" + format);
    ASSERT_TRUE(fs::create_directories(dir));
    {
      auto store = RocksdbStore::Open(testutil::SmallRocksdb(dir));
      ASSERT_TRUE(store.ok());
      ASSERT_TRUE((*store)
                      ->TEST_db()
                      ->Put(rocksdb::WriteOptions(), keys::Meta(keys::kKeyFormat), format)
                      .ok());
    }
    auto s = RocksdbStore::Open(testutil::SmallRocksdb(dir));
    ASSERT_FALSE(s.ok()) << format;
    EXPECT_EQ(s.status().message(),
              fmt::format("rocksdb: the database's key format is {}, and this build reads format {}",
                          format, keys::kCurrentKeyFormat));
  }
}

}  // namespace
}  // namespace errata
