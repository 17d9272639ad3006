// The network layer as a function of frames and time: two layers talk by passing each other's
// frames, and each rule is checked on what comes out.
#include <gtest/gtest.h>

#include <flowstack/net/error.hpp>
#include <flowstack/stack/ipv4_layer.hpp>
#include <flowstack/stack/udp.hpp>
#include <string>

namespace flowstack::stack {
namespace {

using namespace std::chrono_literals;
using time_point = ipv4_layer::time_point;
using drop = ipv4_layer::drop_reason;

const time_point t0 = time_point() + 1000h;
const mac_address mac_a{{2, 0, 0, 0, 0, 0xa}};
const mac_address mac_b{{2, 0, 0, 0, 0, 0xb}};

asio::ip::address_v4 ip(const char* text) {
  return asio::ip::make_address_v4(text);
}

std::span<const std::uint8_t> view(const buffer& b) {
  return {reinterpret_cast<const std::uint8_t*>(b.data()), b.size()};
}

struct host {
  host(mac_address mac, const char* address, std::optional<asio::ip::address_v4> gateway = {},
       std::size_t mtu = 1500)
      : layer(mac, ipv4_config{ip(address), 24, gateway, mtu}, t0) {}
  ipv4_layer layer;
  std::vector<buffer> out;
  std::vector<ipv4_delivery> delivered;

  void take(const std::vector<buffer>& frames, time_point now = t0) {
    for (const auto& f : frames) {
      if (auto d = layer.input(frame{f}, now, out)) delivered.push_back(*d);
    }
  }
};

// Passes frames both ways until neither has anything left to say.
void settle(host& a, host& b, time_point now = t0) {
  while (!a.out.empty() || !b.out.empty()) {
    auto from_a = std::exchange(a.out, {});
    auto from_b = std::exchange(b.out, {});
    b.take(from_a, now);
    a.take(from_b, now);
  }
}

ethernet_frame ethernet_of(const buffer& f) {
  return *parse_ethernet(view(f));
}

buffer udp_payload(const std::string& data) {
  buffer d = buffer::create(udp_header_size + data.size());
  std::copy(data.begin(), data.end(), reinterpret_cast<char*>(d.data()) + udp_header_size);
  auto bytes = std::span(reinterpret_cast<std::uint8_t*>(d.data()), d.size());
  checksum partial = ipv4_pseudo_header(ip("10.0.0.1"), ip("10.0.0.2"), ip_protocol::udp);
  partial.add(bytes.subspan(udp_header_size));
  write_udp_header(bytes, 5000, 53, data.size(), partial);
  return d;
}

TEST(ipv4_layer, a_packet_waits_for_arp_and_goes_once_the_neighbour_answers) {
  host a(mac_a, "10.0.0.1"), b(mac_b, "10.0.0.2");
  ASSERT_TRUE(a.layer.send(ip("10.0.0.2"), ip_protocol::udp, udp_payload("hello"), t0, a.out));
  ASSERT_EQ(a.out.size(), 1u);
  auto request = ethernet_of(a.out[0]);
  EXPECT_TRUE(request.destination.is_broadcast());
  EXPECT_EQ(request.type, static_cast<std::uint16_t>(ethertype::arp));
  settle(a, b);
  ASSERT_EQ(b.delivered.size(), 1u);
  const auto& d = b.delivered[0];
  EXPECT_EQ(d.header.source, ip("10.0.0.1"));
  EXPECT_EQ(d.header.protocol, static_cast<std::uint8_t>(ip_protocol::udp));
  auto udp = parse_udp(view(d.payload),
                       ipv4_pseudo_header(d.header.source, d.header.destination, ip_protocol::udp));
  ASSERT_TRUE(udp);
  EXPECT_EQ(std::string(udp->payload.begin(), udp->payload.end()), "hello");
  // The answer is known now: the next packet goes at once, to b's address.
  ASSERT_TRUE(a.layer.send(ip("10.0.0.2"), ip_protocol::udp, udp_payload("again"), t0, a.out));
  ASSERT_EQ(a.out.size(), 1u);
  EXPECT_EQ(ethernet_of(a.out[0]).destination, mac_b);
}

TEST(ipv4_layer, arp_requests_for_other_addresses_get_no_reply) {
  host a(mac_a, "10.0.0.1"), b(mac_b, "10.0.0.2");
  ASSERT_TRUE(a.layer.send(ip("10.0.0.3"), ip_protocol::udp, udp_payload("x"), t0, a.out));
  b.take(std::exchange(a.out, {}));
  EXPECT_TRUE(b.out.empty());
}

TEST(ipv4_layer, the_start_up_announcement_is_a_gratuitous_arp) {
  host a(mac_a, "10.0.0.1");
  a.layer.announce(a.out);
  ASSERT_EQ(a.out.size(), 1u);
  auto e = ethernet_of(a.out[0]);
  auto arp = parse_arp(e.payload);
  ASSERT_TRUE(arp);
  EXPECT_EQ(arp->sender_ip, ip("10.0.0.1"));
  EXPECT_EQ(arp->target_ip, ip("10.0.0.1"));
}

TEST(ipv4_layer, off_link_packets_go_to_the_gateway_and_without_one_are_unreachable) {
  host a(mac_a, "10.0.0.1", ip("10.0.0.254"));
  ASSERT_TRUE(a.layer.send(ip("192.0.2.7"), ip_protocol::udp, udp_payload("x"), t0, a.out));
  auto arp = parse_arp(ethernet_of(a.out.at(0)).payload);
  ASSERT_TRUE(arp);
  EXPECT_EQ(arp->target_ip, ip("10.0.0.254"));

  host lonely(mac_b, "10.0.0.2");
  auto r = lonely.layer.send(ip("192.0.2.7"), ip_protocol::udp, udp_payload("x"), t0, lonely.out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), net::net_errc::unreachable);
  EXPECT_EQ(lonely.layer.drops(drop::no_route), 1u);
  EXPECT_TRUE(lonely.out.empty());
}

TEST(ipv4_layer, echo_requests_are_answered_with_the_same_identifier_sequence_and_data) {
  host a(mac_a, "10.0.0.1"), b(mac_b, "10.0.0.2");
  buffer ping = buffer::create(icmp_header_size + 4);
  std::memcpy(ping.data() + icmp_header_size, "ping", 4);
  checksum body;
  body.add(view(ping).subspan(icmp_header_size));
  write_icmp_header(std::span(reinterpret_cast<std::uint8_t*>(ping.data()), ping.size()), 8, 0,
                    0x00070001, body);
  ASSERT_TRUE(a.layer.send(ip("10.0.0.2"), ip_protocol::icmp, ping, t0, a.out));
  settle(a, b);
  EXPECT_TRUE(b.delivered.empty()) << "the echo request went up instead of being answered";
  ASSERT_EQ(a.delivered.size(), 1u);
  auto reply = parse_icmp(view(a.delivered[0].payload));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->type, static_cast<std::uint8_t>(icmp_type::echo_reply));
  EXPECT_EQ(reply->rest, 0x00070001u);
  EXPECT_EQ(std::string(reply->body.begin(), reply->body.end()), "ping");
}

TEST(ipv4_layer, frames_and_packets_for_others_are_dropped) {
  host a(mac_a, "10.0.0.1"), b(mac_b, "10.0.0.2"), c(mac_address{{2, 0, 0, 0, 0, 0xc}}, "10.0.0.3");
  ASSERT_TRUE(a.layer.send(ip("10.0.0.2"), ip_protocol::udp, udp_payload("x"), t0, a.out));
  settle(a, b);
  ASSERT_TRUE(a.layer.send(ip("10.0.0.2"), ip_protocol::udp, udp_payload("y"), t0, a.out));
  c.take(a.out);  // a frame for b's MAC
  EXPECT_EQ(c.layer.drops(drop::not_for_us), 1u);
  // The same packet in a frame for c's MAC: for another IP address, and a host does not forward.
  buffer misdirected = a.out[0].clone();
  std::copy(c.layer.mac().bytes.begin(), c.layer.mac().bytes.end(),
            reinterpret_cast<std::uint8_t*>(misdirected.data()));
  c.take({misdirected});
  EXPECT_EQ(c.layer.drops(drop::not_for_us), 2u);
  EXPECT_TRUE(c.delivered.empty());
}

TEST(ipv4_layer, a_damaged_packet_is_dropped_unless_the_device_verified_it) {
  host a(mac_a, "10.0.0.1"), b(mac_b, "10.0.0.2");
  ASSERT_TRUE(a.layer.send(ip("10.0.0.2"), ip_protocol::udp, udp_payload("x"), t0, a.out));
  settle(a, b);
  ASSERT_TRUE(a.layer.send(ip("10.0.0.2"), ip_protocol::udp, udp_payload("y"), t0, a.out));
  buffer damaged = a.out[0].clone();
  damaged.set_u8(ethernet_header_size + 8, 1);  // the TTL, under the header checksum
  b.take({damaged});
  EXPECT_EQ(b.layer.drops(drop::bad_packet), 1u);
  EXPECT_TRUE(b.layer.input(frame{damaged, true}, t0, b.out));
}

TEST(ipv4_layer, an_arp_packet_claiming_our_address_is_a_conflict_not_a_mapping) {
  host b(mac_b, "10.0.0.2");
  host spoofer(mac_a, "10.0.0.2");
  ASSERT_TRUE(spoofer.layer.send(ip("10.0.0.7"), ip_protocol::udp, udp_payload("x"), t0,
                                 spoofer.out));  // an ARP request whose sender is 10.0.0.2
  b.take(spoofer.out);
  EXPECT_EQ(b.layer.drops(drop::bad_source), 1u);
  EXPECT_TRUE(b.out.empty());
}

TEST(ipv4_layer, a_packet_from_our_own_address_is_dropped) {
  host b(mac_b, "10.0.0.2");
  ipv4_header h;
  h.protocol = static_cast<std::uint8_t>(ip_protocol::udp);
  h.source = ip("10.0.0.2");
  h.destination = ip("10.0.0.2");
  buffer payload = udp_payload("x");
  h.total_length = static_cast<std::uint16_t>(ipv4_min_header_size + payload.size());
  buffer f = buffer::create(ethernet_header_size + h.total_length);
  auto bytes = std::span(reinterpret_cast<std::uint8_t*>(f.data()), f.size());
  write_ethernet_header(bytes, mac_b, mac_a, ethertype::ipv4);
  write_ipv4_header(bytes.subspan(ethernet_header_size), h);
  std::copy_n(payload.data(), payload.size(),
              f.data() + ethernet_header_size + ipv4_min_header_size);
  b.take({f});
  EXPECT_EQ(b.layer.drops(drop::bad_source), 1u);
  EXPECT_TRUE(b.delivered.empty());
}

TEST(ipv4_layer, large_packets_are_fragmented_to_the_mtu_and_reassembled) {
  host a(mac_a, "10.0.0.1"), b(mac_b, "10.0.0.2");
  std::string big(4000, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  ASSERT_TRUE(a.layer.send(ip("10.0.0.2"), ip_protocol::udp, udp_payload(big), t0, a.out));
  b.take(std::exchange(a.out, {}));  // the ARP request
  a.take(std::exchange(b.out, {}));  // the reply releases the fragments
  ASSERT_EQ(a.out.size(), 3u);
  for (const auto& f : a.out) EXPECT_LE(f.size(), ethernet_header_size + 1500);
  b.take(std::exchange(a.out, {}));
  ASSERT_EQ(b.delivered.size(), 1u);
  auto udp = parse_udp(view(b.delivered[0].payload),
                       ipv4_pseudo_header(ip("10.0.0.1"), ip("10.0.0.2"), ip_protocol::udp));
  ASSERT_TRUE(udp);
  EXPECT_EQ(std::string(udp->payload.begin(), udp->payload.end()), big);
}

TEST(ipv4_layer, port_unreachable_quotes_the_packet_and_is_rate_limited) {
  ipv4_layer::options o;
  o.icmp_errors_per_second = 1;
  o.icmp_error_burst = 2;
  host a(mac_a, "10.0.0.1");
  ipv4_layer b(mac_b, ipv4_config{ip("10.0.0.2"), 24}, t0, o);
  std::vector<buffer> b_out;
  ASSERT_TRUE(a.layer.send(ip("10.0.0.2"), ip_protocol::udp, udp_payload("x"), t0, a.out));
  for (auto& f : std::exchange(a.out, {})) (void)b.input(frame{f}, t0, b_out);
  a.take(std::exchange(b_out, {}));
  ASSERT_EQ(a.out.size(), 1u);
  auto d = b.input(frame{a.out[0]}, t0, b_out);
  ASSERT_TRUE(d);
  for (int i = 0; i < 3; ++i) b.send_unreachable(*d, unreachable_code::port, t0, b_out);
  EXPECT_EQ(b_out.size(), 2u) << "the burst is two";
  EXPECT_EQ(b.drops(drop::icmp_rate_limited), 1u);
  b.send_unreachable(*d, unreachable_code::port, t0 + 1s, b_out);
  EXPECT_EQ(b_out.size(), 3u) << "a token comes back each second";

  a.out.clear();
  a.take({b_out[0]});
  ASSERT_EQ(a.delivered.size(), 1u);
  auto m = parse_icmp(view(a.delivered[0].payload));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->type, static_cast<std::uint8_t>(icmp_type::destination_unreachable));
  EXPECT_EQ(m->code, static_cast<std::uint8_t>(unreachable_code::port));
  auto quoted = parse_ipv4(m->body);
  ASSERT_TRUE(quoted) << "the quoted header does not read";
  EXPECT_EQ(quoted->header.destination, ip("10.0.0.2"));
}

TEST(ipv4_layer, no_icmp_error_is_sent_about_icmp_or_broadcast) {
  host a(mac_a, "10.0.0.1"), b(mac_b, "10.0.0.2");
  ipv4_delivery about_icmp;
  about_icmp.header.protocol = static_cast<std::uint8_t>(ip_protocol::icmp);
  about_icmp.header.source = ip("10.0.0.1");
  about_icmp.header.destination = ip("10.0.0.2");
  b.layer.send_unreachable(about_icmp, unreachable_code::port, t0, b.out);
  ipv4_delivery broadcast;
  broadcast.header.protocol = static_cast<std::uint8_t>(ip_protocol::udp);
  broadcast.header.source = ip("10.0.0.1");
  broadcast.header.destination = ip("10.0.0.255");
  b.layer.send_unreachable(broadcast, unreachable_code::port, t0, b.out);
  ipv4_delivery later_fragment = broadcast;
  later_fragment.header.destination = ip("10.0.0.2");
  later_fragment.header.fragment_offset = 1480;
  b.layer.send_unreachable(later_fragment, unreachable_code::port, t0, b.out);
  EXPECT_TRUE(b.out.empty());
}

TEST(ipv4_layer, a_neighbour_that_never_answers_is_given_up_and_reported) {
  host a(mac_a, "10.0.0.1");
  ASSERT_TRUE(a.layer.send(ip("10.0.0.9"), ip_protocol::udp, udp_payload("x"), t0, a.out));
  ASSERT_TRUE(a.layer.send(ip("10.0.0.9"), ip_protocol::udp, udp_payload("y"), t0, a.out));
  EXPECT_EQ(a.out.size(), 1u) << "one request for two packets";
  std::vector<asio::ip::address_v4> gone;
  auto now = t0;
  while (gone.empty()) {
    auto next = a.layer.next_deadline();
    ASSERT_TRUE(next);
    now = *next;
    gone = a.layer.poll(now, a.out);
  }
  EXPECT_EQ(gone, std::vector{ip("10.0.0.9")});
  EXPECT_EQ(now - t0, 3s) << "three requests a second apart";
  EXPECT_EQ(a.out.size(), 3u);
  EXPECT_EQ(a.layer.drops(drop::arp_unanswered), 2u);
}

}  // namespace
}  // namespace flowstack::stack
