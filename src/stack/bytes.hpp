// Big-endian loads and stores for the wire formats: every field of every header goes through
// these, with the bounds checked by the caller beforehand.
#pragma once

#include <asio/ip/address_v4.hpp>
#include <cstdint>

namespace flowstack::stack::wire {

inline std::uint16_t load16(const std::uint8_t* p) noexcept {
  return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}
inline std::uint32_t load32(const std::uint8_t* p) noexcept {
  return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 | p[3];
}
inline void store16(std::uint8_t* p, std::uint16_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
inline void store32(std::uint8_t* p, std::uint32_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

inline asio::ip::address_v4 load_ipv4(const std::uint8_t* p) {
  return asio::ip::address_v4(load32(p));
}
inline void store_ipv4(std::uint8_t* p, const asio::ip::address_v4& a) {
  store32(p, a.to_uint());
}

}  // namespace flowstack::stack::wire
