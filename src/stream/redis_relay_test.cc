// The event relay against a real redis-server (scripts/redis-start.sh in a
// temporary directory).
#include "stream/redis_relay.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/ids.h"

namespace errata {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string Scripts() { return std::string(ERRATA_SOURCE_DIR) + "/scripts/"; }

class RedisRelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("errata-relay-test-" + NewUuidV7(NowMicros()));
    fs::create_directories(dir_);
    const std::string cmd = Scripts() + "redis-start.sh " + dir_.string() + "/redis > " +
                            (dir_ / "url").string();
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    std::ifstream in(dir_ / "url");
    std::string url;
    std::getline(in, url);
    auto parsed = redis::ParseUrl(url);
    ASSERT_TRUE(parsed.ok()) << url;
    url_ = *parsed;
  }

  void TearDown() override {
    const std::string cmd = Scripts() + "redis-stop.sh " + dir_.string() + "/redis";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    fs::remove_all(dir_);
  }

  // Publishes probes until one comes back: the relay is subscribed.
  static void WaitSubscribed(RedisRelay* relay, const std::atomic<int>& probes) {
    for (int i = 0; i < 500 && probes.load() == 0; ++i) {
      relay->Publish("probe", "t", "");
      std::this_thread::sleep_for(10ms);
    }
    ASSERT_GT(probes.load(), 0) << "the relay never subscribed";
  }

  fs::path dir_;
  redis::Url url_;
};

// At shutdown the events still queued go out, and this node's own come back
// to it: Stop sent nothing of what was queued, and stopped the subscription
// at once.
TEST_F(RedisRelayTest, StopSendsWhatIsQueuedAndDeliversItsOwnEvents) {
  std::atomic<int> probes{0}, got{0};
  RedisRelay relay(url_, nullptr, [&](const std::string& user, const std::string&,
                                      const std::string&) { ++(user == "probe" ? probes : got); });
  relay.Start();
  WaitSubscribed(&relay, probes);
  constexpr int kEvents = 5000;
  for (int i = 0; i < kEvents; ++i) relay.Publish("u", "profile", std::to_string(i));
  relay.Stop(5s);
  EXPECT_EQ(got.load(), kEvents);
  EXPECT_EQ(relay.dropped(), 0u);
}

// A Redis that answers each SUBSCRIBE with reply(n), n counting the
// SUBSCRIBEs from 0 ("" answers nothing), and nothing else: a PING goes
// unanswered, as from a host gone without a reset.
class FakeRedis {
 public:
  static constexpr const char* kSubscribed =
      "*3\r\n$9\r\nsubscribe\r\n$13\r\nerrata:events\r\n:1\r\n";

  explicit FakeRedis(std::function<std::string(int)> reply) : reply_(std::move(reply)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&a), len), 0);
    EXPECT_EQ(::listen(listener_, 16), 0);
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~FakeRedis() {
    stop_ = true;
    thread_.join();
    for (const int fd : clients_) ::close(fd);
    ::close(listener_);
  }
  redis::Url url() const {
    redis::Url u;
    u.port = port_;
    return u;
  }
  int subscribes() const { return subscribes_.load(); }

 private:
  void Loop() {
    std::vector<std::string> in;
    while (!stop_) {
      std::vector<pollfd> fds{{listener_, POLLIN, 0}};
      for (const int fd : clients_) fds.push_back({fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 10) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        clients_.push_back(::accept(listener_, nullptr, nullptr));
        in.emplace_back();
      }
      for (size_t i = 1; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        char buf[512];
        const ssize_t n = ::recv(fds[i].fd, buf, sizeof(buf), 0);
        if (n <= 0) {
          ::close(clients_[i - 1]);
          clients_[i - 1] = -1;  // poll skips it
          continue;
        }
        std::string& got = in[i - 1];
        const bool before = got.find("SUBSCRIBE") != std::string::npos;
        got.append(buf, n);
        if (!before && got.find("SUBSCRIBE") != std::string::npos) {
          const std::string reply = reply_(subscribes_++);
          if (!reply.empty()) ::send(fds[i].fd, reply.data(), reply.size(), MSG_NOSIGNAL);
        }
      }
    }
  }

  std::function<std::string(int)> reply_;
  int listener_ = -1;
  int port_ = 0;
  std::vector<int> clients_;  // Loop's, then the destructor's
  std::atomic<int> subscribes_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

RedisRelay::Options Quick() {
  RedisRelay::Options o;
  o.ping_after = 50ms;
  o.pong_timeout = 50ms;
  o.retry_every = 10ms;
  return o;
}

template <class Predicate>
bool WaitFor(Predicate p, std::chrono::milliseconds limit = 3s) {
  for (auto end = std::chrono::steady_clock::now() + limit; !p();) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// A Redis that stops answering (no reset, no close): the subscription PINGs
// it, and subscribes again elsewhere when no answer comes. A read without
// a deadline waited there for good, every other node's event lost.
TEST(RedisRelayFakeTest, SubscribesAgainWhenRedisStopsAnswering) {
  FakeRedis redis([](int) { return FakeRedis::kSubscribed; });
  RedisRelay relay(redis.url(), nullptr, [](auto&, auto&, auto&) {}, Quick());
  relay.Start();
  EXPECT_TRUE(WaitFor([&] { return relay.subscribed(); }));
  EXPECT_TRUE(WaitFor([&] { return redis.subscribes() >= 2; })) << redis.subscribes();
  relay.Stop(0ms);
}

// SUBSCRIBE answered with an error: no event would ever come on that
// connection. It is not taken for a subscription (it was, and its read
// then waited for good).
TEST(RedisRelayFakeTest, AnErrorAnswerToSubscribeIsNoSubscription) {
  FakeRedis redis([](int n) { return n == 0 ? "-NOPERM no access to the channel\r\n" : ""; });
  RedisRelay::Options o = Quick();
  o.ping_after = 10s;  // only the answer can tell
  RedisRelay relay(redis.url(), nullptr, [](auto&, auto&, auto&) {}, o);
  relay.Start();
  EXPECT_TRUE(WaitFor([&] { return redis.subscribes() >= 2; }, 2s)) << redis.subscribes();
  EXPECT_FALSE(relay.subscribed());
  relay.Stop(0ms);
}

}  // namespace
}  // namespace errata
