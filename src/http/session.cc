#include "http/session.h"

#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <random>

#include "http/server.h"
#include "log/log.h"

namespace errata::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

constexpr auto kIdleTimeout = std::chrono::seconds(60);

std::string NewRequestId() {
  static const uint64_t prefix = std::random_device{}();
  static std::atomic<uint64_t> counter{0};
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%08llx-%llx", static_cast<unsigned long long>(prefix & 0xffffffff),
                static_cast<unsigned long long>(counter.fetch_add(1) + 1));
  return buf;
}

// The client's X-Request-Id if it sent a sane one, else a new id.
std::string RequestId(const Request& req) {
  auto id = req.find("X-Request-Id");
  if (id == req.end() || id->value().empty() || id->value().size() > 64) return NewRequestId();
  return std::string(id->value());
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(net::ip::tcp::socket socket, Server* server)
      : stream_(std::move(socket)), server_(server) {}

  void Read() {
    parser_.emplace();
    parser_->body_limit(server_->body_limit());
    parser_->header_limit(16 * 1024);
    stream_.expires_after(kIdleTimeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

 private:
  void OnRead(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout ||
        ec == net::error::connection_reset || ec == net::error::operation_aborted) {
      return Close();
    }
    if (ec == bhttp::error::body_limit) {
      return Fail(413, "payload_too_large",
                  "request body exceeds " + std::to_string(server_->body_limit()) + " bytes");
    }
    if (ec) return Fail(400, "bad_request", "malformed HTTP request: " + ec.message());
    req_ = parser_->release();
    Dispatch();
  }

  // Answers an HTTP-level error and closes the connection afterwards.
  void Fail(int status, std::string_view code, const std::string& message) {
    close_after_ = true;
    start_ = Clock::now();
    request_id_ = RequestId(parser_->get());
    route_ = server_->router().routes().size();
    server_->in_flight_counter().fetch_add(1);
    const std::string path = parser_ ? std::string(parser_->get().target()) : "";
    Write(server_->errors()(status, code, message, path));
  }

  void Dispatch() {
    start_ = Clock::now();
    server_->in_flight_counter().fetch_add(1);
    request_id_ = RequestId(req_);
    close_after_ = !req_.keep_alive();
    const std::string_view target(req_.target().data(), req_.target().size());
    const size_t q = target.find('?');
    const std::string_view path = target.substr(0, q);
    const std::string_view query = q == std::string_view::npos ? "" : target.substr(q + 1);
    PathParams params;
    std::string allow;
    size_t index = 0;
    const Router& router = server_->router();
    route_ = router.routes().size();
    switch (router.Find(req_.method(), path, &index, &params, &allow)) {
      case Router::Match::kNoRoute:
        return Write(server_->errors()(404, "route_not_found", "Not Found", path));
      case Router::Match::kWrongMethod: {
        Response r = server_->errors()(405, "method_not_allowed", "Method Not Allowed", path);
        r.headers.emplace_back("Allow", allow);
        return Write(std::move(r));
      }
      case Router::Match::kFound:
        break;
    }
    route_ = index;
    RouteContext ctx{req_, std::move(params), query, request_id_};
    router.route(index).handler(ctx, [self = shared_from_this()](Response r) {
      net::post(self->stream_.get_executor(),
                [self, r = std::move(r)]() mutable { self->Write(std::move(r)); });
    });
  }

  void Write(Response r) {
    res_ = {};
    res_.version(11);
    res_.result(static_cast<unsigned>(r.status));
    res_.set(bhttp::field::server, "errata");
    res_.set(bhttp::field::content_type, r.content_type);
    res_.set("X-Request-Id", request_id_);
    for (auto& [k, v] : r.headers) res_.set(k, v);
    res_.keep_alive(!close_after_);
    res_.body() = std::move(r.body);
    res_.prepare_payload();
    Observe(r.status);
    bhttp::async_write(stream_, res_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec || self->close_after_) return self->Close();
      self->Read();
    });
  }

  void Observe(int status) {
    server_->in_flight_counter().fetch_sub(1);
    const double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    server_->metrics()->ObserveRequest(route_, status, seconds);
    const auto level = status >= 500 ? spdlog::level::warn : spdlog::level::debug;
    if (!spdlog::should_log(level)) return;
    log::Write(level, "request",
               {{"request_id", request_id_},
                {"method", std::string(req_.method_string())},
                {"target", std::string(req_.target())},
                {"status", status},
                {"ms", seconds * 1000}});
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  Server* server_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  Request req_;
  bhttp::response<bhttp::string_body> res_;
  std::string request_id_;
  Clock::time_point start_;
  size_t route_ = 0;
  bool close_after_ = false;
};

}  // namespace

void StartSession(net::ip::tcp::socket socket, Server* server) {
  std::make_shared<Session>(std::move(socket), server)->Read();
}

}  // namespace errata::http
