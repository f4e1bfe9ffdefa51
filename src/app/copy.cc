#include "app/copy.h"

#include <chrono>
#include <cstdio>
#include <string>

#include "app/compare.h"
#include "app/open_store.h"
#include "log/log.h"
#include "store/copy.h"

namespace errata::app {

void PrintCounts(FILE* f, const CopyCounts& c) {
  std::fprintf(f, "%lld users, %lld conversations, %lld utterances, %lld errors, %lld attempts",
               static_cast<long long>(c.users), static_cast<long long>(c.conversations),
               static_cast<long long>(c.utterances), static_cast<long long>(c.errors),
               static_cast<long long>(c.attempts));
  if (c.erased > 0) std::fprintf(f, ", %lld erased learners", static_cast<long long>(c.erased));
}

int RunCopy(const CopyOptions& o) {
  log::Setup("warn");
  if (SameStore(o.from, o.to, o.data_dir)) {
    std::fprintf(stderr, "errata copy: --from and --to name the same store\n");
    return 2;
  }
  if (o.batch < 1) {
    std::fprintf(stderr, "errata copy: --batch must be >= 1\n");
    return 2;
  }
  // Opening a source that is not there would make an empty one, and copy
  // nothing from it. (The target may be new: the copy makes it.)
  if (!CheckStoreExists("copy", "--from", o.from, o.data_dir)) return 2;
  const Micros half_life = static_cast<Micros>(o.half_life_days * kMicrosPerDay);
  auto from = OpenForCommand("copy", "--from", o.from, o.data_dir, half_life);
  if (from == nullptr) return 1;
  auto to = OpenForCommand("copy", "--to", o.to, o.data_dir, half_life);
  if (to == nullptr) return 1;
  return CopyAndPrint("copy", "copied", from.get(), to.get(), o);
}

int CopyStores(const char* command, Store* from, Store* to, const CopyOptions& o,
               CopyCounts* counts, double* seconds) {
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  errata::CopyOptions copy;
  copy.batch = o.batch;
  double shown = -1;
  if (o.progress) {
    copy.progress = [&](const CopyCounts& c) {
      if (elapsed() - shown < 1) return;
      shown = elapsed();
      std::fprintf(stderr, "\r%s: ", command);
      PrintCounts(stderr, c);
      std::fflush(stderr);
    };
  }
  Status s = CopyStore(from, to, copy, counts);
  if (shown >= 0) std::fputc('\n', stderr);
  *seconds = elapsed();
  if (!s.ok()) {
    std::fprintf(stderr, "errata %s: %s (copied before it: ", command, s.message().c_str());
    PrintCounts(stderr, *counts);
    std::fputs(")\n", stderr);
    return 1;
  }
  return 0;
}

void PrintCopied(const char* done, const std::string& from, const std::string& to,
                 const CopyCounts& counts, double seconds) {
  std::printf("%s %s to %s: ", done, from.c_str(), to.c_str());
  PrintCounts(stdout, counts);
  std::printf(" in %.1f s\n", seconds);
  std::fflush(stdout);
}

int CopyAndPrint(const char* command, const char* done, Store* from, Store* to,
                 const CopyOptions& o, const std::string& to_name) {
  CopyCounts counts;
  double seconds = 0;
  if (int code = CopyStores(command, from, to, o, &counts, &seconds); code != 0) return code;
  const std::string to_text = to_name.empty() ? to->Describe() : to_name;
  PrintCopied(done, from->Describe(), to_text, counts, seconds);
  if (o.verify) return CompareAndPrint(from, to, o.progress, stdout, to_text);
  return 0;
}

}  // namespace errata::app
