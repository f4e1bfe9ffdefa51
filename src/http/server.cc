#include "http/server.h"

#include <pthread.h>

#include <boost/asio/strand.hpp>

#include <algorithm>

#include "http/session.h"
#include "log/log.h"

namespace errata::http {

namespace net = boost::asio;
using tcp = net::ip::tcp;

Server::Server(Options options, const Router& router, Metrics* metrics, ErrorRenderer errors)
    : options_(std::move(options)),
      router_(router),
      metrics_(metrics),
      errors_(std::move(errors)),
      contexts_(MakeContexts(options_)),
      acceptor_(*contexts_.front()),
      accept_retry_(*contexts_.front()) {}

Server::~Server() { Stop(); }

std::vector<std::unique_ptr<net::io_context>> Server::MakeContexts(const Options& options) {
  std::vector<std::unique_ptr<net::io_context>> contexts;
  if (options.per_thread_contexts) {
    // Concurrency hint 1: one thread runs it, so its scheduler takes no locks.
    for (int i = 0; i < std::max(1, options.threads); ++i) {
      contexts.push_back(std::make_unique<net::io_context>(1));
    }
  } else {
    contexts.push_back(std::make_unique<net::io_context>(options.threads));
  }
  // Asio makes a context's epoll instance with its first socket or timer,
  // and throws if that fails: a context's first connection, arriving when
  // the process was out of file descriptors, aborted the server. A timer
  // makes it now, where a failure stops the start-up instead.
  for (auto& ctx : contexts) net::steady_timer make_reactor(*ctx);
  return contexts;
}

net::any_io_executor Server::NextConnectionExecutor() {
  if (!options_.per_thread_contexts) return net::make_strand(*contexts_.front());
  net::io_context& ctx = *contexts_[next_context_];
  next_context_ = (next_context_ + 1) % contexts_.size();
  return ctx.get_executor();
}

Status Server::Listen() {
  boost::system::error_code ec;
  const auto address = net::ip::make_address(options_.address, ec);
  if (ec) return Status::InvalidArgument("bad listen address: " + options_.address);
  const tcp::endpoint endpoint(address, options_.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable("listen on " + options_.address + ":" +
                               std::to_string(options_.port) + ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
  return Status::Ok();
}

void Server::Accept() {
  if (options_.max_connections > 0 && connections_.load() >= options_.max_connections) {
    return PauseAccepting(std::chrono::milliseconds(10), "connection limit reached; new connections wait",
                          {{"max_connections", options_.max_connections}});
  }
  acceptor_.async_accept(NextConnectionExecutor(), [this](boost::system::error_code ec,
                                                         tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // Out of file descriptors (EMFILE, ENFILE) or memory, the connection
      // stays in the listen queue, and an accept at once fails again at once:
      // the loop held a core, and the connections of its thread waited
      // behind it. A connection that closes frees a descriptor.
      metrics_->AcceptFailed();
      return PauseAccepting(std::chrono::milliseconds(100), "accept failed; pausing the listener",
                            {{"error", ec.message()}});
    }
    socket.set_option(tcp::no_delay(true), ec);
    connections_.fetch_add(1);
    StartSession(std::move(socket), this);
    Accept();
  });
}

// The listener stops for `pause`, while the connections open go on being
// served, then accepts again. New connections wait in the listen queue. The
// warning is logged at most every 10 s, with the pauses since.
void Server::PauseAccepting(std::chrono::milliseconds pause, std::string_view why,
                            log::Fields fields) {
  ++pauses_;
  const auto now = std::chrono::steady_clock::now();
  if (now - warned_at_ >= std::chrono::seconds(10)) {
    fields["pauses"] = pauses_;
    fields["pause_ms"] = pause.count();
    log::Warn(why, fields);
    warned_at_ = now;
    pauses_ = 0;
  }
  accept_retry_.expires_after(pause);
  accept_retry_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || !acceptor_.is_open()) return;
    Accept();
  });
}

void Server::Start() {
  for (auto& ctx : contexts_) work_.push_back(net::make_work_guard(*ctx));
  Accept();
  for (int i = 0; i < options_.threads; ++i) {
    net::io_context* ctx = contexts_[i % contexts_.size()].get();
    threads_.emplace_back([ctx, i] {
      const std::string name = "http-" + std::to_string(i);
      pthread_setname_np(pthread_self(), name.c_str());
      ctx->run();
    });
  }
}

void Server::StopAccepting() {
  stopping_.store(true);
  net::post(acceptor_.get_executor(), [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
    accept_retry_.cancel();
  });
}

void Server::Stop() {
  work_.clear();
  for (auto& ctx : contexts_) ctx->stop();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

}  // namespace errata::http
