#include "stream/hub.h"

#include <gtest/gtest.h>

namespace errata {
namespace {

// A sink that records what it gets, with a bounded queue like a connection's.
class RecordingSink : public EventSink {
 public:
  explicit RecordingSink(size_t capacity = 100) : capacity_(capacity) {}
  bool Push(std::string chunk) override {
    std::lock_guard lock(mu_);
    if (closed_ || chunks_.size() >= capacity_) return false;
    chunks_.push_back(std::move(chunk));
    return true;
  }
  void Close(std::string final_chunk) override { Cut(std::move(final_chunk)); }
  bool Cut(std::string final_chunk) override {
    std::function<void()> cb;
    {
      std::lock_guard lock(mu_);
      if (closed_) return false;
      closed_ = true;
      final_ = std::move(final_chunk);
      cb = std::move(on_closed_);
    }
    if (cb) cb();
    return true;
  }
  void OnClosed(std::function<void()> cb) override { on_closed_ = std::move(cb); }
  std::vector<std::string> chunks() {
    std::lock_guard lock(mu_);
    return chunks_;
  }
  bool closed() {
    std::lock_guard lock(mu_);
    return closed_;
  }
  std::string final_chunk() {
    std::lock_guard lock(mu_);
    return final_;
  }

 private:
  std::mutex mu_;
  size_t capacity_;
  std::vector<std::string> chunks_;
  bool closed_ = false;
  std::string final_;
  std::function<void()> on_closed_;
};

EventHub::Options Fast() {
  EventHub::Options o;
  o.replay = 3;
  o.keepalive = 20'000;  // 20 ms
  o.first_id = 1;
  return o;
}

uint64_t IdOf(const std::string& chunk) {
  EXPECT_EQ(chunk.rfind("id: ", 0), 0u) << chunk;
  return std::stoull(chunk.substr(4));
}

// End (an erased learner): each subscriber gets the final event and is
// closed; the learner's kept events are forgotten, so a reconnect replays
// nothing; another learner's stream goes on.
TEST(EventHubTest, EndClosesTheLearnersStreamsAndForgetsTheirEvents) {
  EventHub hub(Fast());
  auto a1 = std::make_shared<RecordingSink>();
  auto a2 = std::make_shared<RecordingSink>();
  auto b = std::make_shared<RecordingSink>();
  for (auto& [user, sink] : {std::pair{"a", a1}, std::pair{"a", a2}, std::pair{"b", b}}) {
    const uint64_t sub = hub.Subscribe(user, sink, std::nullopt);
    sink->OnClosed([&hub, user = std::string(user), sub] { hub.Unsubscribe(user, sub); });
  }
  hub.Publish("a", "profile", "{}");
  EXPECT_EQ(hub.subscribers(), 3u);
  hub.End("a", "erased", "{\"user_id\":\"a\"}");
  for (const auto& sink : {a1, a2}) {
    EXPECT_TRUE(sink->closed());
    EXPECT_NE(sink->final_chunk().find("event: erased\ndata: {\"user_id\":\"a\"}\n\n"),
              std::string::npos)
        << sink->final_chunk();
  }
  EXPECT_FALSE(b->closed());
  EXPECT_EQ(hub.subscribers(), 1u);
  EXPECT_FALSE(hub.Watched("a"));
  auto again = std::make_shared<RecordingSink>();
  hub.Subscribe("a", again, 0);
  EXPECT_TRUE(again->chunks().empty());  // nothing kept to replay
  hub.Publish("b", "profile", "{}");
  EXPECT_EQ(b->chunks().size(), 1u);
  hub.End("nobody", "erased", "{}");  // a learner nobody watches: nothing to do
}

// CloseAll (shutdown): every stream gets the last chunk alone, the hub waits
// for them to unsubscribe, then holds no sink, even one that never did; a
// stream that subscribes afterwards is closed at once.
TEST(EventHubTest, CloseAllEndsEveryStreamAndLetsGoOfTheSinks) {
  EventHub hub(Fast());
  auto a = std::make_shared<RecordingSink>();
  auto b = std::make_shared<RecordingSink>();
  auto deaf = std::make_shared<RecordingSink>();  // never unsubscribes
  for (auto& [user, sink] : {std::pair{"a", a}, std::pair{"b", b}}) {
    const uint64_t sub = hub.Subscribe(user, sink, std::nullopt);
    sink->OnClosed([&hub, user = std::string(user), sub] { hub.Unsubscribe(user, sub); });
  }
  hub.Subscribe("a", deaf, std::nullopt);
  const auto began = std::chrono::steady_clock::now();
  hub.CloseAll(50'000);  // 50 ms, all of it waiting on `deaf`
  EXPECT_GE(std::chrono::steady_clock::now() - began, std::chrono::milliseconds(50));
  for (const auto& sink : {a, b, deaf}) {
    EXPECT_TRUE(sink->closed());
    EXPECT_EQ(sink->final_chunk(), "");
  }
  EXPECT_EQ(deaf.use_count(), 1);  // the hub holds no sink
  EXPECT_EQ(hub.subscribers(), 0u);
  hub.Publish("a", "profile", "{}");  // nothing to deliver, nothing dropped
  EXPECT_EQ(hub.dropped(), 0u);
  auto late = std::make_shared<RecordingSink>();
  hub.Subscribe("a", late, 0);
  EXPECT_TRUE(late->closed());
  EXPECT_EQ(late.use_count(), 1);
}

// A stream that found its learner before the erase and subscribes after the
// erase's End: it gets the erased event and is closed, where the hub made the
// learner's entry again and the stream stayed open for good.
TEST(EventHubTest, ASubscriberAfterTheEndGetsTheEndAtOnce) {
  EventHub::Options o = Fast();
  o.max_ended = 2;
  EventHub hub(o);
  hub.End("a", "erased", "{\"user_id\":\"a\"}");  // nobody subscribed yet
  auto late = std::make_shared<RecordingSink>();
  hub.Subscribe("a", late, std::nullopt);
  EXPECT_TRUE(late->closed());
  EXPECT_NE(late->final_chunk().find("event: erased\ndata: {\"user_id\":\"a\"}\n\n"),
            std::string::npos)
      << late->final_chunk();
  EXPECT_FALSE(hub.Watched("a"));
  EXPECT_EQ(hub.subscribers(), 0u);
  EXPECT_EQ(late.use_count(), 1);
  // Only the last `max_ended` are remembered.
  hub.End("b", "erased", "{}");
  hub.End("c", "erased", "{}");
  auto again = std::make_shared<RecordingSink>();
  hub.Subscribe("a", again, std::nullopt);
  EXPECT_FALSE(again->closed());
  auto c = std::make_shared<RecordingSink>();
  hub.Subscribe("c", c, std::nullopt);
  EXPECT_TRUE(c->closed());
}

TEST(EventHubTest, DeliversToTheLearnersSubscribersOnly) {
  EventHub hub(Fast());
  auto a = std::make_shared<RecordingSink>();
  auto b = std::make_shared<RecordingSink>();
  hub.Subscribe("u1", a, std::nullopt);
  hub.Subscribe("u2", b, std::nullopt);
  hub.Publish("u1", "profile", "{\"x\":1}");
  ASSERT_EQ(a->chunks().size(), 1u);
  EXPECT_EQ(a->chunks()[0], "id: 1\nevent: profile\ndata: {\"x\":1}\n\n");
  EXPECT_TRUE(b->chunks().empty());
  EXPECT_EQ(hub.subscribers(), 2u);
}

TEST(EventHubTest, ReplaysRecentEventsAfterLastEventId) {
  EventHub hub(Fast());
  auto first = std::make_shared<RecordingSink>();
  hub.Unsubscribe("u", hub.Subscribe("u", first, std::nullopt));  // watched, then gone
  for (int i = 0; i < 5; ++i) hub.Publish("u", "profile", std::to_string(i));  // ids 1..5
  auto late = std::make_shared<RecordingSink>();
  hub.Subscribe("u", late, 3);
  auto got = late->chunks();
  ASSERT_EQ(got.size(), 2u);  // 4 and 5; the buffer keeps 3..5
  EXPECT_EQ(got[0].rfind("id: 4\n", 0), 0u);
  EXPECT_EQ(got[1].rfind("id: 5\n", 0), 0u);
  auto fresh = std::make_shared<RecordingSink>();
  hub.Subscribe("u", fresh, std::nullopt);
  EXPECT_TRUE(fresh->chunks().empty());
}

TEST(EventHubTest, DropsASlowConsumerWithAFinalEventWithoutBlocking) {
  EventHub hub(Fast());
  auto slow = std::make_shared<RecordingSink>(2);
  auto ok = std::make_shared<RecordingSink>(100);
  const uint64_t id = hub.Subscribe("u", slow, std::nullopt);
  hub.Subscribe("u", ok, std::nullopt);
  slow->OnClosed([&hub, id] { hub.Unsubscribe("u", id); });
  for (int i = 0; i < 10; ++i) hub.Publish("u", "profile", "{}");
  EXPECT_TRUE(slow->closed());
  EXPECT_NE(slow->final_chunk().find("event: dropped"), std::string::npos);
  EXPECT_EQ(ok->chunks().size(), 10u);
  EXPECT_EQ(hub.dropped(), 1u);
  EXPECT_EQ(hub.subscribers(), 1u);
}

// A dropped stream stays subscribed until its session has written the
// dropped event, or given up on a client that does not read: each event and
// keep-alive meanwhile fails to reach it. It counts as one drop, not one per
// failed Push.
TEST(EventHubTest, CountsADroppedStreamOnce) {
  EventHub hub(Fast());
  auto slow = std::make_shared<RecordingSink>(2);  // never unsubscribes
  hub.Subscribe("u", slow, std::nullopt);
  for (int i = 0; i < 10; ++i) hub.Publish("u", "profile", "{}");
  std::this_thread::sleep_for(std::chrono::milliseconds(60));  // keep-alives too
  EXPECT_TRUE(slow->closed());
  EXPECT_EQ(hub.subscribers(), 1u);
  EXPECT_EQ(hub.dropped(), 1u);
}

// All learners' kept events take at most max_bytes: those of learners
// nobody listens to go first, then the oldest events of the others. Live
// delivery is not affected.
TEST(EventHubTest, KeepsAtMostMaxBytesOfEvents) {
  EventHub::Options o = Fast();
  o.replay = 100;
  o.max_bytes = 2000;  // about 10 events of 100 bytes of data
  EventHub hub(o);
  const std::string data(100, 'x');
  hub.Unsubscribe("gone", hub.Subscribe("gone", std::make_shared<RecordingSink>(), std::nullopt));
  auto live = std::make_shared<RecordingSink>();
  hub.Subscribe("live", live, std::nullopt);
  for (int i = 0; i < 5; ++i) hub.Publish("gone", "profile", data);
  for (int i = 0; i < 30; ++i) {
    hub.Publish("live", "profile", data);
    EXPECT_LE(hub.buffered_bytes(), o.max_bytes);
  }
  EXPECT_FALSE(hub.Watched("gone"));  // its events went first, and it with them
  EXPECT_EQ(live->chunks().size(), 30u);
  const auto sent = live->chunks();
  auto recent = std::make_shared<RecordingSink>();
  hub.Subscribe("live", recent, IdOf(sent[25]));
  EXPECT_EQ(recent->chunks(), std::vector<std::string>(sent.begin() + 26, sent.end()));
  auto old = std::make_shared<RecordingSink>();  // its next event is gone
  hub.Subscribe("live", old, IdOf(sent[5]));
  ASSERT_EQ(old->chunks().size(), 1u);
  EXPECT_NE(old->chunks()[0].find("event: reset\n"), std::string::npos);
}

// Ids start from the wall clock in microseconds: a process started later
// sends higher ids than one before it did (where each began at 1, and a
// Last-Event-ID from before a restart was above every new event).
TEST(EventHubTest, IdsStartFromTheClock) {
  EventHub::Options o = Fast();
  o.first_id = 0;
  const Micros start = NowMicros();
  EventHub hub(o);
  auto s = std::make_shared<RecordingSink>();
  hub.Subscribe("u", s, std::nullopt);
  hub.Publish("u", "profile", "{}");
  ASSERT_EQ(s->chunks().size(), 1u);
  EXPECT_GE(IdOf(s->chunks()[0]), static_cast<uint64_t>(start));
}

// A Last-Event-ID after which some event may not be kept gets a `reset`
// event alone, whose id is the last sent: older than the kept events, from
// before the learner was watched, before this process or never sent by it.
// Until now such a client got nothing, and no sign that it missed events.
TEST(EventHubTest, ALastEventIdBeyondWhatIsKeptIsToldToReset) {
  EventHub::Options o = Fast();
  o.first_id = 1000;
  EventHub hub(o);  // replay 3
  hub.Subscribe("u", std::make_shared<RecordingSink>(), std::nullopt);
  for (int i = 0; i < 5; ++i) hub.Publish("u", "profile", "{}");  // 1000..1004; 1002..1004 kept
  auto replayed = [&](const std::string& user, uint64_t last) {
    auto s = std::make_shared<RecordingSink>();
    hub.Subscribe(user, s, last);
    std::vector<std::string> out;
    for (const auto& c : s->chunks()) {
      out.push_back(std::to_string(IdOf(c)) + (c.find("event: reset\n") != c.npos ? " reset" : ""));
    }
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(replayed("u", 1003), V{"1004"});
  EXPECT_EQ(replayed("u", 1001), (V{"1002", "1003", "1004"}));
  EXPECT_EQ(replayed("u", 1000), V{"1004 reset"});  // 1001 is gone
  EXPECT_EQ(replayed("u", 999), V{"1004 reset"});   // before this process
  EXPECT_EQ(replayed("u", 1005), V{"1004 reset"});  // never sent here
  EXPECT_EQ(replayed("u", 1004), V{});
  EXPECT_EQ(replayed("new", 1003), V{"1004 reset"});  // not watched then
  EXPECT_EQ(replayed("new2", 1004), V{});             // nothing sent since
}

TEST(EventHubTest, KeepsNothingForLearnersNobodyWatches) {
  EventHub hub(Fast());
  hub.Publish("quiet", "profile", "{}");
  EXPECT_FALSE(hub.Watched("quiet"));
  auto s = std::make_shared<RecordingSink>();
  hub.Subscribe("quiet", s, 0);
  EXPECT_TRUE(s->chunks().empty());
  EXPECT_TRUE(hub.Watched("quiet"));
}

TEST(EventHubTest, SendsKeepAlives) {
  EventHub hub(Fast());
  auto s = std::make_shared<RecordingSink>();
  hub.Subscribe("u", s, std::nullopt);
  for (int i = 0; i < 100 && s->chunks().empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_FALSE(s->chunks().empty());
  EXPECT_EQ(s->chunks()[0], ": keep-alive\n\n");
}

TEST(EventHubTest, UnsubscribeStopsDelivery) {
  EventHub hub(Fast());
  auto s = std::make_shared<RecordingSink>();
  const uint64_t id = hub.Subscribe("u", s, std::nullopt);
  hub.Unsubscribe("u", id);
  hub.Publish("u", "profile", "{}");
  EXPECT_TRUE(s->chunks().empty());
  EXPECT_EQ(hub.subscribers(), 0u);
}

}  // namespace
}  // namespace errata
