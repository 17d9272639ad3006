#include <cstdio>
#include <flowstack/stack/arp.hpp>
#include <flowstack/stack/error.hpp>
#include <flowstack/stack/ethernet.hpp>

#include "bytes.hpp"

namespace flowstack::stack {

using wire::load16;
using wire::load_ipv4;
using wire::store16;
using wire::store_ipv4;

std::string mac_address::to_string() const {
  char out[18];
  std::snprintf(out, sizeof out, "%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1], bytes[2],
                bytes[3], bytes[4], bytes[5]);
  return out;
}

std::optional<mac_address> mac_address::parse(std::string_view text) {
  if (text.size() != 17) return std::nullopt;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  const char separator = text[2];
  if (separator != ':' && separator != '-') return std::nullopt;
  mac_address m;
  for (std::size_t i = 0; i < 6; ++i) {
    int hi = hex(text[3 * i]);
    int lo = hex(text[3 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    if (i < 5 && text[3 * i + 2] != separator) return std::nullopt;
    m.bytes[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return m;
}

result<ethernet_frame> parse_ethernet(std::span<const std::uint8_t> frame) {
  if (frame.size() < ethernet_header_size) return fail(stack_errc::truncated);
  ethernet_frame f;
  std::copy_n(frame.data(), 6, f.destination.bytes.begin());
  std::copy_n(frame.data() + 6, 6, f.source.bytes.begin());
  f.type = load16(frame.data() + 12);
  // Below 0x0600 the field is an IEEE 802.3 length, and the frame is not Ethernet II.
  if (f.type < 0x0600) return fail(stack_errc::unsupported);
  f.payload = frame.subspan(ethernet_header_size);
  return f;
}

void write_ethernet_header(std::span<std::uint8_t> out, const mac_address& destination,
                           const mac_address& source, ethertype type) noexcept {
  std::copy(destination.bytes.begin(), destination.bytes.end(), out.data());
  std::copy(source.bytes.begin(), source.bytes.end(), out.data() + 6);
  store16(out.data() + 12, static_cast<std::uint16_t>(type));
}

// ---- ARP -----------------------------------------------------------------------------------

namespace {

constexpr std::uint16_t hardware_ethernet = 1;

}  // namespace

result<arp_packet> parse_arp(std::span<const std::uint8_t> packet) {
  if (packet.size() < arp_packet_size) return fail(stack_errc::truncated);
  const std::uint8_t* p = packet.data();
  if (load16(p) != hardware_ethernet ||
      load16(p + 2) != static_cast<std::uint16_t>(ethertype::ipv4) || p[4] != 6 || p[5] != 4)
    return fail(stack_errc::unsupported);
  std::uint16_t op = load16(p + 6);
  if (op != static_cast<std::uint16_t>(arp_operation::request) &&
      op != static_cast<std::uint16_t>(arp_operation::reply))
    return fail(stack_errc::unsupported);
  arp_packet a;
  a.operation = static_cast<arp_operation>(op);
  std::copy_n(p + 8, 6, a.sender_mac.bytes.begin());
  a.sender_ip = load_ipv4(p + 14);
  std::copy_n(p + 18, 6, a.target_mac.bytes.begin());
  a.target_ip = load_ipv4(p + 24);
  return a;
}

void write_arp(std::span<std::uint8_t> out, const arp_packet& a) noexcept {
  std::uint8_t* p = out.data();
  store16(p, hardware_ethernet);
  store16(p + 2, static_cast<std::uint16_t>(ethertype::ipv4));
  p[4] = 6;
  p[5] = 4;
  store16(p + 6, static_cast<std::uint16_t>(a.operation));
  std::copy(a.sender_mac.bytes.begin(), a.sender_mac.bytes.end(), p + 8);
  store_ipv4(p + 14, a.sender_ip);
  std::copy(a.target_mac.bytes.begin(), a.target_mac.bytes.end(), p + 18);
  store_ipv4(p + 24, a.target_ip);
}

}  // namespace flowstack::stack
