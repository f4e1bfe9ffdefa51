#include "http/slow_reads.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <thread>
#include <vector>

namespace errata::http {
namespace {

// Tasks run in order on one thread other than the caller's, at nice +10
// above the caller's.
TEST(SlowReadsTest, RunsTasksInOrderOnALowerPriorityThread) {
  const int caller_nice = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
  SlowReads slow;
  std::vector<int> order;
  std::promise<std::pair<std::thread::id, int>> where;
  ASSERT_TRUE(slow.Run([&] {
    where.set_value({std::this_thread::get_id(), getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()))});
  }));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(slow.Run([&order, i] { order.push_back(i); }));
  const auto [id, nice] = where.get_future().get();
  EXPECT_NE(id, std::this_thread::get_id());
  EXPECT_EQ(nice, std::min(caller_nice + 10, 19));
  slow.Stop();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

// With max_waiting tasks queued behind a running one, Run refuses; once
// they ran, it takes tasks again. Stop() runs what was queued; after it,
// Run refuses.
TEST(SlowReadsTest, RefusesBeyondItsBoundAndRunsWhatWasQueuedOnStop) {
  SlowReads slow(2);
  std::promise<void> started, release;
  std::shared_future<void> go = release.get_future().share();
  ASSERT_TRUE(slow.Run([&started, go] {
    started.set_value();
    go.wait();
  }));
  started.get_future().wait();  // the first task runs: the queue is empty
  std::atomic<int> ran{0};
  EXPECT_TRUE(slow.Run([&ran] { ++ran; }));
  EXPECT_TRUE(slow.Run([&ran] { ++ran; }));
  EXPECT_FALSE(slow.Run([&ran] { ran += 100; }));
  std::string metrics;
  slow.RenderMetrics(&metrics);
  EXPECT_NE(metrics.find("\nerrata_slow_reads_waiting 2\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("\nerrata_slow_reads_refused_total 1\n"), std::string::npos) << metrics;
  release.set_value();
  slow.Stop();
  EXPECT_EQ(ran.load(), 2);
  EXPECT_FALSE(slow.Run([&ran] { ++ran; }));
  EXPECT_EQ(ran.load(), 2);
  metrics.clear();
  slow.RenderMetrics(&metrics);
  EXPECT_NE(metrics.find("\nerrata_slow_reads_total 3\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("\nerrata_slow_reads_refused_total 2\n"), std::string::npos) << metrics;
}

}  // namespace
}  // namespace errata::http
