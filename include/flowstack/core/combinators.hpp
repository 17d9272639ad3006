// Algorithms over any flow: copy, proxy, read_exactly, with_timeout.
//
// They are generic over anything flow-shaped (`flow`, `flow_impl` or a user type with the same
// operations), so a layered or test flow needs no adapter.
#pragma once

#include <flowstack/core/clock.hpp>
#include <flowstack/core/flow.hpp>

#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>
#include <concepts>
#include <cstdint>
#include <vector>

namespace flowstack {

template <typename F>
concept flow_like = requires(F& f, buffer b, std::span<const buffer> bs, shutdown_mode m) {
  { f.read() } -> std::same_as<asio::awaitable<read_result>>;
  { f.write(b) } -> std::same_as<asio::awaitable<write_result>>;
  { f.writev(bs) } -> std::same_as<asio::awaitable<write_result>>;
  { f.shutdown(m) } -> std::same_as<asio::awaitable<void>>;
  { f.close() } -> std::same_as<asio::awaitable<void>>;
  { f.abort() } -> std::same_as<asio::awaitable<void>>;
  f.unread(b);
};

struct copy_stats {
  std::uint64_t bytes_read = 0;
  std::uint64_t reads = 0;
  std::uint64_t bytes_written = 0;
  std::uint64_t writes = 0;
  std::chrono::steady_clock::duration duration{};
};

enum class copy_side { source, destination };

// Why a copy stopped before eof: which side failed, with what, and what had moved by then.
struct copy_error {
  copy_side side;
  std::error_code error;
  copy_stats stats;
};

using copy_result = expected<copy_stats, copy_error>;

// Copies `src` to `dst` until `src` reads eof (success) or either side fails. Neither flow is
// shut down or closed. When `live` is given it is kept up to date as bytes move (for progress).
template <flow_like Src, flow_like Dst>
asio::awaitable<copy_result> copy(Src& src, Dst& dst, copy_stats* live = nullptr) {
  copy_stats local;
  copy_stats& stats = live ? *live : local;
  auto start = std::chrono::steady_clock::now();
  auto finish = [&stats, start] {
    stats.duration = std::chrono::steady_clock::now() - start;
    return stats;
  };
  for (;;) {
    auto r = co_await src.read();
    if (!r) co_return unexpected(copy_error{copy_side::source, r.error(), finish()});
    if (r->is_eof()) co_return finish();
    auto data = std::move(*r).data();
    stats.bytes_read += data.size();
    ++stats.reads;
    auto w = co_await dst.write(data);
    if (!w) co_return unexpected(copy_error{copy_side::destination, w.error(), finish()});
    stats.bytes_written += data.size();
    ++stats.writes;
  }
}

// Copies both ways between `a` and `b` at once. As each direction ends with eof, the source's
// read side and the destination's write side are shut down, so a half-close crosses the proxy.
// When a direction fails (a peer reset, an error on either side), both flows are aborted: an
// abort crosses the proxy as an abort, so the peer of the other side sees its stream cut (RST,
// no close_notify) rather than ended, and the other direction ends at once. That direction's
// result is then its stats, not an error: the failure is the first direction's. Flows that end
// with eof both ways are not closed.
template <flow_like A, flow_like B>
asio::awaitable<std::pair<copy_result, copy_result>> proxy(A& a, B& b,
                                                           copy_stats* live_a_to_b = nullptr,
                                                           copy_stats* live_b_to_a = nullptr);

namespace detail {

template <flow_like Src, flow_like Dst, flow_like Other1, flow_like Other2>
asio::awaitable<copy_result> proxy_direction(Src& src, Dst& dst, Other1& a, Other2& b,
                                             bool& aborted, copy_stats* live) {
  auto r = co_await copy(src, dst, live);
  // Ended by the other direction's abort: the failure is that direction's.
  if (aborted) co_return r ? r : copy_result(r.error().stats);
  if (r) {
    co_await src.shutdown(shutdown_mode::read);
    co_await dst.shutdown(shutdown_mode::write);
  } else {
    aborted = true;
    co_await a.abort();
    co_await b.abort();
  }
  co_return r;
}

template <typename T>
struct timeout_result {
  using type = result<T>;
  static type wrap(T value) { return type(std::move(value)); }
};
template <typename T>
struct timeout_result<result<T>> {
  using type = result<T>;
  static type wrap(result<T> value) { return value; }
};
template <>
struct timeout_result<void> {
  using type = result<void>;
};

// Runs `op` with exceptions on cancellation turned off: a timed-out operation finishes with an
// error value, like every other I/O path.
template <typename T>
asio::awaitable<T> without_cancellation_throw(asio::awaitable<T> op) {
  co_await asio::this_coro::throw_if_cancelled(false);
  co_return co_await std::move(op);
}

}  // namespace detail

template <flow_like A, flow_like B>
asio::awaitable<std::pair<copy_result, copy_result>> proxy(A& a, B& b, copy_stats* live_a_to_b,
                                                           copy_stats* live_b_to_a) {
  using namespace asio::experimental::awaitable_operators;
  bool aborted = false;
  auto [ab, ba] = co_await (detail::proxy_direction(a, b, a, b, aborted, live_a_to_b) &&
                            detail::proxy_direction(b, a, a, b, aborted, live_b_to_a));
  co_return std::pair{std::move(ab), std::move(ba)};
}

// Reads exactly `n` bytes (n >= 1) into one buffer. Bytes read past `n` are put back with
// unread(). Eof before `n` bytes gives `unexpected_eof` and puts the partial bytes back, so
// nothing is lost.
template <flow_like F>
asio::awaitable<result<buffer>> read_exactly(F& f, std::size_t n) {
  if (n == 0) co_return fail(flow_errc::invalid_argument);
  std::vector<buffer> parts;
  std::size_t have = 0;
  while (have < n) {
    auto r = co_await f.read();
    if (!r || r->is_eof()) {
      if (have != 0) f.unread(parts.size() == 1 ? parts[0] : buffer::concat(parts));
      co_return fail(r ? make_error_code(flow_errc::unexpected_eof) : r.error());
    }
    auto data = std::move(*r).data();
    if (have + data.size() > n) {
      auto [mine, rest] = data.split(n - have);
      f.unread(std::move(rest));
      data = std::move(mine);
    }
    have += data.size();
    parts.push_back(std::move(data));
  }
  if (parts.size() == 1) co_return std::move(parts[0]);
  co_return buffer::concat(parts);
}

// Runs any awaitable operation with a deadline, on `time` (the steady clock unless a test gives a
// manual one). When the time runs out the operation is cancelled and the result is the error
// `timeout`. An operation that already returns a result<T> keeps its own errors; any other T
// becomes result<T>.
template <typename T>
asio::awaitable<typename detail::timeout_result<T>::type> with_timeout(
    asio::awaitable<T> op, clock::duration timeout, clock& time = clock::steady()) {
  using namespace asio::experimental::awaitable_operators;
  auto raced =
      co_await (detail::without_cancellation_throw(std::move(op)) || time.wait_for(timeout));
  if (raced.index() == 1) co_return fail(flow_errc::timeout);
  if constexpr (std::is_void_v<T>) {
    co_return result<void>{};
  } else {
    co_return detail::timeout_result<T>::wrap(std::move(std::get<0>(raced)));
  }
}

}  // namespace flowstack
