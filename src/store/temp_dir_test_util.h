// A directory of a test's own: made empty under the system's temp dir, and
// removed with everything in it when the object goes. Declare it before any
// member that keeps files open in it, so that it goes last.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/ids.h"

namespace errata::testutil {

class TempDir {
 public:
  // /tmp/errata-<name>-<uuid>
  explicit TempDir(std::string_view name)
      : path_(std::filesystem::temp_directory_path() /
              ("errata-" + std::string(name) + "-" + NewUuidV7(NowMicros()))) {
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace errata::testutil
