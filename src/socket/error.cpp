#include <asio/error.hpp>
#include <cerrno>
#include <flowstack/socket/error.hpp>

namespace flowstack::socket {

std::error_code map_system_error(std::error_code ec) noexcept {
  // Asio reports errno values in its own category ("asio.system"), which does not compare
  // equal to std::errc conditions, so the errno is read directly.
  const auto& category = ec.category();
  if (category != std::system_category() && category != std::generic_category() &&
      category != asio::error::get_system_category()) {
    return ec;
  }
  switch (ec.value()) {
    case ECONNREFUSED:
      return net::net_errc::refused;
    case ETIMEDOUT:
      return net::net_errc::timeout;
    case EHOSTUNREACH:
    case ENETUNREACH:
      return net::net_errc::unreachable;
    case ECONNRESET:
      return net::net_errc::reset;
    case EADDRINUSE:
      return net::net_errc::address_in_use;
    case EPIPE:
      return flow_errc::closed;
    default:
      return ec;
  }
}

}  // namespace flowstack::socket
