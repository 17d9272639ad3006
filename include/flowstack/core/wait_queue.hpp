// wait_queue: coroutines waiting for a condition that another coroutine makes true.
//
// The coroutine analogue of a condition variable for one io_context (no locks: a flow belongs to
// one context). Waiters wake in FIFO order; a wake-up may be spurious, so callers re-check their
// condition in a loop. Waiting honours Asio cancellation (with_timeout, awaitable operators).
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>

#include <list>

namespace flowstack {

class wait_queue {
 public:
  explicit wait_queue(asio::any_io_executor executor) : executor_(std::move(executor)) {}
  wait_queue(const wait_queue&) = delete;
  wait_queue& operator=(const wait_queue&) = delete;
  ~wait_queue() { notify_all(); }

  // Suspends until notified. Returns false when the wait was cancelled instead.
  asio::awaitable<bool> wait();

  void notify_one();
  void notify_all();
  bool has_waiters() const noexcept { return !waiters_.empty(); }

 private:
  struct waiter {
    asio::steady_timer* timer;
    bool notified;
  };
  asio::any_io_executor executor_;
  std::list<waiter*> waiters_;
};

}  // namespace flowstack
