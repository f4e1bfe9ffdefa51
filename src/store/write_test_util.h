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

}  // namespace errata::testutil
