// IPv4 packets (RFC 791): the header as the stack reads and writes it.
//
// Reading checks everything a hostile sender controls: the version, a header length from 20 to
// the packet's size, a total length that fits the packet (link padding after it is dropped), the
// header checksum (unless the device already verified it), and the options' structure. Options
// are skipped, not obeyed, except that source-routed packets are dropped (RFC 7126 §4.3, §4.4:
// they let a sender steer traffic through this host). Fragments are returned as they are, with
// their offset and more-fragments flag; reassembly is the IP layer's (reassembly.hpp).
#pragma once

#include <asio/ip/address_v4.hpp>
#include <cstddef>
#include <cstdint>
#include <flowstack/core/error.hpp>
#include <flowstack/stack/checksum.hpp>
#include <span>

namespace flowstack::stack {

enum class ip_protocol : std::uint8_t { icmp = 1, tcp = 6, udp = 17, icmpv6 = 58 };

inline constexpr std::size_t ipv4_min_header_size = 20;

struct ipv4_header {
  std::uint8_t tos = 0;  // DSCP and ECN
  std::uint16_t total_length = 0;
  std::uint16_t identification = 0;
  bool dont_fragment = false;
  bool more_fragments = false;
  std::uint16_t fragment_offset = 0;  // in bytes (the field counts 8-byte units)
  std::uint8_t ttl = 64;
  std::uint8_t protocol = 0;  // an ip_protocol, or another number
  asio::ip::address_v4 source;
  asio::ip::address_v4 destination;
  std::size_t header_length = ipv4_min_header_size;

  bool is_fragment() const noexcept { return more_fragments || fragment_offset != 0; }
};

struct ipv4_packet {
  ipv4_header header;
  std::span<const std::uint8_t> payload;  // total_length - header_length bytes
};

// Errors: truncated, bad_version, bad_header_length, bad_length (a total length below the header
// length), bad_checksum, bad_option, source_routed.
result<ipv4_packet> parse_ipv4(std::span<const std::uint8_t> packet, bool verify_checksum = true);

// Writes a 20-byte header without options at `out`, with its checksum; `header.total_length`
// must already count the payload. Returns the header's size.
std::size_t write_ipv4_header(std::span<std::uint8_t> out, const ipv4_header& header) noexcept;

// The pseudo-header that UDP and TCP checksums start from (RFC 768, RFC 9293 §3.1), without its
// length field: the transport adds that itself (UDP its length field, TCP the segment's size),
// since only it knows which length counts. IPv6's pseudo-header has the same shape.
checksum ipv4_pseudo_header(const asio::ip::address_v4& source,
                            const asio::ip::address_v4& destination, ip_protocol protocol) noexcept;

}  // namespace flowstack::stack
