// TCP sequence numbers: 32-bit counters that wrap, compared modulo 2^32 (RFC 9293 §3.4). `a < b`
// means b is ahead of a by less than 2^31; this is the only sound order on a circle, and every
// comparison the connection code makes goes through it, never through the raw integers.
#pragma once

#include <compare>
#include <cstdint>

namespace flowstack::stack {

class seq32 {
 public:
  constexpr seq32() = default;
  constexpr explicit seq32(std::uint32_t value) : value_(value) {}

  constexpr std::uint32_t value() const noexcept { return value_; }

  constexpr seq32 operator+(std::uint32_t n) const noexcept { return seq32(value_ + n); }
  constexpr seq32 operator-(std::uint32_t n) const noexcept { return seq32(value_ - n); }
  constexpr seq32& operator+=(std::uint32_t n) noexcept {
    value_ += n;
    return *this;
  }
  // How far `b` is behind this one: the octets from b up to here (valid when b <= *this).
  constexpr std::uint32_t operator-(seq32 b) const noexcept { return value_ - b.value_; }

  friend constexpr bool operator==(seq32, seq32) = default;
  friend constexpr std::strong_ordering operator<=>(seq32 a, seq32 b) noexcept {
    auto d = static_cast<std::int32_t>(a.value_ - b.value_);
    return d <=> 0;
  }

 private:
  std::uint32_t value_ = 0;
};

// a <= x < b on the circle: the test of RFC 9293 §3.10.7.4 and of every window check.
constexpr bool in_window(seq32 x, seq32 a, seq32 b) noexcept {
  return a <= x && x < b;
}

}  // namespace flowstack::stack
