#include "store/redis/redis_conn.h"

#include <hiredis/hiredis.h>

#include <fmt/format.h>

#include <charconv>

namespace errata::redis {
namespace {

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

bool ParseInt(std::string_view s, int* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::string Url::Describe() const {
  const std::string auth = user.empty() && password.empty() ? "" : fmt::format("{}:***@", user);
  const bool v6 = host.find(':') != std::string::npos;
  return fmt::format("redis://{}{}{}{}:{}/{}", auth, v6 ? "[" : "", host, v6 ? "]" : "", port, db);
}

Result<Url> ParseUrl(std::string_view url) {
  constexpr std::string_view kScheme = "redis://";
  if (!url.starts_with(kScheme)) {
    return Status::InvalidArgument("cache URL must start with redis://: " + std::string(url));
  }
  std::string_view rest = url.substr(kScheme.size());
  Url out;
  if (const size_t at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view auth = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const size_t colon = auth.find(':');
    if (colon == std::string_view::npos) {
      out.password = std::string(auth);  // redis://secret@host: a password alone
    } else {
      out.user = std::string(auth.substr(0, colon));
      out.password = std::string(auth.substr(colon + 1));
    }
  }
  std::string_view hostport = rest;
  if (const size_t slash = rest.find('/'); slash != std::string_view::npos) {
    hostport = rest.substr(0, slash);
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty() && (!ParseInt(db, &out.db) || out.db < 0)) {
      return Status::InvalidArgument("bad database index in cache URL: " + std::string(url));
    }
  }
  if (hostport.starts_with('[')) {  // [::1]:6379
    const size_t close = hostport.find(']');
    if (close == std::string_view::npos) return Status::InvalidArgument("bad cache URL host");
    out.host = std::string(hostport.substr(1, close - 1));
    hostport = hostport.substr(close + 1);
    if (hostport.starts_with(':') && !ParseInt(hostport.substr(1), &out.port)) {
      return Status::InvalidArgument("bad port in cache URL: " + std::string(url));
    }
  } else if (const size_t colon = hostport.rfind(':'); colon != std::string_view::npos) {
    out.host = std::string(hostport.substr(0, colon));
    if (!ParseInt(hostport.substr(colon + 1), &out.port)) {
      return Status::InvalidArgument("bad port in cache URL: " + std::string(url));
    }
  } else if (!hostport.empty()) {
    out.host = std::string(hostport);
  }
  if (out.host.empty()) out.host = "127.0.0.1";
  if (out.port <= 0 || out.port > 65535) return Status::InvalidArgument("bad port in cache URL");
  return out;
}

void ReplyDeleter::operator()(redisReply* r) const {
  if (r != nullptr) freeReplyObject(r);
}

bool IsError(const redisReply* r) { return r == nullptr || r->type == REDIS_REPLY_ERROR; }

std::string ErrorText(const redisReply* r) {
  if (r == nullptr) return "no reply";
  return r->type == REDIS_REPLY_ERROR ? std::string(r->str, r->len) : "";
}

std::string Text(const redisReply* r) {
  if (r == nullptr) return "";
  switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      return std::string(r->str, r->len);
    case REDIS_REPLY_INTEGER:
      return std::to_string(r->integer);
    default:
      return "";
  }
}

RedisConn::~RedisConn() { Close(); }

void RedisConn::Close() {
  if (ctx_ != nullptr) redisFree(ctx_);
  ctx_ = nullptr;
}

Status RedisConn::IoError(const char* what) {
  std::string msg = std::string("redis ") + what + ": ";
  msg += ctx_ != nullptr && ctx_->errstr[0] != '\0' ? ctx_->errstr : "connection lost";
  Close();
  return Status::Unavailable(msg);
}

Status RedisConn::Ensure() {
  if (ctx_ != nullptr) return Status::Ok();
  const timeval connect = ToTimeval(options_.connect_timeout);
  ctx_ = redisConnectWithTimeout(url_.host.c_str(), url_.port, connect);
  if (ctx_ == nullptr) return Status::Unavailable("redis connect: out of memory");
  if (ctx_->err != 0) return IoError("connect");
  if (redisSetTimeout(ctx_, ToTimeval(options_.command_timeout)) != REDIS_OK) {
    return IoError("set timeout");
  }
  std::vector<std::vector<std::string>> setup;
  if (!url_.password.empty()) {
    if (url_.user.empty()) setup.push_back({"AUTH", url_.password});
    else setup.push_back({"AUTH", url_.user, url_.password});
  }
  if (url_.db != 0) setup.push_back({"SELECT", std::to_string(url_.db)});
  for (const auto& cmd : setup) {
    auto r = Command(cmd);
    if (!r.ok()) {
      Close();
      return r.status();
    }
  }
  return Status::Ok();
}

Result<Reply> RedisConn::Command(const std::vector<std::string>& args) {
  if (Status s = Ensure(); !s.ok()) return s;
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  Reply r(static_cast<redisReply*>(
      redisCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data())));
  if (r == nullptr) return IoError("command");
  if (r->type == REDIS_REPLY_ERROR) return Status::Unavailable("redis: " + ErrorText(r.get()));
  return r;
}

Result<std::vector<Reply>> RedisConn::Pipeline(
    const std::vector<std::vector<std::string>>& commands) {
  if (Status s = Ensure(); !s.ok()) return s;
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& args : commands) {
    argv.clear();
    lens.clear();
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    if (redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data()) !=
        REDIS_OK) {
      return IoError("append");
    }
  }
  std::vector<Reply> replies;
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr) return IoError("pipeline");
    replies.emplace_back(static_cast<redisReply*>(raw));
  }
  return replies;
}

}  // namespace errata::redis
