// clock: where a component with timers gets its time (DESIGN.md §5).
//
// Components that wait for time to pass (resends, idle timeouts, TTLs, with_timeout) take a
// `clock&` instead of reading std::chrono::steady_clock and arming asio::steady_timer themselves.
// Production passes clock::steady(); a test passes a manual_clock and decides when time moves, so
// a timer test runs in no wall time and the same way every run.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>

namespace flowstack {

class clock {
 public:
  using duration = std::chrono::steady_clock::duration;
  using time_point = std::chrono::steady_clock::time_point;

  virtual ~clock() = default;

  virtual time_point now() const noexcept = 0;

  // Suspends until now() >= deadline. Returns false when the wait was cancelled first (by
  // with_timeout, the awaitable operators or a cancellation slot), true otherwise. A deadline that
  // has passed completes at once.
  virtual asio::awaitable<bool> wait_until(time_point deadline) = 0;

  asio::awaitable<bool> wait_for(duration d) { return wait_until(now() + d); }

  // The process's steady clock: std::chrono::steady_clock and Asio's steady timers.
  static clock& steady() noexcept;
};

// A clock whose time moves only when it is told to. Waiters whose deadlines fall due wake in the
// order of their deadlines (FIFO among equal ones); waking one only queues it on its executor, so
// the io_context must run for it to go on.
//
// Two ways to use it: call advance()/advance_to() between runs of the io_context, or let
// `tests/support/virtual_time.hpp` run the io_context and jump to the next deadline whenever
// nothing else can run.
class manual_clock final : public clock {
 public:
  // Starts at an arbitrary fixed point well after the epoch, so `now() - some duration` is valid.
  manual_clock();
  manual_clock(const manual_clock&) = delete;
  manual_clock& operator=(const manual_clock&) = delete;
  ~manual_clock() override;

  time_point now() const noexcept override { return now_; }
  asio::awaitable<bool> wait_until(time_point deadline) override;

  // Moves time forward to `t` (never back) and wakes every waiter whose deadline is at or
  // before it. Returns how many were woken.
  std::size_t advance_to(time_point t);
  std::size_t advance(duration d) { return advance_to(now_ + d); }

  // The earliest deadline anyone waits for, if any.
  std::optional<time_point> next_deadline() const;
  std::size_t waiters() const noexcept { return waiters_.size(); }

 private:
  struct waiter;
  using key = std::pair<time_point, std::uint64_t>;  // deadline, then order of arrival

  time_point now_;
  std::uint64_t arrivals_ = 0;
  std::map<key, waiter*> waiters_;
};

}  // namespace flowstack
