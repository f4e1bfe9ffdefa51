#include "api/json_writer.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <limits>

#include "api/exercise_json.h"
#include "core/clock.h"
#include "core/search_fold.h"
#include "core/taxonomy.h"

namespace errata::api {
namespace {
namespace json = boost::json;

TEST(JsonWriter, WritesNestedValuesWithCommas) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("a").Int(-3);
  w.Key("b").BeginArray().String("x").Bool(true).Null().BeginObject().EndObject().EndArray();
  w.Key("c").Double(0.5);
  w.Key("d").Raw(R"({"raw":1})");
  w.EndObject();
  EXPECT_EQ(out, R"({"a":-3,"b":["x",true,null,{}],"c":0.5,"d":{"raw":1}})");
}

TEST(JsonWriter, WritesTimesAndLongKeys) {
  std::string out;
  JsonWriter w(&out);
  const std::string long_key(80, 'k');  // past Key's one-append buffer
  w.BeginObject();
  w.Key("t").Time(1'795'463'657'123'456);
  w.Key(long_key).Time(-1);
  w.Key("far").Time(400'000'000'000'000'000);  // year > 9999: the snprintf path
  w.EndObject();
  EXPECT_EQ(out, "{\"t\":\"2026-11-23T19:54:17.123456Z\",\"" + long_key +
                     "\":\"1969-12-31T23:59:59.999999Z\",\"far\":\"" +
                     FormatTime(400'000'000'000'000'000) + "\"}");
  EXPECT_EQ(json::parse(out).as_object().at("far").as_string(),
            FormatTime(400'000'000'000'000'000));
}

TEST(JsonWriter, EscapesStringsAsJson) {
  const std::string tricky = std::string("q\"b\\n\n\r\t\b\f") + '\x01' + "\x1f" + "é" + "end";
  std::string out;
  JsonWriter(&out).String(tricky);
  EXPECT_EQ(out, R"("q\"b\\n\n\r\t\b\f\u0001\u001fé)" "end\"");
  EXPECT_EQ(json::parse(out).as_string(), tricky);
}

TEST(JsonWriter, BytesThatAreNotUtf8GoOutAsReplacementCharacters) {
  // Well-formed text of every length goes out as it came.
  const std::string good = "é€😀日本語";
  std::string out;
  JsonWriter(&out).String(good);
  EXPECT_EQ(out, "\"" + good + "\"");
  // A stray byte, a cut sequence, an encoded surrogate and an overlong form
  // each become U+FFFD, and the result is JSON again.
  const std::string bad = std::string("a\xff") + "b\xe2\x82" + "c\xed\xa0\x80" + "d\xc0\xaf" + "é";
  out.clear();
  JsonWriter(&out).String(bad);
  EXPECT_EQ(json::parse(out).as_string(), std::string("a\uFFFDb\uFFFDc\uFFFD\uFFFD\uFFFDd\uFFFD\uFFFDé"));
  EXPECT_EQ(json::parse(out).as_string(), ValidUtf8(bad));
}

TEST(JsonWriter, DoublesReadBackExactlyAndNonFiniteIsNull) {
  for (double v : {0.0, 1.0, -2.5, 1.4999796743761225, 1e-300, 6.02e23}) {
    std::string out;
    JsonWriter(&out).Double(v);
    EXPECT_EQ(json::parse(out).to_number<double>(), v) << out;
  }
  // Whole numbers take a shortcut; it must write what to_chars writes,
  // including where to_chars switches to an exponent or keeps a sign.
  for (double v : {0.0, -0.0, 1.0, -1.0, 7.0, 10000.0, 99999.0, -99999.0, 100000.0, 120000.0,
                   1e15, 0.5, 99999.5, 1.0000000000000002}) {
    std::string out;
    JsonWriter(&out).Double(v);
    char buf[32];
    EXPECT_EQ(out, std::string(buf, std::to_chars(buf, buf + sizeof(buf), v).ptr)) << v;
  }
  std::string out;
  JsonWriter(&out).BeginArray().Double(std::nan("")).Double(
      std::numeric_limits<double>::infinity()).EndArray();
  EXPECT_EQ(out, "[null,null]");
}

// A bank exercise written from the pre-rendered cache and without it gives the
// same JSON, and every field of the item is there.
TEST(ExerciseJson, CachedAndUncachedItemsAreTheSame) {
  auto bank = ExerciseBank::FromJson(R"({"version":"t","exercises":[{
      "id":"sva-001","subcategory_id":"subject-verb-agreement","type":"fill_blank","level":"A1",
      "prompt":"They ___ from \"Brazil\".","options":["is","are"],"answers":["are"],
      "explanation":"Use are."}]})", "test",
      {{"subject-verb-agreement", 0}});
  ASSERT_TRUE(bank.ok()) << bank.status().message();
  const ExerciseJson cache(*bank);
  ErrorPoint p{PointNames("subject-verb-agreement", "Grammar", "Subject-Verb Agreement"), 3, 0, 86'400'000'000, 1.0, {}};
  PracticeItem item;
  item.exercise = bank->Find("sva-001");
  item.because = RankedPoint{&p, 2.5, 1.0, 0.25};
  ASSERT_NE(cache.Lookup(item.exercise), nullptr);
  std::string cached, plain;
  JsonWriter a(&cached), b(&plain);
  WritePracticeItem(a, item, &cache);
  WritePracticeItem(b, item, nullptr);
  EXPECT_EQ(cached, plain);
  const json::object o = json::parse(cached).as_object();
  EXPECT_EQ(o.at("exercise_id"), "sva-001");
  EXPECT_EQ(o.at("prompt"), "They ___ from \"Brazil\".");
  EXPECT_EQ(o.at("options"), (json::array{"is", "are"}));
  EXPECT_EQ(o.at("answers"), (json::array{"are"}));
  EXPECT_EQ(o.at("source"), "bank");
  const json::object& because = o.at("because").as_object();
  EXPECT_EQ(because.at("subcategory"), "Subject-Verb Agreement");
  EXPECT_EQ(because.at("count"), 3);
  EXPECT_EQ(because.at("last_seen"), "1970-01-02T00:00:00.000000Z");
  EXPECT_EQ(because.at("mastery").to_number<double>(), 0.25);
  EXPECT_EQ(because.at("priority").to_number<double>(), 2.5);
}

// With the taxonomy, a bank item's names are copied from its entry; a point
// whose names are not the taxonomy's (renamed since it was recorded) or an
// item that is not from the bank still gets its own names.
TEST(ExerciseJson, PreRenderedNamesAreUsedOnlyWhenTheyAreThePointsOwn) {
  auto taxonomy = Taxonomy::FromJson(R"({"version":"t","categories":[{"id":"grammar",
      "name":"Grammar","subcategories":[{"id":"subject-verb-agreement",
      "name":"Subject-Verb Agreement","description":"d"}]}]})", "test");
  ASSERT_TRUE(taxonomy.ok()) << taxonomy.status().message();
  auto bank = ExerciseBank::FromJson(R"({"version":"t","exercises":[{
      "id":"sva-001","subcategory_id":"subject-verb-agreement","type":"fill_blank","level":"A1",
      "prompt":"They ___ here.","options":["is","are"],"answers":["are"],
      "explanation":"Use are."}]})", "test", {{"subject-verb-agreement", 0}});
  ASSERT_TRUE(bank.ok()) << bank.status().message();
  const ExerciseJson with_names(*bank, &*taxonomy);
  const ExerciseJson::Entry* e = with_names.Lookup(bank->Find("sva-001"));
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->because_head,
            R"(,"source":"bank","because":{"category":"Grammar","subcategory":)"
            R"("Subject-Verb Agreement","subcategory_id":"subject-verb-agreement")");
  ErrorPoint same{PointNames("subject-verb-agreement", "Grammar", "Subject-Verb Agreement"), 3, 0, 0, 1.0, {}};
  ErrorPoint renamed{PointNames("subject-verb-agreement", "Grammar", "Agreement \"old\""), 3, 0, 0, 1.0, {}};
  for (const ErrorPoint* p : {&same, &renamed}) {
    for (const char* source : {"bank", "own_words"}) {
      PracticeItem item;
      item.exercise = bank->Find("sva-001");
      item.source = source;
      item.because = RankedPoint{p, 2.5, 1.0, 0.25};
      std::string cached, plain;
      JsonWriter a(&cached), b(&plain);
      WritePracticeItem(a, item, &with_names);
      WritePracticeItem(b, item, nullptr);
      EXPECT_EQ(cached, plain) << p->subcategory() << " " << source;
      const json::value v = json::parse(cached);
      EXPECT_EQ(std::string_view(v.at("because").at("subcategory").as_string()), p->subcategory());
      EXPECT_EQ(v.at("source"), source);
    }
  }
}

// A set writes each point's "because" once and reuses it: the result is the
// items written one by one, for items that share a point, a point with a
// different source, and another point.
TEST(ExerciseJson, ASetIsItsItemsWrittenOneByOne) {
  auto bank = ExerciseBank::FromJson(R"({"version":"t","exercises":[
      {"id":"sva-001","subcategory_id":"subject-verb-agreement","type":"fill_blank","level":"A1",
       "prompt":"They ___ here.","options":["is","are"],"answers":["are"],"explanation":"are"},
      {"id":"sva-002","subcategory_id":"subject-verb-agreement","type":"fill_blank","level":"A1",
       "prompt":"She ___ here.","options":["is","are"],"answers":["is"],"explanation":"is"},
      {"id":"prep-001","subcategory_id":"prepositions","type":"fill_blank","level":"A1",
       "prompt":"good ___ it","options":["at","in"],"answers":["at"],"explanation":"at"}]})",
      "test", {{"subject-verb-agreement", 0}, {"prepositions", 0}});
  ASSERT_TRUE(bank.ok()) << bank.status().message();
  const ExerciseJson cache(*bank);
  ErrorPoint sva{PointNames("subject-verb-agreement", "Grammar", "Subject-Verb Agreement"), 3, 0, 86'400'000'000, 1.0, {}};
  ErrorPoint prep{PointNames("prepositions", "Grammar", "Prepositions"), 1, 0, 2 * 86'400'000'000, 0.5, {}};
  std::vector<PracticeItem> items(5);
  items[0].exercise = bank->Find("sva-001");
  items[0].because = RankedPoint{&sva, 2.5, 1.0, 0.25};
  items[1].exercise = bank->Find("prep-001");
  items[1].because = RankedPoint{&prep, 1.5, 1.0, 0.75};
  items[2].exercise = bank->Find("sva-002");
  items[2].because = items[0].because;
  items[3].exercise = bank->Find("sva-002");
  items[3].because = items[0].because;
  items[3].source = "own_words";
  items[4].exercise = bank->Find("sva-001");
  items[4].because = items[3].because;
  items[4].source = "own_words";
  std::string set, one_by_one;
  JsonWriter a(&set), b(&one_by_one);
  WritePracticeItems(a, items, &cache);
  b.BeginArray();
  for (const auto& item : items) WritePracticeItem(b, item, &cache);
  b.EndArray();
  EXPECT_EQ(set, one_by_one);
  const json::array parsed = json::parse(set).as_array();
  ASSERT_EQ(parsed.size(), 5u);
  EXPECT_EQ(parsed[1].at("because").at("subcategory_id"), "prepositions");
  EXPECT_EQ(parsed[2].at("source"), "bank");
  EXPECT_EQ(parsed[3].at("source"), "own_words");
  EXPECT_EQ(parsed[4].at("because").at("priority").to_number<double>(), 2.5);
}

}  // namespace
}  // namespace errata::api
