// For tests: the value of one series in /metrics text (Metrics::Render, or a
// store's RenderMetrics).
#pragma once

#include <string>

namespace errata::testutil {

// The value of `series` (a name, with its labels if any, e.g.
// `errata_postgres_batches_total{path="together"}`), or -1 when absent.
// Matches whole lines only, so a "# HELP" line never passes for the series.
inline long long MetricValue(const std::string& text, const std::string& series) {
  const std::string key = series + " ";
  for (size_t at = 0; at < text.size();) {
    const size_t end = text.find('\n', at);
    const size_t len = (end == std::string::npos ? text.size() : end) - at;
    if (text.compare(at, key.size(), key) == 0 && len > key.size()) {
      return std::stoll(text.substr(at + key.size(), len - key.size()));
    }
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return -1;
}

}  // namespace errata::testutil
