// The wire formats, read and written, against frames built by scapy 2.5 (the expression that
// built each is beside it), and against the damaged and hostile variants a peer can send.
#include <gtest/gtest.h>

#include <flowstack/stack/arp.hpp>
#include <flowstack/stack/error.hpp>
#include <flowstack/stack/ethernet.hpp>
#include <flowstack/stack/icmp.hpp>
#include <flowstack/stack/ipv4.hpp>
#include <flowstack/stack/segment.hpp>
#include <flowstack/stack/udp.hpp>
#include <string>
#include <vector>

namespace flowstack::stack {
namespace {

using bytes = std::vector<std::uint8_t>;

bytes from_hex(std::string_view hex) {
  bytes out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

asio::ip::address_v4 ip(const char* text) {
  return asio::ip::make_address_v4(text);
}

// Ether(dst="02:00:00:00:00:02", src="02:00:00:00:00:01")/IP(src="10.0.0.1", dst="10.0.0.2",
// id=0x1234, flags="DF", ttl=64)/TCP(sport=40000, dport=80, seq=0x01020304, flags="S",
// window=64240, options=[('MSS',1460),('SAckOK',b''),('Timestamp',(123456,0)),('NOP',None),
// ('WScale',7)])
const bytes syn_frame = from_hex(
    "02000000000202000000000108004500003c12344000400614860a0000010a0000029c4000500102030400000000"
    "a002faf0b6340000020405b40402080a0001e2400000000001030307");

// The same addresses; IP(id=7)/TCP(sport=40000, dport=80, seq=1000, ack=2000, flags="PA",
// window=502, options=[NOP, NOP, ('Timestamp',(5,6)), NOP, NOP, ('SAck',(3000,4000,5000,6000))])
// /Raw(b"hello, world!")
const bytes data_frame = from_hex(
    "020000000002020000000001080045000055000700004006669a0a0000010a0000029c400050000003e8000007d0"
    "d01801f6ba9800000101080a00000005000000060101051200000bb800000fa0000013880000177068656c6c6f2c"
    "20776f726c6421");

// IP(id=9)/UDP(sport=5353, dport=53)/Raw(b"odd"): an odd length, for the checksum's last octet.
const bytes udp_frame = from_hex(
    "02000000000202000000000108004500001f00090000401166c30a0000010a00000214e90035000b03536f6464");

// IP(id=11)/ICMP(type=8, id=0x4242, seq=3)/Raw(b"abcdefgh12345")
const bytes ping_frame = from_hex(
    "020000000002020000000001080045000029000b0000400166c70a0000010a00000208008abe4242000361626364"
    "656667683132333435");

// Ether(dst="ff:ff:ff:ff:ff:ff", src="02:00:00:00:00:01")/ARP(op=1, hwsrc="02:00:00:00:00:01",
// psrc="10.0.0.1", pdst="10.0.0.2")
const bytes arp_frame = from_hex(
    "ffffffffffff020000000001080600010800060400010200000000010a0000010000000000000a000002");

// IP(src="10.0.0.1", dst="10.0.0.2", id=99, flags="MF", frag=185, ttl=3)/Raw(b"x"*16)
const bytes fragment_packet =
    from_hex("45000024006320b9030082bc0a0000010a00000278787878787878787878787878787878");

// The error of a result that should have failed, or no error when it did not.
template <typename T>
std::error_code error_of(const result<T>& r) {
  return r ? std::error_code() : r.error();
}

std::span<const std::uint8_t> ip_part(const bytes& frame) {
  return std::span(frame).subspan(ethernet_header_size);
}

checksum pseudo(const ipv4_packet& p) {
  return ipv4_pseudo_header(p.header.source, p.header.destination,
                            static_cast<ip_protocol>(p.header.protocol));
}

// ---- checksum ------------------------------------------------------------------------------

TEST(stack_checksum, matches_the_example_of_rfc_1071) {
  // RFC 1071 §3: the sum of 0001 f203 f4f5 f6f7 is ddf2, so the checksum is its complement.
  const bytes b = from_hex("0001f203f4f5f6f7");
  EXPECT_EQ(internet_checksum(b), 0x220d);
}

TEST(stack_checksum, pieces_of_any_length_sum_as_one_buffer) {
  bytes b;
  for (int i = 0; i < 101; ++i) b.push_back(static_cast<std::uint8_t>(i * 37 + 11));
  const auto whole = internet_checksum(b);
  for (std::size_t cut1 = 0; cut1 <= b.size(); cut1 += 7) {
    for (std::size_t cut2 = cut1; cut2 <= b.size(); cut2 += 5) {
      checksum c;
      c.add(std::span(b).first(cut1));
      c.add(std::span(b).subspan(cut1, cut2 - cut1));
      c.add(std::span(b).subspan(cut2));
      EXPECT_EQ(c.value(), whole) << "cut at " << cut1 << " and " << cut2;
    }
  }
}

TEST(stack_checksum, all_ones_words_do_not_overflow_the_sum) {
  // 32768 words of ffff sum to ffff in one's complement: the checksum is its complement, 0.
  EXPECT_EQ(internet_checksum(bytes(65536, 0xff)), 0x0000);
  // An odd octet ff pads to ff00: ffff + ff00 = ff00 (end-around carry), complement 00ff.
  EXPECT_EQ(internet_checksum(bytes(65535, 0xff)), 0x00ff);
}

// ---- Ethernet and ARP ------------------------------------------------------------------------

TEST(stack_ethernet, reads_addresses_type_and_payload) {
  auto f = parse_ethernet(syn_frame);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->destination.to_string(), "02:00:00:00:00:02");
  EXPECT_EQ(f->source.to_string(), "02:00:00:00:00:01");
  EXPECT_EQ(f->type, static_cast<std::uint16_t>(ethertype::ipv4));
  EXPECT_EQ(f->payload.size(), syn_frame.size() - ethernet_header_size);
}

TEST(stack_ethernet, a_frame_shorter_than_a_header_is_truncated) {
  auto f = parse_ethernet(std::span(syn_frame).first(13));
  EXPECT_EQ(error_of(f), stack_errc::truncated);
}

TEST(stack_ethernet, an_8023_length_field_is_not_ethernet_ii) {
  bytes frame = syn_frame;
  frame[12] = 0x05;
  frame[13] = 0xdc;  // 1500: a length, not a type
  EXPECT_EQ(error_of(parse_ethernet(frame)), stack_errc::unsupported);
}

TEST(stack_ethernet, writes_the_header_it_reads) {
  bytes out(ethernet_header_size);
  write_ethernet_header(out, *mac_address::parse("02:00:00:00:00:02"),
                        *mac_address::parse("02-00-00-00-00-01"), ethertype::ipv4);
  EXPECT_EQ(out, bytes(syn_frame.begin(), syn_frame.begin() + ethernet_header_size));
}

TEST(stack_mac_address, parses_only_six_hex_pairs) {
  EXPECT_TRUE(mac_address::parse("aa:BB:cc:00:11:22"));
  EXPECT_FALSE(mac_address::parse("aa:bb:cc:00:11"));
  EXPECT_FALSE(mac_address::parse("aa:bb:cc:00:11:2g"));
  EXPECT_FALSE(mac_address::parse("aa:bb-cc:00:11:22"));
  EXPECT_TRUE(mac_address::broadcast().is_broadcast());
  EXPECT_TRUE(mac_address::broadcast().is_multicast());
  EXPECT_FALSE(mac_address::parse("02:00:00:00:00:01")->is_multicast());
}

TEST(stack_arp, reads_a_request) {
  auto f = parse_ethernet(arp_frame);
  ASSERT_TRUE(f);
  auto a = parse_arp(f->payload);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->operation, arp_operation::request);
  EXPECT_EQ(a->sender_mac.to_string(), "02:00:00:00:00:01");
  EXPECT_EQ(a->sender_ip, ip("10.0.0.1"));
  EXPECT_TRUE(a->target_mac.is_zero());
  EXPECT_EQ(a->target_ip, ip("10.0.0.2"));
}

TEST(stack_arp, writes_the_packet_it_reads) {
  auto a = parse_arp(ip_part(arp_frame));
  ASSERT_TRUE(a);
  bytes out(arp_packet_size);
  write_arp(out, *a);
  EXPECT_EQ(out, bytes(arp_frame.begin() + ethernet_header_size, arp_frame.end()));
}

TEST(stack_arp, refuses_other_hardware_protocols_sizes_and_operations) {
  for (std::size_t at : {1u, 3u, 4u, 5u, 7u}) {
    bytes packet(arp_frame.begin() + ethernet_header_size, arp_frame.end());
    packet[at] ^= 0x10;
    EXPECT_EQ(error_of(parse_arp(packet)), stack_errc::unsupported) << "octet " << at;
  }
  EXPECT_EQ(error_of(parse_arp(std::span(ip_part(arp_frame)).first(27))), stack_errc::truncated);
}

// ---- IPv4 ----------------------------------------------------------------------------------

TEST(stack_ipv4, reads_the_header_fields) {
  auto p = parse_ipv4(ip_part(syn_frame));
  ASSERT_TRUE(p);
  const auto& h = p->header;
  EXPECT_EQ(h.source, ip("10.0.0.1"));
  EXPECT_EQ(h.destination, ip("10.0.0.2"));
  EXPECT_EQ(h.protocol, static_cast<std::uint8_t>(ip_protocol::tcp));
  EXPECT_EQ(h.identification, 0x1234);
  EXPECT_TRUE(h.dont_fragment);
  EXPECT_FALSE(h.is_fragment());
  EXPECT_EQ(h.ttl, 64);
  EXPECT_EQ(h.total_length, 60);
  EXPECT_EQ(p->payload.size(), 40u);
}

TEST(stack_ipv4, reads_a_fragment_offset_in_bytes) {
  auto p = parse_ipv4(fragment_packet);
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->header.more_fragments);
  EXPECT_EQ(p->header.fragment_offset, 185 * 8);
  EXPECT_TRUE(p->header.is_fragment());
}

TEST(stack_ipv4, link_padding_after_the_total_length_is_dropped) {
  bytes padded(ip_part(udp_frame).begin(), ip_part(udp_frame).end());
  padded.resize(46, 0);  // Ethernet pads a short frame to its minimum size
  auto p = parse_ipv4(padded);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->payload.size(), 11u);
}

TEST(stack_ipv4, writes_the_header_it_reads) {
  auto p = parse_ipv4(ip_part(syn_frame));
  ASSERT_TRUE(p);
  bytes out(ipv4_min_header_size);
  write_ipv4_header(out, p->header);
  EXPECT_EQ(out, bytes(ip_part(syn_frame).begin(), ip_part(syn_frame).begin() + 20));
  bytes fragment(20);
  write_ipv4_header(fragment, parse_ipv4(fragment_packet)->header);
  EXPECT_EQ(fragment, bytes(fragment_packet.begin(), fragment_packet.begin() + 20));
}

struct damaged_header {
  const char* what;
  std::size_t octet;
  std::uint8_t value;
  stack_errc expected;
};

TEST(stack_ipv4, damaged_headers_are_refused_with_their_reason) {
  const damaged_header cases[] = {
      {"version 6", 0, 0x65, stack_errc::bad_version},
      {"header length 16", 0, 0x44, stack_errc::bad_header_length},
      {"header length 60, past the packet", 0, 0x4f, stack_errc::truncated},
      {"total length 19", 3, 19, stack_errc::bad_length},
      {"total length past the packet", 3, 0xff, stack_errc::truncated},
      {"a flipped bit under the checksum", 8, 63, stack_errc::bad_checksum},
  };
  for (const auto& c : cases) {
    bytes packet(ip_part(udp_frame).begin(), ip_part(udp_frame).end());  // 31 octets
    packet[c.octet] = c.value;
    auto p = parse_ipv4(packet);
    ASSERT_FALSE(p) << c.what;
    EXPECT_EQ(error_of(p), c.expected) << c.what;
  }
  EXPECT_EQ(error_of(parse_ipv4(std::span(ip_part(syn_frame)).first(19))), stack_errc::truncated);
}

TEST(stack_ipv4, a_checksum_the_device_verified_is_not_checked_again) {
  bytes packet(ip_part(syn_frame).begin(), ip_part(syn_frame).end());
  packet[10] ^= 0xff;
  EXPECT_FALSE(parse_ipv4(packet, true));
  EXPECT_TRUE(parse_ipv4(packet, false));
}

// A header with `options` (a multiple of 4 octets) before the 16-byte payload of
// fragment_packet, with its lengths and checksum made right.
bytes with_options(const bytes& options) {
  bytes packet;
  for (std::size_t i = 0; i < 20; ++i) packet.push_back(fragment_packet[i]);
  for (auto o : options) packet.push_back(o);
  for (std::size_t i = 20; i < fragment_packet.size(); ++i) packet.push_back(fragment_packet[i]);
  packet[0] = static_cast<std::uint8_t>(0x40 | (packet.size() - 16) / 4);
  packet[2] = 0;
  packet[3] = static_cast<std::uint8_t>(packet.size());
  packet[10] = packet[11] = 0;
  auto sum = internet_checksum(std::span(packet).first(20 + options.size()));
  packet[10] = static_cast<std::uint8_t>(sum >> 8);
  packet[11] = static_cast<std::uint8_t>(sum);
  return packet;
}

TEST(stack_ipv4, options_are_skipped_when_well_formed) {
  // NOP, router alert (RFC 2113), end of options.
  auto p = parse_ipv4(with_options({1, 0x94, 4, 0, 0, 0, 0, 0}));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->header.header_length, 28u);
  EXPECT_EQ(p->payload.size(), 16u);
}

TEST(stack_ipv4, malformed_options_are_refused) {
  EXPECT_EQ(error_of(parse_ipv4(with_options({0x94, 0, 0, 0}))),
            stack_errc::bad_option);  // length 0
  EXPECT_EQ(error_of(parse_ipv4(with_options({0x94, 1, 0, 0}))),
            stack_errc::bad_option);  // length 1
  EXPECT_EQ(error_of(parse_ipv4(with_options({1, 1, 1, 0x94}))),
            stack_errc::bad_option);  // no length
  EXPECT_EQ(error_of(parse_ipv4(with_options({0x94, 9, 0, 0}))),
            stack_errc::bad_option);  // past it
}

TEST(stack_ipv4, source_routed_packets_are_dropped) {
  EXPECT_EQ(error_of(parse_ipv4(with_options({131, 7, 4, 10, 0, 0, 3, 0}))),
            stack_errc::source_routed);
  EXPECT_EQ(error_of(parse_ipv4(with_options({137, 7, 4, 10, 0, 0, 3, 0}))),
            stack_errc::source_routed);
}

// ---- ICMP ----------------------------------------------------------------------------------

TEST(stack_icmp, reads_an_echo_request) {
  auto p = parse_ipv4(ip_part(ping_frame));
  ASSERT_TRUE(p);
  auto m = parse_icmp(p->payload);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->type, static_cast<std::uint8_t>(icmp_type::echo_request));
  EXPECT_EQ(m->echo_identifier(), 0x4242);
  EXPECT_EQ(m->echo_sequence(), 3);
  EXPECT_EQ(std::string(m->body.begin(), m->body.end()), "abcdefgh12345");
}

TEST(stack_icmp, writes_the_message_it_reads_and_refuses_a_damaged_one) {
  auto p = parse_ipv4(ip_part(ping_frame));
  ASSERT_TRUE(p);
  bytes message(p->payload.begin(), p->payload.end());
  bytes out = message;
  checksum body;
  body.add(std::span(out).subspan(icmp_header_size));
  write_icmp_header(out, 8, 0, 0x42420003, body);
  EXPECT_EQ(out, message);
  message.back() ^= 1;
  EXPECT_EQ(error_of(parse_icmp(message)), stack_errc::bad_checksum);
  EXPECT_EQ(error_of(parse_icmp(std::span(message).first(7))), stack_errc::truncated);
}

// ---- UDP -----------------------------------------------------------------------------------

TEST(stack_udp, reads_ports_and_an_odd_length_payload) {
  auto p = parse_ipv4(ip_part(udp_frame));
  ASSERT_TRUE(p);
  auto d = parse_udp(p->payload, pseudo(*p));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->source_port, 5353);
  EXPECT_EQ(d->destination_port, 53);
  EXPECT_EQ(std::string(d->payload.begin(), d->payload.end()), "odd");
}

TEST(stack_udp, writes_the_header_it_reads) {
  auto p = parse_ipv4(ip_part(udp_frame));
  ASSERT_TRUE(p);
  bytes out(p->payload.begin(), p->payload.end());
  checksum partial = pseudo(*p);
  partial.add(std::span(out).subspan(udp_header_size));
  write_udp_header(out, 5353, 53, 3, partial);
  EXPECT_EQ(out, bytes(p->payload.begin(), p->payload.end()));
}

TEST(stack_udp, bad_checksums_and_lengths_are_refused) {
  auto p = parse_ipv4(ip_part(udp_frame));
  ASSERT_TRUE(p);
  bytes d(p->payload.begin(), p->payload.end());
  bytes flipped = d;
  flipped.back() ^= 0x20;
  EXPECT_EQ(error_of(parse_udp(flipped, pseudo(*p))), stack_errc::bad_checksum);
  // The same datagram seen from another source address: the pseudo-header catches it.
  auto spoofed = ipv4_pseudo_header(ip("10.0.0.9"), p->header.destination, ip_protocol::udp);
  EXPECT_EQ(error_of(parse_udp(d, spoofed)), stack_errc::bad_checksum);
  bytes long_length = d;
  long_length[5] = 12;  // one byte past the datagram
  EXPECT_EQ(error_of(parse_udp(long_length, pseudo(*p))), stack_errc::bad_length);
  bytes short_length = d;
  short_length[5] = 7;
  EXPECT_EQ(error_of(parse_udp(short_length, pseudo(*p))), stack_errc::bad_length);
  EXPECT_EQ(error_of(parse_udp(std::span(d).first(7), pseudo(*p))), stack_errc::truncated);
}

TEST(stack_udp, a_zero_checksum_is_no_checksum_on_ipv4_only) {
  auto p = parse_ipv4(ip_part(udp_frame));
  ASSERT_TRUE(p);
  bytes d(p->payload.begin(), p->payload.end());
  d[6] = d[7] = 0;
  d.back() ^= 0x20;  // not covered by any checksum now
  EXPECT_TRUE(parse_udp(d, pseudo(*p)));
  EXPECT_EQ(error_of(parse_udp(d, pseudo(*p), true, false)), stack_errc::bad_checksum);
}

// ---- TCP -----------------------------------------------------------------------------------

TEST(stack_tcp, reads_a_syn_with_linux_options) {
  auto p = parse_ipv4(ip_part(syn_frame));
  ASSERT_TRUE(p);
  auto s = parse_tcp(p->payload, pseudo(*p));
  ASSERT_TRUE(s);
  const auto& h = s->header;
  EXPECT_EQ(h.source_port, 40000);
  EXPECT_EQ(h.destination_port, 80);
  EXPECT_EQ(h.seq, 0x01020304u);
  EXPECT_EQ(flags_to_string(h.flags), "SYN");
  EXPECT_EQ(h.window, 64240);
  EXPECT_EQ(h.options.mss, 1460);
  EXPECT_TRUE(h.options.sack_permitted);
  EXPECT_EQ(h.options.timestamps, (tcp_timestamps{123456, 0}));
  EXPECT_EQ(h.options.window_scale, 7);
  EXPECT_EQ(h.options.sack_count, 0);
  EXPECT_TRUE(s->payload.empty());
}

TEST(stack_tcp, reads_data_with_timestamps_and_sack_blocks) {
  auto p = parse_ipv4(ip_part(data_frame));
  ASSERT_TRUE(p);
  auto s = parse_tcp(p->payload, pseudo(*p));
  ASSERT_TRUE(s);
  const auto& h = s->header;
  EXPECT_EQ(flags_to_string(h.flags), "PSH,ACK");
  EXPECT_EQ(h.ack, 2000u);
  EXPECT_EQ(h.options.timestamps, (tcp_timestamps{5, 6}));
  ASSERT_EQ(h.options.sack_count, 2);
  EXPECT_EQ(h.options.sack[0], (sack_block{3000, 4000}));
  EXPECT_EQ(h.options.sack[1], (sack_block{5000, 6000}));
  EXPECT_EQ(std::string(s->payload.begin(), s->payload.end()), "hello, world!");
}

// Writes `frame`'s segment again from what was read, with the payload summed where it lies.
bytes rewritten(const bytes& frame) {
  auto p = parse_ipv4(ip_part(frame));
  auto s = parse_tcp(p->payload, pseudo(*p));
  bytes out(p->payload.begin(), p->payload.end());
  checksum partial = pseudo(*p);
  partial.add(s->payload);
  std::size_t size = write_tcp_header(out, s->header, s->payload.size(), partial);
  EXPECT_EQ(size, s->header.size());
  return out;
}

TEST(stack_tcp, writes_options_byte_for_byte_as_linux_lays_them_out) {
  auto syn = parse_ipv4(ip_part(syn_frame));
  EXPECT_EQ(rewritten(syn_frame), bytes(syn->payload.begin(), syn->payload.end()));
  auto data = parse_ipv4(ip_part(data_frame));
  EXPECT_EQ(rewritten(data_frame), bytes(data->payload.begin(), data->payload.end()));
}

TEST(stack_tcp, every_option_combination_fits_and_reads_back) {
  for (int mask = 0; mask < 32; ++mask) {
    tcp_header h;
    h.source_port = 1;
    h.destination_port = 2;
    h.flags = tcp_flag::ack;
    if (mask & 1) h.options.mss = 1400;
    if (mask & 2) h.options.window_scale = 14;
    if (mask & 4) h.options.sack_permitted = true;
    if (mask & 8) h.options.timestamps = tcp_timestamps{1, 2};
    if (mask & 16) {
      h.options.sack_count = h.options.timestamps ? 2 : 3;
      for (std::uint8_t b = 0; b < h.options.sack_count; ++b)
        h.options.sack[b] = {b * 100u, b * 100u + 50};
    }
    ASSERT_LE(h.size(), tcp_max_header_size) << "mask " << mask;
    bytes out(h.size());
    auto sum = ipv4_pseudo_header(ip("10.0.0.1"), ip("10.0.0.2"), ip_protocol::tcp);
    write_tcp_header(out, h, 0, sum);
    auto s = parse_tcp(out, sum);
    ASSERT_TRUE(s) << "mask " << mask;
    EXPECT_EQ(s->header.options, h.options) << "mask " << mask;
  }
}

TEST(stack_tcp, malformed_options_are_refused) {
  // Each replaces the SYN's 20 option bytes; a good SYN's options are
  // MSS(4) SACKOK(2) TS(10) NOP WS(3).
  const std::vector<std::pair<const char*, bytes>> cases = {
      {"an option of length 0", from_hex("02000000000000000000000000000000000000000000")},
      {"an option of length 1", from_hex("0201000000000000000000000000000000000000")},
      {"an MSS of length 3", from_hex("0203050000000000000000000000000000000000")},
      {"a window scale of length 4", from_hex("0304070000000000000000000000000000000000")},
      {"SACK-permitted of length 3", from_hex("0403000000000000000000000000000000000000")},
      {"timestamps of length 9", from_hex("0809000000000000000000000000000000000000")},
      {"a SACK of 7 data octets", from_hex("0509000000000000000000000000000000000000")},
      {"a SACK with no block", from_hex("0502000000000000000000000000000000000000")},
      {"an option past the header", from_hex("0101010101010101010101010101010101010fff")},
      {"a kind with no length octet", from_hex("01010101010101010101010101010101010101fe")},
  };
  for (const auto& [what, options] : cases) {
    auto p = parse_ipv4(ip_part(syn_frame));
    bytes segment(p->payload.begin(), p->payload.begin() + 20);
    bytes opts = options;
    opts.resize(20, 0);
    segment.insert(segment.end(), opts.begin(), opts.end());
    EXPECT_EQ(error_of(parse_tcp(segment, pseudo(*p), false)), stack_errc::bad_option) << what;
  }
}

TEST(stack_tcp, unknown_options_are_skipped_by_their_length) {
  auto p = parse_ipv4(ip_part(syn_frame));
  bytes segment(p->payload.begin(), p->payload.begin() + 20);
  // An experimental option (kind 254, RFC 6994) of 6 octets, then an MSS.
  bytes opts = from_hex("fe0612345678020405b4");
  opts.resize(12, 0);
  segment.insert(segment.end(), opts.begin(), opts.end());
  segment[12] = 0x80;  // 32-byte header
  auto s = parse_tcp(segment, pseudo(*p), false);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->header.options.mss, 1460);
}

TEST(stack_tcp, bad_data_offsets_and_checksums_are_refused) {
  auto p = parse_ipv4(ip_part(data_frame));
  bytes segment(p->payload.begin(), p->payload.end());
  bytes low = segment;
  low[12] = 0x40;  // 16 bytes: less than a header
  EXPECT_EQ(error_of(parse_tcp(low, pseudo(*p))), stack_errc::bad_header_length);
  bytes high = segment;
  high.resize(40);
  high[12] = 0xf0;  // 60 bytes, past the segment
  EXPECT_EQ(error_of(parse_tcp(high, pseudo(*p), false)), stack_errc::bad_header_length);
  bytes flipped = segment;
  flipped.back() ^= 1;
  EXPECT_EQ(error_of(parse_tcp(flipped, pseudo(*p))), stack_errc::bad_checksum);
  EXPECT_TRUE(parse_tcp(flipped, pseudo(*p), false));
  EXPECT_EQ(error_of(parse_tcp(std::span(segment).first(19), pseudo(*p))), stack_errc::truncated);
}

TEST(stack_tcp, flags_print_by_name) {
  EXPECT_EQ(flags_to_string(tcp_flag::syn | tcp_flag::ack), "SYN,ACK");
  EXPECT_EQ(flags_to_string(tcp_flag::fin | tcp_flag::ack), "FIN,ACK");
  EXPECT_EQ(flags_to_string(0), "none");
}

}  // namespace
}  // namespace flowstack::stack
