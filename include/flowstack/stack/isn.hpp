// Initial sequence numbers after RFC 6528: ISN = M + F(local ip, local port, remote ip, remote
// port, secret), M a clock ticking every 4 microseconds and F a keyed hash, here SipHash-2-4
// (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012). Each 4-tuple gets its own
// sequence space, which an off-path attacker cannot guess without the secret, while the clock
// keeps a new incarnation of the same 4-tuple moving forward past the old one.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <flowstack/core/clock.hpp>
#include <flowstack/stack/sequence.hpp>
#include <flowstack/stack/tcp_connection.hpp>
#include <span>

namespace flowstack::stack {

// SipHash-2-4 of `message` under a 128-bit key; the 64-bit result as the paper writes it (its
// bytes in little-endian order are the output string).
std::uint64_t siphash_2_4(std::span<const std::byte, 16> key,
                          std::span<const std::byte> message) noexcept;

class isn_generator {
 public:
  // The secret is the 16 bytes of `seed`, which the caller draws at random once per stack.
  explicit isn_generator(std::span<const std::byte, 16> seed) noexcept;

  seq32 operator()(const tcp_endpoints& e, clock::time_point now) const noexcept;

 private:
  std::array<std::byte, 16> key_;
};

}  // namespace flowstack::stack
