// The bridge from handlers to the group-commit Writer.
#pragma once

#include <functional>
#include <memory>

#include "api/errors.h"
#include "api/services.h"
#include "http/message.h"
#include "store/writer.h"

namespace errata::api {

using Render = std::function<http::Response(WriteRequest&)>;

// Queues `request`. After its commit, answers with render(request); if the
// commit failed or the queue is full, answers the flavour's 503 instead.
void SubmitWrite(Services& s, Flavor flavor, std::unique_ptr<WriteRequest> request,
                 Render render, http::Respond respond);

// A request of one op.
std::unique_ptr<WriteRequest> OneOp(WriteOp op);

}  // namespace errata::api
