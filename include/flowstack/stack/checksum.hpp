// The Internet checksum (RFC 1071): the one's complement of the one's complement sum of 16-bit
// words, used by IPv4, ICMP, UDP and TCP. A `checksum` adds pieces in order (a pseudo-header, a
// header, a payload held elsewhere) as if they were one buffer, so a segment never has to be
// copied together to be summed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace flowstack::stack {

class checksum {
 public:
  // Bytes that follow what was added so far; a piece may have any length, odd ones included.
  void add(std::span<const std::uint8_t> bytes) noexcept;
  // Words that are not part of the byte stream: the pseudo-header's fields (RFC 9293 §3.1).
  void add_u16(std::uint16_t word) noexcept { sum_ += word; }
  void add_u32(std::uint32_t word) noexcept { sum_ += (word >> 16) + (word & 0xffff); }
  // The bytes another checksum added, as if they followed these. What was added here must be a
  // whole number of words (a header is), so that `following`'s bytes keep their halves.
  void add(const checksum& following) noexcept {
    sum_ += following.sum_;
    odd_ = following.odd_;
  }

  // The checksum field's value (host order): for a header whose checksum field was summed as
  // zero. Over bytes that include a correct checksum field, it is 0.
  std::uint16_t value() const noexcept;
  // True when the bytes added include a checksum field that matches them.
  bool verifies() const noexcept { return value() == 0; }

 private:
  std::uint64_t sum_ = 0;  // 16-bit words in host order, folded when read
  bool odd_ = false;       // the bytes added so far end in the middle of a word
};

// The checksum of one buffer.
std::uint16_t internet_checksum(std::span<const std::uint8_t> bytes) noexcept;

}  // namespace flowstack::stack
