#include <flowstack/net/error.hpp>
#include <string>

namespace flowstack::net {
namespace {

class net_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "net"; }
  std::string message(int code) const override {
    switch (static_cast<net_errc>(code)) {
      case net_errc::refused:
        return "connection refused: nothing is listening at that address";
      case net_errc::timeout:
        return "connection timed out: the peer did not answer in time";
      case net_errc::unreachable:
        return "host or network unreachable: there is no route to the peer";
      case net_errc::reset:
        return "connection reset by the peer";
      case net_errc::address_in_use:
        return "address already in use: something else is bound there";
      case net_errc::invalid_address:
        return "invalid address: expected HOST:PORT, such as 127.0.0.1:80, [::1]:80 or "
               "localhost:80";
      case net_errc::host_not_found:
        return "host not found: the name resolves to no address";
    }
    return "unknown net error " + std::to_string(code);
  }

  std::error_condition default_error_condition(int code) const noexcept override {
    switch (static_cast<net_errc>(code)) {
      case net_errc::refused:
        return flow_condition::refused;
      case net_errc::timeout:
        return flow_condition::timeout;
      case net_errc::unreachable:
        return flow_condition::unreachable;
      case net_errc::reset:
        return flow_condition::reset;
      default:
        return {code, *this};
    }
  }
};

}  // namespace

const std::error_category& net_category() noexcept {
  static const net_category_impl category;
  return category;
}

}  // namespace flowstack::net
