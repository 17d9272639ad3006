#include <flowstack/net/error.hpp>
#include <flowstack/stack/error.hpp>
#include <flowstack/stack/icmp.hpp>
#include <flowstack/stack/ipv4.hpp>
#include <flowstack/stack/udp.hpp>

#include "bytes.hpp"

namespace flowstack::stack {

using wire::load16;
using wire::load32;
using wire::load_ipv4;
using wire::store16;
using wire::store32;

namespace {

// IPv4 option kinds (RFC 791 §3.1; IANA "IP Option Numbers").
constexpr std::uint8_t option_end = 0;
constexpr std::uint8_t option_nop = 1;
constexpr std::uint8_t option_lsrr = 131;  // loose source and record route
constexpr std::uint8_t option_ssrr = 137;  // strict source and record route

// Walks the options: each is one octet (end, nop) or kind, length >= 2, data inside the header.
std::error_code check_options(std::span<const std::uint8_t> options) {
  std::size_t i = 0;
  while (i < options.size()) {
    std::uint8_t kind = options[i];
    if (kind == option_end) break;
    if (kind == option_nop) {
      ++i;
      continue;
    }
    if (i + 1 >= options.size()) return stack_errc::bad_option;
    std::size_t length = options[i + 1];
    if (length < 2 || i + length > options.size()) return stack_errc::bad_option;
    if (kind == option_lsrr || kind == option_ssrr) return stack_errc::source_routed;
    i += length;
  }
  return {};
}

}  // namespace

result<ipv4_packet> parse_ipv4(std::span<const std::uint8_t> packet, bool verify_checksum) {
  if (packet.size() < ipv4_min_header_size) return fail(stack_errc::truncated);
  const std::uint8_t* p = packet.data();
  if (p[0] >> 4 != 4) return fail(stack_errc::bad_version);
  std::size_t header_length = std::size_t(p[0] & 0x0f) * 4;
  if (header_length < ipv4_min_header_size) return fail(stack_errc::bad_header_length);
  if (header_length > packet.size()) return fail(stack_errc::truncated);
  std::uint16_t total = load16(p + 2);
  if (total < header_length) return fail(stack_errc::bad_length);
  if (total > packet.size()) return fail(stack_errc::truncated);
  if (verify_checksum && internet_checksum(packet.first(header_length)) != 0)
    return fail(stack_errc::bad_checksum);
  if (auto ec =
          check_options(packet.subspan(ipv4_min_header_size, header_length - ipv4_min_header_size)))
    return fail(ec);

  ipv4_packet out;
  ipv4_header& h = out.header;
  h.tos = p[1];
  h.total_length = total;
  h.identification = load16(p + 4);
  std::uint16_t fragment = load16(p + 6);
  h.dont_fragment = (fragment & 0x4000) != 0;
  h.more_fragments = (fragment & 0x2000) != 0;
  h.fragment_offset = static_cast<std::uint16_t>((fragment & 0x1fff) * 8);
  h.ttl = p[8];
  h.protocol = p[9];
  h.source = load_ipv4(p + 12);
  h.destination = load_ipv4(p + 16);
  h.header_length = header_length;
  out.payload = packet.subspan(header_length, total - header_length);
  return out;
}

std::size_t write_ipv4_header(std::span<std::uint8_t> out, const ipv4_header& h) noexcept {
  std::uint8_t* p = out.data();
  p[0] = 0x45;
  p[1] = h.tos;
  store16(p + 2, h.total_length);
  store16(p + 4, h.identification);
  std::uint16_t fragment = static_cast<std::uint16_t>(h.fragment_offset / 8);
  if (h.dont_fragment) fragment |= 0x4000;
  if (h.more_fragments) fragment |= 0x2000;
  store16(p + 6, fragment);
  p[8] = h.ttl;
  p[9] = h.protocol;
  store16(p + 10, 0);
  wire::store_ipv4(p + 12, h.source);
  wire::store_ipv4(p + 16, h.destination);
  store16(p + 10, internet_checksum(out.first(ipv4_min_header_size)));
  return ipv4_min_header_size;
}

checksum ipv4_pseudo_header(const asio::ip::address_v4& source,
                            const asio::ip::address_v4& destination,
                            ip_protocol protocol) noexcept {
  checksum c;
  c.add_u32(source.to_uint());
  c.add_u32(destination.to_uint());
  c.add_u16(static_cast<std::uint16_t>(protocol));
  return c;
}

// ---- ICMP ----------------------------------------------------------------------------------

std::error_code error_of(unreachable_code code) noexcept {
  return code == unreachable_code::port ? net::net_errc::refused : net::net_errc::unreachable;
}

result<icmp_message> parse_icmp(std::span<const std::uint8_t> message, bool verify_checksum) {
  if (message.size() < icmp_header_size) return fail(stack_errc::truncated);
  if (verify_checksum && internet_checksum(message) != 0) return fail(stack_errc::bad_checksum);
  icmp_message m;
  m.type = message[0];
  m.code = message[1];
  m.rest = load32(message.data() + 4);
  m.body = message.subspan(icmp_header_size);
  return m;
}

void write_icmp_header(std::span<std::uint8_t> out, std::uint8_t type, std::uint8_t code,
                       std::uint32_t rest, checksum body) noexcept {
  std::uint8_t* p = out.data();
  p[0] = type;
  p[1] = code;
  store16(p + 2, 0);
  store32(p + 4, rest);
  checksum sum;
  sum.add(out.first(icmp_header_size));
  sum.add(body);
  store16(p + 2, sum.value());
}

// ---- UDP -----------------------------------------------------------------------------------

result<udp_datagram> parse_udp(std::span<const std::uint8_t> datagram, checksum pseudo,
                               bool verify_checksum, bool zero_checksum_allowed) {
  if (datagram.size() < udp_header_size) return fail(stack_errc::truncated);
  const std::uint8_t* p = datagram.data();
  std::uint16_t length = load16(p + 4);
  if (length < udp_header_size || length > datagram.size()) return fail(stack_errc::bad_length);
  std::uint16_t sent = load16(p + 6);
  if (sent == 0 && !zero_checksum_allowed) return fail(stack_errc::bad_checksum);
  if (verify_checksum && sent != 0) {
    pseudo.add_u16(length);
    pseudo.add(datagram.first(length));
    if (!pseudo.verifies()) return fail(stack_errc::bad_checksum);
  }
  udp_datagram d;
  d.source_port = load16(p);
  d.destination_port = load16(p + 2);
  d.payload = datagram.subspan(udp_header_size, length - udp_header_size);
  return d;
}

void write_udp_header(std::span<std::uint8_t> out, std::uint16_t source_port,
                      std::uint16_t destination_port, std::size_t payload_size,
                      checksum partial) noexcept {
  std::uint8_t* p = out.data();
  store16(p, source_port);
  store16(p + 2, destination_port);
  auto length = static_cast<std::uint16_t>(udp_header_size + payload_size);
  store16(p + 4, length);
  store16(p + 6, 0);
  checksum sum;
  sum.add(out.first(udp_header_size));
  sum.add(partial);
  sum.add_u16(length);
  std::uint16_t value = sum.value();
  store16(p + 6, value == 0 ? 0xffff : value);
}

}  // namespace flowstack::stack
