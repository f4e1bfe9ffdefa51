#include "app/data.h"

#include <fstream>
#include <sstream>

#include "api/handlers.h"

extern const char kEmbeddedTaxonomy[];
extern const unsigned long kEmbeddedTaxonomy_size;
extern const char kEmbeddedExercises[];
extern const unsigned long kEmbeddedExercises_size;

namespace errata::app {
namespace {

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<std::string> Source(const std::string& path, const char* embedded, unsigned long size) {
  if (path.empty()) return std::string(embedded, size);
  return ReadFile(path);
}

}  // namespace

std::vector<CoverageRule> CoverageRules(const Taxonomy& taxonomy) {
  std::vector<CoverageRule> rules;
  for (const Subcategory& s : taxonomy.subcategories()) {
    const std::string& c = s.category_id;
    const int min = c == "grammar" || c == "vocabulary" || c == "mechanics"       ? 5
                    : c == "pronunciation" || c == "fluency" ? 3
                                                                                  : 0;
    rules.push_back({s.id, min});
  }
  return rules;
}

Result<DomainData> LoadDomainData(const std::string& taxonomy_path,
                                  const std::string& exercises_path) {
  // Served at /openapi.json: a build with a broken document must not start.
  if (Status st = api::CheckOpenApiDocument(); !st.ok()) return st;
  auto tax_text = Source(taxonomy_path, kEmbeddedTaxonomy, kEmbeddedTaxonomy_size);
  if (!tax_text.ok()) return tax_text.status();
  auto taxonomy = Taxonomy::FromJson(
      *tax_text, taxonomy_path.empty() ? "data/taxonomy.json (built in)" : taxonomy_path);
  if (!taxonomy.ok()) return taxonomy.status();
  auto bank_text = Source(exercises_path, kEmbeddedExercises, kEmbeddedExercises_size);
  if (!bank_text.ok()) return bank_text.status();
  auto bank = ExerciseBank::FromJson(
      *bank_text, exercises_path.empty() ? "data/exercises.json (built in)" : exercises_path,
      CoverageRules(*taxonomy));
  if (!bank.ok()) return bank.status();
  return DomainData{std::move(*taxonomy), std::move(*bank)};
}

}  // namespace errata::app
