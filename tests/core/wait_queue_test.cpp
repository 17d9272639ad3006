// wait_queue: waiters wake in order and a cancellation from outside always ends a wait.
#include <gtest/gtest.h>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/this_coro.hpp>
#include <exception>
#include <flowstack/core/wait_queue.hpp>
#include <optional>

#include "support/async.hpp"
#include "support/run.hpp"

namespace flowstack {
namespace {

// Waits in a loop until `flag` holds, as every user of a wait_queue does; false when cancelled.
// Cancellation is a value here, as under with_timeout, not an exception at the next wait.
asio::awaitable<bool> wait_for_flag(wait_queue& q, const bool& flag) {
  co_await asio::this_coro::throw_if_cancelled(false);
  while (!flag) {
    bool woken = co_await q.wait();
    if (!woken) co_return false;
  }
  co_return true;
}

TEST(wait_queue, a_cancellation_between_a_notify_and_the_waiters_next_turn_ends_the_wait) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    wait_queue q(ex);
    bool flag = false;
    std::optional<bool> outcome;
    asio::cancellation_signal cancel;
    bool threw = false;
    auto record = [&outcome, &threw](std::exception_ptr e, bool r) {
      threw = e != nullptr;
      outcome = r;
    };
    asio::co_spawn(ex, wait_for_flag(q, flag), asio::bind_cancellation_slot(cancel.slot(), record));
    co_await test::yield(2);
    EXPECT_TRUE(q.has_waiters());
    // Woken for a condition that does not hold yet, and cancelled before it runs again.
    q.notify_all();
    cancel.emit(asio::cancellation_type::terminal);
    auto ended = [&outcome] { return outcome.has_value(); };
    bool done = co_await test::yield_until(ended, 100);
    EXPECT_TRUE(done) << "the cancelled waiter waits again";
    if (!done) {
      flag = true;
      q.notify_all();
      co_await test::yield_until(ended);
    }
    EXPECT_EQ(outcome, std::optional<bool>(false));
    EXPECT_FALSE(threw);
  });
}

TEST(wait_queue, a_notified_waiter_whose_condition_holds_is_not_cancelled) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    wait_queue q(ex);
    bool flag = false;
    std::optional<bool> outcome;
    auto record = [&outcome](std::exception_ptr, bool r) { outcome = r; };
    asio::co_spawn(ex, wait_for_flag(q, flag), record);
    co_await test::yield(2);
    flag = true;
    q.notify_all();
    auto ended = [&outcome] { return outcome.has_value(); };
    bool done = co_await test::yield_until(ended, 100);
    EXPECT_TRUE(done);
    EXPECT_EQ(outcome, std::optional<bool>(true));
  });
}

}  // namespace
}  // namespace flowstack
