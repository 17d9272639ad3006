#include <flowstack/core/wait_queue.hpp>

#include <asio/experimental/as_tuple.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

namespace flowstack {

namespace {

// Takes a waiter off the list unless a notify did: after a cancellation from outside, and when
// the waiting coroutine is destroyed without being resumed (its io_context goes away), so the
// list never keeps a waiter that is gone.
template <typename List, typename Waiter>
struct listed {
  List& list;
  typename List::iterator position;
  Waiter& self;
  ~listed() {
    if (!self.notified) list.erase(position);
  }
};

}  // namespace

asio::awaitable<bool> wait_queue::wait() {
  // A cancellation that comes after a notify took this waiter off the list, but before its
  // coroutine ran again, finds no operation to cancel: Asio only records it in the coroutine's
  // cancellation state. The caller, whose condition may still not hold, then waits again; honour
  // that cancellation here, or a loop like a read that waits for data under with_timeout never
  // ends while notifies for others keep coming (a TLS flow's write and read on one TCP flow).
  auto cancellation = co_await asio::this_coro::cancellation_state;
  if (cancellation.cancelled() != asio::cancellation_type::none) co_return false;
  asio::steady_timer timer(executor_, asio::steady_timer::time_point::max());
  waiter self{&timer, false};
  listed<std::list<waiter*>, waiter> entry{waiters_, waiters_.insert(waiters_.end(), &self), self};
  co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
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
