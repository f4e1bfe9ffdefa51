// The event relay against a real redis-server (scripts/redis-start.sh in a
// temporary directory).
#include "stream/redis_relay.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

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

}  // namespace
}  // namespace errata
