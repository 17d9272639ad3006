#include <asio/error.hpp>
#include <cerrno>
#include <flowstack/socket/error.hpp>
#include <string>

namespace flowstack::socket {
namespace {

class socket_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tcp"; }
  std::string message(int code) const override {
    switch (static_cast<socket_errc>(code)) {
      case socket_errc::refused:
        return "connection refused: nothing is listening at that address";
      case socket_errc::timeout:
        return "connection timed out: the peer did not answer in time";
      case socket_errc::unreachable:
        return "host or network unreachable: there is no route to the peer";
      case socket_errc::reset:
        return "connection reset by the peer";
      case socket_errc::address_in_use:
        return "address already in use: something else is bound there";
      case socket_errc::invalid_address:
        return "invalid address: expected HOST:PORT, such as 127.0.0.1:80, [::1]:80 or "
               "localhost:80";
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
  // Asio reports errno values in its own category ("asio.system"), which does not compare
  // equal to std::errc conditions, so the errno is read directly.
  const auto& category = ec.category();
  if (category != std::system_category() && category != std::generic_category() &&
      category != asio::error::get_system_category()) {
    return ec;
  }
  switch (ec.value()) {
    case ECONNREFUSED:
      return socket_errc::refused;
    case ETIMEDOUT:
      return socket_errc::timeout;
    case EHOSTUNREACH:
    case ENETUNREACH:
      return socket_errc::unreachable;
    case ECONNRESET:
      return socket_errc::reset;
    case EADDRINUSE:
      return socket_errc::address_in_use;
    case EPIPE:
      return flow_errc::closed;
    default:
      return ec;
  }
}

}  // namespace flowstack::socket
