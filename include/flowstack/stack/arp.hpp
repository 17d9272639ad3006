// ARP for IPv4 over Ethernet (RFC 826): the packet only; the cache and its timers are the ARP
// layer's (arp_cache).
#pragma once

#include <asio/ip/address_v4.hpp>
#include <cstddef>
#include <cstdint>
#include <flowstack/core/error.hpp>
#include <flowstack/stack/ethernet.hpp>
#include <span>

namespace flowstack::stack {

enum class arp_operation : std::uint16_t { request = 1, reply = 2 };

inline constexpr std::size_t arp_packet_size = 28;

struct arp_packet {
  arp_operation operation = arp_operation::request;
  mac_address sender_mac;
  asio::ip::address_v4 sender_ip;
  mac_address target_mac;  // zero in a request
  asio::ip::address_v4 target_ip;

  friend bool operator==(const arp_packet&, const arp_packet&) = default;
};

// Errors: truncated; unsupported for another hardware or protocol type, address sizes other than
// 6 and 4, or an operation other than request and reply. Bytes after the 28 (Ethernet padding)
// are ignored.
result<arp_packet> parse_arp(std::span<const std::uint8_t> packet);

// Writes the 28-byte packet at `out` (which must hold it).
void write_arp(std::span<std::uint8_t> out, const arp_packet& packet) noexcept;

}  // namespace flowstack::stack
