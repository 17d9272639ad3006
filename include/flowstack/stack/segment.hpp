// TCP segments (RFC 9293 §3.1): the header and its options, as the connection code reads and
// writes them.
//
// Options read: MSS (RFC 9293 §3.7.1), window scale (RFC 7323 §2), SACK-permitted and SACK
// blocks (RFC 2018), timestamps (RFC 7323 §3). Others are skipped by their length. A known
// option with the wrong length, a length below 2 or one running past the header makes the
// segment malformed (bad_option): RFC 9293 §3.1 asks that an illegal length be handled without
// harm, and a segment whose options cannot be delimited cannot be trusted. Values are kept as
// received: clamping a window scale above 14 (RFC 7323 §2.3) is the connection's business.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <flowstack/core/error.hpp>
#include <flowstack/stack/checksum.hpp>
#include <optional>
#include <span>
#include <string>

namespace flowstack::stack {

namespace tcp_flag {
inline constexpr std::uint8_t fin = 0x01;
inline constexpr std::uint8_t syn = 0x02;
inline constexpr std::uint8_t rst = 0x04;
inline constexpr std::uint8_t psh = 0x08;
inline constexpr std::uint8_t ack = 0x10;
inline constexpr std::uint8_t urg = 0x20;
inline constexpr std::uint8_t ece = 0x40;
inline constexpr std::uint8_t cwr = 0x80;
}  // namespace tcp_flag

inline constexpr std::size_t tcp_min_header_size = 20;
inline constexpr std::size_t tcp_max_header_size = 60;

struct sack_block {
  std::uint32_t left = 0;   // first sequence number of the block
  std::uint32_t right = 0;  // the one after its last
  friend bool operator==(const sack_block&, const sack_block&) = default;
};

struct tcp_timestamps {
  std::uint32_t value = 0;
  std::uint32_t echo_reply = 0;
  friend bool operator==(const tcp_timestamps&, const tcp_timestamps&) = default;
};

struct tcp_options {
  std::optional<std::uint16_t> mss;
  std::optional<std::uint8_t> window_scale;
  bool sack_permitted = false;
  std::array<sack_block, 4> sack{};  // the first sack_count are valid
  std::uint8_t sack_count = 0;
  std::optional<tcp_timestamps> timestamps;

  // Bytes they take in a header, padded to a multiple of 4. At most 40 fit: a writer must not
  // ask for more (timestamps leave room for 3 SACK blocks, RFC 2018 §3).
  std::size_t wire_size() const noexcept;

  friend bool operator==(const tcp_options&, const tcp_options&) = default;
};

struct tcp_header {
  std::uint16_t source_port = 0;
  std::uint16_t destination_port = 0;
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint8_t flags = 0;  // tcp_flag bits
  std::uint16_t window = 0;
  std::uint16_t urgent = 0;
  tcp_options options;

  bool has(std::uint8_t flag) const noexcept { return (flags & flag) != 0; }
  std::size_t size() const noexcept { return tcp_min_header_size + options.wire_size(); }
};

struct tcp_segment {
  tcp_header header;
  std::span<const std::uint8_t> payload;
};

// `pseudo` is the IP layer's pseudo-header sum for this segment, without the length (the
// segment's size is added here). Errors: truncated,
// bad_header_length (a data offset below 5 or past the segment), bad_checksum, bad_option.
result<tcp_segment> parse_tcp(std::span<const std::uint8_t> segment, checksum pseudo,
                              bool verify_checksum = true);

// Writes the header (header.size() bytes) at `out`, for a payload of `payload_size` bytes.
// `partial` is the pseudo-header's sum (without the length) with the payload already added, so
// the payload need not follow the header in memory. Returns the header's size.
std::size_t write_tcp_header(std::span<std::uint8_t> out, const tcp_header& header,
                             std::size_t payload_size, checksum partial) noexcept;

// "SYN,ACK" — for logs and test failures.
std::string flags_to_string(std::uint8_t flags);

}  // namespace flowstack::stack
