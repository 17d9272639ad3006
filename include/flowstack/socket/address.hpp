// Endpoint parsing: "127.0.0.1:80", "[::1]:80", "localhost:80", and host names resolved by the
// system resolver.
#pragma once

#include <flowstack/core/error.hpp>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace flowstack::socket {

using tcp_endpoint = asio::ip::tcp::endpoint;
using udp_endpoint = asio::ip::udp::endpoint;

// A host (name, IPv4 literal, or IPv6 literal with or without brackets) and a port, as written.
struct host_port {
  std::string host;
  std::uint16_t port = 0;
};

// Splits "HOST:PORT" where HOST may be "[v6]". Errors say what was wrong ("missing port",
// "port out of range", "unterminated '['").
result<host_port> parse_host_port(std::string_view text);

// Numeric endpoints only (no resolver): "127.0.0.1:53", "[::1]:53".
result<tcp_endpoint> parse_tcp_endpoint(std::string_view text);

// Resolves a host name (or literal) to endpoints, IPv6 and IPv4, in the resolver's order.
asio::awaitable<result<std::vector<tcp_endpoint>>> resolve(host_port where);

// "127.0.0.1:80" or "[::1]:80".
std::string to_string(const tcp_endpoint& endpoint);
std::string to_string(const udp_endpoint& endpoint);

}  // namespace flowstack::socket
