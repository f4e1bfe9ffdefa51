// RedisConn: one synchronous hiredis connection with timeouts, and the
// redis:// URL errata's --cache takes. Not thread-safe: one thread at a time
// (the writer owns one, readers lease them from a pool). After any I/O or
// protocol error the connection is closed and reconnects on next use.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

struct redisContext;
struct redisReply;

namespace errata::redis {

// redis://[[user]:password@]host[:port][/db]   (db: the database index, default 0)
struct Url {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string user;
  std::string password;
  // The URL without the password, for logs and /readyz.
  std::string Describe() const;
};
Result<Url> ParseUrl(std::string_view url);

// An owned reply; null when the command could not be sent or read.
struct ReplyDeleter {
  void operator()(redisReply* r) const;
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

class RedisConn {
 public:
  struct Options {
    std::chrono::milliseconds connect_timeout{200};
    std::chrono::milliseconds command_timeout{200};
  };
  RedisConn(Url url, Options options) : url_(std::move(url)), options_(options) {}
  ~RedisConn();
  RedisConn(const RedisConn&) = delete;
  RedisConn& operator=(const RedisConn&) = delete;

  // Connects if not connected (AUTH, SELECT db, and `on_connect`'s commands).
  Status Ensure();
  bool connected() const { return ctx_ != nullptr; }
  void Close();

  // Sends one command and reads its reply. A reply of type error is returned
  // as Unavailable with the server's message (the connection stays open);
  // I/O errors close the connection.
  Result<Reply> Command(const std::vector<std::string>& args);
  // Pipelines the commands (one round trip) and returns their replies in
  // order. Fails as a whole on an I/O error; per-command error replies are
  // left in the replies for the caller to inspect.
  Result<std::vector<Reply>> Pipeline(const std::vector<std::vector<std::string>>& commands);

 private:
  Status IoError(const char* what);
  Url url_;
  Options options_;
  redisContext* ctx_ = nullptr;
};

// Helpers over replies.
bool IsError(const redisReply* r);
std::string ErrorText(const redisReply* r);
// A bulk/status string reply's text; "" for nil.
std::string Text(const redisReply* r);

}  // namespace errata::redis
