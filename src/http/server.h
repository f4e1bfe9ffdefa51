// Server: the HTTP/1.1 listener and connection sessions (Boost.Beast, one
// io_context run by N threads). It reads a request, finds its route, hands it
// to the handler and writes whatever the handler answers, when it answers.
// No business logic lives here.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "core/status.h"
#include "http/router.h"
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
  };
  Server(Options options, const Router& router, Metrics* metrics, ErrorRenderer errors);
  ~Server();

  // Binds and listens. Unavailable if the address is taken.
  Status Listen();
  uint16_t port() const { return port_; }
  // Runs the I/O threads; returns at once. Join() waits for them.
  void Start();
  // Closes the listener: no new connections; open ones go on.
  void StopAccepting();
  // Requests read but not yet answered.
  int64_t in_flight() const { return in_flight_.load(); }
  // Stops all I/O and joins the threads.
  void Stop();

  // Used by sessions.
  const Router& router() const { return router_; }
  Metrics* metrics() { return metrics_; }
  const ErrorRenderer& errors() const { return errors_; }
  size_t body_limit() const { return options_.body_limit; }
  std::atomic<int64_t>& in_flight_counter() { return in_flight_; }

 private:
  void Accept();

  Options options_;
  const Router& router_;
  Metrics* metrics_;
  ErrorRenderer errors_;
  boost::asio::io_context ioc_;
  // Keeps the I/O threads running while no socket operation is pending, as
  // when every open request waits for a group commit.
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  boost::asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::atomic<int64_t> in_flight_{0};
  std::vector<std::thread> threads_;
};

}  // namespace errata::http
