// EventSink: where a live stream's chunks go. The HTTP session implements it
// for a Server-Sent Events connection; the event hub pushes into it.
#pragma once

#include <functional>
#include <string>

namespace errata {

class EventSink {
 public:
  virtual ~EventSink() = default;
  // Queues a chunk for the client. Thread-safe, never blocks. False when the
  // client's queue is full (a slow consumer) or the stream is closed.
  virtual bool Push(std::string chunk) = 0;
  // Sends `final_chunk` (may be empty) after the chunks queued, and ends the
  // stream. Thread-safe.
  virtual void Close(std::string final_chunk) = 0;
  // Ends the stream of a client too slow for its queue: discards the chunks
  // queued, so that `final_chunk` goes out next, alone. True if this call
  // ended the stream; false if it was ending already (a hub that fails to
  // Push to it again must not count it twice). Thread-safe.
  virtual bool Cut(std::string final_chunk) = 0;
  // Called once, from any thread, when the stream ends for whatever reason
  // (client gone, Close, server stopping). Set before the first Push.
  virtual void OnClosed(std::function<void()> callback) = 0;
};

}  // namespace errata
