// EventHub: per-learner live events for GET /v1/users/{id}/stream (SSE).
//  - Publish() stamps each event with an id and keeps the learner's last
//    `replay` events, so a client that reconnects with Last-Event-ID misses
//    nothing recent; all learners' kept events take at most `max_bytes`.
//    One whose Last-Event-ID is older than what is kept, or not this
//    process's, is told so (a `reset` event): it may have missed events;
//  - every subscriber has a bounded queue (in its EventSink); one that falls
//    behind is dropped with a final event and never blocks the publisher;
//  - a keep-alive comment goes to every subscriber every `keepalive`.
// Events are per node: a client sees the events of the node it is connected to.
// Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "stream/event_sink.h"

namespace errata {

class EventHub {
 public:
  struct Options {
    size_t replay = 100;          // events kept per learner for reconnects
    size_t max_learners = 10000;  // learners whose recent events are kept
    // Bytes of kept events, all learners together (Event::Size). Without
    // it, 100 events of 10,000 learners could take gigabytes: past it, the
    // events of learners nobody listens to go first, least recently
    // subscribed first, then the oldest events of the others.
    size_t max_bytes = 64 << 20;
    // The first event's id; 0: the wall clock in microseconds at start, so
    // that ids grow across restarts (as long as a process sends fewer than
    // one event a microsecond) and differ between nodes.
    uint64_t first_id = 0;
    size_t max_ended = 1024;      // erased learners remembered (ended_ below)
    Micros keepalive = 15 * kMicrosPerSecond;
  };
  explicit EventHub(Options options);
  ~EventHub();

  // Adds a subscriber and first replays the learner's kept events with an id
  // above *last_event_id. When some event after it may not be kept (older
  // than the kept ones, from before the learner was watched, or an id this
  // process never sent), it gets a `reset` event alone instead: the client
  // should reload what it shows. Returns the subscription id.
  uint64_t Subscribe(const std::string& user_id, std::shared_ptr<EventSink> sink,
                     std::optional<uint64_t> last_event_id);
  void Unsubscribe(const std::string& user_id, uint64_t subscription);
  // Sends "id: N\nevent: <type>\ndata: <data>\n\n" to the learner's
  // subscribers, and keeps it for reconnects. Learners nobody has subscribed
  // to are skipped.
  void Publish(const std::string& user_id, const std::string& type, const std::string& data);

  // Ends the learner's streams: sends each subscriber the event (not kept
  // for reconnects), closes it, and forgets the learner's kept events. The
  // event is remembered (for the last `max_ended` learners ended): a stream
  // that found the learner before the erase and subscribes after this gets
  // it at once, and is closed. Ending a learner ended already does nothing.
  void End(const std::string& user_id, const std::string& type, const std::string& data);

  // At shutdown, before the HTTP server stops: stops the keep-alive thread,
  // ends every stream with its last chunk alone, and waits up to `wait` for
  // their sessions to write it and unsubscribe. Then lets go of every sink
  // still held (a client that does not read), so that no session outlives
  // the server's io_contexts in here. A later Subscribe closes its sink at
  // once. Call once.
  void CloseAll(Micros wait);

  // Whether events for this learner are wanted: someone subscribed to them
  // (now, or recently enough that the replay buffer is still kept).
  bool Watched(const std::string& user_id) const;
  size_t subscribers() const;
  size_t buffered_bytes() const;
  size_t max_bytes() const { return options_.max_bytes; }
  // Streams dropped as slow consumers, each counted once.
  uint64_t dropped() const { return dropped_.load(); }

 private:
  struct Event {
    uint64_t id;
    std::string text;
    // What it counts against max_bytes: its text, and the deque's slot.
    size_t Size() const { return text.size() + sizeof(Event); }
  };
  struct Subscriber {
    uint64_t id;
    std::shared_ptr<EventSink> sink;
  };
  struct Learner {
    std::deque<Event> recent;
    // Every event of the learner after this id is in `recent`: raised as
    // events leave it, and at first the last id sent before the learner
    // was watched (its events were not even made).
    uint64_t complete_after = 0;
    std::vector<Subscriber> subscribers;
    std::list<std::string>::iterator lru;
  };
  Learner& Touch(const std::string& user_id);  // caller holds mu_
  // Forgets a learner and its kept events. Caller holds mu_.
  void EraseLocked(std::unordered_map<std::string, Learner>::iterator it);
  void DropOldestLocked(Learner& l);  // its oldest kept event; caller holds mu_
  void TrimLocked();                  // to max_bytes; caller holds mu_
  // Why a new subscriber must be closed at once: its final chunk, or nullopt
  // when it may subscribe. Caller holds mu_.
  std::optional<std::string> RefusalLocked(const std::string& user_id) const;
  void RememberEndedLocked(const std::string& user_id, const std::string& text);
  // Replays to a new subscriber what came after `last`, or tells it to
  // reset. Caller holds mu_.
  void ReplayLocked(const Learner& l, uint64_t last, EventSink* sink) const;
  void KeepAliveLoop();
  void Drop(const std::shared_ptr<EventSink>& sink);

  Options options_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Learner> learners_;  // guarded by mu_
  std::list<std::string> lru_;                         // guarded by mu_
  uint64_t first_event_;                               // Options::first_id
  uint64_t next_event_;                                // guarded by mu_
  uint64_t next_subscription_ = 1;                     // guarded by mu_
  size_t subscriber_count_ = 0;                        // guarded by mu_
  size_t bytes_ = 0;  // guarded by mu_; of every learner's `recent`
  // The last event of each recently erased learner: a stream that checked
  // the learner before the erase and subscribes after its End gets it too,
  // rather than staying open on an entry that End had removed. Ids of
  // erased learners are never reused (docs/erasure.md, "Tombstones").
  std::unordered_map<std::string, std::string> ended_;  // guarded by mu_
  std::deque<std::string> ended_order_;                 // guarded by mu_; oldest first
  std::atomic<uint64_t> dropped_{0};
  bool stopping_ = false;  // guarded by mu_; set by CloseAll
  std::condition_variable cv_;  // stopping_, and the last unsubscribe after it
  std::thread keepalive_;
};

}  // namespace errata
