// Runs a coroutine to completion inside a test, with a bound on time so a bug hangs no test run.
#pragma once

#include <gtest/gtest.h>

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace flowstack::test {

namespace detail {

// Runs `io` until `finished` or `limit`. A coroutine that waits for something nobody will ever
// do (the io_context runs out of work first) fails the test with an exception; one still busy
// at the limit ends the process, because its frame still refers to the io_context.
inline void drive(asio::io_context& io, const bool& finished, std::chrono::seconds limit) {
  io.run_for(limit);
  if (finished) return;
  if (io.stopped()) {
    throw std::runtime_error(
        "the test coroutine waits for something that can never happen (nothing left to run)");
  }
  ADD_FAILURE() << "the test coroutine did not finish within " << limit.count() << " s";
  io.stop();
  std::terminate();
}

}  // namespace detail

namespace detail {

// Spawns `make(executor)`'s awaitable on a fresh io_context, lets `drive(io, finished)` run the
// context, and returns the awaitable's value (or rethrows what it threw).
//
// The result is handed over by a completion handler that runs on the io_context's own thread
// (not by a std::future: asio completes a future on a system thread, after run_for may already
// have returned).
template <typename MakeAwaitable, typename Drive>
auto spawn_and_drive(MakeAwaitable& make, Drive drive) {
  asio::io_context io;
  auto op = make(io.get_executor());
  using value_type = typename decltype(op)::value_type;
  bool finished = false;
  std::exception_ptr error;
  if constexpr (std::is_void_v<value_type>) {
    auto done = [&finished, &error](std::exception_ptr e) {
      error = e;
      finished = true;
    };
    asio::co_spawn(io, std::move(op), done);
    drive(io, finished);
    if (error) std::rethrow_exception(error);
  } else {
    std::optional<value_type> value;
    auto done = [&finished, &error, &value](std::exception_ptr e, value_type v) {
      error = e;
      if (!e) value.emplace(std::move(v));
      finished = true;
    };
    asio::co_spawn(io, std::move(op), done);
    drive(io, finished);
    if (error) std::rethrow_exception(error);
    return std::move(*value);
  }
}

}  // namespace detail

// Runs `make(executor)`'s awaitable on a fresh io_context and returns its value. Fails the test
// when the coroutine cannot finish or takes longer than `limit`.
template <typename MakeAwaitable>
auto run(MakeAwaitable make, std::chrono::seconds limit = std::chrono::seconds(60)) {
  return detail::spawn_and_drive(make, [limit](asio::io_context& io, const bool& finished) {
    detail::drive(io, finished, limit);
  });
}

}  // namespace flowstack::test

// ASSERT_TRUE for a test coroutine: gtest's ASSERT_ macros `return`, which a coroutine cannot.
#define CO_ASSERT_TRUE(condition)                     \
  if (!(condition)) {                                 \
    ADD_FAILURE() << "expected to hold: " #condition; \
    co_return;                                        \
  }
