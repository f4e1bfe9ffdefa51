#include "stream/hub.h"

#include <algorithm>
#include <chrono>

namespace errata {
namespace {
const char kDroppedEvent[] =
    "event: dropped\ndata: {\"reason\":\"slow consumer: reconnect with Last-Event-ID\"}\n\n";
const char kResetData[] =
    "{\"reason\":\"events after Last-Event-ID may be missing: reload\"}";

uint64_t FirstId(uint64_t configured) {
  return configured != 0 ? configured : static_cast<uint64_t>(std::max<Micros>(1, NowMicros()));
}
}  // namespace

EventHub::EventHub(Options options)
    : options_(options), first_event_(FirstId(options.first_id)), next_event_(first_event_) {
  keepalive_ = std::thread([this] { KeepAliveLoop(); });
}

EventHub::~EventHub() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (keepalive_.joinable()) keepalive_.join();
}

EventHub::Learner& EventHub::Touch(const std::string& user_id) {
  auto [it, inserted] = learners_.try_emplace(user_id);
  if (inserted) {
    lru_.push_front(user_id);
    it->second.lru = lru_.begin();
    it->second.complete_after = next_event_ - 1;
    // Forget the least recent learner that nobody is listening to.
    if (learners_.size() > options_.max_learners) {
      for (auto victim = std::prev(lru_.end()); victim != lru_.begin(); --victim) {
        auto v = learners_.find(*victim);
        if (v->second.subscribers.empty()) {
          EraseLocked(v);
          break;
        }
      }
    }
  } else {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
  }
  return it->second;
}

void EventHub::EraseLocked(std::unordered_map<std::string, Learner>::iterator it) {
  for (const Event& e : it->second.recent) bytes_ -= e.Size();
  lru_.erase(it->second.lru);
  learners_.erase(it);
}

void EventHub::DropOldestLocked(Learner& l) {
  l.complete_after = std::max(l.complete_after, l.recent.front().id);
  bytes_ -= l.recent.front().Size();
  l.recent.pop_front();
}

void EventHub::TrimLocked() {
  for (const bool listened_to : {false, true}) {
    for (auto at = lru_.end(); at != lru_.begin() && bytes_ > options_.max_bytes;) {
      --at;
      auto it = learners_.find(*at);
      Learner& l = it->second;
      if (l.subscribers.empty() == listened_to) continue;
      while (!l.recent.empty() && bytes_ > options_.max_bytes) DropOldestLocked(l);
      if (!listened_to && l.recent.empty()) {
        at = std::next(at);  // EraseLocked removes the element at `at`
        EraseLocked(it);
      }
    }
  }
}

std::optional<std::string> EventHub::RefusalLocked(const std::string& user_id) const {
  if (stopping_) return std::string();  // the last chunk alone
  if (auto it = ended_.find(user_id); it != ended_.end()) return it->second;
  return std::nullopt;
}

uint64_t EventHub::Subscribe(const std::string& user_id, std::shared_ptr<EventSink> sink,
                             std::optional<uint64_t> last_event_id) {
  std::unique_lock lock(mu_);
  if (auto refusal = RefusalLocked(user_id)) {
    lock.unlock();
    sink->Close(std::move(*refusal));  // outside the lock: Close may call back
    return 0;                          // no subscription: Unsubscribe(0) does nothing
  }
  Learner& l = Touch(user_id);
  if (last_event_id) ReplayLocked(l, *last_event_id, sink.get());
  const uint64_t id = next_subscription_++;
  l.subscribers.push_back({id, std::move(sink)});
  ++subscriber_count_;
  return id;
}

// Replaying the rest after a gap would be wrong too: each event carries
// its points' values then, and an older one applied after a reload would
// take them back. The reset's id is the last one sent, so that the client's
// next reconnect starts from here.
void EventHub::ReplayLocked(const Learner& l, uint64_t last, EventSink* sink) const {
  if (last < l.complete_after || last >= next_event_) {
    sink->Push("id: " + std::to_string(next_event_ - 1) + "\nevent: reset\ndata: " + kResetData +
               "\n\n");
    return;
  }
  for (const Event& e : l.recent) {
    if (e.id > last) sink->Push(e.text);
  }
}

void EventHub::Unsubscribe(const std::string& user_id, uint64_t subscription) {
  std::lock_guard lock(mu_);
  auto it = learners_.find(user_id);
  if (it == learners_.end()) return;
  auto& subs = it->second.subscribers;
  const size_t before = subs.size();
  std::erase_if(subs, [subscription](const Subscriber& s) { return s.id == subscription; });
  subscriber_count_ -= before - subs.size();
  if (stopping_ && subscriber_count_ == 0) cv_.notify_all();  // CloseAll waits for it
}

// A dropped stream stays subscribed until its session has written the
// dropped event (or given up on the client), and every Push meanwhile fails
// and lands here again: only the call that ended it counts.
void EventHub::Drop(const std::shared_ptr<EventSink>& sink) {
  if (sink->Cut(kDroppedEvent)) dropped_.fetch_add(1);  // its OnClosed unsubscribes it
}

void EventHub::Publish(const std::string& user_id, const std::string& type,
                       const std::string& data) {
  std::vector<std::shared_ptr<EventSink>> slow;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;  // every stream is closing
    auto it = learners_.find(user_id);
    if (it == learners_.end()) return;  // nobody ever asked for this learner's events
    Learner& l = it->second;
    const uint64_t id = next_event_++;
    std::string text = "id: " + std::to_string(id) + "\nevent: " + type + "\ndata: " + data + "\n\n";
    for (const auto& s : l.subscribers) {
      if (!s.sink->Push(text)) slow.push_back(s.sink);
    }
    l.recent.push_back({id, std::move(text)});
    bytes_ += l.recent.back().Size();
    if (l.recent.size() > options_.replay) DropOldestLocked(l);
    TrimLocked();  // may forget `l`
  }
  for (const auto& sink : slow) Drop(sink);  // outside the lock: Close may call back
}

void EventHub::End(const std::string& user_id, const std::string& type,
                   const std::string& data) {
  std::vector<std::shared_ptr<EventSink>> sinks;
  std::string text;
  {
    std::lock_guard lock(mu_);
    auto it = learners_.find(user_id);
    // Ended already: the relay's copy of this node's own End.
    if (it == learners_.end() && ended_.count(user_id) > 0) return;
    text = "id: " + std::to_string(next_event_++) + "\nevent: " + type + "\ndata: " + data + "\n\n";
    RememberEndedLocked(user_id, text);
    if (it == learners_.end()) return;
    for (auto& sub : it->second.subscribers) sinks.push_back(std::move(sub.sink));
    subscriber_count_ -= it->second.subscribers.size();
    EraseLocked(it);
  }
  for (const auto& sink : sinks) sink->Close(text);  // outside the lock: Close may call back
}

void EventHub::RememberEndedLocked(const std::string& user_id, const std::string& text) {
  if (options_.max_ended == 0 || !ended_.emplace(user_id, text).second) return;
  ended_order_.push_back(user_id);
  if (ended_order_.size() > options_.max_ended) {
    ended_.erase(ended_order_.front());
    ended_order_.pop_front();
  }
}

void EventHub::CloseAll(Micros wait) {
  std::vector<std::shared_ptr<EventSink>> sinks;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    for (const auto& [user, l] : learners_) {
      for (const auto& s : l.subscribers) sinks.push_back(s.sink);
    }
  }
  cv_.notify_all();
  if (keepalive_.joinable()) keepalive_.join();
  for (const auto& sink : sinks) sink->Close("");  // each unsubscribes once its last chunk is out
  sinks.clear();
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, std::chrono::microseconds(wait), [this] { return subscriber_count_ == 0; });
  // What is left waits on a client that does not read; it goes with the
  // server's io_contexts. Released outside the lock, as sinks call back.
  auto left = std::move(learners_);
  learners_.clear();
  lru_.clear();
  subscriber_count_ = 0;
  bytes_ = 0;
  lock.unlock();
  left.clear();
}

bool EventHub::Watched(const std::string& user_id) const {
  std::lock_guard lock(mu_);
  return learners_.count(user_id) > 0;
}

size_t EventHub::buffered_bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

size_t EventHub::subscribers() const {
  std::lock_guard lock(mu_);
  return subscriber_count_;
}

void EventHub::KeepAliveLoop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, std::chrono::microseconds(options_.keepalive), [this] { return stopping_; });
    if (stopping_) return;
    std::vector<std::shared_ptr<EventSink>> slow;
    for (auto& [user, l] : learners_) {
      for (const auto& s : l.subscribers) {
        if (!s.sink->Push(": keep-alive\n\n")) slow.push_back(s.sink);
      }
    }
    lock.unlock();
    for (const auto& sink : slow) Drop(sink);
    lock.lock();
  }
}

}  // namespace errata
