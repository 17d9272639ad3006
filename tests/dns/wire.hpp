// Helpers for writing DNS messages byte by byte in tests.
#pragma once

#include <flowstack/dns/message.hpp>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace flowstack::dns::test {

using bytes = std::vector<std::uint8_t>;

// Appends pieces: numbers are octets, strings are their characters.
struct wire_builder {
  bytes out;

  wire_builder& u8(std::uint8_t v) {
    out.push_back(v);
    return *this;
  }
  wire_builder& u16(std::uint16_t v) {
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v));
    return *this;
  }
  wire_builder& u32(std::uint32_t v) {
    u16(static_cast<std::uint16_t>(v >> 16));
    return u16(static_cast<std::uint16_t>(v));
  }
  wire_builder& raw(std::initializer_list<std::uint8_t> v) {
    out.insert(out.end(), v.begin(), v.end());
    return *this;
  }
  wire_builder& text(std::string_view s) {
    out.insert(out.end(), s.begin(), s.end());
    return *this;
  }
  // An uncompressed name from dotted text ("www.example.com").
  wire_builder& name(std::string_view dotted) {
    while (!dotted.empty()) {
      auto dot = dotted.find('.');
      auto label = dotted.substr(0, dot);
      u8(static_cast<std::uint8_t>(label.size())).text(label);
      if (dot == std::string_view::npos) break;
      dotted.remove_prefix(dot + 1);
    }
    return u8(0);
  }
  wire_builder& pointer(std::uint16_t offset) {
    return u16(static_cast<std::uint16_t>(0xc000 | offset));
  }
  wire_builder& header(std::uint16_t id, std::uint16_t flags, std::uint16_t qd, std::uint16_t an,
                       std::uint16_t ns, std::uint16_t ar) {
    return u16(id).u16(flags).u16(qd).u16(an).u16(ns).u16(ar);
  }
  std::size_t size() const { return out.size(); }
};

inline name dname(std::string_view text) {
  return name::parse(text).value();
}

inline record make_record(std::string_view owner, rr_type type, std::uint32_t ttl, rdata data) {
  return record{dname(owner), type, rr_class::in, ttl, std::move(data)};
}

inline rdata_a ipv4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  return rdata_a{{a, b, c, d}};
}

}  // namespace flowstack::dns::test
