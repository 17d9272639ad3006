#include <asio/error.hpp>
#include <cerrno>
#include <flowstack/socket/error.hpp>
#include <string>

namespace flowstack::socket {
namespace {

class socket_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "socket"; }
  std::string message(int code) const override {
    switch (static_cast<socket_errc>(code)) {
      case socket_errc::not_a_socket:
        return "the path exists and is not a socket, so it was left alone: remove it or choose "
               "another path";
    }
    return "unknown socket error " + std::to_string(code);
  }
};

}  // namespace

const std::error_category& socket_category() noexcept {
  static const socket_category_impl category;
  return category;
}

std::error_code map_system_error(std::error_code ec) noexcept {
  // The resolver's own categories: a name that resolves to nothing.
  if (ec == asio::error::host_not_found || ec == asio::error::no_data) {
    return net::net_errc::host_not_found;
  }
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
