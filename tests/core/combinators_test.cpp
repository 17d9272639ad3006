#include <gtest/gtest.h>

#include <flowstack/core/combinators.hpp>
#include <flowstack/core/function_flow.hpp>
#include <flowstack/core/memory_flow.hpp>
#include <string>

#include "support/async.hpp"
#include "support/faults.hpp"
#include "support/run.hpp"
#include "support/virtual_time.hpp"

namespace flowstack {
namespace {

using namespace std::chrono_literals;
using test::background;
using test::describe;
using test::error_of;
using test::faults;
using test::io_error;
using test::read_all;
using test::read_string;
using test::write_string;

// ---- copy --------------------------------------------------------------------------------------

TEST(copy, moves_everything_until_eof_and_counts_it) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    std::string output;
    auto src = string_flow(ex, "0123456789", nullptr, 4);
    auto dst = string_flow(ex, "", &output);
    auto r = co_await copy(src, dst);
    EXPECT_TRUE(r);
    EXPECT_EQ(output, "0123456789");
    auto stats = r.value_or(copy_stats{});
    EXPECT_EQ(stats.bytes_read, 10u);
    EXPECT_EQ(stats.reads, 3u);
    EXPECT_EQ(stats.bytes_written, 10u);
    EXPECT_EQ(stats.writes, 3u);
  });
}

TEST(copy, leaves_both_flows_open) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    std::string output;
    auto src = string_flow(ex, "data");
    auto dst = string_flow(ex, "", &output);
    auto r = co_await copy(src, dst);
    EXPECT_TRUE(r);
    auto w = co_await write_string(dst, " and more");
    EXPECT_TRUE(w);
    EXPECT_EQ(output, "data and more");
    EXPECT_FALSE(src.impl().is_closed());
  });
}

TEST(copy, keeps_live_stats_up_to_date) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    std::string output;
    auto src = string_flow(ex, "abcdef", nullptr, 2);
    auto dst = string_flow(ex, "", &output);
    copy_stats live;
    auto r = co_await copy(src, dst, &live);
    EXPECT_TRUE(r);
    EXPECT_EQ(live.bytes_written, 6u);
    EXPECT_EQ(live.writes, 3u);
  });
}

TEST(copy, reports_a_failed_source_with_its_error_and_the_bytes_moved) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [a, src] = memory_pair(ex);
    std::string output;
    auto dst = string_flow(ex, "", &output);
    auto w = co_await write_string(a, "before");
    EXPECT_TRUE(w);
    background<copy_result> copying(ex, copy(src, dst));
    co_await test::yield(5);  // "before" is copied; the next read waits
    faults(src).fail_next_read(io_error);
    auto w2 = co_await write_string(a, "after");  // ends the waiting read; the one after fails
    EXPECT_TRUE(w2);
    auto r = co_await copying.get();
    EXPECT_FALSE(r);
    if (!r) {
      EXPECT_EQ(r.error().side, copy_side::source);
      EXPECT_EQ(r.error().error, io_error);
      EXPECT_EQ(r.error().stats.bytes_written, 11u);
      EXPECT_EQ(r.error().stats.writes, 2u);
    }
    EXPECT_EQ(output, "beforeafter");
  });
}

TEST(copy, reports_a_failed_destination_with_its_error) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto src = string_flow(ex, "abcdef", nullptr, 4);
    auto dst = string_flow(ex, "");  // no output: writes fail `closed`
    auto r = co_await copy(src, dst);
    EXPECT_FALSE(r);
    if (!r) {
      EXPECT_EQ(r.error().side, copy_side::destination);
      EXPECT_EQ(r.error().error, flow_errc::closed);
      EXPECT_EQ(r.error().stats.bytes_read, 4u);
      EXPECT_EQ(r.error().stats.bytes_written, 0u);
    }
  });
}

// ---- proxy -------------------------------------------------------------------------------------

// client <-> (near ~ proxy ~ far) <-> server
asio::awaitable<void> half_close_crosses_the_proxy(asio::any_io_executor ex) {
  auto [client, near] = memory_pair(ex);
  auto [far, server] = memory_pair(ex);
  background<std::pair<copy_result, copy_result>> proxying(ex, proxy(near, far));

  auto w = co_await write_string(client, "request");
  EXPECT_TRUE(w);
  co_await client.shutdown(shutdown_mode::write);
  auto request = co_await read_all(server);  // ends: the client's half-close crossed
  EXPECT_EQ(request.value_or("<error>"), "request");

  auto wa = co_await write_string(server, "answer");
  EXPECT_TRUE(wa);
  co_await server.shutdown(shutdown_mode::write);
  auto answer = co_await read_all(client);
  EXPECT_EQ(answer.value_or("<error>"), "answer");

  auto [to_server, to_client] = co_await proxying.get();
  EXPECT_TRUE(to_server);
  EXPECT_TRUE(to_client);
  EXPECT_EQ(to_server.value_or(copy_stats{}).bytes_written, 7u);
  EXPECT_EQ(to_client.value_or(copy_stats{}).bytes_written, 6u);
}

TEST(proxy, propagates_half_close_both_ways) {
  test::run([](asio::any_io_executor ex) { return half_close_crosses_the_proxy(ex); });
}

asio::awaitable<void> failure_ends_both_directions(asio::any_io_executor ex) {
  auto [client, near] = memory_pair(ex);
  auto [far, server] = memory_pair(ex);
  faults(near).fail_next_read(io_error);
  background<std::pair<copy_result, copy_result>> proxying(ex, proxy(near, far));

  // Neither peer speaks: the direction server -> client ends only because the other failed.
  auto [to_server, to_client] = co_await proxying.get();
  EXPECT_FALSE(to_server);
  if (!to_server) {
    EXPECT_EQ(to_server.error().side, copy_side::source);
    EXPECT_EQ(to_server.error().error, io_error);
  }
  EXPECT_TRUE(to_client);  // it ended because of the other direction, whose failure it is
  // The healthy side is told the stream was cut, not ended: a reset, never eof.
  auto server_sees = co_await server.read();
  EXPECT_EQ(error_of(server_sees), flow_condition::reset) << describe(server_sees);
  EXPECT_TRUE(near.impl().is_closed());
  EXPECT_TRUE(far.impl().is_closed());
}

TEST(proxy, a_failed_direction_ends_the_other_direction) {
  test::run([](asio::any_io_executor ex) { return failure_ends_both_directions(ex); });
}

// client resets -> near read fails reset -> far is aborted -> server reads reset.
asio::awaitable<void> abort_crosses_the_proxy(asio::any_io_executor ex) {
  auto [client, near] = memory_pair(ex);
  auto [far, server] = memory_pair(ex);
  background<std::pair<copy_result, copy_result>> proxying(ex, proxy(near, far));

  auto w = co_await write_string(client, "half an upl");
  EXPECT_TRUE(w);
  co_await client.abort();
  auto got = co_await read_string(server, 11);
  EXPECT_EQ(got.value_or("<error>"), "half an upl");
  auto cut = co_await server.read();
  EXPECT_EQ(error_of(cut), flow_condition::reset) << describe(cut);

  auto [to_server, to_client] = co_await proxying.get();
  EXPECT_FALSE(to_server);
  if (!to_server) {
    EXPECT_EQ(to_server.error().error, flow_condition::reset);
  }
  EXPECT_TRUE(to_client);
}

TEST(proxy, an_abort_on_one_side_is_passed_on_as_an_abort_not_an_end) {
  test::run([](asio::any_io_executor ex) { return abort_crosses_the_proxy(ex); });
}

// ---- read_exactly ------------------------------------------------------------------------------

TEST(read_exactly, gathers_n_bytes_across_reads) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto f = string_flow(ex, "abcdefghij", nullptr, 3);
    auto r = co_await read_exactly(f, 7);
    EXPECT_EQ(r.value_or(buffer{}).to_string(), "abcdefg");
  });
}

TEST(read_exactly, puts_back_what_it_read_past_n) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto f = string_flow(ex, "abcdef");
    auto r = co_await read_exactly(f, 2);
    EXPECT_EQ(r.value_or(buffer{}).to_string(), "ab");
    auto rest = co_await read_all(f);
    EXPECT_EQ(rest.value_or("<error>"), "cdef");
  });
}

TEST(read_exactly, eof_before_n_gives_unexpected_eof_and_puts_the_partial_bytes_back) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto f = string_flow(ex, "abc", nullptr, 2);
    auto r = co_await read_exactly(f, 5);
    EXPECT_EQ(error_of(r), flow_errc::unexpected_eof);
    auto again = co_await f.read();
    EXPECT_EQ(describe(again), "abc");
    auto end = co_await f.read();
    EXPECT_EQ(describe(end), "<eof>");
  });
}

TEST(read_exactly, eof_at_once_gives_unexpected_eof) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto f = string_flow(ex, "");
    auto r = co_await read_exactly(f, 1);
    EXPECT_EQ(error_of(r), flow_errc::unexpected_eof);
  });
}

TEST(read_exactly, passes_on_a_read_error) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [a, b] = memory_pair(ex);
    faults(b).fail_next_read(io_error);
    auto r = co_await read_exactly(b, 4);
    EXPECT_EQ(error_of(r), io_error);
  });
}

TEST(read_exactly, zero_bytes_is_an_invalid_argument) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto f = string_flow(ex, "abc");
    auto r = co_await read_exactly(f, 0);
    EXPECT_EQ(error_of(r), flow_errc::invalid_argument);
  });
}

// ---- with_timeout ------------------------------------------------------------------------------
//
// On a manual clock (tests/support/virtual_time.hpp): a timeout falls due only when nothing else
// can run, so each test takes no wall time and runs the same way every time.

TEST(with_timeout, times_out_a_read_that_never_completes) {
  manual_clock time;
  auto start = time.now();
  test::run_virtual(time, [&time](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [a, b] = memory_pair(ex);
    auto r = co_await with_timeout(b.read(), 20ms, time);
    EXPECT_EQ(error_of(r), flow_errc::timeout);
  });
  EXPECT_EQ(time.now() - start, 20ms);
}

TEST(with_timeout, after_a_timeout_the_flow_serves_a_later_read) {
  manual_clock time;
  test::run_virtual(time, [&time](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [a, b] = memory_pair(ex);
    auto timed_out = co_await with_timeout(b.read(), 20ms, time);
    EXPECT_EQ(error_of(timed_out), flow_errc::timeout);
    auto w = co_await write_string(a, "late");
    EXPECT_TRUE(w);
    auto r = co_await b.read();
    EXPECT_EQ(describe(r), "late");
  });
}

TEST(with_timeout, passes_through_a_result_that_finishes_in_time) {
  manual_clock time;
  auto start = time.now();
  test::run_virtual(time, [&time](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [a, b] = memory_pair(ex);
    auto w = co_await write_string(a, "in time");
    EXPECT_TRUE(w);
    auto r = co_await with_timeout(b.read(), 10s, time);
    EXPECT_EQ(describe(r), "in time");
  });
  EXPECT_EQ(time.now(), start);
  EXPECT_EQ(time.waiters(), 0u) << "the timeout's wait ends with the operation";
}

TEST(with_timeout, keeps_the_operations_own_error) {
  manual_clock time;
  test::run_virtual(time, [&time](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [a, b] = memory_pair(ex);
    co_await b.close();
    auto r = co_await with_timeout(b.read(), 10s, time);
    EXPECT_EQ(error_of(r), flow_errc::closed);
  });
}

asio::awaitable<int> forty_two() {
  co_return 42;
}

TEST(with_timeout, wraps_a_plain_value_in_a_result) {
  manual_clock time;
  test::run_virtual(time, [&time](asio::any_io_executor) -> asio::awaitable<void> {
    result<int> r = co_await with_timeout(forty_two(), 10s, time);
    EXPECT_EQ(r.value_or(0), 42);
  });
}

// An operation with no result that takes `d` of the clock's time.
asio::awaitable<void> nap(clock& time, clock::duration d) {
  co_await time.wait_for(d);
}

TEST(with_timeout, works_with_an_awaitable_void_that_finishes) {
  manual_clock time;
  auto start = time.now();
  test::run_virtual(time, [&time](asio::any_io_executor) -> asio::awaitable<void> {
    result<void> r = co_await with_timeout(nap(time, 1ms), 10s, time);
    EXPECT_TRUE(r);
  });
  EXPECT_EQ(time.now() - start, 1ms);
}

TEST(with_timeout, times_out_an_awaitable_void) {
  manual_clock time;
  auto start = time.now();
  test::run_virtual(time, [&time](asio::any_io_executor) -> asio::awaitable<void> {
    result<void> r = co_await with_timeout(nap(time, 10s), 20ms, time);
    EXPECT_EQ(error_of(r), flow_errc::timeout);
  });
  EXPECT_EQ(time.now() - start, 20ms);
}

TEST(with_timeout, runs_on_the_steady_clock_by_default) {
  // A timeout already due on the steady clock wins against a wait of an hour on it, at once: the
  // steady clock's timers fire, and its waits end when cancelled.
  test::run([](asio::any_io_executor) -> asio::awaitable<void> {
    result<void> r = co_await with_timeout(nap(clock::steady(), 1h), 0s);
    EXPECT_EQ(error_of(r), flow_errc::timeout);
  });
}

}  // namespace
}  // namespace flowstack
