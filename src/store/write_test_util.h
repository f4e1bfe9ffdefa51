// Helpers for tests of the write path: submit and wait, and the writes that
// make a new learner with a conversation and an utterance.
#pragma once

#include <future>
#include <string>
#include <vector>

#include "core/ids.h"
#include "store/writer.h"

namespace errata::testutil {

// Submits `ops` as one request to `writer` and waits for its commit.
inline WriteRequest WriteAndWait(Writer* writer, std::vector<WriteOp> ops) {
  auto req = std::make_unique<WriteRequest>();
  req->ops = std::move(ops);
  std::promise<WriteRequest> done;
  req->done = [&done](WriteRequest& r) { done.set_value(std::move(r)); };
  if (!writer->Submit(std::move(req)).ok()) return WriteRequest{{}, Status::Unavailable("queue")};
  return done.get_future().get();
}

// The ops creating a user, a conversation and an utterance saying `content`;
// *utterance receives the utterance (its ids name the learner).
inline std::vector<WriteOp> NewLearnerOps(const std::string& content, Utterance* utterance) {
  const Micros now = NowMicros();
  WriteOp u;
  u.kind = WriteOp::Kind::kCreateUser;
  u.user = User{NewUuidV7(now), "x", std::nullopt, now};
  WriteOp c;
  c.kind = WriteOp::Kind::kCreateConversation;
  c.conversation = Conversation{NewUuidV7(now), u.user.user_id, now};
  WriteOp t;
  t.kind = WriteOp::Kind::kAddUtterance;
  t.utterance = Utterance{NewUuidV7(now), c.conversation.conversation_id, u.user.user_id, content,
                          now, {}};
  *utterance = t.utterance;
  return {u, c, t};
}

// `n` errors of subcategory `sub` added to utterance `u` (kAddErrors).
inline WriteOp ErrorsOp(const Utterance& u, const std::string& sub, int n) {
  WriteOp op;
  op.kind = WriteOp::Kind::kAddErrors;
  op.utterance = u;
  op.utterance.errors.clear();
  for (int i = 0; i < n; ++i) {
    ErrorRecord e;
    e.error_id = NewUuidV7(NowMicros());
    e.category = "Grammar";
    e.subcategory = sub;
    e.subcategory_id = sub;
    e.created_at = NowMicros();
    op.utterance.errors.push_back(e);
  }
  return op;
}

inline WriteOp EraseOp(const std::string& user_id) {
  WriteOp op;
  op.kind = WriteOp::Kind::kEraseUser;
  op.user.user_id = user_id;
  return op;
}

// Queues on `writer`, before it starts: 2 errors for the learner of `u`, the
// learner's erase, 1 more error for them, and `other` (another learner's
// writes); then starts it. Returns the four requests as answered. The erase
// is committed alone: the errors before it are erased with the learner, the
// one after it finds no utterance, and `other` commits.
inline std::vector<WriteRequest> EraseBetweenWrites(Writer* writer, const Utterance& u,
                                                    std::vector<WriteOp> other) {
  std::vector<std::vector<WriteOp>> requests = {
      {ErrorsOp(u, "pronouns", 2)}, {EraseOp(u.user_id)}, {ErrorsOp(u, "pronouns", 1)}, other};
  std::vector<std::promise<WriteRequest>> done(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    auto req = std::make_unique<WriteRequest>();
    req->ops = std::move(requests[i]);
    req->done = [&done, i](WriteRequest& r) { done[i].set_value(std::move(r)); };
    if (!writer->Submit(std::move(req)).ok()) return {};
  }
  writer->Start();
  std::vector<WriteRequest> out;
  for (auto& d : done) out.push_back(d.get_future().get());
  return out;
}

}  // namespace errata::testutil
