#include "core/taxonomy.h"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <initializer_list>

#include <boost/json.hpp>

#include "core/search_fold.h"
#include "core/text.h"

namespace errata {
namespace {

namespace json = boost::json;

bool IsAsciiAlnum(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string_view Trim(std::string_view s) {
  const char* kSpace = " \t\r\n\f\v";
  size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kSpace) - begin + 1);
}

// Lower-case kebab: "verb-tense", "a1".
bool IsKebab(std::string_view s) {
  if (s.empty() || s.front() == '-' || s.back() == '-') return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && s[i - 1] != '-');
    if (!ok) return false;
  }
  return true;
}

// `s` in quotes, cut to 64 bytes so that client input cannot bloat messages;
// cut between characters, as the message goes back in a JSON answer.
std::string Quote(std::string_view s) {
  constexpr size_t kMax = 64;
  if (s.size() <= kMax) return "\"" + std::string(s) + "\"";
  return "\"" + std::string(Utf8Prefix(s, kMax)) + "...\"";
}

// Whether `label` has the shape of a new subcategory's id, as New makes
// them: "<category>.<subcategory>", two slugs joined by one dot. A slug is
// its own slug, and no display name, alias or code has that shape.
bool IsNewIdShaped(std::string_view label) {
  const size_t dot = label.find('.');
  if (dot == std::string_view::npos || label.find('.', dot + 1) != std::string_view::npos) {
    return false;
  }
  const std::string_view category = label.substr(0, dot), subcategory = label.substr(dot + 1);
  return !category.empty() && !subcategory.empty() && SlugifyLabel(category) == category &&
         SlugifyLabel(subcategory) == subcategory;
}

}  // namespace

const char* HowName(Resolution::How how) {
  switch (how) {
    case Resolution::How::kExact: return "exact";
    case Resolution::How::kNormalized: return "normalized";
    case Resolution::How::kAlias: return "alias";
    case Resolution::How::kCode: return "code";
    case Resolution::How::kTypo: return "typo";
    case Resolution::How::kNew: return "new";
  }
  return "unknown";
}

std::string NormalizeLabel(std::string_view label) {
  std::string out;
  out.reserve(label.size());
  bool gap = false;  // a separator was seen since the last word byte
  for (char c : label) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x80 || IsAsciiAlnum(u)) {
      if (gap && !out.empty()) out += ' ';
      gap = false;
      out += AsciiLower(c);
    } else if (c == '&') {
      if (!out.empty()) out += ' ';
      out += "and";
      gap = true;
    } else {
      gap = true;
    }
  }
  return out;
}

std::string FoldTypography(std::string_view label) {
  std::string out;
  out.reserve(label.size());
  for (size_t i = 0; i < label.size();) {
    const auto byte = static_cast<unsigned char>(label[i]);
    if (byte < 0x80) {
      out += label[i++];
      continue;
    }
    const size_t begin = i;
    const int32_t c = fold_detail::NextCodePoint(label, &i);
    if (c == 0x00A0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x202F ||
        c == 0x205F || c == 0x3000) {
      out += ' ';
    } else if (c == 0x00AD || (c >= 0x200B && c <= 0x200D) || c == 0x2060 || c == 0xFEFF) {
      // zero-width or a soft hyphen: nothing
    } else if ((c >= 0x2010 && c <= 0x2015) || c == 0x2212 || c == 0xFE58 || c == 0xFE63) {
      out += '-';
    } else if ((c >= 0x2018 && c <= 0x201B) || c == 0x2032) {
      out += '\'';
    } else if ((c >= 0x201C && c <= 0x201F) || c == 0x2033) {
      out += '"';
    } else if (c >= 0xFF01 && c <= 0xFF5E) {
      out += static_cast<char>(c - 0xFEE0);
    } else {
      out.append(label.substr(begin, i - begin));
    }
  }
  return out;
}

std::string SlugifyLabel(std::string_view label) {
  std::string slug = NormalizeLabel(label);
  std::replace(slug.begin(), slug.end(), ' ', '-');
  return slug;
}

size_t OsaDistance(std::string_view a, std::string_view b, size_t max_distance) {
  const size_t n = a.size(), m = b.size();
  if ((n > m ? n - m : m - n) > max_distance) return max_distance + 1;
  // Three rolling rows: i-2, i-1 and i.
  std::vector<size_t> before(m + 1), prev(m + 1), cur(m + 1);
  for (size_t j = 0; j <= m; ++j) prev[j] = j;
  for (size_t i = 1; i <= n; ++i) {
    cur[0] = i;
    size_t row_min = cur[0];
    for (size_t j = 1; j <= m; ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        cur[j] = std::min(cur[j], before[j - 2] + 1);
      }
      row_min = std::min(row_min, cur[j]);
    }
    if (row_min > max_distance) return max_distance + 1;
    std::swap(before, prev);
    std::swap(prev, cur);
  }
  return std::min(prev[m], max_distance + 1);
}

size_t TypoBound(size_t length) {
  if (length <= 4) return 0;
  if (length <= 8) return 1;
  if (length <= 15) return 2;
  return 3;
}

// Parses and validates one document into a Taxonomy (see FromJson).
class TaxonomyBuilder {
 public:
  explicit TaxonomyBuilder(std::string_view source) : source_(source) {}

  Result<Taxonomy> Build(std::string_view text) {
    boost::system::error_code ec;
    json::value root = json::parse(text, ec);
    if (ec) return Error("", "invalid JSON: " + ec.message());
    const json::object* doc = root.if_object();
    if (doc == nullptr) return Error("", "top level is not an object");
    if (Status s = CheckKeys(*doc, "", {"version", "categories"}); !s.ok()) return s;
    if (Status s = GetString(*doc, "version", "", &t_.version_); !s.ok()) return s;
    const json::array* cats = GetArray(*doc, "categories");
    if (cats == nullptr || cats->empty()) return Error("", "\"categories\" must be a non-empty array");
    for (size_t i = 0; i < cats->size(); ++i) {
      if (Status s = AddCategory((*cats)[i], i); !s.ok()) return s;
    }
    return std::move(t_);
  }

 private:
  Status Error(std::string_view where, std::string_view what) const {
    std::string msg(source_);
    msg += ": ";
    if (!where.empty()) msg.append(where).append(": ");
    msg += what;
    return Status::InvalidArgument(std::move(msg));
  }

  Status CheckKeys(const json::object& obj, std::string_view where,
                   std::initializer_list<std::string_view> allowed) const {
    for (const auto& kv : obj) {
      if (std::find(allowed.begin(), allowed.end(), kv.key()) == allowed.end()) {
        return Error(where, "unknown key " + Quote(kv.key()));
      }
    }
    return Status::Ok();
  }

  // Reads a required, non-empty (after trimming) string member.
  Status GetString(const json::object& obj, std::string_view key, std::string_view where,
                   std::string* out) const {
    const json::value* v = obj.if_contains(key);
    const json::string* s = v ? v->if_string() : nullptr;
    if (s == nullptr || Trim(*s).empty()) {
      return Error(where, "missing or empty \"" + std::string(key) + "\"");
    }
    out->assign(Trim(*s));
    return Status::Ok();
  }

  static const json::array* GetArray(const json::object& obj, std::string_view key) {
    const json::value* v = obj.if_contains(key);
    return v ? v->if_array() : nullptr;
  }

  // Reads an optional array of non-empty strings.
  Status GetStringList(const json::object& obj, std::string_view key, std::string_view where,
                       std::vector<std::string>* out) const {
    const json::value* v = obj.if_contains(key);
    if (v == nullptr) return Status::Ok();
    const json::array* arr = v->if_array();
    if (arr == nullptr) return Error(where, "\"" + std::string(key) + "\" is not an array");
    for (const json::value& item : *arr) {
      const json::string* s = item.if_string();
      if (s == nullptr || Trim(*s).empty()) {
        return Error(where, "\"" + std::string(key) + "\" holds an empty or non-string item");
      }
      out->emplace_back(Trim(*s));
    }
    return Status::Ok();
  }

  Status AddCategory(const json::value& v, size_t ci) {
    std::string where = "categories[" + std::to_string(ci) + "]";
    const json::object* obj = v.if_object();
    if (obj == nullptr) return Error(where, "not an object");
    Category cat;
    if (Status s = CheckKeys(*obj, where, {"id", "name", "subcategories"}); !s.ok()) return s;
    if (Status s = GetString(*obj, "id", where, &cat.id); !s.ok()) return s;
    where += " (id " + Quote(cat.id) + ")";
    if (!IsKebab(cat.id)) return Error(where, "id is not lower-case kebab");
    if (Status s = GetString(*obj, "name", where, &cat.name); !s.ok()) return s;
    for (const std::string& key : {NormalizeLabel(cat.id), NormalizeLabel(cat.name)}) {
      auto [it, inserted] = t_.category_by_normalized_.try_emplace(key, t_.categories_.size());
      if (!inserted && it->second != t_.categories_.size()) {
        return Error(where, "duplicate category id or name " + Quote(key));
      }
    }
    const json::array* subs = GetArray(*obj, "subcategories");
    if (subs == nullptr || subs->empty()) {
      return Error(where, "\"subcategories\" must be a non-empty array");
    }
    t_.categories_.push_back(cat);
    for (size_t si = 0; si < subs->size(); ++si) {
      std::string sub_where = "categories[" + std::to_string(ci) + "].subcategories[" +
                              std::to_string(si) + "]";
      if (Status s = AddSubcategory((*subs)[si], sub_where); !s.ok()) return s;
    }
    return Status::Ok();
  }

  Status AddSubcategory(const json::value& v, std::string where) {
    const json::object* obj = v.if_object();
    if (obj == nullptr) return Error(where, "not an object");
    Category& cat = t_.categories_.back();
    Subcategory sub;
    sub.category_id = cat.id;
    sub.category_name = cat.name;
    if (Status s = CheckKeys(*obj, where, {"id", "name", "description", "aliases", "codes"});
        !s.ok()) {
      return s;
    }
    if (Status s = GetString(*obj, "id", where, &sub.id); !s.ok()) return s;
    where += " (id " + Quote(sub.id) + ")";
    if (!IsKebab(sub.id)) return Error(where, "id is not lower-case kebab");
    if (Status s = GetString(*obj, "name", where, &sub.name); !s.ok()) return s;
    if (Status s = GetString(*obj, "description", where, &sub.description); !s.ok()) return s;
    if (Status s = GetStringList(*obj, "aliases", where, &sub.aliases); !s.ok()) return s;
    if (Status s = GetStringList(*obj, "codes", where, &sub.codes); !s.ok()) return s;

    const size_t index = t_.subcategories_.size();
    if (!t_.by_id_.try_emplace(sub.id, index).second) return Error(where, "duplicate id");
    t_.by_display_.try_emplace(sub.name, index);  // a clash is caught normalised below
    using How = Resolution::How;
    if (Status s = AddTerm(where, "id", sub.id, index, How::kNormalized); !s.ok()) return s;
    if (Status s = AddTerm(where, "name", sub.name, index, How::kNormalized); !s.ok()) return s;
    for (const std::string& alias : sub.aliases) {
      if (Status s = AddTerm(where, "alias", alias, index, How::kAlias); !s.ok()) return s;
    }
    for (const std::string& code : sub.codes) {
      if (Status s = AddCode(where, code, index); !s.ok()) return s;
    }
    cat.subcategory_ids.push_back(sub.id);
    t_.subcategories_.push_back(std::move(sub));
    return Status::Ok();
  }

  // Resolve reads such a label as a new subcategory's id before any name.
  Status IdShaped(std::string_view where, std::string_view kind, std::string_view raw) const {
    return Error(where, std::string(kind) + " " + Quote(raw) +
                            " has the shape of a new subcategory's id (slug.slug)");
  }

  // Registers a normalised name, id or alias; the first registration wins
  // within a subcategory, and a clash with another subcategory is an error.
  Status AddTerm(std::string_view where, std::string_view kind, std::string_view raw,
                 size_t index, Resolution::How how) {
    std::string key = NormalizeLabel(raw);
    if (key.empty()) return Error(where, std::string(kind) + " " + Quote(raw) + " is empty once normalised");
    // In lower case: a client may send "E.g" of an alias "e.g" in any case.
    if (IsNewIdShaped(AsciiLower(raw))) return IdShaped(where, kind, raw);
    auto [it, inserted] = t_.by_normalized_.try_emplace(key, Taxonomy::NameHit{index, how});
    if (!inserted && it->second.index != index) {
      return Error(where, "duplicate " + std::string(kind) + " " + Quote(raw) + " (normalised " +
                              Quote(key) + " already used by " +
                              Quote(t_.subcategories_[it->second.index].id) + ")");
    }
    if (inserted) {
      t_.max_term_length_ = std::max(t_.max_term_length_, key.size());
      t_.typo_terms_.push_back({std::move(key), index});
    }
    return Status::Ok();
  }

  Status AddCode(std::string_view where, std::string_view raw, size_t index) {
    if (raw.find_first_of(" \t\r\n") != std::string_view::npos) {
      return Error(where, "code " + Quote(raw) + " contains whitespace");
    }
    if (IsNewIdShaped(AsciiLower(raw))) return IdShaped(where, "code", raw);
    std::string key(raw);
    key = AsciiLower(key);
    auto [it, inserted] = t_.by_code_.try_emplace(key, index);
    if (!inserted && it->second != index) {
      return Error(where, "duplicate code " + Quote(raw) + " (case-insensitively already used by " +
                              Quote(t_.subcategories_[it->second].id) + ")");
    }
    t_.max_code_length_ = std::max(t_.max_code_length_, key.size());
    return Status::Ok();
  }

  std::string_view source_;
  Taxonomy t_;
};

Result<Taxonomy> Taxonomy::FromJson(std::string_view json, std::string_view source_name) {
  try {
    return TaxonomyBuilder(source_name).Build(json);
  } catch (const std::exception& e) {  // bad_alloc from the parser or containers
    return Status::InvalidArgument(std::string(source_name) + ": " + e.what());
  }
}

const Subcategory* Taxonomy::Find(std::string_view id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &subcategories_[it->second];
}

const Category* Taxonomy::FindCategory(std::string_view id) const {
  for (const Category& cat : categories_) {
    if (cat.id == id) return &cat;
  }
  return nullptr;
}

const Subcategory* Taxonomy::FindCode(std::string_view code) const {
  if (code.empty() || code.size() > max_code_length_ + 2) return nullptr;  // + "R:"
  std::string key(code);  // short: fits the small-string buffer
  key = AsciiLower(key);
  auto it = by_code_.find(key);
  if (it == by_code_.end() && key.size() > 2 && key[1] == ':' &&
      (key[0] == 'r' || key[0] == 'm' || key[0] == 'u')) {
    it = by_code_.find(std::string_view(key).substr(2));
  }
  return it == by_code_.end() ? nullptr : &subcategories_[it->second];
}

// The unique nearest term within the typo bound of the shorter of the two
// words; for bound 1 the first letters must also agree. Ties -> nullptr.
const Subcategory* Taxonomy::FindTypo(std::string_view normalized) const {
  if (normalized.empty() || normalized.size() > max_term_length_ + 3) return nullptr;
  TypoMemo& memo = *typo_memo_;
  {
    std::lock_guard lock(memo.mu);
    if (auto it = memo.found.find(normalized); it != memo.found.end()) {
      return it->second == SIZE_MAX ? nullptr : &subcategories_[it->second];
    }
  }
  size_t best_distance = SIZE_MAX, best = SIZE_MAX;
  bool tied = false;
  for (const TypoTerm& term : typo_terms_) {
    size_t bound = TypoBound(std::min(normalized.size(), term.text.size()));
    if (bound == 0 || (bound == 1 && normalized[0] != term.text[0])) continue;
    size_t d = OsaDistance(normalized, term.text, bound);
    if (d > bound || d > best_distance) continue;
    if (d < best_distance) {
      best_distance = d;
      best = term.index;
      tied = false;
    } else if (term.index != best) {
      tied = true;
    }
  }
  const size_t answer = (best == SIZE_MAX || tied) ? SIZE_MAX : best;
  {
    std::lock_guard lock(memo.mu);
    if (memo.found.size() >= kTypoMemoCapacity) memo.found.clear();
    memo.found.emplace(normalized, answer);
  }
  return answer == SIZE_MAX ? nullptr : &subcategories_[answer];
}

Resolution Taxonomy::Known(const Subcategory& sub, Resolution::How how) const {
  Resolution r;
  r.category = sub.category_name;
  r.subcategory = sub.name;
  r.subcategory_id = sub.id;
  r.how = how;
  r.known = true;
  return r;
}

// A known category by its normalised name or id, or by the same with its
// typography as ASCII ("Grammar" and a no-break space).
StringMap<size_t>::const_iterator Taxonomy::FindCategoryByLabel(std::string_view category) const {
  const std::string normalized = NormalizeLabel(category);
  auto it = category_by_normalized_.find(normalized);
  if (it == category_by_normalized_.end() && !IsAscii(normalized)) {
    it = category_by_normalized_.find(NormalizeLabel(FoldTypography(category)));
  }
  return it;
}

Result<Resolution> Taxonomy::New(std::string_view category, std::string_view subcategory) const {
  std::string slug = SlugifyLabel(subcategory);
  if (slug.empty()) {
    return Status::InvalidArgument("subcategory " + Quote(subcategory) + " has no letters or digits",
                                   "subcategory");
  }
  Resolution r;
  r.how = Resolution::How::kNew;
  r.known = false;
  r.subcategory = std::string(subcategory);
  std::string prefix;
  if (category.empty()) {
    r.category = "Other";
    prefix = "other";
  } else if (auto it = FindCategoryByLabel(category); it != category_by_normalized_.end()) {
    r.category = categories_[it->second].name;
    prefix = categories_[it->second].id;
  } else {
    prefix = SlugifyLabel(category);
    if (prefix.empty()) {
      return Status::InvalidArgument("category " + Quote(category) + " has no letters or digits",
                                     "category");
    }
    r.category = std::string(category);
  }
  r.subcategory_id = prefix + "." + slug;
  return r;
}

// A new subcategory's id, sent back as a label, is that id: as a built-in id
// resolves to its subcategory, so must a new one, or a client that stores ids
// would split the learner's point in two ("grammar.phrasal-verbs" became
// "grammar.grammar-phrasal-verbs"). Before the names, so that normalising
// stays idempotent: "Choice" under Vocabulary is new, vocabulary.choice, but
// its id's words "vocabulary choice" are an alias of word-choice. The
// category is the id's, as a known subcategory keeps its own.
Resolution Taxonomy::NewById(std::string_view category, std::string_view id) const {
  const std::string_view prefix = id.substr(0, id.find('.'));
  Resolution r;
  r.how = Resolution::How::kNew;
  r.known = false;
  r.subcategory_id = std::string(id);
  r.subcategory = std::string(id);
  if (const Category* known = FindCategory(prefix)) {
    r.category = known->name;
  } else if (!category.empty() && SlugifyLabel(category) == prefix) {
    r.category = std::string(category);
  } else {
    r.category = std::string(prefix);
  }
  return r;
}

Result<Resolution> Taxonomy::Resolve(std::string_view category, std::string_view subcategory,
                                     std::string_view code) const {
  category = Trim(category);
  subcategory = Trim(subcategory);
  code = Trim(code);
  if (!code.empty()) {
    if (const Subcategory* sub = FindCode(code)) return Known(*sub, Resolution::How::kCode);
    if (subcategory.empty()) {
      return Status::InvalidArgument("unknown error code " + Quote(code), "code");
    }
  }
  if (subcategory.empty()) {
    return Status::InvalidArgument(category.empty()
                                       ? "error label is empty: give a subcategory or a code"
                                       : "subcategory is required",
                                   "subcategory");
  }
  if (IsNewIdShaped(subcategory)) return NewById(category, subcategory);
  if (auto it = by_display_.find(subcategory); it != by_display_.end()) {
    return Known(subcategories_[it->second], Resolution::How::kExact);
  }
  std::string normalized = NormalizeLabel(subcategory);
  if (auto it = by_normalized_.find(normalized); it != by_normalized_.end()) {
    return Known(subcategories_[it->second.index], it->second.how);
  }
  // Typographic characters (a pipeline's "Run–on", a no-break space) as
  // ASCII. Only to find a known subcategory: a new one keeps the id its
  // label always had, so a learner's points do not split.
  if (!IsAscii(normalized)) {
    std::string folded = NormalizeLabel(FoldTypography(subcategory));
    if (auto it = by_normalized_.find(folded); it != by_normalized_.end()) {
      return Known(subcategories_[it->second.index], it->second.how);
    }
    normalized = std::move(folded);
  }
  if (const Subcategory* sub = FindCode(subcategory)) return Known(*sub, Resolution::How::kCode);
  if (const Subcategory* sub = FindTypo(normalized)) return Known(*sub, Resolution::How::kTypo);
  return New(category, subcategory);
}

}  // namespace errata
