#include "http/server.h"

#include <boost/asio/strand.hpp>

#include "http/session.h"

namespace errata::http {

namespace net = boost::asio;
using tcp = net::ip::tcp;

Server::Server(Options options, const Router& router, Metrics* metrics, ErrorRenderer errors)
    : options_(std::move(options)),
      router_(router),
      metrics_(metrics),
      errors_(std::move(errors)),
      ioc_(options_.threads),
      acceptor_(ioc_) {}

Server::~Server() { Stop(); }

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
  acceptor_.async_accept(net::make_strand(ioc_), [this](boost::system::error_code ec,
                                                        tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      socket.set_option(tcp::no_delay(true), ec);
      StartSession(std::move(socket), this);
    }
    Accept();
  });
}

void Server::Start() {
  work_.emplace(ioc_.get_executor());
  Accept();
  for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this] { ioc_.run(); });
}

void Server::StopAccepting() {
  net::post(ioc_, [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
  });
}

void Server::Stop() {
  work_.reset();
  ioc_.stop();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

}  // namespace errata::http
