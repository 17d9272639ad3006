// Fuzz target for the userspace stack's wire parsers (include/flowstack/stack/: Ethernet, ARP,
// IPv4 and its options, ICMP, UDP, TCP and its options).
//
// The input is one frame from a hostile network. It is read down through every layer it claims
// to have, with checksums verified and not (a device may have verified them), and whatever
// parses is written back and read again: the second reading must give the same fields. A
// parser must never read outside the frame (the sanitizers check) nor return a payload that is
// not inside it.
//
// With clang this is a libFuzzer target; with g++ it is linked with replay_main.cpp, which runs
// it over the files and directories named on the command line (the corpus).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <flowstack/stack/arp.hpp>
#include <flowstack/stack/ethernet.hpp>
#include <flowstack/stack/icmp.hpp>
#include <flowstack/stack/ipv4.hpp>
#include <flowstack/stack/ipv4_layer.hpp>
#include <flowstack/stack/segment.hpp>
#include <flowstack/stack/udp.hpp>
#include <span>
#include <vector>

namespace {

using namespace flowstack::stack;
using flowstack::buffer;
using flowstack::clock;
using bytes = std::span<const std::uint8_t>;

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "stack_frame_fuzz: invariant broken: %s\n", what);
  std::abort();
}

bytes view_of(const flowstack::buffer& b) {
  return {reinterpret_cast<const std::uint8_t*>(b.data()), b.size()};
}

void check_inside(bytes part, bytes whole, const char* what) {
  check(part.empty() || (part.data() >= whole.data() &&
                         part.data() + part.size() <= whole.data() + whole.size()),
        what);
}

void tcp(bytes segment, const checksum& pseudo) {
  for (bool verify : {false, true}) {
    auto s = parse_tcp(segment, pseudo, verify);
    if (!s) continue;
    check_inside(s->payload, segment, "a TCP payload outside the segment");
    if (s->header.size() > tcp_max_header_size) continue;  // more options than one header holds
    std::vector<std::uint8_t> out(s->header.size() + s->payload.size());
    std::copy(s->payload.begin(), s->payload.end(), out.begin() + s->header.size());
    checksum partial = pseudo;
    partial.add(s->payload);
    write_tcp_header(out, s->header, s->payload.size(), partial);
    auto again = parse_tcp(out, pseudo, true);
    check(again.has_value(), "a written TCP segment does not read back");
    check(again->header.options == s->header.options, "TCP options changed on the way back");
    check(again->header.seq == s->header.seq && again->header.ack == s->header.ack &&
              again->header.flags == s->header.flags,
          "TCP header fields changed on the way back");
  }
}

void udp(bytes datagram, const checksum& pseudo) {
  for (bool verify : {false, true}) {
    auto d = parse_udp(datagram, pseudo, verify);
    if (!d) continue;
    check_inside(d->payload, datagram, "a UDP payload outside the datagram");
    std::vector<std::uint8_t> out(udp_header_size + d->payload.size());
    std::copy(d->payload.begin(), d->payload.end(), out.begin() + udp_header_size);
    checksum partial = pseudo;
    partial.add(d->payload);
    write_udp_header(out, d->source_port, d->destination_port, d->payload.size(), partial);
    auto again = parse_udp(out, pseudo, true, false);
    check(again.has_value() && again->destination_port == d->destination_port,
          "a written UDP datagram does not read back");
  }
}

void icmp(bytes message) {
  for (bool verify : {false, true}) {
    auto m = parse_icmp(message, verify);
    if (!m) continue;
    check_inside(m->body, message, "an ICMP body outside the message");
    std::vector<std::uint8_t> out(message.begin(), message.end());
    checksum body;
    body.add(m->body);
    write_icmp_header(out, m->type, m->code, m->rest, body);
    check(parse_icmp(out, true).has_value(), "a written ICMP message does not read back");
  }
}

void ipv4(bytes packet) {
  for (bool verify : {false, true}) {
    auto p = parse_ipv4(packet, verify);
    if (!p) continue;
    check_inside(p->payload, packet, "an IPv4 payload outside the packet");
    std::vector<std::uint8_t> header(ipv4_min_header_size);
    ipv4_header h = p->header;
    h.total_length = static_cast<std::uint16_t>(ipv4_min_header_size + p->payload.size());
    write_ipv4_header(header, h);
    auto again = parse_ipv4(header, true);
    check(!again || again->header.source == h.source, "an IPv4 header changed on the way back");
    if (p->header.is_fragment()) continue;  // the transport header is in the first fragment
    auto pseudo = ipv4_pseudo_header(p->header.source, p->header.destination,
                                     static_cast<ip_protocol>(p->header.protocol));
    switch (static_cast<ip_protocol>(p->header.protocol)) {
      case ip_protocol::tcp:
        tcp(p->payload, pseudo);
        break;
      case ip_protocol::udp:
        udp(p->payload, pseudo);
        break;
      case ip_protocol::icmp:
        icmp(p->payload);
        break;
      default:
        break;
    }
  }
}

// The same frame through a network layer that owns the corpus frames' destination (10.0.0.2 at
// 02:00:00:00:00:02): whatever it answers must be frames it can read itself.
void network_layer(bytes frame_bytes) {
  const auto now = clock::time_point() + std::chrono::hours(1);
  for (bool verified : {false, true}) {
    ipv4_layer layer(mac_address{{2, 0, 0, 0, 0, 2}},
                     ipv4_config{asio::ip::make_address_v4("10.0.0.2"), 24,
                                 asio::ip::make_address_v4("10.0.0.254")},
                     now);
    std::vector<buffer> out;
    auto data = buffer::copy_of(std::as_bytes(frame_bytes));
    if (auto d = layer.input(frame{data, verified}, now, out)) {
      check_inside(view_of(d->payload), view_of(d->packet), "a delivery outside its packet");
      layer.send_unreachable(*d, unreachable_code::port, now, out);
    }
    layer.poll(now + std::chrono::seconds(60), out);
    for (const auto& f : out)
      check(parse_ethernet(view_of(f)).has_value(), "an answer that is no frame");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  bytes frame(data, size);
  network_layer(frame);
  auto f = parse_ethernet(frame);
  if (!f) return 0;
  check_inside(f->payload, frame, "an Ethernet payload outside the frame");
  if (f->type == static_cast<std::uint16_t>(ethertype::arp)) {
    auto a = parse_arp(f->payload);
    if (a) {
      std::vector<std::uint8_t> out(arp_packet_size);
      write_arp(out, *a);
      auto again = parse_arp(out);
      check(again.has_value() && *again == *a, "an ARP packet changed on the way back");
    }
  } else if (f->type == static_cast<std::uint16_t>(ethertype::ipv4)) {
    ipv4(f->payload);
  }
  return 0;
}
