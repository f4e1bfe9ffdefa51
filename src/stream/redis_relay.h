// RedisRelay: carries live events across nodes through Redis pub/sub. Every
// node publishes its learners' events to one channel and subscribes to it;
// what arrives goes to the local EventHub, which numbers, buffers and
// delivers them. Publishing never blocks the write path: events wait in a
// bounded queue for a publisher thread, which sends all that wait in one
// round trip, and are dropped if Redis is down.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "store/redis/redis_conn.h"
#include "stream/hub.h"

namespace errata {

class RedisRelay {
 public:
  static constexpr const char* kChannel = "errata:events";
  // What a node does with an event that arrived (its own ones included).
  using Deliver = std::function<void(const std::string& user_id, const std::string& type,
                                     const std::string& data)>;
  // Events that arrive go to `hub`, or through `deliver` when given.
  RedisRelay(redis::Url url, EventHub* hub, Deliver deliver = nullptr);
  ~RedisRelay();
  void Start();
  // At shutdown, once no more events come: sends what is queued, then waits
  // for the subscription to bring all of it back (this node's own streams
  // get their events through it), for at most `flush`. Then joins both
  // threads: nothing is delivered after it returns, and what is queued
  // still (Redis down, or later Publish calls) is counted as dropped.
  void Stop(std::chrono::milliseconds flush = std::chrono::seconds(2));
  // Queues an event for every node, this one included. Thread-safe.
  void Publish(const std::string& user_id, const std::string& type, const std::string& data);
  uint64_t dropped() const { return dropped_.load(); }

 private:
  void PublishLoop();
  void SubscribeLoop();
  // A published message that is this node's flush marker (Stop).
  bool IsFlushMarker(std::string_view user, std::string_view type, std::string_view data) const;
  // Whether Stop may stop waiting for the marker. Caller holds mu_.
  bool FlushedLocked() const;

  redis::Url url_;
  EventHub* hub_;
  Deliver deliver_;
  std::mutex mu_;
  std::condition_variable cv_;       // the queue, flushing_ and stopping_
  std::condition_variable flush_cv_;  // Stop waits on it for the flush
  std::deque<std::string> queue_;  // guarded by mu_
  bool stopping_ = false;          // guarded by mu_
  // Stop's flush: the publisher sends what is queued and then a marker
  // message; once the marker comes back through the subscription, every
  // message before it has been delivered (Redis keeps one publisher's
  // messages in order).
  const std::string flush_nonce_;  // this relay's marker
  bool flushing_ = false;          // guarded by mu_
  enum class Marker { kUnsent, kSent, kFailed };
  Marker marker_ = Marker::kUnsent;  // guarded by mu_
  bool marker_back_ = false;         // guarded by mu_
  bool subscribed_ = false;          // guarded by mu_
  std::atomic<int> subscriber_fd_{-1};
  std::atomic<uint64_t> dropped_{0};
  std::thread publisher_;
  std::thread subscriber_;
};

}  // namespace errata
