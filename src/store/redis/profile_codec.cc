#include "store/redis/profile_codec.h"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>

namespace errata::redis {
namespace json = boost::json;
namespace {

double ParseDouble(std::string_view s) {
  if (s == "-inf") return kNoDecay;
  double v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

// Integers may come back from Lua as "%.17g" (still integral below 2^53).
int64_t ParseInt(std::string_view s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc() && p == s.data() + s.size()) return v;
  return static_cast<int64_t>(std::llround(ParseDouble(s)));
}

uint64_t ParseHex(std::string_view s) {
  uint64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v, 16);
  return v;
}

MemoryState DecodeMemory(std::string_view s) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    const size_t bar = s.find('|', start);
    parts.push_back(s.substr(start, bar == std::string_view::npos ? std::string_view::npos : bar - start));
    if (bar == std::string_view::npos) break;
    start = bar + 1;
  }
  MemoryState m;
  if (parts.size() != 7) return m;
  m.stability_days = ParseDouble(parts[0]);
  m.difficulty = ParseDouble(parts[1]);
  m.last_review = ParseInt(parts[2]);
  m.reviews = ParseInt(parts[3]);
  m.lapses = ParseInt(parts[4]);
  m.last_correct = ParseInt(parts[5]);
  m.last_lapse = ParseInt(parts[6]);
  return m;
}

std::string Str(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

int64_t Int(const json::object& o, const char* key, int64_t fallback) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return fallback;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  return fallback;
}

}  // namespace

std::string ProfileKey(std::string_view user_id) { return fmt::format("errata:p:{}", user_id); }
std::string StateKey(std::string_view user_id) { return fmt::format("errata:s:{}", user_id); }

std::string EncodeDouble(double v) {
  if (v == kNoDecay) return "-inf";
  return fmt::format("{}", v);  // shortest text that reads back exactly
}

std::string EncodeMemory(const MemoryState& m) {
  return fmt::format("{}|{}|{}|{}|{}|{}|{}", EncodeDouble(m.stability_days),
                     EncodeDouble(m.difficulty), m.last_review, m.reviews, m.lapses,
                     m.last_correct, m.last_lapse);
}

std::string TimeKey(Micros t) {
  return fmt::format("{:016x}", static_cast<uint64_t>(t) ^ (uint64_t{1} << 63));
}

std::string ExampleField(const Example& e) {
  return fmt::format("e:{}:{}", TimeKey(e.created_at), e.error_id);
}

std::string EncodeExample(const Example& e) {
  json::object o{{"id", e.error_id},       {"sub", e.subcategory_id}, {"content", e.content},
                 {"original", e.original}, {"correction", e.correction},
                 {"ss", e.span_start},     {"se", e.span_end},        {"at", e.created_at}};
  return json::serialize(o);
}

std::string RecentField(Micros answered_at, std::string_view id) {
  return fmt::format("r:{}:{}", TimeKey(answered_at), id);
}

std::vector<std::string> EncodeProfile(const Profile& p) {
  std::vector<std::string> out;
  out.reserve(2 + p.points.size() * 14 + p.examples.size() * 2 + p.recent_correct.size() * 2);
  auto add = [&out](std::string f, std::string v) {
    out.push_back(std::move(f));
    out.push_back(std::move(v));
  };
  add("k", p.user_known ? "1" : "0");
  for (const auto& pt : p.points) {
    const std::string& s = pt.subcategory_id();
    add("s:" + s, pt.subcategory());
    add("g:" + s, pt.category());
    add("c:" + s, std::to_string(pt.count));
    add("f:" + s, std::to_string(pt.first_seen));
    add("l:" + s, std::to_string(pt.last_seen));
    add("d:" + s, EncodeDouble(pt.decay_log2));
    if (pt.memory.get() != MemoryState{}) add("m:" + s, EncodeMemory(pt.memory));
  }
  for (const auto& e : p.examples) add(ExampleField(e), EncodeExample(e));
  // No attempt ids here: a stand-in that sorts like the load's order when
  // answers share a time (fields are read newest first, in reverse text order).
  const size_t n = p.recent_correct.size();
  for (size_t i = 0; i < n; ++i) {
    const RecentCorrect& rc = p.recent_correct[i];
    add(RecentField(rc.answered_at, fmt::format("load{:06}", n - i)), rc.exercise_id);
  }
  return out;
}

Profile DecodeProfile(const std::vector<std::pair<std::string, std::string>>& fields) {
  Profile p;
  // A point's fields come one by one; its names are interned once all are in.
  struct Partial {
    const std::string* category = nullptr;
    const std::string* subcategory = nullptr;
    ErrorPoint point;
  };
  std::map<std::string_view, Partial> points;
  std::vector<std::pair<std::string_view, const std::string*>> examples, recent;
  auto point = [&points](std::string_view sub) -> ErrorPoint& { return points[sub].point; };
  for (const auto& [f, v] : fields) {
    if (f == "k") {
      p.user_known = v == "1";
      continue;
    }
    if (f.size() < 2 || f[1] != ':') continue;
    const std::string_view rest = std::string_view(f).substr(2);
    switch (f[0]) {
      case 's': points[rest].subcategory = &v; break;
      case 'g': points[rest].category = &v; break;
      case 'c': point(rest).count = ParseInt(v); break;
      case 'f': point(rest).first_seen = ParseInt(v); break;
      case 'l': point(rest).last_seen = ParseInt(v); break;
      case 'd': point(rest).decay_log2 = ParseDouble(v); break;
      case 'm': point(rest).memory = DecodeMemory(v); break;
      case 'e': examples.emplace_back(rest, &v); break;
      case 'r': recent.emplace_back(rest, &v); break;
      default: break;
    }
  }
  for (auto& [id, pt] : points) {
    // A field without its "s:" marker is a leftover of a point that is not
    // whole (cannot happen through the scripts); skip it.
    const bool named = (pt.subcategory != nullptr && !pt.subcategory->empty()) ||
                       (pt.category != nullptr && !pt.category->empty());
    if (!named) continue;
    pt.point.names = PointNames(id, pt.category ? *pt.category : "",
                                pt.subcategory ? *pt.subcategory : "");
    p.points.push_back(std::move(pt.point));
  }
  auto newest_first = [](const auto& a, const auto& b) { return a.first > b.first; };
  std::sort(examples.begin(), examples.end(), newest_first);
  for (const auto& [key, value] : examples) {
    if (p.examples.size() >= kMaxExamples) break;
    boost::system::error_code ec;
    json::value v = json::parse(*value, ec);
    if (ec || !v.is_object()) continue;
    const json::object& o = v.get_object();
    p.examples.push_back(Example{Str(o, "id"), Str(o, "sub"), Str(o, "content"),
                                 Str(o, "original"), Str(o, "correction"), Int(o, "ss", -1),
                                 Int(o, "se", -1), Int(o, "at", 0)});
  }
  std::sort(recent.begin(), recent.end(), newest_first);
  for (const auto& [key, value] : recent) {
    if (p.recent_correct.size() >= kMaxRecentCorrect) break;
    const Micros t = static_cast<Micros>(ParseHex(key.substr(0, 16)) ^ (uint64_t{1} << 63));
    p.recent_correct.push_back(RecentCorrect{*value, t});
  }
  return p;
}

}  // namespace errata::redis
