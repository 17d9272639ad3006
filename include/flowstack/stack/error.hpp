// Errors of the userspace stack (category "stack"): why a frame or packet was not taken. The
// wire parsers (wire.hpp) say what was wrong with a frame; the stack counts each reason as a
// drop, since a bad packet from the network is answered by dropping it, not by failing anything.
#pragma once

#include <flowstack/core/error.hpp>

namespace flowstack::stack {

enum class stack_errc {
  truncated = 1,      // shorter than its headers or than its length field says
  bad_checksum,       // a checksum that does not match the bytes
  bad_version,        // an IP version other than the one parsed
  bad_header_length,  // a header length field outside what the header can be
  bad_length,         // a length field that contradicts the packet
  bad_option,         // an option whose length runs past its header or breaks its kind's rule
  source_routed,      // IPv4 source routing: dropped by default (RFC 7126 §4.3, §4.4)
  unsupported,        // a well-formed packet of a kind the stack does not handle
};

const std::error_category& stack_category() noexcept;

inline std::error_code make_error_code(stack_errc e) noexcept {
  return {static_cast<int>(e), stack_category()};
}

}  // namespace flowstack::stack

template <>
struct std::is_error_code_enum<flowstack::stack::stack_errc> : std::true_type {};
