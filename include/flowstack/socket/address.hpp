// Host names resolved by the system resolver (the kernel stack's; endpoints and their text are
// in net/address.hpp).
#pragma once

#include <asio/awaitable.hpp>
#include <flowstack/core/error.hpp>
#include <flowstack/net/address.hpp>
#include <vector>

namespace flowstack::socket {

// Resolves a host name (or literal) to endpoints, IPv6 and IPv4, in the resolver's order.
asio::awaitable<result<std::vector<net::tcp_endpoint>>> resolve(net::host_port where);

}  // namespace flowstack::socket
