// The TAP device against Linux's own stack, in a network namespace the test makes: frames built
// with the wire writers go in, and Linux's answers come out and read back.
#include <gtest/gtest.h>

#include <flowstack/core/combinators.hpp>
#include <flowstack/stack/arp_cache.hpp>
#include <flowstack/stack/error.hpp>
#include <flowstack/stack/icmp.hpp>
#include <flowstack/stack/ipv4.hpp>
#include <flowstack/stack/tap.hpp>

#include "support/netns.hpp"
#include "support/run.hpp"

namespace flowstack::stack {
namespace {

using namespace std::chrono_literals;

const mac_address ours{{0x02, 0, 0, 0, 0x42, 0x01}};
const auto our_ip = asio::ip::make_address_v4("10.213.9.2");
const auto linux_ip = asio::ip::make_address_v4("10.213.9.1");

std::span<std::uint8_t> bytes_of(const buffer& b) {
  return {reinterpret_cast<std::uint8_t*>(b.data()), b.size()};
}

std::span<const std::uint8_t> view(const buffer& b) {
  return {reinterpret_cast<const std::uint8_t*>(b.data()), b.size()};
}

buffer arp_frame(const arp_packet& a, const mac_address& to) {
  buffer b = buffer::create(ethernet_header_size + arp_packet_size);
  write_ethernet_header(bytes_of(b), to, ours, ethertype::arp);
  write_arp(bytes_of(b).subspan(ethernet_header_size), a);
  return b;
}

buffer echo_request(const mac_address& to, std::uint16_t id, std::uint16_t seq,
                    const std::string& data) {
  ipv4_header ip;
  ip.protocol = static_cast<std::uint8_t>(ip_protocol::icmp);
  ip.source = our_ip;
  ip.destination = linux_ip;
  ip.identification = seq;
  ip.total_length =
      static_cast<std::uint16_t>(ipv4_min_header_size + icmp_header_size + data.size());
  buffer b = buffer::create(ethernet_header_size + ip.total_length);
  auto bytes = bytes_of(b);
  write_ethernet_header(bytes, to, ours, ethertype::ipv4);
  write_ipv4_header(bytes.subspan(ethernet_header_size), ip);
  auto icmp = bytes.subspan(ethernet_header_size + ipv4_min_header_size);
  std::copy(data.begin(), data.end(), icmp.begin() + icmp_header_size);
  checksum body;
  body.add(icmp.subspan(icmp_header_size));
  write_icmp_header(icmp, static_cast<std::uint8_t>(icmp_type::echo_request), 0,
                    std::uint32_t(id) << 16 | seq, body);
  return b;
}

// The next frame for which `wanted` holds, within 5 s; other frames (Linux's IPv6 router
// solicitations, say) are passed over.
template <typename Predicate>
asio::awaitable<result<frame>> next_frame(device& d, Predicate wanted) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto f = co_await with_timeout(d.receive(), 5s);
    if (!f || wanted(view(f->data))) co_return f;
  }
  co_return fail(flow_errc::timeout);
}

TEST(tap_device, linux_answers_arp_and_ping_through_it) {
  test::network_namespace ns("tap");
  ASSERT_TRUE(ns.ok());
  auto error = ns.enter([&ns] {
    return test::run([&ns](asio::any_io_executor ex) -> asio::awaitable<std::error_code> {
      auto opened = open_tap(ex, {.name = "fs0", .address = ours});
      if (!opened) co_return opened.error();
      auto& tap = **opened;
      EXPECT_TRUE(ns.ip("link set fs0 up"));
      EXPECT_TRUE(ns.ip("addr add 10.213.9.1/24 dev fs0"));

      EXPECT_TRUE(
          tap.send(arp_frame(request_for(linux_ip, our_ip, ours), mac_address::broadcast())));
      auto reply = co_await next_frame(tap, [](std::span<const std::uint8_t> bytes) {
        auto f = parse_ethernet(bytes);
        if (!f || f->type != static_cast<std::uint16_t>(ethertype::arp)) return false;
        auto a = parse_arp(f->payload);
        return a && a->operation == arp_operation::reply;
      });
      if (!reply) co_return reply.error();
      auto f = parse_ethernet(view(reply->data));
      auto a = parse_arp(f->payload);
      EXPECT_EQ(f->destination, ours);
      EXPECT_EQ(a->sender_ip, linux_ip);
      EXPECT_EQ(a->target_mac, ours);
      const mac_address linux_mac = a->sender_mac;

      EXPECT_TRUE(tap.send(echo_request(linux_mac, 0x4242, 7, "flowstack ping")));
      auto pong = co_await next_frame(tap, [](std::span<const std::uint8_t> bytes) {
        auto f = parse_ethernet(bytes);
        if (!f || f->type != static_cast<std::uint16_t>(ethertype::ipv4)) return false;
        auto p = parse_ipv4(f->payload);
        return p && p->header.protocol == static_cast<std::uint8_t>(ip_protocol::icmp);
      });
      if (!pong) co_return pong.error();
      auto p = parse_ipv4(parse_ethernet(view(pong->data))->payload);
      EXPECT_TRUE(p) << "Linux's IPv4 header does not verify";
      auto m = parse_icmp(p->payload);
      EXPECT_TRUE(m) << "Linux's ICMP checksum does not verify";
      EXPECT_EQ(m->type, static_cast<std::uint8_t>(icmp_type::echo_reply));
      EXPECT_EQ(m->echo_identifier(), 0x4242);
      EXPECT_EQ(m->echo_sequence(), 7);
      EXPECT_EQ(std::string(m->body.begin(), m->body.end()), "flowstack ping");
      tap.close();
      co_return std::error_code();
    });
  });
  EXPECT_FALSE(error) << error.message();
}

TEST(tap_device, a_name_too_long_for_an_interface_is_refused) {
  auto r = test::run([](asio::any_io_executor ex) -> asio::awaitable<std::error_code> {
    auto opened = open_tap(ex, {.name = "a-name-of-sixteen"});
    co_return opened ? std::error_code() : opened.error();
  });
  EXPECT_EQ(r, std::errc::invalid_argument);
}

TEST(tap_device, closing_ends_a_pending_receive) {
  test::network_namespace ns("tap-close");
  ASSERT_TRUE(ns.ok());
  auto error = ns.enter([] {
    return test::run([](asio::any_io_executor ex) -> asio::awaitable<std::error_code> {
      auto opened = open_tap(ex, {.name = "fs1"});
      if (!opened) co_return opened.error();
      device* tap = opened->get();
      asio::co_spawn(
          ex,
          [](device* d) -> asio::awaitable<void> {
            d->close();
            co_return;
          }(tap),
          asio::detached);
      auto r = co_await tap->receive();
      co_return r ? std::error_code() : r.error();
    });
  });
  EXPECT_EQ(error, flow_errc::closed);
}

}  // namespace
}  // namespace flowstack::stack
