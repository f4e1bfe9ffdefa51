// Services: what the API handlers work with. Built once in main, shared by
// every handler; each member is thread-safe.
#pragma once

#include <string>

#include "core/clock.h"
#include "core/exercise_bank.h"
#include "core/taxonomy.h"
#include "http/slow_reads.h"
#include "metrics/metrics.h"
#include "store/profile_cache.h"
#include "store/store.h"
#include "store/writer.h"
#include "stream/hub.h"
#include "stream/redis_relay.h"

namespace errata::api {

class ExerciseJson;

struct Config {
  Micros half_life = 14 * kMicrosPerDay;  // recency weighting of error counts
  Micros future_tolerance = 60 * kMicrosPerSecond;  // created_at may be this far ahead
  int retry_after_seconds = 1;
  std::string assets_dir;  // holds docs/ (swagger-ui files for /docs); "" means "."
};

struct Services {
  Store* store = nullptr;
  Writer* writer = nullptr;
  ProfileCache* cache = nullptr;
  const Taxonomy* taxonomy = nullptr;
  const ExerciseBank* bank = nullptr;
  Metrics* metrics = nullptr;
  Config config;
  EventHub* hub = nullptr;  // live events (SSE); null: none published
  RedisRelay* relay = nullptr;  // with Redis: events go to every node through it
  const ExerciseJson* exercise_json = nullptr;  // pre-rendered bank; null: render each time
  http::SlowReads* slow = nullptr;  // long reads (the export); null: on the HTTP thread
};

}  // namespace errata::api
