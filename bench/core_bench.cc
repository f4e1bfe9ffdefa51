// Microbenchmarks of the hot core: taxonomy normalisation, profile update,
// ranking and practice selection, JSON decode/encode of the common bodies.
// Run: build/errata_microbench (built by `make build`; see BENCHMARKS.md).
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <boost/json.hpp>

#include "api/exercise_json.h"
#include "api/json_writer.h"
#include "api/request.h"
#include "app/data.h"
#include "core/clock.h"
#include "core/delta_set.h"
#include "core/ids.h"
#include "core/practice.h"
#include "core/ranking.h"
#include "core/user_search.h"

namespace errata {
namespace {

const app::DomainData& Data() {
  static const app::DomainData* data = [] {
    auto d = app::LoadDomainData("", "");
    if (!d.ok()) std::abort();
    return new app::DomainData(std::move(*d));
  }();
  return *data;
}

Profile MakeProfile(int points) {
  Profile p;
  p.user_known = true;
  const auto& subs = Data().taxonomy.subcategories();
  const Micros now = 1'790'000'000LL * kMicrosPerSecond;
  for (int i = 0; i < points && i < static_cast<int>(subs.size()); ++i) {
    ErrorDelta d{"u", subs[i].id, subs[i].category_name, subs[i].name};
    for (int k = 0; k <= i % 7; ++k) d.Add(now - k * kMicrosPerDay, 14 * kMicrosPerDay);
    p.Apply(d);
  }
  return p;
}

void BM_ResolveExact(benchmark::State& state) {
  const Taxonomy& t = Data().taxonomy;
  for (auto _ : state) benchmark::DoNotOptimize(t.Resolve("Grammar", "Subject-Verb Agreement", ""));
}
BENCHMARK(BM_ResolveExact);

void BM_ResolveVariant(benchmark::State& state) {
  const Taxonomy& t = Data().taxonomy;
  for (auto _ : state) benchmark::DoNotOptimize(t.Resolve("grammar", "subject verb agreement", ""));
}
BENCHMARK(BM_ResolveVariant);

void BM_ResolveCode(benchmark::State& state) {
  const Taxonomy& t = Data().taxonomy;
  for (auto _ : state) benchmark::DoNotOptimize(t.Resolve("", "", "R:VERB:SVA"));
}
BENCHMARK(BM_ResolveCode);

// The same misspelling again and again: answered from the typo memo.
void BM_ResolveTypo(benchmark::State& state) {
  const Taxonomy& t = Data().taxonomy;
  for (auto _ : state) benchmark::DoNotOptimize(t.Resolve("Grammar", "Prepositons", ""));
}
BENCHMARK(BM_ResolveTypo);

// A different misspelling each time (one letter dropped from each name, more
// of them than the memo holds): the full scan over the terms.
void BM_ResolveTypoDistinct(benchmark::State& state) {
  const Taxonomy& t = Data().taxonomy;
  std::vector<std::string> typos;
  for (int round = 0; typos.size() < 3 * Taxonomy::kTypoMemoCapacity; ++round) {
    for (const auto& s : t.subcategories()) {
      for (size_t i = 1; i + 1 < s.name.size(); ++i) {
        typos.push_back(s.name.substr(0, i) + s.name.substr(i + 1) + std::string(round, 'x'));
      }
    }
  }
  size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(t.Resolve("Grammar", typos[i++ % typos.size()], ""));
}
BENCHMARK(BM_ResolveTypoDistinct);

void BM_ProfileApply(benchmark::State& state) {
  Profile p = MakeProfile(20);
  ErrorDelta d{"u", "prepositions", "Grammar", "Prepositions"};
  d.Add(1'790'000'000LL * kMicrosPerSecond, 14 * kMicrosPerDay);
  for (auto _ : state) {
    p.Apply(d);
    benchmark::DoNotOptimize(p);
  }
}
BENCHMARK(BM_ProfileApply);

// A learner's first error of a subcategory: the point is created, and its
// names interned (docs/profile-memory.md), as on every new learner's write.
void BM_ProfileApplyNewPoint(benchmark::State& state) {
  ErrorDelta d{"u", "subject-verb-agreement", "Grammar", "Subject-Verb Agreement"};
  d.Add(1'790'000'000LL * kMicrosPerSecond, 14 * kMicrosPerDay);
  for (auto _ : state) {
    Profile p;
    p.Apply(d);
    benchmark::DoNotOptimize(p);
  }
}
BENCHMARK(BM_ProfileApplyNewPoint);

void BM_RankProfile(benchmark::State& state) {
  Profile p = MakeProfile(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(RankProfile(p, 1'790'000'000LL * kMicrosPerSecond, RankingParams{}));
  }
}
BENCHMARK(BM_RankProfile)->Arg(5)->Arg(20);

void BM_SelectPractice(benchmark::State& state) {
  Profile p = MakeProfile(static_cast<int>(state.range(0)));
  PracticeRequest r;
  r.n = 10;
  r.now = 1'790'000'000LL * kMicrosPerSecond;
  for (auto _ : state) {
    r.seed++;
    benchmark::DoNotOptimize(SelectPractice(p, Data().bank, r));
  }
}
BENCHMARK(BM_SelectPractice)->Arg(5)->Arg(20);

void BM_DecodeUtterance(benchmark::State& state) {
  const std::string body =
      R"({"conversation_id":"01a20a07-9bdd-7c3f-a463-0429797967ef","user_id":"01a20a07-9b3d-7604-b2fc-0dd4f7a4d25e",)"
      R"("content":"She go to school every day.","errors":[{"category":"Grammar","subcategory":"Subject-Verb Agreement",)"
      R"("original":"go","correction":"goes","span":{"start":4,"end":6}},{"code":"R:PREP"}]})";
  for (auto _ : state) benchmark::DoNotOptimize(api::ParseObject(body));
}
BENCHMARK(BM_DecodeUtterance);

void BM_EncodeTopErrors(benchmark::State& state) {
  Profile p = MakeProfile(20);
  for (auto _ : state) {
    boost::json::array items;
    for (const ErrorPoint* e : TopByFrequency(p, 5)) {
      items.push_back(boost::json::object{{"errorCategory", e->category()},
                                          {"errorSubCategory", e->subcategory()},
                                          {"errorFrequency", e->count}});
    }
    benchmark::DoNotOptimize(boost::json::serialize(boost::json::object{{"top_errors", std::move(items)}}));
  }
}
BENCHMARK(BM_EncodeTopErrors);

// A learner's text as a JSON string: ASCII (0), Latin with accents (1) and
// Chinese (2). Bytes from 0x80 are checked to be UTF-8 on the way out.
void BM_AppendJsonString(benchmark::State& state) {
  static const char* const kTexts[] = {"He go to school every day, and she like apples. ",
                                       "José García said «ça va», naïve café. ",
                                       "我昨天去学校了，他喜欢苹果。"};
  std::string text;
  while (text.size() < 4096) text += kTexts[state.range(0)];
  std::string out;
  for (auto _ : state) {
    out.clear();
    api::AppendJsonString(&out, text);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(text.size()));
}
BENCHMARK(BM_AppendJsonString)->Arg(0)->Arg(1)->Arg(2);

// The "exercises" array of GET /v1/users/{id}/exercises?n=10, two ways: a
// boost::json DOM then serialize (how errata wrote it before session 2), and
// JsonWriter with the bank pre-rendered (how it writes it now; docs/read-path.md).
// Ten items for a learner with 20 error points, or with 3 (as W4's learners:
// a set's items then share their points).
std::vector<PracticeItem> PracticeSet(int points = 20) {
  static const Profile* many = new Profile(MakeProfile(20));
  static const Profile* few = new Profile(MakeProfile(3));
  PracticeRequest r;
  r.n = 10;
  r.now = 1'790'000'000LL * kMicrosPerSecond;
  return SelectPractice(points == 3 ? *few : *many, Data().bank, r);
}

void BM_EncodePracticeDom(benchmark::State& state) {
  const auto items = PracticeSet();
  namespace json = boost::json;
  for (auto _ : state) {
    json::array out;
    for (const PracticeItem& item : items) {
      const Exercise& x = *item.exercise;
      const ErrorPoint& pt = *item.because.point;
      out.push_back(json::object{
          {"exercise_id", x.id}, {"subcategory_id", x.subcategory_id}, {"type", x.type},
          {"level", x.level}, {"prompt", x.prompt},
          {"options", json::array(x.options.begin(), x.options.end())},
          {"answers", json::array(x.answers.begin(), x.answers.end())},
          {"explanation", x.explanation}, {"source", item.source},
          {"because", {{"category", pt.category()}, {"subcategory", pt.subcategory()},
                       {"subcategory_id", pt.subcategory_id()}, {"count", pt.count},
                       {"last_seen", FormatTime(pt.last_seen)}, {"mastery", item.because.recall},
                       {"priority", item.because.priority}}}});
    }
    benchmark::DoNotOptimize(json::serialize(out));
  }
}
BENCHMARK(BM_EncodePracticeDom);

void EncodePracticeWriter(benchmark::State& state, int points) {
  const auto items = PracticeSet(points);
  static const api::ExerciseJson* cache = new api::ExerciseJson(Data().bank, &Data().taxonomy);
  for (auto _ : state) {
    std::string body;
    body.reserve(640 * items.size());
    api::JsonWriter w(&body);
    api::WritePracticeItems(w, items, cache);
    benchmark::DoNotOptimize(body);
  }
}
void BM_EncodePracticeWriter(benchmark::State& state) { EncodePracticeWriter(state, 20); }
BENCHMARK(BM_EncodePracticeWriter);
void BM_EncodePracticeWriterFewPoints(benchmark::State& state) { EncodePracticeWriter(state, 3); }
BENCHMARK(BM_EncodePracticeWriterFewPoints);

void BM_NewUuidV7(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(NewUuidV7(1'790'000'000LL * kMicrosPerSecond));
}
BENCHMARK(BM_NewUuidV7);

// The learner search's ranking of its candidates: 5,000 newest users plus
// prefix matches (GET /v1/users/search), with a query that is a typo. The
// names are `first`{i} `last`{i % 97}, the emails `mail`.{i}@example.org.
void RankUsers(benchmark::State& state, std::string_view first, std::string_view last,
               std::string_view mail, std::string_view query) {
  std::vector<User> users;
  for (int i = 0; i < 5000; ++i) {
    users.push_back(User{NewUuidV7(kMicrosPerSecond * (1'790'000'000LL + i)),
                         fmt::format("{}{} {}{}", first, i, last, i % 97),
                         fmt::format("{}.{}@example.org", mail, i), 0});
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(RankUserMatches(query, users, 10));
  }
}

void BM_RankUserMatches(benchmark::State& state) {
  RankUsers(state, "Learner", "Surname", "learner", "Lerner123 Surnme");
}
BENCHMARK(BM_RankUserMatches);

// The same with names and a query beyond ASCII (core/search_fold.h).
void BM_RankUserMatchesBeyondAscii(benchmark::State& state) {
  RankUsers(state, "José", "Иванова", "jose", "Jose123 Иваова");
}
BENCHMARK(BM_RankUserMatchesBeyondAscii);

}  // namespace
}  // namespace errata
