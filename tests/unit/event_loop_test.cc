// net::EventLoop: timers in order, cancel, cross-thread Post, fd readiness, self-removal, lag measurement.
#include <gtest/gtest.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include "net/event_loop.h"
#include "net/socket.h"

namespace pgw::net {
namespace {

TEST(EventLoopTest, TimersFireInDeadlineOrderAndCancelWorks) {
  RealClock clock;
  EventLoop loop(clock);
  ASSERT_TRUE(loop.Init().ok());
  std::vector<int> fired;
  loop.After(Duration(30), [&] { fired.push_back(3); });
  loop.After(Duration(10), [&] { fired.push_back(1); });
  auto id = loop.After(Duration(20), [&] { fired.push_back(2); });
  loop.Cancel(id);
  loop.After(Duration(40), [&] { loop.Stop(); });
  loop.Run();
  EXPECT_EQ(fired, (std::vector<int>{1, 3}));
}

TEST(EventLoopTest, PostFromAnotherThreadWakesTheLoop) {
  RealClock clock;
  EventLoop loop(clock);
  ASSERT_TRUE(loop.Init().ok());
  std::thread::id ran_on;
  std::thread t([&] {
    loop.Post([&] {
      ran_on = std::this_thread::get_id();
      loop.Stop();
    });
  });
  auto start = clock.Now();
  loop.Run();
  t.join();
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  EXPECT_LT((clock.Now() - start).count(), 900) << "the post did not wake the loop";
}

TEST(EventLoopTest, ReadinessAndRemovalFromInsideTheHandler) {
  RealClock clock;
  EventLoop loop(clock);
  ASSERT_TRUE(loop.Init().ok());
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  int calls = 0;
  ASSERT_TRUE(loop.Add(p[0], kReadable,
                       [&](uint32_t ev) {
                         ++calls;
                         EXPECT_TRUE(ev & kReadable);
                         loop.Remove(p[0]);  // level-triggered: without this the handler would run every turn
                         loop.After(Duration(20), [&] { loop.Stop(); });
                       })
                  .ok());
  ASSERT_EQ(write(p[1], "x", 1), 1);
  loop.Run();
  EXPECT_EQ(calls, 1);
  close(p[0]);
  close(p[1]);
}

// A handler that removes and closes another descriptor, then registers a new one that gets the same number, in the
// same round: the removed descriptor's pending event must not reach the new handler.
TEST(EventLoopTest, EventOfARemovedDescriptorDoesNotReachItsSuccessor) {
  RealClock clock;
  EventLoop loop(clock);
  ASSERT_TRUE(loop.Init().ok());
  int a[2], b[2];
  ASSERT_EQ(pipe(a), 0);
  ASSERT_EQ(pipe(b), 0);
  int successor_calls = 0;
  int successor[2] = {-1, -1};  // never written: its handler has no reason to run
  int survivor = -1;            // the read end of whichever pipe's handler ran first
  auto handler = [&](int self, int other) {
    return [&, self, other](uint32_t) {
      loop.Remove(self);
      if (survivor >= 0) return;
      survivor = self;
      loop.Remove(other);
      close(other);
      ASSERT_EQ(pipe(successor), 0);
      ASSERT_EQ(successor[0], other);  // the lowest free number: the one just closed
      ASSERT_TRUE(loop.Add(successor[0], kReadable, [&](uint32_t) { ++successor_calls; }).ok());
      loop.After(Duration(20), [&] { loop.Stop(); });
    };
  };
  ASSERT_TRUE(loop.Add(a[0], kReadable, handler(a[0], b[0])).ok());
  ASSERT_TRUE(loop.Add(b[0], kReadable, handler(b[0], a[0])).ok());
  ASSERT_EQ(write(a[1], "x", 1), 1);  // both readable before the first wait: their events come in one round
  ASSERT_EQ(write(b[1], "x", 1), 1);
  loop.Run();
  EXPECT_EQ(successor_calls, 0);
  loop.Remove(successor[0]);
  for (int fd : {survivor, successor[0], successor[1], a[1], b[1]}) close(fd);
}

TEST(EventLoopTest, LagIsMeasuredWhenACallbackBlocks) {
  RealClock clock;
  EventLoop loop(clock);
  ASSERT_TRUE(loop.Init().ok());
  // A callback that hogs the loop for 150 ms (what callbacks must never do) shows up as lag.
  loop.After(Duration(50), [] { std::this_thread::sleep_for(std::chrono::milliseconds(150)); });
  loop.After(Duration(400), [&] { loop.Stop(); });
  loop.Run();
  EXPECT_GE(loop.lag_max_us(), 40000);
}

TEST(SocketTest, ListenConnectAndAddressChecks) {
  EXPECT_TRUE(IsIpLiteral("127.0.0.1"));
  EXPECT_TRUE(IsIpLiteral("::1"));
  EXPECT_FALSE(IsIpLiteral("localhost"));
  auto l = Listen(HostPort{"127.0.0.1", 0}, true);
  ASSERT_TRUE(l.ok()) << l.status().message();
  int port = LocalPort(*l);
  EXPECT_GT(port, 0);
  auto again = Listen(HostPort{"127.0.0.1", port}, false);
  EXPECT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("127.0.0.1:" + std::to_string(port)), std::string::npos);
  EXPECT_FALSE(ConnectStart(HostPort{"db.example", 5432}).ok());
  auto c = ConnectStart(HostPort{"127.0.0.1", port});
  ASSERT_TRUE(c.ok());
  close(*c);
  close(*l);
}

}  // namespace
}  // namespace pgw::net
