// RedisRelay: carries live events across nodes through Redis pub/sub. Every
// node publishes its learners' events to one channel and subscribes to it;
// what arrives goes to the local EventHub, which numbers, buffers and
// delivers them. Publishing never blocks the write path: events wait in a
// bounded queue for a publisher thread, which sends all that wait in one
// round trip, and are dropped (counted) if Redis is down. The subscriber
// thread PINGs a quiet subscription: a Redis that stops answering (a host
// gone, a dropped NAT entry) is left for another connection, where a read
// without a deadline would wait for good while events were lost.
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
  struct Options {
    std::chrono::milliseconds connect_timeout{200};  // and each command's (AUTH, SUBSCRIBE)
    std::chrono::milliseconds ping_after{5000};      // of silence on the subscription
    std::chrono::milliseconds pong_timeout{2000};    // then no answer: reconnect
    std::chrono::milliseconds retry_every{200};      // while Redis is down
  };
  // Events that arrive go to `hub`, or through `deliver` when given.
  RedisRelay(redis::Url url, EventHub* hub, Deliver deliver, Options options);
  RedisRelay(redis::Url url, EventHub* hub, Deliver deliver = nullptr);  // default Options
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
  // Events not sent (Redis down, or the queue full), for /metrics.
  uint64_t dropped() const { return dropped_.load(); }
  // Whether the subscription is up now: events from other nodes arrive.
  bool subscribed() const;

 private:
  void PublishLoop();
  void SubscribeLoop();
  // Connects and subscribes; null with *error set when it could not.
  redisContext* Subscribe(std::string* error);
  // Delivers what arrives until the connection fails or Stop; returns why
  // it ended ("" for Stop).
  std::string Listen(redisContext* ctx);
  void Handle(const redisReply* r);
  bool Stopping();
  // Logs the subscription going down and coming back, at most once a
  // minute each way however often it flaps. Subscriber thread only.
  void NoteUp();
  void NoteDown(const std::string& error);
  // A published message that is this node's flush marker (Stop).
  bool IsFlushMarker(std::string_view user, std::string_view type, std::string_view data) const;
  // Whether Stop may stop waiting for the marker. Caller holds mu_.
  bool FlushedLocked() const;

  redis::Url url_;
  EventHub* hub_;
  Deliver deliver_;
  Options options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;       // the publisher's: the queue, flushing_ and stopping_
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
  // Stop wakes the subscriber's poll through it. (Shutting down the
  // connection's descriptor from Stop raced with its close: the number
  // could belong to another file by then.)
  int wake_fd_ = -1;
  std::atomic<uint64_t> dropped_{0};
  // NoteUp/NoteDown's state: subscriber thread only.
  bool ever_up_ = false;
  bool down_logged_ = false;  // a warning logged and no recovery since
  std::chrono::steady_clock::time_point last_down_log_{};
  uint64_t failures_unlogged_ = 0;
  std::thread publisher_;
  std::thread subscriber_;
};

}  // namespace errata
