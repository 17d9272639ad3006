// UDP datagrams (RFC 768): the header, and its checksum over a pseudo-header given by the IP
// layer (ipv4_pseudo_header, or IPv6's), so the same code serves both.
#pragma once

#include <cstddef>
#include <cstdint>
#include <flowstack/core/error.hpp>
#include <flowstack/stack/checksum.hpp>
#include <span>

namespace flowstack::stack {

inline constexpr std::size_t udp_header_size = 8;

struct udp_datagram {
  std::uint16_t source_port = 0;
  std::uint16_t destination_port = 0;
  std::span<const std::uint8_t> payload;
};

// `pseudo` is the pseudo-header's sum for this datagram's addresses, without the length
// (ipv4_pseudo_header): the length field is added here. A checksum field
// of zero means "not computed", which IPv4 allows (RFC 768); `zero_checksum_allowed` false (IPv6,
// RFC 8200 §8.1) rejects it. Errors: truncated, bad_length (a length field below 8 or past the
// packet), bad_checksum. Bytes after the length field's end are ignored.
result<udp_datagram> parse_udp(std::span<const std::uint8_t> datagram, checksum pseudo,
                               bool verify_checksum = true, bool zero_checksum_allowed = true);

// Writes the 8-byte header at `out` for a payload of `payload_size` bytes. `partial` is the
// pseudo-header's sum (without the length) with the payload already added (wherever the payload
// is), so the payload need not follow the header in memory. A computed checksum of zero is sent as
// 0xffff (RFC 768).
void write_udp_header(std::span<std::uint8_t> out, std::uint16_t source_port,
                      std::uint16_t destination_port, std::size_t payload_size,
                      checksum partial) noexcept;

}  // namespace flowstack::stack
