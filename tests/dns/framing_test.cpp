#include <gtest/gtest.h>

#include <flowstack/core/memory_flow.hpp>
#include <flowstack/dns/framing.hpp>
#include <flowstack/dns/message.hpp>

#include "support/async.hpp"
#include "support/run.hpp"
#include "wire.hpp"

namespace flowstack::dns {
namespace {

using test::dname;

buffer query_for(std::string_view qname, std::uint16_t id) {
  message m;
  m.header.id = id;
  m.header.rd = true;
  m.questions.push_back({dname(qname), rr_type::a, rr_class::in});
  auto wire = encode(m).value();
  return buffer::copy_of(std::as_bytes(std::span(wire)));
}

asio::awaitable<void> three_messages_then_end(asio::any_io_executor ex, std::size_t cut) {
  auto [a, b] = memory_pair(ex);
  b.as<memory_flow>()->cut_reads(cut, cut);
  for (std::uint16_t id = 1; id <= 3; ++id) {
    auto w = co_await write_tcp_message(a, query_for("example.com", id));
    EXPECT_TRUE(w);
  }
  co_await a.shutdown(shutdown_mode::write);
  for (std::uint16_t id = 1; id <= 3; ++id) {
    auto r = co_await read_tcp_message(b);
    EXPECT_TRUE(r && *r);
    if (!r || !*r) break;
    auto m = decode(**r);
    EXPECT_TRUE(m);
    EXPECT_EQ(m ? m->header.id : 0, id);
  }
  auto end = co_await read_tcp_message(b);
  EXPECT_TRUE(end);
  EXPECT_FALSE(end && end->has_value());
  co_await a.close();
  co_await b.close();
}

TEST(dns_framing, messages_cut_into_pieces_arrive_whole_then_clean_end) {
  for (std::size_t cut = 1; cut <= 3; ++cut) {
    SCOPED_TRACE(cut);
    flowstack::test::run(
        [cut](asio::any_io_executor ex) { return three_messages_then_end(ex, cut); });
  }
}

asio::awaitable<std::error_code> error_after_sending(asio::any_io_executor ex, std::string raw) {
  auto [a, b] = memory_pair(ex);
  b.as<memory_flow>()->cut_reads(2, 7);
  auto w = co_await a.write(buffer::of_string(raw));
  EXPECT_TRUE(w);
  co_await a.shutdown(shutdown_mode::write);
  auto r = co_await read_tcp_message(b);
  co_await a.close();
  co_await b.close();
  co_return flowstack::test::error_of(r);
}

TEST(dns_framing, eof_in_the_middle_of_a_message_is_an_error) {
  auto ec = flowstack::test::run([](asio::any_io_executor ex) {
    return error_after_sending(ex, std::string("\x00\x10"
                                               "abc",
                                               5));
  });
  EXPECT_EQ(ec, flow_errc::unexpected_eof);
}

TEST(dns_framing, eof_in_the_middle_of_the_length_is_an_error) {
  auto ec = flowstack::test::run(
      [](asio::any_io_executor ex) { return error_after_sending(ex, std::string("\x00", 1)); });
  EXPECT_EQ(ec, flow_errc::unexpected_eof);
}

TEST(dns_framing, length_prefix_is_big_endian_and_precedes_the_message) {
  auto bytes = flowstack::test::run([](asio::any_io_executor ex) -> asio::awaitable<std::string> {
    auto [a, b] = memory_pair(ex);
    auto w = co_await write_tcp_message(a, buffer::of_string(std::string(300, 'x')));
    EXPECT_TRUE(w);
    co_await a.shutdown(shutdown_mode::write);
    auto all = co_await flowstack::test::read_all(b);
    co_await a.close();
    co_await b.close();
    co_return all.value_or("");
  });
  ASSERT_EQ(bytes.size(), 302u);
  EXPECT_EQ(bytes[0], '\x01');
  EXPECT_EQ(bytes[1], '\x2c');
}

TEST(dns_framing, message_over_65535_octets_is_not_written) {
  auto ec = flowstack::test::run([](asio::any_io_executor ex) -> asio::awaitable<std::error_code> {
    auto [a, b] = memory_pair(ex);
    auto w = co_await write_tcp_message(a, buffer::create(65536));
    co_await a.close();
    co_await b.close();
    co_return flowstack::test::error_of(w);
  });
  EXPECT_EQ(ec, dns_errc::message_too_large);
}

TEST(dns_framing, zero_length_frame_gives_an_empty_message) {
  auto size = flowstack::test::run([](asio::any_io_executor ex) -> asio::awaitable<std::size_t> {
    auto [a, b] = memory_pair(ex);
    auto w = co_await a.write(buffer::of_string(std::string("\x00\x00", 2)));
    EXPECT_TRUE(w);
    auto r = co_await read_tcp_message(b);
    co_await a.close();
    co_await b.close();
    co_return (r && *r) ? (*r)->size() : 99;
  });
  EXPECT_EQ(size, 0u);
}

}  // namespace
}  // namespace flowstack::dns
