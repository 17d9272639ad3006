// The in-memory switch: where frames go, and each fault it applies, on a manual clock.
#include <gtest/gtest.h>

#include <flowstack/stack/ipv4.hpp>
#include <flowstack/stack/memory_switch.hpp>
#include <flowstack/stack/segment.hpp>
#include <string>
#include <vector>

#include "support/virtual_time.hpp"

namespace flowstack::stack {
namespace {

using namespace std::chrono_literals;

const mac_address mac_a{{2, 0, 0, 0, 0, 0xa}};
const mac_address mac_b{{2, 0, 0, 0, 0, 0xb}};
const mac_address mac_c{{2, 0, 0, 0, 0, 0xc}};

buffer frame_to(const mac_address& to, const mac_address& from, const std::string& payload) {
  buffer b = buffer::create(ethernet_header_size + payload.size());
  auto bytes = std::span(reinterpret_cast<std::uint8_t*>(b.data()), b.size());
  write_ethernet_header(bytes, to, from, ethertype::ipv4);
  std::copy(payload.begin(), payload.end(), bytes.begin() + ethernet_header_size);
  return b;
}

std::string payload_of(const frame& f) {
  return f.data.shift(ethernet_header_size).to_string();
}

// A TCP segment in a frame from a to b, with `flags` and `data`.
buffer tcp_frame(std::uint8_t flags, const std::string& data) {
  tcp_header h;
  h.source_port = 1;
  h.destination_port = 2;
  h.flags = flags;
  std::size_t ip_size = ipv4_min_header_size + h.size() + data.size();
  buffer b = buffer::create(ethernet_header_size + ip_size);
  auto bytes = std::span(reinterpret_cast<std::uint8_t*>(b.data()), b.size());
  write_ethernet_header(bytes, mac_b, mac_a, ethertype::ipv4);
  ipv4_header ip;
  ip.protocol = static_cast<std::uint8_t>(ip_protocol::tcp);
  ip.total_length = static_cast<std::uint16_t>(ip_size);
  write_ipv4_header(bytes.subspan(ethernet_header_size), ip);
  auto tcp = bytes.subspan(ethernet_header_size + ipv4_min_header_size);
  std::copy(data.begin(), data.end(), tcp.begin() + h.size());
  write_tcp_header(tcp, h, data.size(), checksum());
  return b;
}

TEST(memory_switch, a_frame_goes_to_the_port_it_is_addressed_to_only) {
  manual_clock time;
  test::run_virtual(time, [&time](asio::any_io_executor ex) -> asio::awaitable<void> {
    memory_switch s(ex, time);
    auto a = s.connect(mac_a), b = s.connect(mac_b), c = s.connect(mac_c);
    EXPECT_TRUE(a->send(frame_to(mac_b, mac_a, "for b")));
    auto got = co_await b->receive();
    CO_ASSERT_TRUE(got);
    EXPECT_EQ(payload_of(*got), "for b");
    EXPECT_EQ(s.counters(mac_c)->delivered, 0u);
    EXPECT_EQ(s.counters(mac_a)->delivered, 0u);
  });
}

TEST(memory_switch, broadcast_and_unknown_addresses_reach_every_other_port) {
  manual_clock time;
  test::run_virtual(time, [&time](asio::any_io_executor ex) -> asio::awaitable<void> {
    memory_switch s(ex, time);
    auto a = s.connect(mac_a), b = s.connect(mac_b), c = s.connect(mac_c);
    EXPECT_TRUE(a->send(frame_to(mac_address::broadcast(), mac_a, "all")));
    EXPECT_TRUE(a->send(frame_to(mac_address{{2, 0, 0, 0, 0, 0xf}}, mac_a, "nobody")));
    for (auto* d : {b.get(), c.get()}) {
      auto first = co_await d->receive();
      auto second = co_await d->receive();
      CO_ASSERT_TRUE(first && second);
      EXPECT_EQ(payload_of(*first), "all");
      EXPECT_EQ(payload_of(*second), "nobody");
    }
    EXPECT_EQ(s.counters(mac_a)->delivered, 0u) << "a port hears itself";
  });
}

TEST(memory_switch, delay_and_rate_decide_when_a_frame_arrives) {
  manual_clock time;
  test::run_virtual(time, [&time](asio::any_io_executor ex) -> asio::awaitable<void> {
    memory_switch s(ex, time);
    auto a = s.connect(mac_a);
    // 1,000 bytes at 8 Mbit/s take 1 ms on the wire, then 5 ms of propagation.
    auto b = s.connect(mac_b, {.delay = 5ms, .bits_per_second = 8'000'000});
    const auto start = time.now();
    std::string payload(1000 - ethernet_header_size, 'x');
    EXPECT_TRUE(a->send(frame_to(mac_b, mac_a, payload)));
    EXPECT_TRUE(a->send(frame_to(mac_b, mac_a, payload)));
    auto first = co_await b->receive();
    EXPECT_TRUE(first);
    EXPECT_EQ(time.now() - start, 6ms);
    auto second = co_await b->receive();
    EXPECT_TRUE(second);
    EXPECT_EQ(time.now() - start, 7ms) << "the second waits for the first to leave the wire";
  });
}

TEST(memory_switch, the_same_seed_loses_the_same_frames) {
  auto losses = [](std::uint64_t seed) {
    manual_clock time;
    asio::io_context io;
    memory_switch s(io.get_executor(), time, seed);
    auto a = s.connect(mac_a);
    auto b = s.connect(mac_b, {.loss = 0.5});
    std::vector<bool> pattern;
    for (int i = 0; i < 200; ++i) {
      auto before = s.counters(mac_b)->lost;
      EXPECT_TRUE(a->send(frame_to(mac_b, mac_a, "x")));
      pattern.push_back(s.counters(mac_b)->lost != before);
    }
    return pattern;
  };
  auto one = losses(7);
  EXPECT_EQ(one, losses(7));
  EXPECT_NE(one, losses(8));
  auto lost = std::count(one.begin(), one.end(), true);
  EXPECT_GT(lost, 60);
  EXPECT_LT(lost, 140);
}

TEST(memory_switch, ack_loss_drops_pure_acks_and_nothing_else) {
  manual_clock time;
  asio::io_context io;
  memory_switch s(io.get_executor(), time);
  auto a = s.connect(mac_a);
  auto b = s.connect(mac_b, {.ack_loss = 1});
  EXPECT_TRUE(a->send(tcp_frame(tcp_flag::ack, "")));
  EXPECT_TRUE(a->send(tcp_frame(tcp_flag::ack, "data")));
  EXPECT_TRUE(a->send(tcp_frame(tcp_flag::ack | tcp_flag::fin, "")));
  EXPECT_TRUE(a->send(tcp_frame(tcp_flag::syn | tcp_flag::ack, "")));
  EXPECT_EQ(s.counters(mac_b)->acks_lost, 1u);
  EXPECT_EQ(s.counters(mac_b)->delivered, 3u);
}

TEST(memory_switch, duplicated_frames_arrive_twice) {
  manual_clock time;
  test::run_virtual(time, [&time](asio::any_io_executor ex) -> asio::awaitable<void> {
    memory_switch s(ex, time);
    auto a = s.connect(mac_a);
    auto b = s.connect(mac_b, {.duplicate = 1});
    EXPECT_TRUE(a->send(frame_to(mac_b, mac_a, "twice")));
    auto one = co_await b->receive();
    auto two = co_await b->receive();
    CO_ASSERT_TRUE(one && two);
    EXPECT_EQ(payload_of(*one), "twice");
    EXPECT_EQ(payload_of(*two), "twice");
  });
}

TEST(memory_switch, reordered_frames_are_passed_by_later_ones_and_all_arrive) {
  manual_clock time;
  test::run_virtual(time, [&time](asio::any_io_executor ex) -> asio::awaitable<void> {
    memory_switch s(ex, time, 3);
    auto a = s.connect(mac_a);
    auto b = s.connect(mac_b, {.reorder = 0.3, .reorder_delay = 1ms});
    for (int i = 0; i < 50; ++i) {
      EXPECT_TRUE(a->send(frame_to(mac_b, mac_a, std::to_string(i))));
      co_await time.wait_for(100us);
    }
    std::vector<int> order;
    for (int i = 0; i < 50; ++i) {
      auto f = co_await b->receive();
      CO_ASSERT_TRUE(f);
      order.push_back(std::stoi(payload_of(*f)));
    }
    EXPECT_FALSE(std::is_sorted(order.begin(), order.end()));
    std::sort(order.begin(), order.end());
    for (int i = 0; i < 50; ++i) EXPECT_EQ(order[i], i);
    EXPECT_GT(s.counters(mac_b)->reordered, 0u);
  });
}

TEST(memory_switch, a_corrupted_frame_differs_in_exactly_one_bit) {
  manual_clock time;
  test::run_virtual(time, [&time](asio::any_io_executor ex) -> asio::awaitable<void> {
    memory_switch s(ex, time);
    auto a = s.connect(mac_a);
    auto b = s.connect(mac_b, {.corrupt = 1});
    buffer sent = frame_to(mac_b, mac_a, std::string(100, '\x55'));
    buffer original = sent.clone();
    EXPECT_TRUE(a->send(sent));
    auto got = co_await b->receive();
    CO_ASSERT_TRUE(got);
    int bits = 0;
    for (std::size_t i = 0; i < original.size(); ++i)
      bits += std::popcount(static_cast<unsigned>(original.get_u8(i) ^ got->data.get_u8(i)));
    EXPECT_EQ(bits, 1);
    EXPECT_EQ(sent, original) << "the sender's buffer was damaged";
  });
}

TEST(memory_switch, frames_larger_than_the_mtu_queue_overflow_and_outages_are_lost) {
  manual_clock time;
  asio::io_context io;
  memory_switch s(io.get_executor(), time);
  auto a = s.connect(mac_a);
  const auto start = time.now();
  auto b = s.connect(mac_b, {.mtu = 100, .outages = {{start + 1s, start + 2s}}, .queue_frames = 2});
  EXPECT_TRUE(a->send(frame_to(mac_b, mac_a, std::string(101, 'x'))));
  EXPECT_EQ(s.counters(mac_b)->too_big, 1u);
  EXPECT_TRUE(a->send(frame_to(mac_b, mac_a, std::string(100, 'x'))));
  time.advance(1s);
  EXPECT_TRUE(a->send(frame_to(mac_b, mac_a, "in the outage")));
  EXPECT_EQ(s.counters(mac_b)->in_outage, 1u);
  time.advance(1s);
  EXPECT_TRUE(a->send(frame_to(mac_b, mac_a, "after")));
  EXPECT_TRUE(a->send(frame_to(mac_b, mac_a, "no room")));
  EXPECT_EQ(s.counters(mac_b)->queue_full, 1u);
  EXPECT_EQ(s.counters(mac_b)->delivered, 2u);
}

TEST(memory_switch, close_ends_a_pending_receive_and_later_sends) {
  manual_clock time;
  test::run_virtual(time, [&time](asio::any_io_executor ex) -> asio::awaitable<void> {
    memory_switch s(ex, time);
    auto a = s.connect(mac_a);
    auto b = s.connect(mac_b);
    auto* port = b.get();
    asio::co_spawn(
        ex,
        [](device* d) -> asio::awaitable<void> {
          d->close();
          co_return;
        }(port),
        asio::detached);
    auto r = co_await b->receive();
    EXPECT_EQ(r.error(), flow_errc::closed);
    EXPECT_EQ(b->send(frame_to(mac_a, mac_b, "x")).error(), flow_errc::closed);
  });
}

TEST(memory_switch, a_port_that_outlives_its_switch_is_closed) {
  manual_clock time;
  test::run_virtual(time, [&time](asio::any_io_executor ex) -> asio::awaitable<void> {
    std::unique_ptr<device> a;
    {
      memory_switch s(ex, time);
      a = s.connect(mac_a);
    }
    EXPECT_EQ(a->send(frame_to(mac_b, mac_a, "after")).error(), flow_errc::closed);
    auto r = co_await a->receive();
    EXPECT_FALSE(r.has_value());
  });
}

}  // namespace
}  // namespace flowstack::stack
