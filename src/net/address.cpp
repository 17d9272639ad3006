#include <asio/ip/address.hpp>
#include <charconv>
#include <flowstack/net/address.hpp>
#include <flowstack/net/error.hpp>

namespace flowstack::net {
namespace {

std::string quoted(std::string_view text) {
  return "\"" + std::string(text) + "\"";
}

// An address text that does not parse, and why.
unexpected<failure> invalid(std::string why) {
  return fail(net_errc::invalid_address, std::move(why));
}

}  // namespace

detailed<host_port> parse_host_port(std::string_view text) {
  const std::string expected = " (expected HOST:PORT, e.g. 127.0.0.1:80 or [::1]:80)";
  if (text.empty()) return invalid("empty address" + expected);
  std::string_view host;
  std::string_view port;
  if (text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) {
      return invalid(quoted(text) + ": unterminated '[' (an IPv6 address is written [::1]:80)");
    }
    host = text.substr(1, close - 1);
    if (host.empty()) return invalid(quoted(text) + ": missing host inside '[]'");
    auto rest = text.substr(close + 1);
    if (rest.empty()) return invalid(quoted(text) + ": missing port after ']'" + expected);
    if (rest.front() != ':') return invalid(quoted(text) + ": expected ':' after ']'" + expected);
    port = rest.substr(1);
    std::error_code ec;
    asio::ip::make_address_v6(std::string(host), ec);
    if (ec)
      return invalid(quoted(text) + ": " + quoted(host) + " inside '[]' is not an IPv6 address");
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return invalid(quoted(text) + ": missing port" + expected);
    if (text.find(':') != colon) {
      return invalid(quoted(text) + ": an IPv6 address needs brackets around it, e.g. [::1]:80");
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.empty()) return invalid(quoted(text) + ": missing host before ':'" + expected);
    for (char c : host) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '-' || c == '_';
      if (!ok) {
        return invalid(quoted(text) + ": the host " + quoted(host) + " has a character '" +
                       std::string(1, c) + "' that no host name or address has");
      }
    }
  }
  if (port.empty()) return invalid(quoted(text) + ": missing port after ':'" + expected);
  for (char c : port) {
    if (c < '0' || c > '9')
      return invalid(quoted(text) + ": the port " + quoted(port) + " is not a number");
  }
  unsigned long value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc{} || end != port.data() + port.size() || value > 65535) {
    return invalid(quoted(text) + ": the port " + std::string(port) +
                   " is out of range (0 to 65535)");
  }
  return host_port{std::string(host), static_cast<std::uint16_t>(value)};
}

detailed<tcp_endpoint> parse_tcp_endpoint(std::string_view text) {
  auto where = parse_host_port(text);
  if (!where) return unexpected(std::move(where).error());
  std::error_code ec;
  auto address = asio::ip::make_address(where->host, ec);
  if (ec) {
    return invalid(quoted(text) + ": " + quoted(where->host) +
                   " is not a numeric IP address (host names need resolving)");
  }
  return tcp_endpoint(address, where->port);
}

namespace {
template <typename Endpoint>
std::string endpoint_text(const Endpoint& endpoint) {
  auto address = endpoint.address();
  auto port = std::to_string(endpoint.port());
  if (address.is_v6()) return "[" + address.to_string() + "]:" + port;
  return address.to_string() + ":" + port;
}
}  // namespace

std::string to_string(const tcp_endpoint& endpoint) {
  return endpoint_text(endpoint);
}
std::string to_string(const udp_endpoint& endpoint) {
  return endpoint_text(endpoint);
}

}  // namespace flowstack::net
