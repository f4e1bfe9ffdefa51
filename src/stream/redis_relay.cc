#include "stream/redis_relay.h"

#include <hiredis/hiredis.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <vector>

#include "log/log.h"

namespace errata {
namespace {
constexpr size_t kMaxQueued = 10000;
// The flush marker's type. Its user id is empty, so that other nodes (older
// builds too) deliver it to no stream.
constexpr std::string_view kFlushType = "flush";

std::string NewNonce() {
  std::random_device rd;
  return std::to_string(rd()) + "-" + std::to_string(rd()) + "-" + std::to_string(::getpid());
}

std::string Message(std::string_view user_id, std::string_view type, std::string_view data) {
  std::string m;
  m.reserve(user_id.size() + type.size() + data.size() + 2);
  m.append(user_id).append("\n").append(type).append("\n").append(data);
  return m;
}
}  // namespace

RedisRelay::RedisRelay(redis::Url url, EventHub* hub, Deliver deliver)
    : url_(std::move(url)), hub_(hub), deliver_(std::move(deliver)), flush_nonce_(NewNonce()) {}

RedisRelay::~RedisRelay() { Stop(); }

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
  const int fd = subscriber_fd_.load();
  if (fd >= 0) ::shutdown(fd, SHUT_RDWR);  // unblocks the subscriber's read
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

// Blocks on the subscription; reconnects (every 200 ms while down) until stopped.
void RedisRelay::SubscribeLoop() {
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (stopping_) return;
    }
    timeval tv{0, 200'000};
    redisContext* ctx = redisConnectWithTimeout(url_.host.c_str(), url_.port, tv);
    bool ok = ctx != nullptr && ctx->err == 0;
    if (ok && !url_.password.empty()) {
      auto* r = static_cast<redisReply*>(
          url_.user.empty() ? redisCommand(ctx, "AUTH %s", url_.password.c_str())
                            : redisCommand(ctx, "AUTH %s %s", url_.user.c_str(), url_.password.c_str()));
      ok = r != nullptr && r->type != REDIS_REPLY_ERROR;
      if (r) freeReplyObject(r);
    }
    if (ok) {
      auto* r = static_cast<redisReply*>(redisCommand(ctx, "SUBSCRIBE %s", kChannel));
      ok = r != nullptr;
      if (r) freeReplyObject(r);
    }
    if (ok) {
      subscriber_fd_.store(ctx->fd);
      {
        std::unique_lock lock(mu_);
        subscribed_ = true;
        if (stopping_) ::shutdown(ctx->fd, SHUT_RDWR);
      }
      void* raw = nullptr;
      while (redisGetReply(ctx, &raw) == REDIS_OK) {
        auto* r = static_cast<redisReply*>(raw);
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
            r->element[2]->type == REDIS_REPLY_STRING) {
          std::string_view m(r->element[2]->str, r->element[2]->len);
          const size_t a = m.find('\n');
          const size_t b = a == m.npos ? m.npos : m.find('\n', a + 1);
          if (b != m.npos) {
            const std::string user(m.substr(0, a)), type(m.substr(a + 1, b - a - 1)),
                data(m.substr(b + 1));
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
        }
        freeReplyObject(r);
      }
      subscriber_fd_.store(-1);
      std::lock_guard lock(mu_);
      subscribed_ = false;
      flush_cv_.notify_all();
    }
    if (ctx) redisFree(ctx);
    std::unique_lock lock(mu_);
    if (stopping_) return;
    cv_.wait_for(lock, std::chrono::milliseconds(200), [this] { return stopping_; });
  }
}

}  // namespace errata
