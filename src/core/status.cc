#include "core/status.h"

namespace errata {

std::string Status::ToString() const {
  switch (code_) {
    case Code::kOk: return "OK";
    case Code::kInvalidArgument: return "InvalidArgument: " + message_;
    case Code::kNotFound: return "NotFound: " + message_;
    case Code::kConflict: return "Conflict: " + message_;
    case Code::kUnavailable: return "Unavailable: " + message_;
    case Code::kInternal: return "Internal: " + message_;
  }
  return message_;
}

}  // namespace errata
