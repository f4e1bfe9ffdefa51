#include "app/compare.h"

#include <chrono>

#include "app/copy.h"
#include "app/open_store.h"
#include "log/log.h"

namespace errata::app {

int CompareAndPrint(Store* from, Store* to, bool progress, FILE* out, const std::string& to_name) {
  const std::string to_text = to_name.empty() ? to->Describe() : to_name;
  const auto start = std::chrono::steady_clock::now();
  errata::CompareOptions options;
  bool shown = false;
  if (progress) {
    options.progress = [&](const CopyCounts& a, const CopyCounts& b) {
      std::fprintf(stderr, "\rcompare: %lld / %lld records read",
                   static_cast<long long>(a.users + a.conversations + a.utterances + a.attempts),
                   static_cast<long long>(b.users + b.conversations + b.utterances + b.attempts));
      std::fflush(stderr);
      shown = true;
    };
  }
  CompareReport report;
  const Status s = CompareStores(from, to, options, &report);
  if (shown) std::fputc('\n', stderr);
  if (!s.ok()) {
    std::fprintf(stderr, "errata compare: %s\n", s.message().c_str());
    return 1;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (report.same()) {
    std::fprintf(out, "same records in %s and %s: ", from->Describe().c_str(), to_text.c_str());
    PrintCounts(out, report.from);
    std::fprintf(out, " (compared in %.1f s)\n", seconds);
    return 0;
  }
  std::fprintf(out, "the stores differ (compared in %.1f s)\n  --from %s: ", seconds,
               from->Describe().c_str());
  PrintCounts(out, report.from);
  std::fprintf(out, "\n  --to   %s: ", to_text.c_str());
  PrintCounts(out, report.to);
  std::fprintf(out, "\n  %d of %d groups of records differ; the records that differ in %d of them:\n",
               report.groups_differing, report.groups, report.groups_examined);
  for (const RecordDifference& d : report.differences) {
    std::fprintf(out, "  %s %s: %s\n", d.kind.c_str(), d.id.c_str(), DescribeWhere(d.where));
  }
  return 1;
}

int RunCompare(const CompareOptions& o) {
  log::Setup("warn");
  if (SameStore(o.from, o.to, o.data_dir)) {
    std::fprintf(stderr, "errata compare: --from and --to name the same store\n");
    return 2;
  }
  // Opening an embedded store that is not there would make an empty one.
  if (!CheckStoreExists("compare", "--from", o.from, o.data_dir) ||
      !CheckStoreExists("compare", "--to", o.to, o.data_dir)) {
    return 2;
  }
  // Opened as serve opens them: an older store is upgraded first, and one
  // kept with another half-life gets its recency sums recomputed.
  const Micros half_life = static_cast<Micros>(o.half_life_days * kMicrosPerDay);
  auto from = OpenForCommand("compare", "--from", o.from, o.data_dir, half_life);
  if (from == nullptr) return 1;
  auto to = OpenForCommand("compare", "--to", o.to, o.data_dir, half_life);
  if (to == nullptr) return 1;
  return CompareAndPrint(from.get(), to.get(), o.progress, stdout);
}

}  // namespace errata::app
