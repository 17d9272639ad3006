#include <gtest/gtest.h>

#include <flowstack/core/framing.hpp>
#include <flowstack/core/memory_flow.hpp>

#include "support/run.hpp"
#include "support/virtual_time.hpp"

namespace flowstack {
namespace {

asio::awaitable<void> frames_cut_into_pieces_arrive_whole(asio::any_io_executor ex,
                                                          length_prefix prefix) {
  auto [a, b] = memory_pair(ex);
  b.as<memory_flow>()->cut_reads(1, 3);
  auto one = co_await write_frame(a, prefix, buffer::of_string("first frame"));
  auto two = co_await write_frame(a, prefix, buffer{});
  auto three = co_await write_frame(a, prefix, buffer::of_string("third"));
  EXPECT_TRUE(one && two && three);
  co_await a.shutdown(shutdown_mode::write);
  for (std::string_view expected : {"first frame", "", "third"}) {
    auto r = co_await read_frame(b, prefix, 64);
    CO_ASSERT_TRUE(r && *r);
    EXPECT_EQ((*r)->to_string(), expected);
  }
  auto end = co_await read_frame(b, prefix, 64);
  EXPECT_TRUE(end && !end->has_value());
  co_await a.close();
  co_await b.close();
}

TEST(framing, frames_cut_into_pieces_arrive_whole_then_clean_end) {
  for (auto prefix : {length_prefix::be16, length_prefix::be32}) {
    test::run([prefix](asio::any_io_executor ex) {
      return frames_cut_into_pieces_arrive_whole(ex, prefix);
    });
  }
}

asio::awaitable<void> prefix_is_big_endian(asio::any_io_executor ex) {
  auto [a, b] = memory_pair(ex);
  auto w = co_await write_frame(a, length_prefix::be32, buffer::of_string("abc"));
  EXPECT_TRUE(w);
  auto wire = co_await read_exactly(b, 7);
  CO_ASSERT_TRUE(wire);
  EXPECT_EQ(wire->to_string(), std::string("\0\0\0\3abc", 7));
  co_await a.close();
  co_await b.close();
}

TEST(framing, length_prefix_is_big_endian_and_precedes_the_frame) {
  test::run(prefix_is_big_endian);
}

asio::awaitable<void> too_long_frame_is_refused_and_nothing_is_lost(asio::any_io_executor ex) {
  auto [a, b] = memory_pair(ex);
  auto w = co_await write_frame(a, length_prefix::be16, buffer::of_string("0123456789"));
  EXPECT_TRUE(w);
  auto r = co_await read_frame(b, length_prefix::be16, 4);
  CO_ASSERT_TRUE(!r);
  EXPECT_EQ(r.error(), flow_errc::frame_too_large);
  auto again = co_await read_frame(b, length_prefix::be16, 10);
  CO_ASSERT_TRUE(again && *again);
  EXPECT_EQ((*again)->to_string(), "0123456789");
  co_await a.close();
  co_await b.close();
}

TEST(framing, frame_over_the_readers_limit_fails_and_stays_readable) {
  test::run(too_long_frame_is_refused_and_nothing_is_lost);
}

asio::awaitable<void> cut_frame_is_unexpected_eof(asio::any_io_executor ex) {
  auto [a, b] = memory_pair(ex);
  auto w = co_await a.write(buffer::of_string(std::string("\0\0\0\x08half", 8)));
  EXPECT_TRUE(w);
  co_await a.shutdown(shutdown_mode::write);
  auto r = co_await read_frame(b, length_prefix::be32, 64);
  CO_ASSERT_TRUE(!r);
  EXPECT_EQ(r.error(), flow_errc::unexpected_eof);
  co_await a.close();
  co_await b.close();
}

TEST(framing, eof_inside_a_frame_is_unexpected_eof) {
  test::run(cut_frame_is_unexpected_eof);
}

asio::awaitable<void> timed_out_read_loses_no_octet(asio::any_io_executor ex, clock& time) {
  using namespace std::chrono_literals;
  auto [a, b] = memory_pair(ex);
  // The length and half the body arrive; the reader gives up before the rest.
  auto w =
      co_await a.write(buffer::of_string(std::string("\0\x06"
                                                     "abc",
                                                     5)));
  EXPECT_TRUE(w);
  auto r = co_await with_timeout(read_frame(b, length_prefix::be16, 64), 10ms, time);
  CO_ASSERT_TRUE(!r);
  EXPECT_EQ(r.error(), flow_errc::timeout);
  auto rest = co_await a.write(buffer::of_string("def"));
  EXPECT_TRUE(rest);
  auto again = co_await read_frame(b, length_prefix::be16, 64);
  CO_ASSERT_TRUE(again && *again);
  EXPECT_EQ((*again)->to_string(), "abcdef");
  co_await a.close();
  co_await b.close();
}

TEST(framing, read_cancelled_inside_a_frame_puts_its_octets_back) {
  manual_clock time;
  test::run_virtual(
      time, [&time](asio::any_io_executor ex) { return timed_out_read_loses_no_octet(ex, time); });
}

TEST(framing, frame_longer_than_the_prefix_can_say_is_not_written) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [a, b] = memory_pair(ex);
    auto w = co_await write_frame(a, length_prefix::be16, buffer::create(0x10000));
    EXPECT_EQ(w.error(), flow_errc::frame_too_large);
    co_await a.close();
    co_await b.close();
  });
}

}  // namespace
}  // namespace flowstack
