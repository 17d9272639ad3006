// Errors of the kernel's sockets as flowstack sees them (category "tcp").
//
// System errors from the kernel are mapped to these codes where the seeds name the condition
// (refused, timeout, unreachable); others pass through as std::system_category codes.
#pragma once

#include <flowstack/core/error.hpp>

namespace flowstack::socket {

enum class socket_errc {
  refused = 1,      // nothing listens there (RST in answer to our SYN)
  timeout,          // no answer in time: connect timeout, keepalive or retransmissions gave up
  unreachable,      // no route to the host or network
  reset,            // the peer reset the connection
  address_in_use,   // listen: something is bound there already
  invalid_address,  // an address string that does not parse
};

const std::error_category& socket_category() noexcept;

inline std::error_code make_error_code(socket_errc e) noexcept {
  return {static_cast<int>(e), socket_category()};
}

// Maps a system or Asio error to flowstack's vocabulary: refused, timeout, unreachable, reset,
// address_in_use; a broken pipe (the peer stopped reading) becomes flow_errc::closed, as in the
// flow contract; anything else is returned unchanged.
std::error_code map_system_error(std::error_code ec) noexcept;

}  // namespace flowstack::socket

template <>
struct std::is_error_code_enum<flowstack::socket::socket_errc> : std::true_type {};
