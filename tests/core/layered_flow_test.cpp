#include <gtest/gtest.h>

#include <flowstack/core/layered_flow.hpp>
#include <memory>
#include <string>

#include "support/run.hpp"

namespace flowstack {
namespace {

// An inner flow that counts how often it is closed and aborted.
struct ends {
  int closed = 0;
  int aborted = 0;
};

class counting_flow final : public flow_impl {
 public:
  counting_flow(asio::any_io_executor ex, ends& e) : flow_impl(std::move(ex)), ends_(e) {}
  std::string description() const override { return "counted"; }

 protected:
  asio::awaitable<read_result> do_read() override { co_return data_or_eof::eof(); }
  asio::awaitable<write_result> do_writev(std::span<const buffer>) override {
    co_return write_result{};
  }
  asio::awaitable<void> do_shutdown_write() override { co_return; }
  asio::awaitable<void> do_close() override {
    ++ends_.closed;
    co_return;
  }
  asio::awaitable<void> do_abort() override {
    ++ends_.aborted;
    co_return;
  }

 private:
  ends& ends_;
};

// The smallest layered flow: each half ends when it is shut.
class passing_flow final : public layered_flow {
 public:
  explicit passing_flow(flow inner) : layered_flow(std::move(inner)) {}
  std::string description() const override { return "passing over " + inner().description(); }

 protected:
  asio::awaitable<read_result> do_read() override { co_return co_await inner().read(); }
  asio::awaitable<write_result> do_writev(std::span<const buffer> data) override {
    co_return co_await inner().writev(data);
  }
  asio::awaitable<void> do_shutdown_read() override { co_await end_read(); }
  asio::awaitable<void> do_shutdown_write() override { co_await end_write(); }
};

flow layered(asio::any_io_executor ex, ends& e) {
  return make_flow<passing_flow>(make_flow<counting_flow>(ex, e));
}

TEST(layered_flow, underlying_is_the_inner_flow) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    ends e;
    auto inner = make_flow<counting_flow>(ex, e);
    flow_impl* inner_impl = &inner.impl();
    auto f = make_flow<passing_flow>(std::move(inner));
    EXPECT_EQ(f.underlying(), inner_impl);
    EXPECT_EQ(f.description(), "passing over counted");
    co_await f.close();
  });
}

TEST(layered_flow, close_closes_the_inner_flow_once) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    ends e;
    auto f = layered(ex, e);
    co_await f.close();
    co_await f.close();
    EXPECT_EQ(e.closed, 1);
    EXPECT_EQ(e.aborted, 0);
  });
}

TEST(layered_flow, one_half_ended_leaves_the_inner_flow_open) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    ends e;
    auto f = layered(ex, e);
    co_await f.shutdown(shutdown_mode::write);
    EXPECT_EQ(e.closed, 0);
    co_await f.close();
    EXPECT_EQ(e.closed, 1);
  });
}

TEST(layered_flow, both_halves_ended_close_the_inner_flow_and_a_later_close_does_not_again) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    ends e;
    auto f = layered(ex, e);
    co_await f.shutdown(shutdown_mode::read);
    co_await f.shutdown(shutdown_mode::write);
    EXPECT_EQ(e.closed, 1);
    co_await f.close();
    EXPECT_EQ(e.closed, 1);
  });
}

TEST(layered_flow, abort_aborts_the_inner_flow_without_closing_it) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    ends e;
    auto f = layered(ex, e);
    co_await f.abort();
    co_await f.close();
    EXPECT_EQ(e.aborted, 1);
    EXPECT_EQ(e.closed, 0);
  });
}

TEST(layered_flow, abort_after_both_halves_ended_leaves_the_closed_inner_flow_alone) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    ends e;
    auto f = layered(ex, e);
    co_await f.shutdown(shutdown_mode::read_write);
    co_await f.abort();
    EXPECT_EQ(e.closed, 1);
    EXPECT_EQ(e.aborted, 0);
  });
}

}  // namespace
}  // namespace flowstack
