// Server: the HTTP/1.1 listener and connection sessions (Boost.Beast). It
// reads a request, finds its route, hands it to the handler and writes
// whatever the handler answers, when it answers. No business logic lives here.
//
// Two ways to run the I/O threads (docs/http.md):
//  - one io_context per thread (`per_thread_contexts`): a connection lives on
//    one thread, with no strand and no hand-over between threads. For
//    handlers that do not block (the embedded stores).
//  - one io_context run by all threads, a strand per connection: a thread
//    whose handler waits on the network (PostgreSQL, Redis) does not hold up
//    the other connections.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/status.h"
#include "http/router.h"
#include "log/log.h"
#include "metrics/metrics.h"

namespace errata::http {

// Builds the JSON error body for errors the server itself detects (no route,
// wrong method, body too large, malformed HTTP). `path` tells the API flavour.
using ErrorRenderer =
    std::function<Response(int status, std::string_view code, std::string_view message,
                           std::string_view path)>;

class Server {
 public:
  struct Options {
    std::string address = "127.0.0.1";
    uint16_t port = 8000;
    size_t body_limit = 1 << 20;
    int threads = 2;
    bool per_thread_contexts = false;
    // The most connections open at once (0: no limit). Beyond it, new ones
    // wait in the listen queue until one closes (docs/http.md).
    int64_t max_connections = 0;
    // How long a connection may wait for its next request, and a request or
    // an answer may take to cross it. deploy/nginx.conf keeps its upstream
    // connections for less (50 s against 60), so nginx never sends on one
    // that errata is closing.
    std::chrono::milliseconds idle_timeout{60'000};
  };
  Server(Options options, const Router& router, Metrics* metrics, ErrorRenderer errors);
  ~Server();

  // Binds and listens. Unavailable if the address is taken.
  Status Listen();
  uint16_t port() const { return port_; }
  // Runs the I/O threads; returns at once. Join() waits for them.
  void Start();
  // Closes the listener: no new connections; open ones go on, each until
  // its next answer, which carries "Connection: close" (stopping()).
  void StopAccepting();
  bool stopping() const { return stopping_.load(std::memory_order_relaxed); }
  // Requests read whose answer is not yet written out (a stream's: its head).
  int64_t in_flight() const { return in_flight_.load(); }
  // Stops all I/O and joins the threads.
  void Stop();

  // Used by sessions.
  const Router& router() const { return router_; }
  Metrics* metrics() { return metrics_; }
  const ErrorRenderer& errors() const { return errors_; }
  size_t body_limit() const { return options_.body_limit; }
  std::chrono::milliseconds idle_timeout() const { return options_.idle_timeout; }
  std::atomic<int64_t>& in_flight_counter() { return in_flight_; }
  // Connections open now; a session's end calls ConnectionClosed.
  int64_t connections() const { return connections_.load(); }
  void ConnectionClosed() { connections_.fetch_sub(1); }

 private:
  void Accept();
  void PauseAccepting(std::chrono::milliseconds pause, std::string_view why, log::Fields fields);

  Options options_;
  const Router& router_;
  Metrics* metrics_;
  ErrorRenderer errors_;
  static std::vector<std::unique_ptr<boost::asio::io_context>> MakeContexts(const Options& options);
  // The executor a new connection runs on.
  boost::asio::any_io_executor NextConnectionExecutor();

  // Declared before the contexts: the sessions they hold count down on them
  // when they are destroyed with them (a request still in flight then, too).
  std::atomic<int64_t> connections_{0};
  std::atomic<int64_t> in_flight_{0};
  std::atomic<bool> stopping_{false};
  // One (shared by every thread) or one per thread.
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  size_t next_context_ = 0;  // round robin of new connections; accept handler only
  // Keep the I/O threads running while no socket operation is pending, as
  // when every open request waits for a group commit.
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  boost::asio::ip::tcp::acceptor acceptor_;
  // The listener's pause (accept handler only): after a failed accept, or at
  // max_connections.
  boost::asio::steady_timer accept_retry_;
  uint64_t pauses_ = 0;  // since the last warning logged
  std::chrono::steady_clock::time_point warned_at_{};
  uint16_t port_ = 0;
  std::vector<std::thread> threads_;
};

}  // namespace errata::http
