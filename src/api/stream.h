// Publishing of live "profile" events after committed writes.
#pragma once

#include "api/services.h"
#include "store/writer.h"

namespace errata::api {

// Publishes one event per learner whose error points `r` changed, carrying
// those points (count, score, mastery). Call after the commit; no-op without
// a hub or when the commit failed.
void PublishChanges(Services& s, const WriteRequest& r);

}  // namespace errata::api
