// The kernel's errors in flowstack's vocabulary.
#pragma once

#include <flowstack/net/error.hpp>

namespace flowstack::socket {

// Maps a system or Asio error to the connection errors of net (refused, timeout, unreachable,
// reset, address_in_use, host_not_found); a broken pipe (the peer stopped reading) becomes
// flow_errc::closed, as in the flow contract; anything else is returned unchanged.
std::error_code map_system_error(std::error_code ec) noexcept;

// What only the kernel's sockets report (category "socket").
enum class socket_errc {
  // unix_listen: the path names a file that is not a socket, which is left alone.
  not_a_socket = 1,
};

const std::error_category& socket_category() noexcept;

inline std::error_code make_error_code(socket_errc e) noexcept {
  return {static_cast<int>(e), socket_category()};
}

}  // namespace flowstack::socket

template <>
struct std::is_error_code_enum<flowstack::socket::socket_errc> : std::true_type {};
