#include "core/own_words.h"
#include "core/search_fold.h"
#include "core/shuffle.h"
#include "core/text.h"

#include <algorithm>
#include <random>

namespace errata {
namespace {

struct Placed {
  size_t start, end;  // byte offsets of the erroneous words in content
};

// Whether the code point at s[i] (any script) is part of a word.
bool WordAt(std::string_view s, size_t i) {
  if (static_cast<unsigned char>(s[i]) < 0x80) return IsAsciiAlnum(s[i]) || s[i] == '_';
  const int32_t c = fold_detail::NextCodePoint(s, &i);
  return c >= 0 && IsWordCodePoint(c);
}

// Whether `word` at s[at] stands whole: it neither continues the word before
// it nor runs on into the word after it.
bool WholeAt(std::string_view s, size_t at, std::string_view word) {
  if (at > 0 && WordAt(word, 0)) {
    size_t before = at - 1;  // the start of the code point before
    while (before > 0 && (static_cast<unsigned char>(s[before]) & 0xC0) == 0x80) --before;
    if (WordAt(s, before)) return false;
  }
  if (const size_t end = at + word.size(); end < s.size()) {
    size_t last = word.size() - 1;  // the start of the word's last code point
    while (last > 0 && (static_cast<unsigned char>(word[last]) & 0xC0) == 0x80) --last;
    if (WordAt(word, last) && WordAt(s, end)) return false;
  }
  return true;
}

// The first place `word` stands whole in s, or npos. A plain find would put
// "a" into "have" ("I hanve a apple").
size_t FindWhole(std::string_view s, std::string_view word) {
  for (size_t at = s.find(word); at != std::string_view::npos; at = s.find(word, at + 1)) {
    if (WholeAt(s, at, word)) return at;
  }
  return std::string_view::npos;
}

// Where the example's error lies in its content, in bytes. Its span counts
// characters. A span whose text is not the learner's words (an import of
// an older build counted bytes, a client counted UTF-16 units) gives way
// to finding the words, whole; a span alone, or words not found, is trusted.
std::optional<Placed> Place(const Example& e) {
  std::optional<Placed> span;
  if (e.span_start >= 0 && e.span_end >= e.span_start) {
    const size_t start = Utf8Offset(e.content, static_cast<size_t>(e.span_start));
    const size_t end = Utf8Offset(e.content, static_cast<size_t>(e.span_end));
    if (start != std::string::npos && end != std::string::npos) span = Placed{start, end};
  }
  if (span && (e.original.empty() ||
               e.content.compare(span->start, span->end - span->start, e.original) == 0)) {
    return span;
  }
  if (e.original.empty()) return std::nullopt;
  const size_t at = FindWhole(e.content, e.original);
  if (at == std::string::npos) return span;
  return Placed{at, at + e.original.size()};
}

bool IsWordChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) || c == '_' || u >= 0x80;
}

std::string Replace(const std::string& s, Placed p, const std::string& with) {
  // An insertion is made a word of its own.
  const bool insertion = p.start == p.end && !with.empty();
  std::string mid;
  if (insertion && p.start > 0 && IsWordChar(s[p.start - 1]) && IsWordChar(with.front())) {
    mid.push_back(' ');
  }
  mid += with;
  if (insertion && p.end < s.size() && IsWordChar(s[p.end]) && IsWordChar(with.back())) {
    mid.push_back(' ');
  }
  std::string out = s.substr(0, p.start) + mid + s.substr(p.end);
  // Tidy the double space a deletion or insertion leaves.
  for (size_t i; (i = out.find("  ")) != std::string::npos;) out.erase(i, 1);
  while (!out.empty() && out.front() == ' ') out.erase(0, 1);
  return out;
}

// Closed word classes where the distractors are the class's other members.
const std::vector<std::vector<std::string>>& WordClasses() {
  static const std::vector<std::vector<std::string>> kClasses = {
      {"a", "an", "the"},
      {"in", "on", "at", "for", "to", "of", "with", "by", "from", "about"},
      {"he", "she", "it", "they", "him", "her", "them", "his", "their", "its", "we", "us"},
      {"and", "but", "because", "so", "although", "or", "while"},
      {"is", "are", "was", "were", "be", "been", "am"},
      {"has", "have", "had", "having"},
      {"do", "does", "did", "done"},
      {"this", "that", "these", "those"},
      {"can", "could", "will", "would", "should", "must", "may", "might"},
  };
  return kClasses;
}

// The stem of a regular inflected word: "goes" -> "go", "walked" -> "walk".
std::string Stem(const std::string& w) {
  for (const char* suffix : {"ing", "ed", "es", "s"}) {
    const std::string_view s(suffix);
    if (w.size() > s.size() + 2 && w.ends_with(s)) return w.substr(0, w.size() - s.size());
  }
  return w;
}

// Regular word forms of w's stem: bare, -s/-es, -ed, -ing. Some are wrong
// English, which is the point: they are the forms learners produce.
std::vector<std::string> Variants(const std::string& w) {
  const std::string stem = Stem(w);
  const bool sibilant = stem.ends_with("o") || stem.ends_with("s") || stem.ends_with("x") ||
                        stem.ends_with("sh") || stem.ends_with("ch");
  const bool silent_e = stem.size() > 2 && stem.back() == 'e';
  const std::string bare = silent_e ? stem.substr(0, stem.size() - 1) : stem;
  return {stem, stem + (sibilant ? "es" : "s"), silent_e ? stem + "d" : stem + "ed", bare + "ing"};
}

std::vector<std::string> Distractors(const Example& e) {
  const std::string key = AsciiLower(e.correction);
  for (const auto& cls : WordClasses()) {
    if (std::find(cls.begin(), cls.end(), key) != cls.end()) return cls;
  }
  // Inflections only of a plain word: "don’t" or "home." would give
  // "don’ted" and "home.ed", forms no learner produces.
  const bool letters = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return c >= 'a' && c <= 'z';
  });
  return letters ? Variants(key) : std::vector<std::string>{};
}

// Whether the correction differs from what was said only where
// IsAcceptedAnswer does not look (case, a final . ! or ?, ’ for '): an
// exercise on it would accept the learner's own words as the answer.
bool OnlyInWhatAnswersIgnore(const Example& e) {
  return NormalizeAnswer(e.correction) == NormalizeAnswer(e.original);
}

}  // namespace

std::vector<Example> ExamplesOf(const Utterance& u) {
  std::vector<Example> out;
  if (!u.content) return out;
  for (const auto& e : u.errors) {
    if (!e.correction) continue;
    out.push_back(Example{e.error_id, e.subcategory_id, *u.content, e.original.value_or(""),
                          *e.correction, e.span ? e.span->start : -1, e.span ? e.span->end : -1,
                          e.created_at});
  }
  return out;
}

std::optional<Exercise> CorrectWhatYouSaid(const Example& e) {
  auto placed = Place(e);
  if (!placed) return std::nullopt;
  const std::string fixed = Replace(e.content, *placed, e.correction);
  // Compared as answers are: if the learner's own sentence would be accepted,
  // there is nothing to practise (docs/exercise-bank.md, "Answer checking").
  // The whole sentence, not the edit: a full stop added mid-sentence (a
  // run-on split) is nothing to NormalizeAnswer in the edit, but the
  // sentence without it is no accepted answer.
  if (NormalizeAnswer(fixed) == NormalizeAnswer(e.content)) {
    return std::nullopt;
  }
  Exercise x;
  x.id = "own:" + e.subcategory_id + ":" + e.error_id + ":fix";
  x.subcategory_id = e.subcategory_id;
  x.type = "sentence_correction";
  x.level = "B1";
  x.prompt = "Correct what you said: \"" + e.content + "\"";
  x.answers = {fixed};
  x.explanation = e.original.empty()
                      ? "You left out \"" + e.correction + "\"."
                      : "You said \"" + e.original + "\"; say \"" + e.correction + "\".";
  return x;
}

std::optional<Exercise> FillTheBlank(const Example& e, uint64_t seed) {
  auto placed = Place(e);
  // Nothing to correct: an M2 "UNK" edit (the words said as the correction),
  // or one in case or final punctuation only, which answers ignore.
  if (!placed || e.correction.find(' ') != std::string::npos ||
      NormalizeAnswer(e.correction).empty() || OnlyInWhatAnswersIgnore(e)) {
    return std::nullopt;
  }
  Exercise x;
  x.id = "own:" + e.subcategory_id + ":" + e.error_id + ":blank";
  x.subcategory_id = e.subcategory_id;
  x.type = "fill_blank";
  x.level = "B1";
  x.prompt = Replace(e.content, *placed, "___");
  if (x.prompt.find("___") == std::string::npos) return std::nullopt;
  x.options = {e.correction};
  // Options distinct as answers are compared, so no wrong option is accepted.
  std::vector<std::string> taken = {NormalizeAnswer(e.correction)};
  auto add = [&x, &taken](const std::string& o) {
    if (x.options.size() >= 4) return;
    std::string key = NormalizeAnswer(o);
    if (key.empty() || std::find(taken.begin(), taken.end(), key) != taken.end()) return;
    taken.push_back(std::move(key));
    x.options.push_back(o);
  };
  add(e.original);  // the learner's own wrong form
  // mt19937_64's outputs are fixed by the standard; std::shuffle's use of
  // them is not, so the options' order would differ between standard
  // libraries (core/shuffle.h).
  std::mt19937_64 rng(seed);
  auto pool = Distractors(e);
  Shuffle(pool.begin(), pool.end(), rng);
  for (const auto& d : pool) add(d);
  if (x.options.size() < 2) return std::nullopt;
  Shuffle(x.options.begin(), x.options.end(), rng);
  x.answers = {e.correction};
  x.explanation = "In your sentence the right word here is \"" + e.correction + "\".";
  return x;
}

std::optional<std::string> OwnExerciseSubcategory(std::string_view id) {
  if (!id.starts_with("own:")) return std::nullopt;
  id.remove_prefix(4);
  if (id.ends_with(":fix")) {
    id.remove_suffix(4);
  } else if (id.ends_with(":blank")) {
    id.remove_suffix(6);
  } else {
    return std::nullopt;
  }
  const size_t colon = id.find(':');  // <subcategory_id>:<error_id>, neither empty
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == id.size() ||
      id.find(':', colon + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  return std::string(id.substr(0, colon));
}

}  // namespace errata
