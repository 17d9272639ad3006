#include <gtest/gtest.h>

#include <flowstack/core/clock.hpp>
#include <flowstack/core/combinators.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <string>
#include <vector>

#include "support/run.hpp"
#include "support/virtual_time.hpp"

namespace flowstack {
namespace {

using namespace std::chrono_literals;

asio::awaitable<void> note_after(manual_clock& time, clock::duration d, std::string name,
                                 std::vector<std::string>& log) {
  bool due = co_await time.wait_for(d);
  log.push_back(name + (due ? "" : " cancelled"));
}

TEST(manual_clock, waiters_wake_in_deadline_order_only_when_time_reaches_them) {
  asio::io_context io;
  manual_clock time;
  std::vector<std::string> log;
  asio::co_spawn(io, note_after(time, 3s, "three", log), asio::detached);
  asio::co_spawn(io, note_after(time, 1s, "one", log), asio::detached);
  asio::co_spawn(io, note_after(time, 2s, "two", log), asio::detached);
  asio::co_spawn(io, note_after(time, 1s, "one again", log), asio::detached);
  io.poll();
  EXPECT_TRUE(log.empty());
  EXPECT_EQ(time.waiters(), 4u);

  EXPECT_EQ(time.advance(999ms), 0u);
  io.poll();
  EXPECT_TRUE(log.empty());

  EXPECT_EQ(time.advance(1ms), 2u);
  io.poll();
  EXPECT_EQ(log, (std::vector<std::string>{"one", "one again"}));

  EXPECT_EQ(time.advance(10s), 2u);
  io.poll();
  EXPECT_EQ(log, (std::vector<std::string>{"one", "one again", "two", "three"}));
  EXPECT_FALSE(time.next_deadline());
}

TEST(manual_clock, time_never_moves_back) {
  manual_clock time;
  auto start = time.now();
  time.advance_to(start - 1s);
  EXPECT_EQ(time.now(), start);
  time.advance(5s);
  EXPECT_EQ(time.now(), start + 5s);
}

TEST(manual_clock, a_deadline_already_passed_completes_at_once) {
  manual_clock time;
  bool due = test::run([&time](asio::any_io_executor) { return time.wait_until(time.now()); });
  EXPECT_TRUE(due);
}

TEST(manual_clock, a_wait_cancelled_from_outside_returns_false_and_leaves_no_waiter) {
  manual_clock time;
  auto start = time.now();
  auto r = test::run_virtual(
      time, [&time](asio::any_io_executor) { return with_timeout(time.wait_for(1h), 1s, time); });
  // The inner wait (1 h) loses to the timeout (1 s) without any time passing for real.
  EXPECT_EQ(r.error(), flow_errc::timeout);
  EXPECT_EQ(time.now() - start, 1s);
  EXPECT_EQ(time.waiters(), 0u);
}

TEST(manual_clock, destroying_the_clock_cancels_its_waiters) {
  asio::io_context io;
  std::vector<std::string> log;
  {
    manual_clock time;
    asio::co_spawn(io, note_after(time, 1s, "one", log), asio::detached);
    io.poll();
  }
  io.poll();
  EXPECT_EQ(log, (std::vector<std::string>{"one cancelled"}));
}

TEST(virtual_time, idle_io_context_jumps_to_the_next_deadline) {
  manual_clock time;
  auto start = time.now();
  auto woke_at =
      test::run_virtual(time, [&time](asio::any_io_executor) -> asio::awaitable<clock::time_point> {
        co_await time.wait_for(90s);
        co_await time.wait_for(10s);
        co_return time.now();
      });
  EXPECT_EQ(woke_at - start, 100s);
}

}  // namespace
}  // namespace flowstack
