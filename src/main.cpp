// errata: the learner-error service. `errata serve` runs the HTTP API;
// `errata import m2 FILE` loads an annotated learner corpus; `errata copy`
// moves every record from one store to another, and `errata compare` says
// whether two stores hold the same records; `errata backup` backs up an
// embedded store while a server serves on it.
#include <CLI/CLI.hpp>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

#include "api/handlers.h"
#include "app/compare.h"
#include "app/backup.h"
#include "app/copy.h"
#include "app/import.h"
#include "app/serve.h"

namespace {

const char* Env(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

// A positive, finite number of `unit`s, at most `max`: "nan", "inf", "1e400"
// and 0 are refused (CLI::PositiveNumber lets NaN through).
// `least`, when above 0, is the smallest number taken, and `least_text`
// says what it is.
CLI::Validator PositiveAtMost(double max, const std::string& unit, double least = 0,
                              const std::string& least_text = "") {
  return CLI::Validator(
      [max, unit, least, least_text](std::string& text) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (end == text.c_str() || *end != '\0' || !std::isfinite(v) || v <= 0 || v > max) {
          char bound[32];
          std::snprintf(bound, sizeof(bound), "%g", max);
          return "must be a number of " + unit + " above 0 and at most " + bound + ", not " + text;
        }
        if (v < least) return "must be at least " + least_text + ", not " + text;
        return "";
      },
      unit == "days" ? "DAYS" : "SECONDS");
}

// A whole number, at least 1 (CLI::PositiveNumber's message for 0 quoted
// the range up to DBL_MAX).
const CLI::Validator kAtLeastOne(
    [](std::string& text) -> std::string {
      unsigned long long v = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || end != text.data() + text.size() || v < 1) {
        return "must be a whole number, at least 1, not " + text;
      }
      return "";
    },
    "N");

// --half-life-days: from a second to 100 years. A half-life of 0 divided by
// zero in the recency weights (NaN scores, writes refused), and so did one
// of 1e-12 days, which is 0 in microseconds; a huge one overflowed its
// microseconds.
const CLI::Validator kHalfLifeDays =
    PositiveAtMost(36500, "days", 1.0 / 86400, "one second (0.0000116 days)");

// --idle-timeout-s: at most a day. Its milliseconds are an llround, which
// 1e19 s overflowed.
const CLI::Validator kIdleTimeout = PositiveAtMost(86400, "seconds");

// <directory of this binary>/share/errata (build/share/errata for a build),
// or <prefix>/share/errata for an installed <prefix>/bin/errata.
std::string DefaultAssetsDir() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "share/errata";
  const auto beside = exe.parent_path() / "share" / "errata";
  const auto installed = exe.parent_path().parent_path() / "share" / "errata";
  if (!std::filesystem::exists(beside, ec) && std::filesystem::exists(installed, ec)) {
    return installed.string();
  }
  return beside.string();
}

void AddServe(CLI::App& app, errata::app::ServeOptions& o) {
  CLI::App* serve = app.add_subcommand("serve", "Run the HTTP API server");
  o.listen = Env("ERRATA_LISTEN", "127.0.0.1:8000");
  o.data_dir = Env("ERRATA_DATA_DIR", "./data");
  o.store = Env("ERRATA_STORE", "");
  o.cache = Env("ERRATA_CACHE", "");
  serve->add_option("--listen", o.listen, "HOST:PORT to listen on (env ERRATA_LISTEN)")->capture_default_str();
  serve->add_option("--data-dir", o.data_dir, "Directory of the embedded store (env ERRATA_DATA_DIR)")->capture_default_str();
  serve->add_option("--store", o.store, "Store URL: empty for SQLite in --data-dir, sqlite:PATH, rocksdb: (RocksDB in --data-dir; docs/rocksdb.md), rocksdb:PATH or postgres://... (env ERRATA_STORE)");
  serve->add_option("--threads", o.threads, "HTTP threads (0: two per core with an embedded store; 4 per core, at least 8, with PostgreSQL or Redis)")
      ->check(CLI::Range(0, 1024))  // a negative count read as the default
      ->capture_default_str();
  serve->add_option("--log-level", o.log_level, "debug, info, warn or error")->capture_default_str();
  serve->add_option("--body-limit", o.body_limit, "Largest request body, bytes (larger: 413)")->capture_default_str();
  serve->add_option("--idle-timeout-s", o.idle_timeout_s,
                    "How long a connection may wait for its next request, and a request or an answer "
                    "take to cross it; a proxy's idle upstream connections must close sooner (docs/http.md)")
      ->capture_default_str()
      ->check(kIdleTimeout);
  serve->add_option("--max-connections", o.max_connections,
                    "Most connections open at once; more wait in the listen queue (0: the open-files "
                    "limit less what the store may need, docs/http.md)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  serve->add_option("--flush-interval-us", o.flush_interval_us, "Longest wait to fill a group commit, µs")->capture_default_str();
  // At least 1 each: a batch of 0 reads to the writer as "stopping" (its
  // thread ended, and every write waited for ever), a queue of 0 refuses all.
  serve->add_option("--max-batch", o.max_batch, "Most requests per group commit")
      ->capture_default_str()
      ->check(kAtLeastOne);
  serve->add_option("--queue-capacity", o.queue_capacity, "Most writes waiting; beyond it 503")
      ->capture_default_str()
      ->check(kAtLeastOne);
  serve->add_option("--queue-ops-capacity", o.queue_ops_capacity,
                    "Most operations waiting in those writes, each counted as 1 plus its errors "
                    "(an ingest line is one operation); beyond it 503")
      ->capture_default_str()
      ->check(kAtLeastOne);
  serve->add_flag("!--no-pipelined-commits", o.pipelined_commits,
                  "RocksDB: write each batch before preparing the next, instead of both at once "
                  "(docs/write-path.md, \"Pipelined commits\")");
  serve->add_option("--cache-mb", o.cache_mb, "Memory the cached learner profiles may hold, MiB (0: no limit but --cache-size; docs/profile-memory.md)")
      ->check(CLI::Range(size_t{0}, size_t{1} << 24))  // 16 TiB; more overflowed its bytes
      ->capture_default_str();
  serve->add_option("--cache-size", o.cache_size, "Most learner profiles held in memory (0: no limit but --cache-mb)")->capture_default_str();
  serve->add_option("--cache", o.cache,
                    "Shared profile cache: redis://[:PASSWORD@]HOST[:PORT][/DB], or empty/local for "
                    "none (env ERRATA_CACHE; see docs/redis.md)");
  serve->add_option("--cache-ttl-ms", o.cache_ttl_ms,
                    "How long the in-memory cache serves a profile before reloading it; 0: until a "
                    "write (one node). Default: 1000 with a postgres:// store, else 0");
  serve->add_option("--pg-read-timeout-ms", o.pg_read_timeout_ms,
                    "PostgreSQL: longest a read's statement may run before it fails with 503 "
                    "(statement_timeout; 0: no limit; docs/postgres.md, \"Deadlines\")")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  serve->add_option("--pg-write-timeout-ms", o.pg_write_timeout_ms,
                    "PostgreSQL: longest a statement of a write batch may run before the batch "
                    "fails with 503 (statement_timeout; 0: no limit)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  serve->add_option("--pg-lock-timeout-ms", o.pg_lock_timeout_ms,
                    "PostgreSQL: longest a write batch may wait for a lock another session holds "
                    "before it fails with 503 (lock_timeout; 0: no limit)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  serve->add_flag("!--no-warm-restart", o.warm_restart,
                  "Do not save the cached learners' ids at shutdown, nor load them back into the "
                  "cache after the next start (docs/warm-restart.md)");
  serve->add_option("--half-life-days", o.half_life_days, "Half-life of the recency weighting, days")
      ->capture_default_str()
      ->check(kHalfLifeDays);
  serve->add_option("--taxonomy", o.taxonomy_path, "Taxonomy JSON file instead of the built-in one");
  serve->add_option("--exercises", o.exercises_path, "Exercise bank JSON file instead of the built-in one");
  o.assets_dir = Env("ERRATA_ASSETS_DIR", DefaultAssetsDir().c_str());
  serve->add_option("--assets-dir", o.assets_dir, "Directory holding docs/, the swagger-ui files /docs serves (env ERRATA_ASSETS_DIR)")->capture_default_str();
}

void AddImport(CLI::App& app, errata::app::ImportOptions& o) {
  CLI::App* import = app.add_subcommand("import", "Import annotated learner data");
  import->require_subcommand(1);
  CLI::App* m2 = import->add_subcommand("m2", "Import an M2 file (CoNLL-2014 / BEA-2019 format)");
  o.data_dir = Env("ERRATA_DATA_DIR", "./data");
  o.store = Env("ERRATA_STORE", "");
  m2->add_option("FILE", o.file, "The M2 file")->required();
  m2->add_option("--user", o.user_email, "Email of the learner the sentences belong to (created if new)");
  m2->add_option("--annotator", o.annotator, "Whose edits to import")->capture_default_str();
  m2->add_option("--sentences-per-conversation", o.sentences_per_conversation,
                 "Sentences grouped into one conversation")->capture_default_str();
  m2->add_option("--data-dir", o.data_dir, "Directory of the embedded store (env ERRATA_DATA_DIR)")->capture_default_str();
  m2->add_option("--store", o.store, "Store URL (env ERRATA_STORE)");
  m2->add_option("--half-life-days", o.half_life_days, "Half-life of the recency weighting, days (as serve)")
      ->capture_default_str()
      ->check(kHalfLifeDays);
  m2->add_flag("!--no-progress", o.progress, "Do not draw the progress bar");
}

// The options errata copy and errata compare share: two stores, where the
// embedded ones live, the half-life they are opened with, progress. --from
// defaults as serve's --store does, so that with the server's environment
// it names the server's store.
template <typename Options>
CLI::App* AddStorePair(CLI::App& app, const char* name, const char* what, const char* from,
                       const char* to, Options& o) {
  CLI::App* cmd = app.add_subcommand(name, what);
  o.data_dir = Env("ERRATA_DATA_DIR", "./data");
  o.from = Env("ERRATA_STORE", "");
  cmd->add_option("--from", o.from, from);
  cmd->add_option("--to", o.to, to)->required();
  cmd->add_option("--data-dir", o.data_dir, "Directory of an embedded store named without a path (env ERRATA_DATA_DIR)")->capture_default_str();
  cmd->add_option("--half-life-days", o.half_life_days, "Half-life of the recency weighting, days (as serve)")
      ->capture_default_str()
      ->check(kHalfLifeDays);
  cmd->add_flag("!--no-progress", o.progress, "Do not print progress");
  return cmd;
}

void AddCopy(CLI::App& app, errata::app::CopyOptions& o) {
  CLI::App* copy = AddStorePair(
      app, "copy", "Copy every record of one store into another, empty one (docs/copy.md)",
      "The store to copy, as serve --store takes it (env ERRATA_STORE; empty: SQLite in --data-dir)",
      "The empty store to copy into, as serve --store takes it", o);
  copy->add_option("--batch", o.batch, "Records per transaction in the target")->capture_default_str();
  copy->add_flag("--verify", o.verify, "After the copy, compare the two stores record by record (as errata compare)");
}

void AddBackup(CLI::App& app, errata::app::BackupOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "backup", "Back up an embedded store while a server serves on it (docs/backup.md)");
  o.data_dir = Env("ERRATA_DATA_DIR", "./data");
  o.store = Env("ERRATA_STORE", "");
  cmd->add_option("--store", o.store, "The store, as serve --store takes it: SQLite or RocksDB (env ERRATA_STORE)");
  cmd->add_option("--data-dir", o.data_dir, "Directory of the embedded store (env ERRATA_DATA_DIR)")->capture_default_str();
  cmd->add_option("--to", o.to, "The backup to make: a new SQLite file, or a new RocksDB directory")->required();
  cmd->add_option("--half-life-days", o.half_life_days, "Half-life of the recency weighting, days (as serve; RocksDB)")
      ->capture_default_str()
      ->check(kHalfLifeDays);
  cmd->add_flag("--verify", o.verify,
                "RocksDB: compare the backup record by record with what it was read from; SQLite: "
                "check the copy with PRAGMA integrity_check (every index against its table) "
                "instead of quick_check");
  cmd->add_flag("!--no-progress", o.progress, "Do not print progress");
}

void AddCompare(CLI::App& app, errata::app::CompareOptions& o) {
  AddStorePair(app, "compare", "Whether two stores hold the same records, and which differ (docs/copy.md)",
               "One store, as serve --store takes it (env ERRATA_STORE; empty: SQLite in --data-dir)",
               "The other store, as serve --store takes it", o);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"errata: records learners' errors and turns them into personal practice"};
  app.set_version_flag("--version", std::string("errata ") + ERRATA_VERSION);
  app.require_subcommand(1);
  errata::app::ServeOptions serve;
  AddServe(app, serve);
  errata::app::ImportOptions import;
  AddImport(app, import);
  errata::app::CopyOptions copy;
  AddCopy(app, copy);
  errata::app::CompareOptions compare;
  AddCompare(app, compare);
  errata::app::BackupOptions backup;
  AddBackup(app, backup);
  app.add_subcommand("routes", "Print the route table, one \"METHOD PATTERN\" per line");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; any other parse error is bad usage, 2,
    // as the commands' own checks (CLI11's codes are 100 and up).
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (app.got_subcommand("serve")) return errata::app::RunServe(serve);
  if (app.got_subcommand("import")) return errata::app::RunImportM2(import);
  if (app.got_subcommand("copy")) return errata::app::RunCopy(copy);
  if (app.got_subcommand("compare")) return errata::app::RunCompare(compare);
  if (app.got_subcommand("backup")) return errata::app::RunBackup(backup);
  if (app.got_subcommand("routes")) {
    errata::api::Services services;  // no handler is called
    for (const std::string& name : errata::api::BuildRouter(services).Names()) std::puts(name.c_str());
    return 0;
  }
  return 0;
}
