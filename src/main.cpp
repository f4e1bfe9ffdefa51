// errata: the learner-error service. `errata serve` runs the HTTP API;
// `errata import m2 FILE` loads an annotated learner corpus.
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <string>

#include "app/serve.h"

namespace {

const char* Env(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

void AddServe(CLI::App& app, errata::app::ServeOptions& o) {
  CLI::App* serve = app.add_subcommand("serve", "Run the HTTP API server");
  o.listen = Env("ERRATA_LISTEN", "127.0.0.1:8000");
  o.data_dir = Env("ERRATA_DATA_DIR", "./data");
  o.store = Env("ERRATA_STORE", "");
  serve->add_option("--listen", o.listen, "HOST:PORT to listen on (env ERRATA_LISTEN)")->capture_default_str();
  serve->add_option("--data-dir", o.data_dir, "Directory of the embedded store (env ERRATA_DATA_DIR)")->capture_default_str();
  serve->add_option("--store", o.store, "Store URL: empty for SQLite in --data-dir, or sqlite:PATH (env ERRATA_STORE)");
  serve->add_option("--threads", o.threads, "HTTP threads (0: one per core)")->capture_default_str();
  serve->add_option("--log-level", o.log_level, "debug, info, warn or error")->capture_default_str();
  serve->add_option("--body-limit", o.body_limit, "Largest request body, bytes (larger: 413)")->capture_default_str();
  serve->add_option("--flush-interval-us", o.flush_interval_us, "Longest wait to fill a group commit, µs")->capture_default_str();
  serve->add_option("--max-batch", o.max_batch, "Most requests per group commit")->capture_default_str();
  serve->add_option("--queue-capacity", o.queue_capacity, "Most writes waiting; beyond it 503")->capture_default_str();
  serve->add_option("--cache-size", o.cache_size, "Learner profiles held in memory")->capture_default_str();
  serve->add_option("--half-life-days", o.half_life_days, "Half-life of the recency weighting, days")->capture_default_str();
  serve->add_option("--taxonomy", o.taxonomy_path, "Taxonomy JSON file instead of the built-in one");
  serve->add_option("--exercises", o.exercises_path, "Exercise bank JSON file instead of the built-in one");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"errata: records learners' errors and turns them into personal practice"};
  app.set_version_flag("--version", std::string("errata ") + ERRATA_VERSION);
  app.require_subcommand(1);
  errata::app::ServeOptions serve;
  AddServe(app, serve);
  CLI11_PARSE(app, argc, argv);
  if (app.got_subcommand("serve")) return errata::app::RunServe(serve);
  return 0;
}
