// Runs a test coroutine on a manual clock that jumps ahead whenever nothing else can run, so a
// test of resends, idle timeouts or TTLs takes no wall time and runs the same way every time
// (the virtual-time scheduling of smoltcp's and tokio's paused-clock tests).
#pragma once

#include <flowstack/core/clock.hpp>

#include "support/run.hpp"

namespace flowstack::test {

namespace detail {

// Runs `io` until `finished`. Whenever no handler is ready, time on `time` moves to the next
// deadline anyone waits for. Fails when nothing is ready and nobody waits for time or for real
// I/O (the coroutine waits for what can never happen), when virtual time runs past `limit`, or
// when real I/O keeps it waiting longer than `wall_limit`.
inline void drive_virtual(asio::io_context& io, const bool& finished, manual_clock& time,
                          clock::duration limit, std::chrono::seconds wall_limit) {
  const auto start = time.now();
  const auto wall_start = std::chrono::steady_clock::now();
  while (!finished) {
    io.restart();
    if (io.poll() != 0) continue;
    if (finished) break;
    if (auto next = time.next_deadline()) {
      if (*next - start > limit) {
        ADD_FAILURE() << "the test coroutine ran past its limit of virtual time";
        io.stop();
        std::terminate();
      }
      time.advance_to(*next);
      continue;
    }
    if (io.stopped()) {
      throw std::runtime_error(
          "the test coroutine waits for something that can never happen (nothing left to run)");
    }
    // Something real is pending (a socket, a steady timer): wait for it, within the wall limit.
    io.restart();
    auto left = wall_limit - (std::chrono::steady_clock::now() - wall_start);
    if (left <= left.zero() || io.run_one_for(left) == 0) {
      if (finished) break;
      ADD_FAILURE() << "the test coroutine did not finish within " << wall_limit.count() << " s";
      io.stop();
      std::terminate();
    }
  }
}

}  // namespace detail

// Runs `make(executor)`'s awaitable on a fresh io_context with `time` moving as described above,
// and returns its value. `limit` bounds virtual time, `wall_limit` real time.
template <typename MakeAwaitable>
auto run_virtual(manual_clock& time, MakeAwaitable make,
                 clock::duration limit = std::chrono::hours(24),
                 std::chrono::seconds wall_limit = std::chrono::seconds(60)) {
  return detail::spawn_and_drive(
      make, [&time, limit, wall_limit](asio::io_context& io, const bool& finished) {
        detail::drive_virtual(io, finished, time, limit, wall_limit);
      });
}

// The same on a fresh manual clock that it hands to `make(executor, clock)`, for tests that need
// no other clock than that one.
template <typename MakeAwaitable>
auto run_on_manual_clock(MakeAwaitable make) {
  manual_clock time;
  return run_virtual(time, [&make, &time](asio::any_io_executor ex) { return make(ex, time); });
}

}  // namespace flowstack::test
