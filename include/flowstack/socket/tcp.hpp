// TCP over IPv4 and IPv6 on the kernel's sockets, as flows whose transport is a net::tcp_flow.
//
// shutdown(write) sends FIN, shutdown(read) is SHUT_RD, close closes the socket at once (no
// linger). A read takes its buffer when data has arrived, sized to what is there (at most
// read_buffer_size), so an idle connection holds no read buffer.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <flowstack/core/flow.hpp>
#include <flowstack/net/address.hpp>
#include <flowstack/net/listener.hpp>
#include <flowstack/net/options.hpp>
#include <flowstack/net/tcp.hpp>
#include <flowstack/socket/address.hpp>
#include <flowstack/socket/error.hpp>

namespace flowstack::socket {

// Connects to `remote`. Errors: refused, timeout, unreachable (net::net_errc), others as the
// kernel reports them.
asio::awaitable<result<flow>> connect(net::tcp_endpoint remote, net::connect_options options = {});
// The seeds' form: connect ?read_buffer_size (ip, port).
asio::awaitable<result<flow>> connect(net::tcp_endpoint remote, std::size_t read_buffer_size);
// Resolves `where` and tries each address in turn.
asio::awaitable<result<flow>> connect(net::host_port where, net::connect_options options = {});

// Listens on `local` (port 0 picks a free port; see listener::local_port).
result<net::listener> listen(asio::any_io_executor executor, net::tcp_endpoint local,
                             net::flow_handler handler, net::listen_options options = {});

}  // namespace flowstack::socket
