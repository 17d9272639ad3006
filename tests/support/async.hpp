// Helpers for tests that run several coroutines at once on one io_context.
#pragma once

#include <asio/co_spawn.hpp>
#include <asio/post.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <exception>
#include <flowstack/core/combinators.hpp>
#include <flowstack/core/wait_queue.hpp>
#include <memory>
#include <optional>
#include <string>

namespace flowstack::test {

// Lets every coroutine that is ready run `times` turns before this one goes on.
inline asio::awaitable<void> yield(int times = 1) {
  auto ex = co_await asio::this_coro::executor;
  for (int i = 0; i < times; ++i) co_await asio::post(ex, asio::use_awaitable);
}

// Lets the event loop run until `done()` holds, for at most `turns` turns; whether it holds. For
// what only this process's coroutines have left to do (a released handler returns, a listener
// closes its flow), never for the kernel or for time to pass.
template <typename Done>
asio::awaitable<bool> yield_until(Done done, int turns = 1000) {
  for (int i = 0; i < turns && !done(); ++i) co_await yield();
  co_return done();
}

// An operation started now and running beside the test coroutine, whose result is collected
// later with get(). A test must get() every background it starts before the flows it uses go
// away: the operation refers to them.
template <typename T>
class background {
 public:
  background(asio::any_io_executor executor, asio::awaitable<T> op)
      : state_(std::make_shared<state>(executor)) {
    auto s = state_;
    auto done = [s](std::exception_ptr error, T value) {
      s->error = error;
      if (!error) s->value.emplace(std::move(value));
      s->finished = true;
      s->done.notify_all();
    };
    asio::co_spawn(executor, std::move(op), std::move(done));
  }

  bool ready() const noexcept { return state_->finished; }

  asio::awaitable<T> get() {
    auto s = state_;
    while (!s->finished) co_await s->done.wait();
    if (s->error) std::rethrow_exception(s->error);
    co_return std::move(*s->value);
  }

 private:
  struct state {
    explicit state(asio::any_io_executor executor) : done(std::move(executor)) {}
    std::optional<T> value;
    std::exception_ptr error;
    bool finished = false;
    wait_queue done;
  };
  std::shared_ptr<state> state_;
};

// Reads until eof. An error stops the reading and is the result.
template <flow_like F>
asio::awaitable<result<std::string>> read_all(F& f) {
  std::string text;
  for (;;) {
    auto r = co_await f.read();
    if (!r) co_return fail(r.error());
    if (r->is_eof()) co_return text;
    text += r->data().as_string_view();
  }
}

// Reads exactly `n` bytes as a string.
template <flow_like F>
asio::awaitable<result<std::string>> read_string(F& f, std::size_t n) {
  auto r = co_await read_exactly(f, n);
  if (!r) co_return fail(r.error());
  co_return r->to_string();
}

// Writes a string as one buffer.
template <flow_like F>
asio::awaitable<write_result> write_string(F& f, std::string_view text) {
  co_return co_await f.write(buffer::of_string(text));
}

// The error of a result, or no error when it holds a value (so EXPECT_EQ never reads an
// expected's error that is not there).
template <typename T>
std::error_code error_of(const result<T>& r) {
  return r ? std::error_code{} : r.error();
}
template <typename T>
std::error_code error_of(const detailed<T>& r) {
  return r ? std::error_code{} : r.error().code;
}

// The text of a read result, "<eof>" or "<error: …>", so EXPECT_EQ failures read well.
inline std::string describe(const read_result& r) {
  if (!r) return "<error: " + r.error().message() + ">";
  if (r->is_eof()) return "<eof>";
  return r->data().to_string();
}

}  // namespace flowstack::test
