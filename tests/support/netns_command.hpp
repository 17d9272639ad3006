// kernel_command: a shell command run inside a test's network namespace (netns.hpp) on a thread
// of its own, so that a userspace stack on the test's io_context goes on running meanwhile.
#pragma once

#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "support/netns.hpp"

namespace flowstack::test {

// `timeout` ends the command after `limit`, so the thread is always joined.
class kernel_command {
 public:
  kernel_command(const network_namespace& ns, const std::string& line,
                 std::chrono::seconds limit = std::chrono::seconds(8))
      : limit_(limit),
        thread_([this, command = "timeout " + std::to_string(limit.count()) + " ip netns exec " +
                                 ns.name() + " sh -c '" + line + "' 2>&1"] {
          std::FILE* p = ::popen(command.c_str(), "r");
          if (p) {
            char chunk[4096];
            while (std::size_t n = std::fread(chunk, 1, sizeof chunk, p)) output_.append(chunk, n);
            status_ = ::pclose(p);
          }
          done_ = true;
        }) {}
  ~kernel_command() { thread_.join(); }
  kernel_command(const kernel_command&) = delete;
  kernel_command& operator=(const kernel_command&) = delete;

  // Waits for the command's end (`timeout` ends it by its limit; this gives up a second later) and
  // says whether it exited with status 0. output() is its stdout and stderr.
  asio::awaitable<bool> succeeded() {
    asio::steady_timer tick(co_await asio::this_coro::executor);
    for (std::chrono::milliseconds waited{0}; waited < limit_ + std::chrono::seconds(1) && !done_;
         waited += std::chrono::milliseconds(10)) {
      tick.expires_after(std::chrono::milliseconds(10));
      co_await tick.async_wait(asio::use_awaitable);
    }
    co_return done_.load() && status_ == 0;
  }
  const std::string& output() const { return output_; }

 private:
  std::chrono::seconds limit_;
  std::string output_;
  int status_ = -1;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace flowstack::test
