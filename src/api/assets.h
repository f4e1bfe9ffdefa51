// Static files built into the assets directory (--assets-dir): the swagger-ui
// of /docs and the dashboard. Shared by docs.cc and dashboard.cc.
#pragma once

#include <string>
#include <string_view>

#include "api/services.h"

namespace errata::api {

// <assets dir>/<subdir>/<file>.
std::string AssetPath(const Services& s, std::string_view subdir, std::string_view file);

// A plain file name: [A-Za-z0-9._-]+, not starting with '.', no "..".
bool SafeAssetName(std::string_view name);

// The Content-Type of a served asset; empty for extensions not served.
std::string_view AssetType(std::string_view name);

// Reads a whole file; false if it cannot.
bool ReadWholeFile(const std::string& path, std::string* out);

}  // namespace errata::api
