// Runs a coroutine to completion inside a test, with a bound on time so a bug hangs no test run.
#pragma once

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <optional>

namespace flowstack::test {

// Runs `make(executor)`'s awaitable on a fresh io_context and returns its value. Fails the test
// (and returns what it can) when it takes longer than `limit`.
template <typename MakeAwaitable>
auto run(MakeAwaitable make, std::chrono::seconds limit = std::chrono::seconds(60)) {
  asio::io_context io;
  auto future = asio::co_spawn(io, make(io.get_executor()), asio::use_future);
  io.run_for(limit);
  if (future.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    ADD_FAILURE() << "the test coroutine did not finish within " << limit.count() << " s";
    io.stop();
    std::terminate();  // the coroutine's frame still refers to the io_context: nothing safe left
  }
  return future.get();
}

}  // namespace flowstack::test
