#include <gtest/gtest.h>

#include <algorithm>
#include <flowstack/core/combinators.hpp>
#include <flowstack/core/memory_flow.hpp>
#include <string>
#include <vector>

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
using test::write_string;

// The sizes of the reads that deliver a stream of `total` bytes through ends cut to `max`.
asio::awaitable<std::vector<std::size_t>> read_sizes(asio::any_io_executor ex, std::size_t total,
                                                     std::size_t max, std::uint64_t seed) {
  auto [a, b] = memory_pair(ex);
  faults(b).cut_reads(max, seed);
  auto w = co_await a.write(buffer::create(total));
  EXPECT_TRUE(w);
  co_await a.shutdown(shutdown_mode::write);
  std::vector<std::size_t> sizes;
  for (;;) {
    auto r = co_await b.read();
    if (!r || r->is_eof()) break;
    sizes.push_back(r->data().size());
  }
  co_return sizes;
}

TEST(memory_pair, bytes_written_on_one_end_are_read_on_the_other) {
  auto got = test::run([](asio::any_io_executor ex) -> asio::awaitable<std::string> {
    auto [a, b] = memory_pair(ex);
    auto w = co_await write_string(a, "hello");
    EXPECT_TRUE(w);
    co_await a.shutdown(shutdown_mode::write);
    auto text = co_await read_all(b);
    co_return text.value_or("<error>");
  });
  EXPECT_EQ(got, "hello");
}

TEST(memory_pair, ends_describe_themselves) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [a, b] = memory_pair(ex);
    EXPECT_EQ(a.description(), "memory a");
    EXPECT_EQ(b.description(), "memory b");
    EXPECT_EQ(a.underlying(), nullptr);
    co_return;
  });
}

TEST(memory_pair, a_write_within_capacity_is_accepted_without_a_reader) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [a, b] = memory_pair(ex, {.capacity = 16});
    auto w = co_await a.write(buffer::create(16));
    EXPECT_TRUE(w);
  });
}

TEST(memory_pair, capacity_blocks_a_writer_until_the_reader_reads) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [a, b] = memory_pair(ex, {.capacity = 4});
    background<write_result> write(ex, write_string(a, "0123456789"));
    co_await test::yield(10);
    EXPECT_FALSE(write.ready()) << "a write of 10 bytes finished with room for 4";
    std::string got;
    while (got.size() < 10) {
      auto r = co_await b.read();
      EXPECT_TRUE(r && !r->is_eof());
      if (!r || r->is_eof()) break;
      EXPECT_LE(r->data().size(), 4u);
      got += r->data().as_string_view();
    }
    auto w = co_await write.get();
    EXPECT_TRUE(w);
    EXPECT_EQ(got, "0123456789");
  });
}

TEST(memory_pair, fail_next_read_fails_the_next_read_with_the_given_error) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [a, b] = memory_pair(ex);
    auto w = co_await write_string(a, "queued");
    EXPECT_TRUE(w);
    faults(b).fail_next_read(io_error);
    auto r = co_await b.read();
    EXPECT_EQ(error_of(r), io_error);
  });
}

TEST(memory_pair, fail_next_write_fails_the_next_write_and_sends_nothing) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [a, b] = memory_pair(ex);
    faults(a).fail_next_write(io_error);
    auto w = co_await write_string(a, "lost");
    EXPECT_EQ(error_of(w), io_error);
    co_await a.close();
    auto r = co_await b.read();
    EXPECT_EQ(describe(r), "<eof>");
  });
}

TEST(memory_pair, fault_injection_applies_to_one_end_only) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [a, b] = memory_pair(ex);
    faults(a).fail_next_read(io_error);
    faults(a).fail_next_write(io_error);
    auto w = co_await write_string(b, "fine");
    EXPECT_TRUE(w);
    auto wa = co_await write_string(a, "x");
    EXPECT_EQ(error_of(wa), io_error);
  });
}

TEST(memory_pair, cut_reads_delivers_between_one_and_n_bytes_per_read) {
  for (std::size_t max : {1, 2, 3, 7}) {
    auto sizes =
        test::run([max](asio::any_io_executor ex) { return read_sizes(ex, 1000, max, 9); });
    SCOPED_TRACE(max);
    std::size_t total = 0;
    for (auto s : sizes) {
      EXPECT_GE(s, 1u);
      EXPECT_LE(s, max);
      total += s;
    }
    EXPECT_EQ(total, 1000u);
    if (max > 1) {
      EXPECT_TRUE(std::any_of(sizes.begin(), sizes.end(), [max](auto s) { return s != max; }))
          << "every read had the maximal size";
    }
  }
}

TEST(memory_pair, cut_reads_with_the_same_seed_cuts_the_same_way) {
  auto first = test::run([](asio::any_io_executor ex) { return read_sizes(ex, 500, 7, 42); });
  auto again = test::run([](asio::any_io_executor ex) { return read_sizes(ex, 500, 7, 42); });
  auto other = test::run([](asio::any_io_executor ex) { return read_sizes(ex, 500, 7, 43); });
  EXPECT_EQ(first, again);
  EXPECT_NE(first, other);
}

TEST(memory_pair, cut_reads_keep_every_byte_in_order) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [a, b] = memory_pair(ex);
    faults(b).cut_reads(3);
    auto w1 = co_await write_string(a, "the quick brown fox ");
    auto w2 = co_await write_string(a, "jumps over the lazy dog");
    EXPECT_TRUE(w1 && w2);
    co_await a.shutdown(shutdown_mode::write);
    auto got = co_await read_all(b);
    EXPECT_EQ(got.value_or("<error>"), "the quick brown fox jumps over the lazy dog");
  });
}

TEST(memory_pair, delay_reads_holds_back_data_that_is_already_there) {
  manual_clock time;
  auto start = time.now();
  test::run_virtual(time, [&time](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [a, b] = memory_pair(ex);
    faults(b).delay_reads(300ms, time);
    auto w = co_await write_string(a, "slow");
    EXPECT_TRUE(w);
    auto early = co_await with_timeout(b.read(), 20ms, time);
    EXPECT_EQ(error_of(early), flow_errc::timeout);
    auto r = co_await b.read();
    EXPECT_EQ(describe(r), "slow");
  });
  EXPECT_EQ(time.now() - start, 20ms + 300ms);
}

TEST(memory_pair, close_gives_the_peer_the_queued_data_then_eof) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [a, b] = memory_pair(ex);
    auto w = co_await write_string(a, "last words");
    EXPECT_TRUE(w);
    co_await a.close();
    auto got = co_await read_all(b);
    EXPECT_EQ(got.value_or("<error>"), "last words");
  });
}

TEST(memory_pair, abort_gives_the_peer_the_queued_data_then_reset) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [a, b] = memory_pair(ex);
    auto w = co_await write_string(a, "cut sho");
    EXPECT_TRUE(w);
    co_await a.abort();
    auto got = co_await b.read();
    EXPECT_EQ(describe(got), "cut sho");
    auto cut = co_await b.read();
    EXPECT_EQ(error_of(cut), flow_errc::reset) << describe(cut);
    EXPECT_EQ(error_of(cut), flow_condition::reset);
  });
}

TEST(memory_pair, shutdown_read_makes_the_peers_writes_fail_closed) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [a, b] = memory_pair(ex);
    co_await b.shutdown(shutdown_mode::read);
    auto w = co_await write_string(a, "nobody listens");
    EXPECT_EQ(error_of(w), flow_errc::closed);
  });
}

TEST(memory_pair, shutdown_read_wakes_a_writer_blocked_on_capacity) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [a, b] = memory_pair(ex, {.capacity = 4});
    background<write_result> write(ex, write_string(a, "more than four"));
    co_await test::yield(5);
    co_await b.shutdown(shutdown_mode::read);
    auto w = co_await write.get();
    EXPECT_EQ(error_of(w), flow_errc::closed);
  });
}

TEST(memory_pair, dropping_an_end_without_close_ends_the_connection_for_the_peer) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [a, b] = memory_pair(ex);
    auto w = co_await write_string(a, "bye");
    EXPECT_TRUE(w);
    a = flow();
    auto got = co_await read_all(b);
    EXPECT_EQ(got.value_or("<error>"), "bye");
    auto wb = co_await write_string(b, "anyone?");
    EXPECT_EQ(error_of(wb), flow_errc::closed);
  });
}

}  // namespace
}  // namespace flowstack
