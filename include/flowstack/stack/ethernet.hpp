// Ethernet II frames and MAC addresses: the link layer the userspace stack speaks over TAP
// devices and the in-memory switch.
//
// Parsing reads a view over the frame (the payload is a span into it, not a copy); writing puts a
// header at the front of a buffer the caller owns, so a packet is built in place, back to front.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <flowstack/core/error.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace flowstack::stack {

struct mac_address {
  std::array<std::uint8_t, 6> bytes{};

  static constexpr mac_address broadcast() { return {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}; }
  constexpr bool is_broadcast() const noexcept { return *this == broadcast(); }
  // Group addresses (broadcast included): the low bit of the first octet.
  constexpr bool is_multicast() const noexcept { return (bytes[0] & 1) != 0; }
  constexpr bool is_zero() const noexcept { return *this == mac_address{}; }

  // "02:00:00:00:00:01"
  std::string to_string() const;
  // Six pairs of hex digits separated by ':' (or '-').
  static std::optional<mac_address> parse(std::string_view text);

  friend constexpr bool operator==(const mac_address&, const mac_address&) = default;
  friend constexpr auto operator<=>(const mac_address&, const mac_address&) = default;
};

enum class ethertype : std::uint16_t {
  ipv4 = 0x0800,
  arp = 0x0806,
  vlan = 0x8100,
  ipv6 = 0x86dd,
};

inline constexpr std::size_t ethernet_header_size = 14;

struct ethernet_frame {
  mac_address destination;
  mac_address source;
  std::uint16_t type = 0;  // an ethertype, or another value the stack ignores
  std::span<const std::uint8_t> payload;
};

// A frame without its frame check sequence (devices strip it). Errors: truncated (shorter than a
// header), unsupported (an 802.3 length field in place of the type: below 0x0600).
result<ethernet_frame> parse_ethernet(std::span<const std::uint8_t> frame);

// Writes the 14-byte header at `out` (which must hold it).
void write_ethernet_header(std::span<std::uint8_t> out, const mac_address& destination,
                           const mac_address& source, ethertype type) noexcept;

}  // namespace flowstack::stack
