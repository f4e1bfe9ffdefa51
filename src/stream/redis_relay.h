// RedisRelay: carries live events across nodes through Redis pub/sub. Every
// node publishes its learners' events to one channel and subscribes to it;
// what arrives goes to the local EventHub, which numbers, buffers and
// delivers them. Publishing never blocks the write path: events wait in a
// bounded queue for a publisher thread, which sends all that wait in one
// round trip, and are dropped if Redis is down.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
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
  // Joins both threads: nothing is delivered after it returns, and what is
  // still queued is not sent. Publish may still be called (and queues).
  void Stop();
  // Queues an event for every node, this one included. Thread-safe.
  void Publish(const std::string& user_id, const std::string& type, const std::string& data);
  uint64_t dropped() const { return dropped_.load(); }

 private:
  void PublishLoop();
  void SubscribeLoop();

  redis::Url url_;
  EventHub* hub_;
  Deliver deliver_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;  // guarded by mu_
  bool stopping_ = false;          // guarded by mu_
  std::atomic<int> subscriber_fd_{-1};
  std::atomic<uint64_t> dropped_{0};
  std::thread publisher_;
  std::thread subscriber_;
};

}  // namespace errata
