#include "stream/redis_relay.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>
#include <vector>

#include "log/log.h"

namespace errata {
namespace {
constexpr size_t kMaxQueued = 10000;
constexpr auto kLogEvery = std::chrono::minutes(1);  // NoteDown's rate
// The flush marker's type. Its user id is empty, so that other nodes (older
// builds too) deliver it to no stream.
constexpr std::string_view kFlushType = "flush";

std::string NewNonce() {
  std::random_device rd;
  return std::to_string(rd()) + "-" + std::to_string(rd()) + "-" + std::to_string(::getpid());
}

timeval ToTimeval(std::chrono::milliseconds ms) {
  return {static_cast<time_t>(ms.count() / 1000),
          static_cast<suseconds_t>(ms.count() % 1000 * 1000)};
}

std::string Message(std::string_view user_id, std::string_view type, std::string_view data) {
  std::string m;
  m.reserve(user_id.size() + type.size() + data.size() + 2);
  m.append(user_id).append("\n").append(type).append("\n").append(data);
  return m;
}
}  // namespace

RedisRelay::RedisRelay(redis::Url url, EventHub* hub, Deliver deliver, Options options)
    : url_(std::move(url)),
      hub_(hub),
      deliver_(std::move(deliver)),
      options_(options),
      flush_nonce_(NewNonce()),
      wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

RedisRelay::RedisRelay(redis::Url url, EventHub* hub, Deliver deliver)
    : RedisRelay(std::move(url), hub, std::move(deliver), Options{}) {}

RedisRelay::~RedisRelay() {
  Stop();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

bool RedisRelay::IsFlushMarker(std::string_view user, std::string_view type,
                               std::string_view data) const {
  return user.empty() && type == kFlushType && data == flush_nonce_;
}

// The marker came back; or it could not be sent, or there is no
// subscription to bring it back: nothing more to wait for.
bool RedisRelay::FlushedLocked() const {
  return marker_back_ || marker_ == Marker::kFailed || (marker_ == Marker::kSent && !subscribed_);
}

void RedisRelay::Stop(std::chrono::milliseconds flush) {
  {
    std::unique_lock lock(mu_);
    if (!stopping_ && publisher_.joinable()) {
      flushing_ = true;
      cv_.notify_all();
      flush_cv_.wait_for(lock, flush, [this] { return FlushedLocked(); });
    }
    stopping_ = true;
  }
  cv_.notify_all();
  if (wake_fd_ >= 0) {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof(one));  // wakes Listen's poll
  }
  if (publisher_.joinable()) publisher_.join();
  if (subscriber_.joinable()) subscriber_.join();
}

void RedisRelay::Start() {
  publisher_ = std::thread([this] { PublishLoop(); });
  subscriber_ = std::thread([this] { SubscribeLoop(); });
}

void RedisRelay::Publish(const std::string& user_id, const std::string& type,
                         const std::string& data) {
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= kMaxQueued) {
      dropped_.fetch_add(1);
      return;
    }
    queue_.push_back(Message(user_id, type, data));
  }
  cv_.notify_one();
}

void RedisRelay::PublishLoop() {
  redis::RedisConn conn(url_, {});
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || flushing_ || !queue_.empty(); });
    if (stopping_) break;
    if (queue_.empty()) {  // flushing, and everything went: the marker, last
      lock.unlock();
      const bool sent =
          conn.Pipeline({{"PUBLISH", kChannel, Message("", kFlushType, flush_nonce_)}}).ok();
      lock.lock();
      marker_ = sent ? Marker::kSent : Marker::kFailed;
      flush_cv_.notify_all();
      cv_.wait(lock, [this] { return stopping_; });
      break;
    }
    // Everything waiting, in one round trip.
    std::vector<std::vector<std::string>> commands;
    while (!queue_.empty() && commands.size() < 1000) {
      commands.push_back({"PUBLISH", kChannel, std::move(queue_.front())});
      queue_.pop_front();
    }
    lock.unlock();
    if (!conn.Pipeline(commands).ok()) dropped_.fetch_add(commands.size());
    lock.lock();
  }
  dropped_.fetch_add(queue_.size());  // never sent
  queue_.clear();
}

bool RedisRelay::subscribed() const {
  std::lock_guard lock(mu_);
  return subscribed_;
}

bool RedisRelay::Stopping() {
  std::lock_guard lock(mu_);
  return stopping_;
}

// Subscribes, delivers what arrives, and subscribes again after a failure
// (every retry_every while Redis is down), until stopped.
void RedisRelay::SubscribeLoop() {
  while (!Stopping()) {
    std::string error;
    if (redisContext* ctx = Subscribe(&error)) {
      {
        std::lock_guard lock(mu_);
        subscribed_ = true;
      }
      NoteUp();
      error = Listen(ctx);
      redisFree(ctx);
      std::lock_guard lock(mu_);
      subscribed_ = false;
      flush_cv_.notify_all();
    }
    if (Stopping()) return;
    NoteDown(error);
    // Not on cv_: Publish's notify_one would wake this wait, not the publisher.
    pollfd wake{wake_fd_, POLLIN, 0};
    ::poll(&wake, 1, static_cast<int>(options_.retry_every.count()));
  }
}

redisContext* RedisRelay::Subscribe(std::string* error) {
  const timeval tv = ToTimeval(options_.connect_timeout);
  redisContext* ctx = redisConnectWithTimeout(url_.host.c_str(), url_.port, tv);
  if (ctx == nullptr) {
    *error = "cannot allocate a connection";
    return nullptr;
  }
  // Commands (AUTH, SUBSCRIBE, PING) wait at most connect_timeout; the
  // kernel's keepalive finds a peer gone while nothing is sent.
  if (ctx->err == 0) redisSetTimeout(ctx, tv);
  if (ctx->err == 0) redisEnableKeepAlive(ctx);
  if (ctx->err == 0 && !url_.password.empty()) {
    const char* user = url_.user.c_str();
    const char* password = url_.password.c_str();
    redis::Reply r(static_cast<redisReply*>(
        url_.user.empty() ? redisCommand(ctx, "AUTH %s", password)
                          : redisCommand(ctx, "AUTH %s %s", user, password)));
    if (r && redis::IsError(r.get())) *error = "AUTH: " + redis::ErrorText(r.get());
  }
  if (ctx->err == 0 && error->empty()) {
    // The confirmation is ["subscribe", channel, 1]; an error reply (an ACL
    // that forbids the channel, a proxy without pub/sub) means no events
    // would ever come, though the connection stays open.
    redis::Reply r(static_cast<redisReply*>(redisCommand(ctx, "SUBSCRIBE %s", kChannel)));
    const bool confirmed = r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
                           redis::Text(r->element[0]) == "subscribe" &&
                           redis::Text(r->element[1]) == kChannel;
    if (r && !confirmed) {
      *error = std::string("SUBSCRIBE: ") +
               (redis::IsError(r.get()) ? redis::ErrorText(r.get()) : "unexpected reply");
    }
  }
  if (ctx->err != 0) *error = ctx->errstr;
  if (!error->empty()) {
    redisFree(ctx);
    return nullptr;
  }
  return ctx;
}

std::string RedisRelay::Listen(redisContext* ctx) {
  using Clock = std::chrono::steady_clock;
  auto heard = Clock::now();  // the last reply: a message, or PING's answer
  bool pinged = false;
  for (;;) {
    void* raw = nullptr;
    if (redisGetReplyFromReader(ctx, &raw) != REDIS_OK) return ctx->errstr;
    if (raw != nullptr) {  // one already read
      redis::Reply r(static_cast<redisReply*>(raw));
      heard = Clock::now();
      pinged = false;
      Handle(r.get());
      continue;
    }
    const auto until = heard + (pinged ? options_.ping_after + options_.pong_timeout
                                       : options_.ping_after);
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    pollfd fds[2] = {{ctx->fd, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    const int n = ::poll(fds, 2, static_cast<int>(std::max<int64_t>(0, wait.count()) + 1));
    if (Stopping()) return "";
    if (n < 0 && errno != EINTR) return std::string("poll: ") + std::strerror(errno);
    if (n > 0 && fds[0].revents != 0) {
      if (redisBufferRead(ctx) != REDIS_OK) return ctx->errstr;
    } else if (n == 0 && pinged) {
      return "no answer to PING in " + std::to_string(options_.pong_timeout.count()) + " ms";
    } else if (n == 0) {
      // In subscribed mode PING's answer is ["pong", ""], read like a message.
      if (redisAppendCommand(ctx, "PING") != REDIS_OK) return ctx->errstr;
      for (int done = 0; !done;) {
        if (redisBufferWrite(ctx, &done) != REDIS_OK) return ctx->errstr;
      }
      pinged = true;
    }
  }
}

// A message is ["message", channel, "user\ntype\ndata"]; anything else (the
// answer to PING) only shows that the connection is alive.
void RedisRelay::Handle(const redisReply* r) {
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || redis::Text(r->element[0]) != "message" ||
      r->element[2]->type != REDIS_REPLY_STRING) {
    return;
  }
  std::string_view m(r->element[2]->str, r->element[2]->len);
  const size_t a = m.find('\n');
  const size_t b = a == m.npos ? m.npos : m.find('\n', a + 1);
  if (b == m.npos) return;
  const std::string user(m.substr(0, a)), type(m.substr(a + 1, b - a - 1)), data(m.substr(b + 1));
  if (user.empty()) {  // a flush marker: this node's, or another's
    if (IsFlushMarker(user, type, data)) {
      std::lock_guard lock(mu_);
      marker_back_ = true;
      flush_cv_.notify_all();
    }
  } else if (deliver_) {
    deliver_(user, type, data);
  } else {
    hub_->Publish(user, type, data);
  }
}

void RedisRelay::NoteUp() {
  if (!ever_up_ || down_logged_) {
    log::Info("event relay subscribed", {{"redis", url_.Describe()},
                                         {"channel", kChannel},
                                         {"failures_not_logged", failures_unlogged_}});
  }
  ever_up_ = true;
  down_logged_ = false;
  failures_unlogged_ = 0;
}

void RedisRelay::NoteDown(const std::string& error) {
  const auto now = std::chrono::steady_clock::now();
  if (last_down_log_ != std::chrono::steady_clock::time_point{} &&
      now - last_down_log_ < kLogEvery) {
    ++failures_unlogged_;
    return;
  }
  log::Warn("event relay not subscribed: events from other nodes are lost until it is",
            {{"redis", url_.Describe()},
             {"error", error},
             {"failures_not_logged", failures_unlogged_}});
  last_down_log_ = now;
  down_logged_ = true;
  failures_unlogged_ = 0;
}

}  // namespace errata
