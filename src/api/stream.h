// Publishing of live "profile" events after committed writes.
#pragma once

#include <string>

#include "api/services.h"
#include "store/writer.h"

namespace errata::api {

// Publishes one event per learner whose error points `r` changed, carrying
// those points (count, score, mastery). Call after the commit; no-op without
// a hub or when the commit failed. With a relay (Redis), what crosses the
// nodes is only which points changed (a "changes" message); each node that
// has a subscriber for the learner renders the profile event itself
// (DeliverRelayed), so a write reads no profile for nobody.
void PublishChanges(Services& s, const WriteRequest& r);

// A relayed message that arrived: "changes" (subcategory ids, one per line)
// becomes the learner's profile event for this node's subscribers, if any;
// any other type goes to the hub as it is.
void DeliverRelayed(Services& s, const std::string& user_id, const std::string& type,
                    const std::string& data);

}  // namespace errata::api
