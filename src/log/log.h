// Structured logs: one JSON object per line on stderr, through spdlog.
// LOG_INFO("listening", {{"address", addr}, {"store", name}}) writes
// {"ts":"...","level":"info","msg":"listening","address":"...","store":"..."}.
#pragma once

#include <boost/json/object.hpp>
#include <spdlog/spdlog.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace errata::log {

using Fields = boost::json::object;

// Sets the JSON line format and the level ("debug", "info", "warn", "error").
// Returns false for an unknown level.
bool Setup(std::string_view level);

// Formats msg and fields as the inside of a JSON object (no braces).
std::string Body(std::string_view msg, const Fields& fields);

inline void Write(spdlog::level::level_enum level, std::string_view msg,
                  const Fields& fields = {}) {
  if (!spdlog::should_log(level)) return;
  spdlog::log(level, "{}", Body(msg, fields));
}

inline void Debug(std::string_view msg, const Fields& f = {}) {
  Write(spdlog::level::debug, msg, f);
}
inline void Info(std::string_view msg, const Fields& f = {}) {
  Write(spdlog::level::info, msg, f);
}
inline void Warn(std::string_view msg, const Fields& f = {}) {
  Write(spdlog::level::warn, msg, f);
}
inline void Error(std::string_view msg, const Fields& f = {}) {
  Write(spdlog::level::err, msg, f);
}

}  // namespace errata::log
