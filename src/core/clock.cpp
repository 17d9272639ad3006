#include <flowstack/core/clock.hpp>

#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

namespace flowstack {
namespace {

constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);

class steady_clock_source final : public clock {
 public:
  time_point now() const noexcept override { return std::chrono::steady_clock::now(); }

  asio::awaitable<bool> wait_until(time_point deadline) override {
    asio::steady_timer timer(co_await asio::this_coro::executor, deadline);
    auto [ec] = co_await timer.async_wait(as_tuple);
    co_return !ec;
  }
};

}  // namespace

clock& clock::steady() noexcept {
  static steady_clock_source source;
  return source;
}

// A waiter sleeps on a timer that never expires by itself; advance_to() wakes it by cancelling
// the timer after marking it due, which tells its wake-up from a cancellation from outside.
struct manual_clock::waiter {
  asio::steady_timer* timer;
  bool due = false;    // woken by advance_to
  bool listed = true;  // still in waiters_ (a cancellation from outside leaves it there)
};

manual_clock::manual_clock() : now_(time_point{} + std::chrono::hours(24 * 365)) {}

manual_clock::~manual_clock() {
  for (auto& [k, w] : waiters_) {  // they see a cancellation
    w->listed = false;
    w->timer->cancel();
  }
}

asio::awaitable<bool> manual_clock::wait_until(time_point deadline) {
  if (deadline <= now_) co_return true;
  asio::steady_timer timer(co_await asio::this_coro::executor,
                           asio::steady_timer::time_point::max());
  waiter self{&timer};
  auto position = waiters_.emplace(key{deadline, arrivals_++}, &self).first;
  co_await timer.async_wait(as_tuple);
  if (self.listed) waiters_.erase(position);
  co_return self.due;
}

std::size_t manual_clock::advance_to(time_point t) {
  if (t > now_) now_ = t;
  std::size_t woken = 0;
  while (!waiters_.empty() && waiters_.begin()->first.first <= now_) {
    waiter* w = waiters_.begin()->second;
    waiters_.erase(waiters_.begin());
    w->due = true;
    w->listed = false;
    w->timer->cancel();
    ++woken;
  }
  return woken;
}

std::optional<clock::time_point> manual_clock::next_deadline() const {
  if (waiters_.empty()) return std::nullopt;
  return waiters_.begin()->first.first;
}

}  // namespace flowstack
