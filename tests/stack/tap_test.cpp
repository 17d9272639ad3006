// The TAP device against Linux's own stack, in a network namespace the test makes: frames built
// with the wire writers go in, and Linux's answers come out and read back.
#include <gtest/gtest.h>

#include <flowstack/core/combinators.hpp>
#include <flowstack/stack/arp_cache.hpp>
#include <flowstack/stack/error.hpp>
#include <flowstack/stack/icmp.hpp>
#include <flowstack/stack/ipv4.hpp>
#include <flowstack/stack/ipv4_layer.hpp>
#include <flowstack/stack/segment.hpp>
#include <flowstack/stack/tap.hpp>
#include <flowstack/stack/tcp_layer.hpp>

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

// ---- the virtio-net header ---------------------------------------------------------------------

constexpr std::size_t tcp_at = ethernet_header_size + ipv4_min_header_size;
constexpr std::size_t tcp_checksum_at = tcp_at + 16;

// What a read of the device gives for a TCP segment from Linux to the stack's port 80: the
// virtio-net header `h`, then the frame, whose TCP checksum is right unless `damaged`.
buffer tcp_read(virtio_net_header h, std::uint8_t flags, const std::string& data,
                bool damaged = false) {
  ipv4_header ip;
  ip.protocol = static_cast<std::uint8_t>(ip_protocol::tcp);
  ip.source = linux_ip;
  ip.destination = our_ip;
  ip.total_length =
      static_cast<std::uint16_t>(ipv4_min_header_size + tcp_min_header_size + data.size());
  buffer b = buffer::create(virtio_net_header_size + ethernet_header_size + ip.total_length);
  std::memcpy(b.data(), &h, sizeof h);
  auto bytes = bytes_of(b).subspan(virtio_net_header_size);
  write_ethernet_header(bytes, ours, mac_address{{0x02, 0, 0, 0, 0x42, 0x99}}, ethertype::ipv4);
  write_ipv4_header(bytes.subspan(ethernet_header_size), ip);
  auto tcp = bytes.subspan(tcp_at);
  std::copy(data.begin(), data.end(), tcp.begin() + tcp_min_header_size);
  tcp_header t;
  t.source_port = 40000;
  t.destination_port = 80;
  t.seq = 1000;
  t.flags = flags;
  t.window = 65535;
  checksum partial = ipv4_pseudo_header(linux_ip, our_ip, ip_protocol::tcp);
  partial.add(tcp.subspan(tcp_min_header_size));
  write_tcp_header(tcp, t, data.size(), partial);
  if (damaged) bytes[tcp_checksum_at] ^= 0x5a;
  return b;
}

// The stack's network and TCP layers as direct_stack runs them, listening on port 80: what a
// frame from the device makes them send.
struct receiving_stack {
  receiving_stack() : ip(ours, {our_ip, 24, std::nullopt, 1500}, {}), tcp(our_ip, {}) {
    EXPECT_TRUE(tcp.listen(80, 8));
  }
  std::vector<tcp_packet> take(const frame& f) {
    if (auto d = ip.input(f, {}, arp))
      tcp.input(d->header, d->payload.octets(), d->checksums_verified, {});
    return tcp.take_output();
  }
  ipv4_layer ip;
  tcp_layer tcp;
  std::vector<buffer> arp;
};

TEST(tap_device, a_frame_the_kernel_marked_data_valid_is_taken_without_summing_it) {
  virtio_net_header valid{};
  valid.flags = virtio_net_header::data_valid;
  // The checksum is wrong, and a frame the kernel vouches for is not summed again: the SYN is
  // answered, which shows that the stack trusted the mark.
  auto f = frame_of_virtio_net(tcp_read(valid, tcp_flag::syn, "", true));
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->checksums_verified);
  receiving_stack s;
  auto answer = s.take(*f);
  ASSERT_EQ(answer.size(), 1u);
  auto syn_ack = parse_tcp(answer[0].segment.octets(), checksum(), false);
  ASSERT_TRUE(syn_ack);
  EXPECT_EQ(syn_ack->header.flags, tcp_flag::syn | tcp_flag::ack);
  EXPECT_EQ(s.tcp.stats().malformed, 0u);
}

TEST(tap_device, a_corrupted_frame_the_kernel_did_not_mark_is_dropped) {
  auto f = frame_of_virtio_net(tcp_read(virtio_net_header{}, tcp_flag::syn, "", true));
  ASSERT_TRUE(f);
  EXPECT_FALSE(f->checksums_verified);
  receiving_stack s;
  EXPECT_TRUE(s.take(*f).empty());
  EXPECT_EQ(s.tcp.stats().malformed, 1u);
  // The same frame undamaged is answered.
  auto good = frame_of_virtio_net(tcp_read(virtio_net_header{}, tcp_flag::syn, ""));
  ASSERT_TRUE(good);
  EXPECT_EQ(s.take(*good).size(), 1u);
}

TEST(tap_device, a_partial_checksum_from_the_kernel_is_completed_to_the_right_one) {
  const std::string data = "seventeen bytes!!";
  const buffer whole = tcp_read(virtio_net_header{}, tcp_flag::ack | tcp_flag::psh, data);
  // As the kernel leaves it with TUN_F_CSUM: the field holds the pseudo-header's sum (length
  // included), not inverted, and the header says where to finish it.
  buffer partial = buffer::copy_of(whole.bytes());
  auto bytes = bytes_of(partial);
  checksum pseudo = ipv4_pseudo_header(linux_ip, our_ip, ip_protocol::tcp);
  pseudo.add_u16(static_cast<std::uint16_t>(tcp_min_header_size + data.size()));
  const std::uint16_t folded = static_cast<std::uint16_t>(~pseudo.value());
  bytes[virtio_net_header_size + tcp_checksum_at] = static_cast<std::uint8_t>(folded >> 8);
  bytes[virtio_net_header_size + tcp_checksum_at + 1] = static_cast<std::uint8_t>(folded);
  virtio_net_header h{};
  h.flags = virtio_net_header::needs_csum;
  h.csum_start = tcp_at;
  h.csum_offset = 16;
  std::memcpy(partial.data(), &h, sizeof h);

  auto f = frame_of_virtio_net(partial);
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->checksums_verified);
  EXPECT_TRUE(std::equal(whole.bytes().begin() + virtio_net_header_size, whole.bytes().end(),
                         f->data.bytes().begin(), f->data.bytes().end()))
      << "the completed frame differs from the one summed whole";
  auto p = parse_ipv4(view(f->data).subspan(ethernet_header_size));
  ASSERT_TRUE(p);
  EXPECT_TRUE(parse_tcp(p->payload, ipv4_pseudo_header(linux_ip, our_ip, ip_protocol::tcp)));
}

TEST(tap_device, a_virtio_net_header_that_cannot_be_followed_drops_the_frame) {
  EXPECT_EQ(frame_of_virtio_net(buffer::create(virtio_net_header_size - 1)).error(),
            stack_errc::truncated);
  virtio_net_header past_the_end{};
  past_the_end.flags = virtio_net_header::needs_csum;
  past_the_end.csum_start = tcp_at;
  past_the_end.csum_offset = 200;
  EXPECT_EQ(frame_of_virtio_net(tcp_read(past_the_end, tcp_flag::ack, "")).error(),
            stack_errc::truncated);
  virtio_net_header udp_gso{};
  udp_gso.gso_type = virtio_net_header::gso_udp;
  EXPECT_EQ(frame_of_virtio_net(tcp_read(udp_gso, tcp_flag::ack, "")).error(),
            stack_errc::unsupported);
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
