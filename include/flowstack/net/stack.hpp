// stack: what a network stack offers, whether it is the kernel's (socket::stack) or a userspace
// one: TCP connections as flows, listeners, and UDP sockets (the seeds' STACKV4 / TCPV4 / UDPV4).
// Code written against net::stack runs on any stack it is given.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <flowstack/core/flow.hpp>
#include <flowstack/net/address.hpp>
#include <flowstack/net/datagram.hpp>
#include <flowstack/net/error.hpp>
#include <flowstack/net/listener.hpp>
#include <flowstack/net/options.hpp>
#include <flowstack/net/tcp.hpp>
#include <memory>

namespace flowstack::net {

class stack {
 public:
  virtual ~stack() = default;

  // A TCP connection to `remote`, as a flow whose transport is a tcp_flow. Errors: refused,
  // timeout, unreachable (net_errc), others as the stack reports them.
  virtual asio::awaitable<result<flow>> connect(tcp_endpoint remote,
                                                connect_options options = {}) = 0;
  // Listens on `local` (port 0 picks a free port; see listener::local_port). Errors:
  // address_in_use, others as the stack reports them.
  virtual result<listener> listen(tcp_endpoint local, flow_handler handler,
                                  listen_options options = {}) = 0;
  // A UDP socket bound to `local` (port 0: a free port).
  virtual result<std::unique_ptr<datagram_socket>> udp_bind(udp_endpoint local,
                                                            datagram_options options = {}) = 0;
  // A UDP socket on a fresh random local port, connected to `remote`.
  virtual result<std::unique_ptr<datagram_socket>> udp_connect(udp_endpoint remote) = 0;

  virtual const asio::any_io_executor& get_executor() const noexcept = 0;

  // The seeds' create_connection: errors timeout / refused / unreachable.
  asio::awaitable<result<flow>> create_connection(tcp_endpoint remote,
                                                  connect_options options = {}) {
    return connect(remote, std::move(options));
  }
};

}  // namespace flowstack::net
