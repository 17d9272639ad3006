// Endpoints as every stack names them, and their text: "127.0.0.1:80", "[::1]:80",
// "localhost:80". (Resolving a host name is the kernel stack's: socket/address.hpp.)
#pragma once

#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>
#include <cstdint>
#include <flowstack/core/error.hpp>
#include <string>
#include <string_view>

namespace flowstack::net {

using tcp_endpoint = asio::ip::tcp::endpoint;
using udp_endpoint = asio::ip::udp::endpoint;

// A host (name, IPv4 literal, or IPv6 literal with or without brackets) and a port, as written.
struct host_port {
  std::string host;
  std::uint16_t port = 0;
};

// Splits "HOST:PORT" where HOST may be "[v6]". A text that does not parse fails with
// net_errc::invalid_address and what was wrong with it, e.g.
// `"127.0.0.1": missing port (expected HOST:PORT, e.g. 127.0.0.1:80 or [::1]:80)`.
detailed<host_port> parse_host_port(std::string_view text);

// Numeric endpoints only (no resolver): "127.0.0.1:53", "[::1]:53". Fails as parse_host_port
// does, and with invalid_address for a host that is not an IP address.
detailed<tcp_endpoint> parse_tcp_endpoint(std::string_view text);

// "127.0.0.1:80" or "[::1]:80".
std::string to_string(const tcp_endpoint& endpoint);
std::string to_string(const udp_endpoint& endpoint);

}  // namespace flowstack::net
