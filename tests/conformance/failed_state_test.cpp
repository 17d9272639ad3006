// The failed row of the state table (DESIGN.md §1.2) and the layering rule for inner errors
// (§1.3). Errors cannot be provoked on demand in every transport, so these run on the memory
// pair, whose fault injection fails the next read or write with a chosen error.
#include <gtest/gtest.h>

#include <flowstack/core/combinators.hpp>
#include <flowstack/core/memory_flow.hpp>
#include <system_error>

#include "support/async.hpp"
#include "support/faults.hpp"
#include "support/record_flow.hpp"
#include "support/run.hpp"
#include "support/virtual_time.hpp"

namespace flowstack {
namespace {

using namespace std::chrono_literals;
using test::describe;
using test::error_of;
using test::faults;
using test::io_error;
using test::write_string;

const std::error_code reset = std::make_error_code(std::errc::connection_reset);

TEST(failed_state, a_read_error_is_returned_again_by_later_reads) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [a, b] = memory_pair(ex);
    faults(b).fail_next_read(io_error);
    auto w = co_await write_string(a, "data that is never read");
    EXPECT_TRUE(w);
    for (int i = 0; i < 3; ++i) {
      auto r = co_await b.read();
      EXPECT_EQ(error_of(r), io_error) << "read " << i;
    }
  });
}

TEST(failed_state, a_read_error_fails_later_writes_with_the_same_error) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [a, b] = memory_pair(ex);
    faults(b).fail_next_read(io_error);
    auto r = co_await b.read();
    EXPECT_EQ(error_of(r), io_error);
    auto w = co_await write_string(b, "x");
    EXPECT_EQ(error_of(w), io_error);
  });
}

TEST(failed_state, a_write_error_is_returned_again_by_later_writes) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [a, b] = memory_pair(ex);
    faults(a).fail_next_write(reset);
    for (int i = 0; i < 3; ++i) {
      auto w = co_await write_string(a, "x");
      EXPECT_EQ(error_of(w), reset) << "write " << i;
    }
    std::vector<buffer> wv_parts{buffer::of_string("x")};
    auto wv = co_await a.writev(wv_parts);
    EXPECT_EQ(error_of(wv), reset);
  });
}

TEST(failed_state, a_write_error_fails_later_reads_with_the_same_error) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [a, b] = memory_pair(ex);
    faults(a).fail_next_write(reset);
    auto w = co_await write_string(a, "x");
    EXPECT_EQ(error_of(w), reset);
    auto wb = co_await write_string(b, "queued for a");
    EXPECT_TRUE(wb);
    auto r = co_await a.read();
    EXPECT_EQ(error_of(r), reset);
  });
}

TEST(failed_state, shutdown_of_a_failed_flow_is_a_no_op) {
  manual_clock time;
  test::run_virtual(time, [&time](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [a, b] = memory_pair(ex);
    faults(a).fail_next_write(reset);
    auto w = co_await write_string(a, "x");
    EXPECT_EQ(error_of(w), reset);
    co_await a.shutdown(shutdown_mode::read_write);
    // Still the error, not eof or `closed`; and the peer was told nothing.
    auto r = co_await a.read();
    EXPECT_EQ(error_of(r), reset);
    auto w2 = co_await write_string(a, "x");
    EXPECT_EQ(error_of(w2), reset);
    auto peer = co_await with_timeout(b.read(), 20ms, time);
    EXPECT_EQ(error_of(peer), flow_errc::timeout);
  });
}

TEST(failed_state, close_of_a_failed_flow_closes_it) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [a, b] = memory_pair(ex);
    faults(a).fail_next_read(io_error);
    auto r = co_await a.read();
    EXPECT_EQ(error_of(r), io_error);
    co_await a.close();
    auto r2 = co_await a.read();
    EXPECT_EQ(error_of(r2), flow_errc::closed);
    auto w = co_await write_string(a, "x");
    EXPECT_EQ(error_of(w), flow_errc::closed);
    auto peer = co_await b.read();
    EXPECT_EQ(describe(peer), "<eof>");
  });
}

TEST(failed_state, a_cancelled_read_does_not_fail_the_flow) {
  manual_clock time;
  test::run_virtual(time, [&time](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [a, b] = memory_pair(ex);
    auto timed_out = co_await with_timeout(b.read(), 10ms, time);
    EXPECT_EQ(error_of(timed_out), flow_errc::timeout);
    auto w = co_await write_string(b, "still open");
    EXPECT_TRUE(w);
    auto wa = co_await write_string(a, "y");
    EXPECT_TRUE(wa);
    auto r = co_await b.read();
    EXPECT_EQ(describe(r), "y");
  });
}

TEST(layering, an_inner_read_error_fails_the_outer_flow_with_that_error) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [inner_a, inner_b] = memory_pair(ex);
    faults(inner_b).fail_next_read(io_error);
    flow a = test::layer_records(std::move(inner_a));
    flow b = test::layer_records(std::move(inner_b));
    auto w = co_await write_string(a, "record");
    EXPECT_TRUE(w);
    auto r1 = co_await b.read();
    EXPECT_EQ(error_of(r1), io_error);
    auto r2 = co_await b.read();
    EXPECT_EQ(error_of(r2), io_error);
    auto wb = co_await write_string(b, "x");
    EXPECT_EQ(error_of(wb), io_error);
    co_await a.close();
    co_await b.close();
  });
}

TEST(layering, an_inner_write_error_fails_the_outer_flow_with_that_error) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [inner_a, inner_b] = memory_pair(ex);
    faults(inner_a).fail_next_write(reset);
    flow a = test::layer_records(std::move(inner_a));
    flow b = test::layer_records(std::move(inner_b));
    auto w1 = co_await write_string(a, "x");
    EXPECT_EQ(error_of(w1), reset);
    auto w2 = co_await write_string(a, "x");
    EXPECT_EQ(error_of(w2), reset);
    co_await a.close();
    co_await b.close();
  });
}

}  // namespace
}  // namespace flowstack
