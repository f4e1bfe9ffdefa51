// The canonical error taxonomy (data/taxonomy.json) and the normaliser that
// maps an incoming error label (category, subcategory, annotation code) onto
// it. Pure domain code: no I/O; the caller reads the file and passes its text.
// See docs/taxonomy.md for the resolution order and the documented choices.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/status.h"
#include "core/string_map.h"

namespace errata {

struct Subcategory {
  std::string id, name, description, category_id, category_name;
  std::vector<std::string> aliases, codes;
};

struct Category {
  std::string id, name;
  std::vector<std::string> subcategory_ids;
};

struct Resolution {
  enum class How { kExact, kNormalized, kAlias, kCode, kTypo, kNew };
  std::string category;        // display name, e.g. "Grammar"
  std::string subcategory;     // display name, e.g. "Subject-Verb Agreement"
  std::string subcategory_id;  // canonical id, e.g. "subject-verb-agreement";
                               // "<category>.<slug>" for a new subcategory
  How how = How::kExact;
  bool known = true;           // false for a new (open-taxonomy) subcategory
};

// "exact", "normalized", "alias", "code", "typo" or "new".
const char* HowName(Resolution::How how);

// The normalised form of a label: ASCII lower-case; '&' becomes "and"; any
// other ASCII punctuation, hyphen, underscore or whitespace run becomes one
// space; leading and trailing spaces dropped. Bytes >= 0x80 are kept as is.
std::string NormalizeLabel(std::string_view label);

// `label` with its typographic characters as ASCII: Unicode spaces (no-break,
// thin, ideographic...) as ' ', dashes and hyphens (U+2010-2015, U+2212...)
// as '-', curly quotes as '\'' and '"', full-width ASCII (U+FF01-FF5E) as
// ASCII; zero-width characters and soft hyphens dropped. Anything else is
// kept, malformed UTF-8 included. "Run\u2013on" -> "Run-on".
std::string FoldTypography(std::string_view label);

// NormalizeLabel with spaces replaced by '-': "Tense & Aspect" -> "tense-and-aspect".
std::string SlugifyLabel(std::string_view label);

// Restricted Damerau-Levenshtein (optimal string alignment) distance between
// a and b, or max_distance + 1 if it exceeds max_distance.
size_t OsaDistance(std::string_view a, std::string_view b, size_t max_distance);

// The largest typo distance accepted for a word of `length` normalised bytes:
// <=4: 0, 5..8: 1, 9..15: 2, >15: 3.
size_t TypoBound(size_t length);

// An immutable, validated taxonomy. Copyable and movable; all methods are
// const and touch no mutable state, so one instance may be shared by any
// number of threads without locking.
class Taxonomy {
 public:
  // Parses and validates a taxonomy document. On success returns the
  // taxonomy. On failure returns InvalidArgument whose message starts with
  // source_name and names the offending item, e.g.
  //   data/taxonomy.json: categories[0].subcategories[3] (id "x"): duplicate alias "tense" ...
  // Validates: version present; non-empty unique lower-case kebab ids;
  // non-empty names and descriptions; aliases, names and ids unique across
  // subcategories after normalisation (so no alias equals another
  // subcategory's name); codes unique case-insensitively across
  // subcategories. Never throws.
  static Result<Taxonomy> FromJson(std::string_view json, std::string_view source_name);

  // Resolves an incoming error label; any argument may be empty.
  //  1. A non-empty code is looked up case-insensitively, first in full
  //     ("M:OTHER"), then without a leading "R:", "M:" or "U:". A known code
  //     wins over the names. An unknown code with an empty subcategory fails
  //     with InvalidArgument (field "code"); otherwise the names are used.
  //  2. The subcategory: a new subcategory's id ("grammar.phrasal-verbs",
  //     two slugs and a dot) is itself (kNew), so that an id sent back does
  //     not make another; then exact display name (kExact), normalised name or id
  //     (kNormalized), alias (kAlias), a code in its place (kCode), or a
  //     unique nearest name/alias within TypoBound (kTypo).
  //  3. Otherwise a new subcategory (kNew, known = false) under the given
  //     category (a known category's display name, or "Other" if empty).
  // A known subcategory keeps its own category whatever category is given.
  // Fails with InvalidArgument (field "subcategory") if the subcategory is
  // empty and no code resolved it, or if a new label has no letters or digits.
  // Thread-safe.
  Result<Resolution> Resolve(std::string_view category, std::string_view subcategory,
                             std::string_view code) const;

  // The subcategory with canonical id `id`, or nullptr if unknown. The
  // pointer lives as long as this taxonomy. Thread-safe.
  const Subcategory* Find(std::string_view id) const;

  // The category with canonical id `id`, or nullptr if unknown. Thread-safe.
  const Category* FindCategory(std::string_view id) const;

  // All categories and subcategories, in file order.
  const std::vector<Category>& categories() const { return categories_; }
  const std::vector<Subcategory>& subcategories() const { return subcategories_; }

  // How many typo resolutions (normalised input -> answer) are remembered.
  static constexpr size_t kTypoMemoCapacity = 1024;

  // The "version" field of the document, e.g. "2026.11.1".
  const std::string& version() const { return version_; }

  // Number of subcategories.
  size_t size() const { return subcategories_.size(); }

 private:
  friend class TaxonomyBuilder;

  struct NameHit {
    size_t index;  // into subcategories_
    Resolution::How how;
  };
  struct TypoTerm {
    std::string text;  // normalised name, id or alias
    size_t index;
  };
  // FindTypo's answers, by normalised input: the scan over every term costs
  // ~18 us, and a pipeline that misspells a label tends to misspell it the
  // same way every time. Bounded: cleared when full. Shared by copies.
  struct TypoMemo {
    std::mutex mu;
    StringMap<size_t> found;  // input -> index, SIZE_MAX: none
  };

  Taxonomy() = default;

  const Subcategory* FindCode(std::string_view code) const;
  const Subcategory* FindTypo(std::string_view normalized) const;
  StringMap<size_t>::const_iterator FindCategoryByLabel(std::string_view category) const;
  Resolution Known(const Subcategory& sub, Resolution::How how) const;
  Result<Resolution> New(std::string_view category, std::string_view subcategory) const;
  Resolution NewById(std::string_view category, std::string_view id) const;

  std::string version_;
  std::vector<Category> categories_;
  std::vector<Subcategory> subcategories_;
  StringMap<size_t> by_id_;                 // id -> subcategories_ index
  StringMap<size_t> by_display_;            // exact display name -> index
  StringMap<NameHit> by_normalized_;        // normalised name / id / alias -> hit
  StringMap<size_t> by_code_;               // lower-case code -> index
  StringMap<size_t> category_by_normalized_;  // normalised category name / id -> categories_ index
  std::vector<TypoTerm> typo_terms_;
  std::shared_ptr<TypoMemo> typo_memo_ = std::make_shared<TypoMemo>();
  size_t max_code_length_ = 0;  // longer inputs cannot be codes
  size_t max_term_length_ = 0;  // longest typo term
};

}  // namespace errata
