// ICMP for IPv4 (RFC 792): echo, and the errors the stack sends and reads (destination
// unreachable, time exceeded). An error quotes the IP header and the first 8 bytes of the
// packet that caused it (RFC 792; RFC 1812 §4.3.2.3 allows more), which is how an error finds
// the flow it concerns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <flowstack/core/error.hpp>
#include <flowstack/stack/checksum.hpp>
#include <span>

namespace flowstack::stack {

enum class icmp_type : std::uint8_t {
  echo_reply = 0,
  destination_unreachable = 3,
  echo_request = 8,
  time_exceeded = 11,
};

// Codes of destination_unreachable.
enum class unreachable_code : std::uint8_t {
  network = 0,
  host = 1,
  protocol = 2,
  port = 3,
  fragmentation_needed = 4,  // the MTU is in the low 16 bits of `rest` (RFC 1191)
  administratively_prohibited = 13,
};

inline constexpr std::size_t icmp_header_size = 8;

struct icmp_message {
  std::uint8_t type = 0;
  std::uint8_t code = 0;
  // The header's second word: identifier and sequence number for echo, the next-hop MTU for
  // fragmentation_needed, unused (zero) otherwise.
  std::uint32_t rest = 0;
  std::span<const std::uint8_t> body;  // echo data, or the quoted packet of an error

  std::uint16_t echo_identifier() const noexcept { return static_cast<std::uint16_t>(rest >> 16); }
  std::uint16_t echo_sequence() const noexcept { return static_cast<std::uint16_t>(rest); }
};

// Errors: truncated, bad_checksum.
result<icmp_message> parse_icmp(std::span<const std::uint8_t> message, bool verify_checksum = true);

// What a destination unreachable means to the socket whose packet it quotes: `refused` for a
// closed port, `unreachable` for the rest (net::net_errc).
std::error_code error_of(unreachable_code code) noexcept;

// Writes the 8-byte header at `out`; `body` is the checksum of the body that follows it.
void write_icmp_header(std::span<std::uint8_t> out, std::uint8_t type, std::uint8_t code,
                       std::uint32_t rest, checksum body) noexcept;

}  // namespace flowstack::stack
