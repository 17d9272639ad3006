// The kernel's errors in flowstack's vocabulary.
#pragma once

#include <flowstack/net/error.hpp>

namespace flowstack::socket {

// Maps a system or Asio error to the connection errors of net (refused, timeout, unreachable,
// reset, address_in_use); a broken pipe (the peer stopped reading) becomes flow_errc::closed, as
// in the flow contract; anything else is returned unchanged.
std::error_code map_system_error(std::error_code ec) noexcept;

}  // namespace flowstack::socket
