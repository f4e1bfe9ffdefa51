#include "api/write.h"

#include "api/stream.h"

namespace errata::api {

void SubmitWrite(Services& s, Flavor flavor, std::unique_ptr<WriteRequest> request,
                 Render render, http::Respond respond) {
  request->done = [&s, flavor, render = std::move(render), respond](WriteRequest& r) {
    respond(r.status.ok() ? render(r) : ErrorResponse(flavor, r.status));
    PublishChanges(s, r);
  };
  const Status st = s.writer->Submit(std::move(request));
  if (!st.ok()) respond(ErrorResponse(flavor, st));
}

std::unique_ptr<WriteRequest> OneOp(WriteOp op) {
  auto r = std::make_unique<WriteRequest>();
  r->ops.push_back(std::move(op));
  return r;
}

}  // namespace errata::api
