#include "http/session.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <atomic>
#include <charconv>
#include <deque>
#include <mutex>
#include <chrono>
#include <ctime>
#include <memory>
#include <optional>
#include <random>

#include "core/search_fold.h"
#include "http/server.h"
#include "log/log.h"

namespace errata::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

constexpr uint32_t kHeaderLimit = 16 * 1024;  // a request's line and headers
constexpr size_t kMaxQueuedChunks = 256;  // per stream; beyond it the client is slow
// Lingering close (Session::Linger): how long, and how much, a connection
// closing after an error answer reads and discards what its client still
// sends, before it closes. nginx's lingering_close does the same.
constexpr auto kLingerTime = std::chrono::seconds(3);
constexpr size_t kLingerBytes = 4 << 20;
constexpr size_t kLingerRead = 16 << 10;  // bytes a read

// "%08x-%x" of a per-process random prefix and a counter, written without
// snprintf, whose format parsing cost 1.2k instructions a request.
std::string NewRequestId() {
  static const uint32_t prefix = static_cast<uint32_t>(std::random_device{}());
  static std::atomic<uint64_t> counter{0};
  static constexpr char kHex[] = "0123456789abcdef";
  char buf[9 + 16];
  for (int i = 0; i < 8; ++i) buf[i] = kHex[(prefix >> (28 - 4 * i)) & 0xf];
  buf[8] = '-';
  char* end = std::to_chars(buf + 9, buf + sizeof(buf), counter.fetch_add(1) + 1, 16).ptr;
  return std::string(buf, end);
}

// The client's X-Request-Id if it sent a sane one, else a new id.
std::string RequestId(const Request& req) {
  auto id = req.find("X-Request-Id");
  if (id == req.end() || id->value().empty() || id->value().size() > 64) return NewRequestId();
  for (const char c : id->value()) {
    if (c < 0x21 || c > 0x7e) return NewRequestId();  // it is echoed in a header
  }
  return std::string(id->value());
}

// The Date header's value (RFC 9110, 6.6.1: "Sun, 06 Nov 1994 08:49:37 GMT"),
// formatted once a second per thread.
std::string_view HttpDate() {
  thread_local std::time_t formatted_at = -1;
  thread_local char text[32];
  thread_local size_t size = 0;
  const std::time_t now = std::time(nullptr);
  if (now != formatted_at) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    size = std::strftime(text, sizeof(text), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    formatted_at = now;
  }
  return {text, size};
}

// A request target in absolute form ("http://host:8000/v1/users?x=1"), which
// a server must accept (RFC 9112, 3.2.2), as its origin form: "/v1/users?x=1".
// Without a path it is "/" or "?x=1" (which Dispatch reads as "/"). Any other
// target is returned as it is.
std::string_view OriginForm(std::string_view target) {
  if (target.empty() || target.front() == '/') return target;
  size_t authority = 0;
  if (beast::iequals(target.substr(0, 7), "http://")) authority = 7;
  if (beast::iequals(target.substr(0, 8), "https://")) authority = 8;
  if (authority == 0) return target;
  const size_t end = target.find_first_of("/?", authority);
  return end == std::string_view::npos ? std::string_view("/") : target.substr(end);
}

// The path of an origin-form target ("/v1/users?x=1": "/v1/users"; "?x=1": "/").
std::string_view PathOf(std::string_view target) {
  const size_t q = target.find('?');
  return q == 0 ? "/" : target.substr(0, q);
}

class Session : public EventSink, public std::enable_shared_from_this<Session> {
 public:
  Session(net::ip::tcp::socket socket, Server* server)
      : stream_(std::move(socket)), server_(server), stream_deadline_(stream_.get_executor()) {}
  ~Session() override {
    Uncount();
    server_->ConnectionClosed();
  }

  // Reads the head first: a request without a body (every GET) is complete
  // then, and one that sent "Expect: 100-continue" waits for an interim 100
  // before it sends its body (RFC 9110, 10.1.1). Without the 100 such a
  // client stalls for its own timeout (curl's is 1 s) on every request. A
  // body announced over the limit fails in the head, so that client gets its
  // 413 without sending the body at all.
  void Read() {
    parser_.emplace();
    parser_->body_limit(server_->body_limit());
    parser_->header_limit(kHeaderLimit);
    stream_.expires_after(server_->idle_timeout());
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHead(ec); });
  }

 private:
  void OnHead(beast::error_code ec) {
    // A request counts as in flight from its head: one whose body is still
    // coming when errata is told to stop is read and answered in the drain,
    // not cut off (docs/http.md).
    if (!ec) Count();
    if (!ec && !TransferCodingsUnderstood()) return;
    if (ec || parser_->is_done()) return OnRead(ec);
    const auto expect = parser_->get().find(bhttp::field::expect);
    if (expect != parser_->get().end() && parser_->get().version() >= 11 &&
        beast::iequals(expect->value(), "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                       [self = shared_from_this()](beast::error_code ec, size_t) {
                         if (ec) {
                           self->Uncount();  // no answer goes out
                           return self->Close();
                         }
                         self->ReadBody();
                       });
      return;
    }
    ReadBody();
  }

  // A request's Transfer-Encoding must be "chunked" alone. Beast reads a
  // request whose last coding is not chunked as one without a body, and the
  // bytes after its head as the next request: a proxy that framed it
  // otherwise would disagree with errata on where requests end (request
  // smuggling). So that is a 400 (RFC 9112, 6.3). Another coding before
  // chunked, which errata does not decode, is a 400 too: RFC 9112 6.1 would
  // have a 501, but the sender's framing is the client's error, and a 5xx
  // would page operators for it. Both close the connection. Fails the
  // request and returns false otherwise.
  bool TransferCodingsUnderstood() {
    const auto& req = parser_->get();
    const auto te = req.find(bhttp::field::transfer_encoding);
    if (te == req.end()) return true;
    if (!parser_->chunked()) {
      Fail(400, "bad_request", "Transfer-Encoding must end in chunked");
      return false;
    }
    for (const auto& coding : bhttp::token_list{te->value()}) {
      if (!beast::iequals(coding, "chunked")) {
        Fail(400, "bad_request", "transfer coding " + ValidUtf8(coding) + " is not supported");
        return false;
      }
    }
    return true;
  }

  void ReadBody() {
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout ||
        ec == net::error::connection_reset || ec == net::error::operation_aborted) {
      Uncount();  // no answer goes out
      return Close();
    }
    if (ec == bhttp::error::body_limit) {
      return Fail(413, "payload_too_large",
                  "request body exceeds " + std::to_string(server_->body_limit()) + " bytes");
    }
    if (ec == bhttp::error::header_limit) {
      return Fail(431, "headers_too_large",
                  "request head exceeds " + std::to_string(kHeaderLimit) + " bytes");
    }
    if (ec) return Fail(400, "bad_request", "malformed HTTP request: " + ec.message());
    req_ = parser_->release();
    Dispatch();
  }

  // Answers an HTTP-level error and closes the connection afterwards.
  void Fail(int status, std::string_view code, const std::string& message) {
    close_after_ = true;
    linger_ = true;  // the client may still be sending the request's body
    head_only_ = false;
    start_ = Clock::now();
    req_ = parser_->release();  // its head, as far as it was read, for the log line
    request_id_ = RequestId(req_);
    route_ = server_->router().routes().size();
    Count();
    // The path names the error's flavour (v1's or the seed routes'), from the
    // origin form as for routing: "http://host/v1/users" is a v1 path.
    const auto target = req_.target();
    const std::string_view path = PathOf(OriginForm({target.data(), target.size()}));
    Write(server_->errors()(status, code, message, path));
  }

  void Dispatch() {
    start_ = Clock::now();
    Count();
    request_id_ = RequestId(req_);
    // Once errata is stopping, each answer is a connection's last, and says
    // so: the client sends its next request elsewhere, not into the close.
    close_after_ = !req_.keep_alive() || server_->stopping();
    const std::string_view target = OriginForm({req_.target().data(), req_.target().size()});
    const size_t q = target.find('?');
    const std::string_view path = PathOf(target);
    const std::string_view query = q == std::string_view::npos ? "" : target.substr(q + 1);
    RouteContext ctx{req_, {}, query, request_id_};
    std::string allow;
    head_only_ = req_.method() == bhttp::verb::head;
    // An HTTP/1.1 request has one Host, and any request at most one (RFC
    // 9112, 3.2): a server must answer 400 otherwise. Two could name two
    // different origins to a proxy and to errata.
    if (const size_t hosts = req_.count(bhttp::field::host);
        hosts > 1 || (hosts == 0 && req_.version() >= 11)) {
      close_after_ = true;
      return Write(server_->errors()(
          400, "bad_request",
          hosts == 0 ? "an HTTP/1.1 request needs a Host header" : "a request has one Host header",
          path));
    }
    if (target == "*" && req_.method() == bhttp::verb::options) {  // the server as a whole
      Response r(204, "");
      r.headers.emplace_back("Allow", "GET, HEAD, POST, PATCH, DELETE, OPTIONS");
      return Write(std::move(r));
    }
    size_t index = 0;
    const Router& router = server_->router();
    route_ = router.routes().size();
    switch (router.Find(req_.method(), path, &index, &ctx.params, &allow)) {
      case Router::Match::kNoRoute:
        return Write(server_->errors()(404, "route_not_found", "Not Found", path));
      case Router::Match::kWrongMethod: {
        allow += ", OPTIONS";
        // OPTIONS on a path errata serves: what it takes (RFC 9110, 9.3.7).
        Response r = req_.method() == bhttp::verb::options
                         ? Response(204, "")
                         : server_->errors()(405, "method_not_allowed", "Method Not Allowed", path);
        r.headers.emplace_back("Allow", std::move(allow));
        return Write(std::move(r));
      }
      case Router::Match::kFound:
        break;
    }
    route_ = index;
    // A body errata would read as JSON but which is compressed gets a 415
    // that says so, not "invalid JSON" (RFC 9110, 15.5.16). A header's bytes
    // need not be UTF-8, and one echoed as it is would make the answer
    // invalid JSON: cleaned as query parameters are, to U+FFFD.
    if (const auto coding =
            req_.body().empty() ? req_.end() : req_.find(bhttp::field::content_encoding);
        coding != req_.end() && !beast::iequals(coding->value(), "identity")) {
      Response r = server_->errors()(415, "unsupported_media_type",
                                     "Content-Encoding " + ValidUtf8(coding->value()) +
                                         " is not supported: send the body uncompressed",
                                     path);
      r.headers.emplace_back("Accept-Encoding", "identity");
      return Write(std::move(r));
    }
    // dispatch: a handler that answers at once (a read) writes on this
    // thread without a trip through the queue; an answer from another thread
    // (the writer's, after a commit) is posted to the connection's executor.
    router.route(index).handler(ctx, [self = shared_from_this()](Response r) {
      net::dispatch(self->stream_.get_executor(),
                    [self, r = std::move(r)]() mutable { self->Write(std::move(r)); });
    });
  }

  // Writes the status line and headers as one string and the body beside it,
  // in one gathered write. Beast's serializer walks a variant of buffer
  // sequences for the same bytes, which cost about 7% of a read's CPU
  // (docs/http.md).
  //
  // A HEAD is answered as its GET, without the body: the same status and
  // headers, Content-Length included. A HEAD of a stream gets the stream's
  // head alone, and nothing subscribes. A 204 has neither a type nor a length
  // (RFC 9110, 8.6), nor has a 304: its length would be taken for the
  // stored file's (RFC 9110, 15.4.5).
  void Write(Response r) {
    if (r.stream && !head_only_) return StartStream(std::move(r));
    body_ = std::move(r.body);
    head_.clear();
    head_.append("HTTP/1.1 ").append(std::to_string(r.status)).append(" ");
    head_.append(bhttp::obsolete_reason(static_cast<bhttp::status>(r.status)));
    head_.append("\r\nServer: errata\r\nDate: ").append(HttpDate());
    const bool no_content = r.status == 204 || r.status == 304;
    if (!no_content) head_.append("\r\nContent-Type: ").append(r.content_type);
    head_.append("\r\nX-Request-Id: ").append(request_id_);
    bool cache_control = false;
    for (const auto& [k, v] : r.headers) {
      head_.append("\r\n").append(k).append(": ").append(v);
      cache_control = cache_control || beast::iequals(k, "Cache-Control");
    }
    // The API's JSON is about learners (their names, emails, words and
    // errors): no cache on the way, a proxy's or the browser's, may keep it
    // (RFC 9111, 5.2.2.5). The routes of static files set their own.
    if (!r.stream && !cache_control && r.status != 204 &&
        r.content_type.starts_with("application/json")) {
      head_.append("\r\nCache-Control: no-store");
    }
    if (r.stream) {
      head_.append("\r\nCache-Control: no-cache");
    } else if (!no_content) {
      head_.append("\r\nContent-Length: ").append(std::to_string(body_.size()));
    }
    if (close_after_) head_.append("\r\nConnection: close");
    head_.append("\r\n\r\n");
    if (head_only_) body_.clear();
    Observe(r.status);
    // The answer's own time to reach the client. The deadline Read set runs
    // from before the request came, through its wait on the connection: an
    // answer still being written when it passed was cut off mid-body (an
    // export of 6.1 MB arrived as 3.9 MB in tests/e2e/test_http.py).
    stream_.expires_after(server_->idle_timeout());
    const std::array<net::const_buffer, 2> out{net::buffer(head_), net::buffer(body_)};
    net::async_write(stream_, out, [self = shared_from_this()](beast::error_code ec, size_t) {
      self->Answered();
      if (ec || self->close_after_) return self->Close();
      self->Read();
    });
  }

  // The answer is out (or its connection gone): it no longer holds up the
  // drain at shutdown. Counted from here, not from Observe, as an answer
  // larger than the socket's buffers still goes out, to a slow reader, long
  // after its write began; the server stopped under it.
  void Answered() { Uncount(); }

  // The in-flight count, once per request: from its head (or its error,
  // when the head itself failed) to its answer's last byte.
  void Count() {
    if (counted_) return;
    counted_ = true;
    server_->in_flight_counter().fetch_add(1);
  }
  void Uncount() {
    if (!counted_) return;
    counted_ = false;
    server_->in_flight_counter().fetch_sub(1);
  }

  void Observe(int status) {
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

  // --- Server-Sent Events -------------------------------------------------
 public:
  bool Push(std::string chunk) override {
    std::lock_guard lock(stream_mu_);
    if (stream_done_ || stream_closing_ || queue_.size() >= kMaxQueuedChunks) return false;
    queue_.push_back(std::move(chunk));
    KickLocked();
    return true;
  }

  void Close(std::string final_chunk) override {
    std::lock_guard lock(stream_mu_);
    if (stream_done_ || stream_closing_) return;
    if (!final_chunk.empty()) queue_.push_back(std::move(final_chunk));
    stream_closing_ = true;
    KickLocked();
  }

  // The queue is full because the client does not take what is in it: the
  // final chunk queued behind it would never go out.
  bool Cut(std::string final_chunk) override {
    std::lock_guard lock(stream_mu_);
    if (stream_done_ || stream_closing_) return false;
    queue_.clear();
    if (!final_chunk.empty()) queue_.push_back(std::move(final_chunk));
    stream_closing_ = true;
    KickLocked();
    return true;
  }

  void OnClosed(std::function<void()> callback) override {
    {
      std::lock_guard lock(stream_mu_);
      if (!stream_done_) {
        on_closed_ = std::move(callback);
        return;
      }
    }
    callback();  // already over
  }

 private:
  void StartStream(Response r) {
    auto res = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::ok, 11);
    res->set(bhttp::field::server, "errata");
    res->set(bhttp::field::date, HttpDate());
    res->set(bhttp::field::content_type, r.content_type);
    res->set(bhttp::field::cache_control, "no-cache");
    res->set("X-Request-Id", request_id_);
    // A proxy must pass each event on as it comes (nginx buffers answers by
    // default, and honours this header per answer).
    res->set("X-Accel-Buffering", "no");
    // An HTTP/1.0 client does not know the chunked coding (RFC 9112, 6.1: a
    // server must not send it one): its stream goes as it is, and the
    // connection's close ends it.
    stream_chunked_ = req_.version() >= 11;
    res->chunked(stream_chunked_);
    if (!stream_chunked_) res->keep_alive(false);
    auto sr = std::make_shared<bhttp::response_serializer<bhttp::empty_body>>(*res);
    stream_.expires_never();  // each write has its own deadline (ArmWriteDeadline)
    Observe(200);
    // The stream starts (a subscription) before its head goes out: a client
    // that has the head may cause an event at once, and the event must find
    // the subscription. What it pushes meanwhile waits in the queue, as
    // writing_ holds the write loop until the head is written.
    {
      std::lock_guard lock(stream_mu_);
      writing_ = true;
    }
    r.stream(shared_from_this());
    ArmWriteDeadline();
    bhttp::async_write_header(stream_, *sr,
                              [self = shared_from_this(), res, sr](beast::error_code ec, size_t) {
                                self->DisarmWriteDeadline();
                                self->Answered();  // the rest is the hub's to end
                                if (ec) return self->FinishStream();
                                self->WatchForHangUp();
                                self->WriteNextChunk();
                              });
  }

  // A streaming client sends nothing; a read completes only when it goes away.
  void WatchForHangUp() {
    stream_.socket().async_read_some(
        net::buffer(hangup_buf_), [self = shared_from_this()](beast::error_code ec, size_t) {
          if (ec) return self->FinishStream();
          self->WatchForHangUp();
        });
  }

  // Starts the write loop if idle. Caller holds stream_mu_.
  void KickLocked() {
    if (writing_) return;
    writing_ = true;
    net::post(stream_.get_executor(), [self = shared_from_this()] { self->WriteNextChunk(); });
  }

  void WriteNextChunk() {
    bool last = false;
    {
      std::lock_guard lock(stream_mu_);
      if (stream_done_) return;
      if (queue_.empty()) {
        if (!stream_closing_) {
          writing_ = false;
          return;
        }
        last = true;  // closing and drained; writing_ stays set: nothing more goes out
      } else {
        chunk_ = std::move(queue_.front());
        queue_.pop_front();
      }
    }
    if (last && !stream_chunked_) return FinishStream();  // the close ends it
    ArmWriteDeadline();
    if (last) {  // the last chunk, then hang up
      net::async_write(stream_, bhttp::make_chunk_last(),
                       [self = shared_from_this()](beast::error_code, size_t) {
                         self->DisarmWriteDeadline();
                         self->FinishStream();
                       });
      return;
    }
    auto next = [self = shared_from_this()](beast::error_code ec, size_t) {
      self->DisarmWriteDeadline();
      if (ec) return self->FinishStream();
      self->WriteNextChunk();
    };
    if (stream_chunked_) {
      net::async_write(stream_, bhttp::make_chunk(net::buffer(chunk_)), std::move(next));
    } else {
      net::async_write(stream_, net::buffer(chunk_), std::move(next));
    }
  }

  // A stream's write must finish within the idle timeout. A client that
  // stops reading fills its socket's buffers and then holds the write, the
  // session and its subscription for good: neither the dropped event nor
  // the end of the stream could reach it. Such a connection is reset (a
  // zero linger), so that the kernel drops the megabytes it still queues for
  // it too, as nginx's reset_timedout_connection does; the write and the
  // hang-up read then fail, and FinishStream unsubscribes.
  void ArmWriteDeadline() {
    deadline_armed_ = true;
    stream_deadline_.expires_after(server_->idle_timeout());
    stream_deadline_.async_wait([self = shared_from_this()](beast::error_code ec) {
      // Cancelled; or it fired as its write finished (the write's handler
      // ran first), maybe with a later write armed since.
      if (ec || !self->deadline_armed_ ||
          self->stream_deadline_.expiry() > net::steady_timer::clock_type::now()) {
        return;
      }
      beast::error_code ignored;
      self->stream_.socket().set_option(net::socket_base::linger(true, 0), ignored);
      self->stream_.socket().close(ignored);
    });
  }

  void DisarmWriteDeadline() {
    deadline_armed_ = false;
    stream_deadline_.cancel();
  }

  void FinishStream() {
    std::function<void()> callback;
    {
      std::lock_guard lock(stream_mu_);
      if (stream_done_) return;
      stream_done_ = true;
      queue_.clear();
      callback = std::move(on_closed_);
    }
    if (callback) callback();
    beast::error_code ec;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  // Ends the connection once its last answer is written: the client reads
  // the end of it. With bytes still coming, it lingers first.
  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
    if (!ec && (linger_ || stream_.socket().available(ec) > 0)) Linger();
  }

  // A socket closed with received bytes unread sends a RST, and the client's
  // kernel then drops the answer it has not read yet. A client that writes
  // all of a request's body before it reads (Python's http.client) got a
  // broken pipe in place of its 413. So what the client still sends is read
  // and discarded, for at most kLingerTime and kLingerBytes, until it closes.
  void Linger() {
    stream_.expires_after(kLingerTime);
    LingerRead(0);
  }

  void LingerRead(size_t discarded) {
    stream_.async_read_some(buffer_.prepare(kLingerRead),
                            [self = shared_from_this(), discarded](beast::error_code ec, size_t n) {
                              if (ec || discarded + n >= kLingerBytes) return;  // the socket closes
                              self->LingerRead(discarded + n);
                            });
  }

  beast::tcp_stream stream_;
  Server* server_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  Request req_;
  std::string head_;  // the response being written: status line and headers
  std::string body_;  // and its body
  std::string request_id_;
  Clock::time_point start_;
  size_t route_ = 0;
  bool close_after_ = false;
  bool counted_ = false;    // in the server's in-flight count (Count)
  bool head_only_ = false;  // a HEAD: the answer goes without its body
  bool linger_ = false;     // an error answer: Close lingers (Linger)
  // Streaming state.
  std::mutex stream_mu_;
  std::deque<std::string> queue_;       // guarded by stream_mu_
  bool writing_ = false;                // guarded by stream_mu_
  bool stream_closing_ = false;         // guarded by stream_mu_
  bool stream_done_ = false;            // guarded by stream_mu_
  std::function<void()> on_closed_;     // guarded by stream_mu_
  std::string chunk_;                   // the chunk being written
  bool stream_chunked_ = true;          // false for an HTTP/1.0 client
  net::steady_timer stream_deadline_;   // of the stream's write in progress
  bool deadline_armed_ = false;         // a stream write is in progress
  std::array<char, 512> hangup_buf_{};
};

}  // namespace

void StartSession(net::ip::tcp::socket socket, Server* server) {
  std::make_shared<Session>(std::move(socket), server)->Read();
}

}  // namespace errata::http
