#include "log/log.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <spdlog/sinks/stdout_sinks.h>

namespace errata::log {

bool Setup(std::string_view level) {
  const auto parsed = spdlog::level::from_str(std::string(level));
  if (parsed == spdlog::level::off && level != "off") return false;
  auto logger = spdlog::stderr_logger_mt("errata");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l",%v})",
                      spdlog::pattern_time_type::utc);
  spdlog::set_level(parsed);
  spdlog::flush_on(spdlog::level::info);
  return true;
}

std::string Body(std::string_view msg, const Fields& fields) {
  std::string out = "\"msg\":";
  out += boost::json::serialize(boost::json::value(boost::json::string(msg)));
  for (const auto& kv : fields) {
    out += ',';
    out += boost::json::serialize(boost::json::value(boost::json::string(kv.key())));
    out += ':';
    out += boost::json::serialize(kv.value());
  }
  return out;
}

}  // namespace errata::log
