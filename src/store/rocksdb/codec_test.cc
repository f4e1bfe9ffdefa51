// The RocksDB store's key and value layout (codec.h): keys sort the way the
// scans need, and a damaged value is detected instead of read as garbage.
#include "store/rocksdb/codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <vector>

namespace errata::rocksdb_codec {
namespace {

TEST(RocksdbKeysTest, TimesSortLikeTheSignedValues) {
  const std::vector<int64_t> times = {
      std::numeric_limits<int64_t>::min(), -86400000000, -1, 0, 1, 1700000000000000,
      std::numeric_limits<int64_t>::max()};
  for (size_t i = 0; i + 1 < times.size(); ++i) {
    EXPECT_LT(keys::Time(times[i]), keys::Time(times[i + 1])) << times[i] << " vs " << times[i + 1];
  }
  for (int64_t t : times) {
    std::string_view in;
    const std::string k = keys::Time(t);
    in = k;
    int64_t back = 0;
    ASSERT_TRUE(keys::ParseTime(&in, &back));
    EXPECT_EQ(back, t);
    EXPECT_TRUE(in.empty());
  }
}

TEST(RocksdbKeysTest, ALearnersRecordsSitTogether) {
  // Every key of learner "a" sorts before every key of learner "b", whatever its kind.
  const std::vector<std::string> a = {keys::Attempt("a", 9, "x"), keys::Point("a", "zzz"),
                                      keys::LearnerError("a", 1, "e"), keys::Memory("a", "zzz")};
  const std::vector<std::string> b = {keys::Attempt("b", 0, ""), keys::Point("b", ""),
                                      keys::LearnerError("b", -5, "e"), keys::Memory("b", "")};
  for (const auto& ka : a) {
    for (const auto& kb : b) EXPECT_LT(ka, kb);
    EXPECT_TRUE(ka.starts_with(keys::IdPrefix(keys::kLearner, "a")));
  }
}

TEST(RocksdbKeysTest, AnIdIsNeverAPrefixOfAnothersKeys) {
  // "learner-1" is a prefix of "learner-10" as text; its error keys must not
  // fall under the prefix of the other learner's scan, nor the reverse.
  const std::string a = keys::LearnerError("learner-1", 5, "e1");
  const std::string b = keys::LearnerError("learner-10", 5, "e1");
  EXPECT_FALSE(a.starts_with(keys::LearnerPrefix(keys::kLearnerError, "learner-10")));
  EXPECT_FALSE(b.starts_with(keys::LearnerPrefix(keys::kLearnerError, "learner-1")));
  EXPECT_TRUE(a.starts_with(keys::LearnerPrefix(keys::kLearnerError, "learner-1")));
}

TEST(RocksdbKeysTest, ALearnersErrorsSortByTimeThenId) {
  std::vector<std::string> ks = {
      keys::LearnerError("u", 300, "a"), keys::LearnerError("u", 100, "z"),
      keys::LearnerError("u", 100, "b"), keys::LearnerError("u", 200, "a")};
  std::sort(ks.begin(), ks.end());
  const std::string prefix = keys::LearnerPrefix(keys::kLearnerError, "u");
  std::vector<std::pair<int64_t, std::string>> got;
  for (const auto& k : ks) {
    int64_t t = 0;
    std::string_view id;
    ASSERT_TRUE(keys::ParseTimeAndId(std::string_view(k).substr(prefix.size()), &t, &id));
    got.emplace_back(t, std::string(id));
  }
  const std::vector<std::pair<int64_t, std::string>> want = {
      {100, "b"}, {100, "z"}, {200, "a"}, {300, "a"}};
  EXPECT_EQ(got, want);
  std::string_view user, rest;
  char kind = 0;
  ASSERT_TRUE(keys::ParseLearnerKey(std::string_view(ks[0]).substr(1), &user, &kind, &rest));
  EXPECT_EQ(user, "u");
  EXPECT_EQ(kind, keys::kLearnerError);
  int64_t t = 0;
  std::string_view id;
  ASSERT_TRUE(keys::ParseTimeAndId(rest, &t, &id));
  EXPECT_EQ(t, 100);
  EXPECT_EQ(id, "b");
}

TEST(RocksdbKeysTest, PrefixEndIsTheFirstKeyAfterThePrefix) {
  EXPECT_EQ(keys::PrefixEnd("ab"), "ac");
  EXPECT_EQ(keys::PrefixEnd(std::string("a\xff", 2)), "b");
  EXPECT_EQ(keys::PrefixEnd(std::string("\xff\xff", 2)), "");
  const std::string p = keys::LearnerPrefix(keys::kPoint, "u1");
  EXPECT_LT(keys::Point("u1", std::string(40, '\xff')), keys::PrefixEnd(p));
  EXPECT_GE(keys::Memory("u1", ""), keys::PrefixEnd(p));
  EXPECT_GE(keys::Point("u2", ""), keys::PrefixEnd(p));
}

TEST(RocksdbCodecTest, ValuesRoundTrip) {
  Encoder e;
  e.Int(-42).Real(-0.5).Bool(true).Str("").Str(std::string(300, 'x')).OptStr(std::nullopt);
  e.OptStr(std::string("ok"));
  const std::string v = e.Take();
  Decoder d(v);
  EXPECT_EQ(d.Int(), -42);
  EXPECT_EQ(d.Real(), -0.5);
  EXPECT_TRUE(d.Bool());
  EXPECT_EQ(d.Str(), "");
  EXPECT_EQ(d.Str(), std::string(300, 'x'));
  EXPECT_EQ(d.OptStr(), std::nullopt);
  EXPECT_EQ(d.OptStr(), std::optional<std::string>("ok"));
  EXPECT_TRUE(d.ok());
}

TEST(RocksdbCodecTest, ACutValueIsNotOk) {
  Encoder e;
  e.Str("hello").Int(7);
  const std::string v = e.Take();
  for (size_t cut = 0; cut < v.size(); ++cut) {
    Decoder d(std::string_view(v).substr(0, cut));
    d.Str();
    d.Int();
    EXPECT_FALSE(d.ok()) << "cut at " << cut;
  }
  Decoder whole(v);
  EXPECT_EQ(whole.Str(), "hello");
  EXPECT_EQ(whole.Int(), 7);
  EXPECT_TRUE(whole.ok());
}

}  // namespace
}  // namespace errata::rocksdb_codec
