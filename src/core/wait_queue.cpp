#include <flowstack/core/wait_queue.hpp>

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

namespace flowstack {

asio::awaitable<bool> wait_queue::wait() {
  asio::steady_timer timer(executor_, asio::steady_timer::time_point::max());
  waiter self{&timer, false};
  auto position = waiters_.insert(waiters_.end(), &self);
  co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  // A notify removed us from the list before cancelling the timer; a cancellation from outside
  // left us in it.
  if (!self.notified) waiters_.erase(position);
  co_return self.notified;
}

void wait_queue::notify_one() {
  if (waiters_.empty()) return;
  waiter* w = waiters_.front();
  waiters_.pop_front();
  w->notified = true;
  w->timer->cancel();
}

void wait_queue::notify_all() {
  while (!waiters_.empty()) notify_one();
}

}  // namespace flowstack
