#include <gtest/gtest.h>

#include <cstring>
#include <flowstack/core/function_flow.hpp>
#include <string>
#include <vector>

#include "support/async.hpp"
#include "support/run.hpp"

namespace flowstack {
namespace {

using test::describe;
using test::error_of;
using test::read_all;
using test::write_string;

TEST(string_flow, reads_give_the_input_in_pieces_of_read_size_then_eof) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto f = string_flow(ex, "abcdefg", nullptr, 3);
    std::vector<std::string> pieces;
    for (;;) {
      auto r = co_await f.read();
      if (!r || r->is_eof()) break;
      pieces.push_back(r->data().to_string());
    }
    EXPECT_EQ(pieces, (std::vector<std::string>{"abc", "def", "g"}));
    auto end = co_await f.read();
    EXPECT_EQ(describe(end), "<eof>");
  });
}

TEST(string_flow, empty_input_reads_eof_at_once) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto f = string_flow(ex, "");
    auto r = co_await f.read();
    EXPECT_EQ(describe(r), "<eof>");
  });
}

TEST(string_flow, writes_are_appended_to_the_output) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    std::string output;
    auto f = string_flow(ex, "", &output);
    auto w1 = co_await write_string(f, "one ");
    std::vector<buffer> parts{buffer::of_string("two "), buffer{}, buffer::of_string("three")};
    auto w2 = co_await f.writev(parts);
    EXPECT_TRUE(w1 && w2);
    EXPECT_EQ(output, "one two three");
  });
}

TEST(string_flow, without_output_writes_fail_closed) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto f = string_flow(ex, "still readable");
    auto w = co_await write_string(f, "x");
    EXPECT_EQ(error_of(w), flow_errc::closed);
    auto again = co_await write_string(f, "x");
    EXPECT_EQ(error_of(again), flow_errc::closed);
    auto got = co_await read_all(f);
    EXPECT_EQ(got.value_or("<error>"), "still readable");
  });
}

TEST(buffers_flow, reads_give_each_buffer_in_turn_skipping_empty_ones) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    std::vector<buffer> input{buffer::of_string("first"), buffer{}, buffer::of_string("2nd")};
    auto f = buffers_flow(ex, input);
    auto r1 = co_await f.read();
    auto r2 = co_await f.read();
    auto r3 = co_await f.read();
    EXPECT_EQ(describe(r1), "first");
    EXPECT_EQ(describe(r2), "2nd");
    EXPECT_EQ(describe(r3), "<eof>");
  });
}

TEST(buffers_flow, written_buffers_are_collected_one_by_one) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    std::vector<buffer> output;
    auto f = buffers_flow(ex, {}, &output);
    auto w1 = co_await write_string(f, "a");
    auto w2 = co_await write_string(f, "bc");
    EXPECT_TRUE(w1 && w2);
    std::vector<std::string> texts;
    for (const auto& b : output) texts.push_back(b.to_string());
    EXPECT_EQ(texts, (std::vector<std::string>{"a", "bc"}));
  });
}

TEST(function_flow, input_callback_fills_each_read_and_zero_means_eof) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    int calls = 0;
    function_flow_callbacks callbacks;
    callbacks.input = [&calls](std::span<std::byte> into) -> std::size_t {
      if (++calls > 2) return 0;
      std::memset(into.data(), 'x', 2);
      return 2;
    };
    auto f = function_flow(ex, std::move(callbacks), 8);
    auto got = co_await read_all(f);
    EXPECT_EQ(got.value_or("<error>"), "xxxx");
    EXPECT_EQ(calls, 3);
  });
}

TEST(function_flow, output_callback_sees_every_non_empty_buffer) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    std::vector<std::string> seen;
    function_flow_callbacks callbacks;
    callbacks.output = [&seen](const buffer& b) { seen.push_back(b.to_string()); };
    auto f = function_flow(ex, std::move(callbacks));
    std::vector<buffer> parts{buffer{}, buffer::of_string("x"), buffer::of_string("yz")};
    auto w = co_await f.writev(parts);
    EXPECT_TRUE(w);
    EXPECT_EQ(seen, (std::vector<std::string>{"x", "yz"}));
  });
}

TEST(function_flow, on_close_runs_once_however_often_the_flow_is_closed) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    int closes = 0;
    function_flow_callbacks callbacks;
    callbacks.on_close = [&closes] { ++closes; };
    auto f = function_flow(ex, std::move(callbacks));
    co_await f.close();
    co_await f.close();
    EXPECT_EQ(closes, 1);
    auto r = co_await f.read();
    EXPECT_EQ(error_of(r), flow_errc::closed);
  });
}

TEST(function_flow, without_input_reads_eof) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto f = function_flow(ex, {});
    auto r = co_await f.read();
    EXPECT_EQ(describe(r), "<eof>");
  });
}

}  // namespace
}  // namespace flowstack
