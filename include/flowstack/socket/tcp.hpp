// TCP over IPv4 and IPv6 on the kernel's sockets, as flows.
//
// A TCP flow follows the flow contract (flowstack/core/flow.hpp): shutdown(write) sends FIN,
// shutdown(read) is SHUT_RD, close closes the socket at once (no linger). A read takes its buffer
// when data has arrived, sized to what is there (at most read_buffer_size), so an idle connection
// holds no read buffer.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <chrono>
#include <flowstack/core/flow.hpp>
#include <flowstack/socket/address.hpp>
#include <flowstack/socket/error.hpp>
#include <flowstack/socket/listener.hpp>
#include <optional>

namespace flowstack::socket {

struct connect_options : flow_options {
  // Gives up with `timeout` when the handshake has not finished by then.
  std::optional<std::chrono::milliseconds> timeout;
};

// The transport behind a TCP flow: `flow.as<tcp_flow>()`.
class tcp_flow : public flow_impl {
 public:
  using flow_impl::flow_impl;

  // The remote endpoint (the seeds' get_dest) and the local one.
  virtual tcp_endpoint dst() const = 0;
  virtual tcp_endpoint src() const = 0;
  tcp_endpoint get_dest() const { return dst(); }

  // write / writev that push the bytes to the network at once (TCP_NODELAY for this write):
  // they resolve when the kernel has taken the bytes with no coalescing delay.
  virtual asio::awaitable<write_result> write_nodelay(buffer data) = 0;
  virtual asio::awaitable<write_result> writev_nodelay(std::span<const buffer> data) = 0;

  virtual void set_nodelay(bool on) = 0;
  virtual void set_keepalive(const keepalive& k) = 0;
};

// Connects to `remote`. Errors: refused, timeout, unreachable (socket_errc), others as the
// kernel reports them.
asio::awaitable<result<flow>> connect(tcp_endpoint remote, connect_options options = {});
// The seeds' form: connect ?read_buffer_size (ip, port).
asio::awaitable<result<flow>> connect(tcp_endpoint remote, std::size_t read_buffer_size);
// Resolves `where` and tries each address in turn.
asio::awaitable<result<flow>> connect(host_port where, connect_options options = {});

// Listens on `local` (port 0 picks a free port; see listener::local_port).
result<listener> listen(asio::any_io_executor executor, tcp_endpoint local, flow_handler handler,
                        listen_options options = {});

}  // namespace flowstack::socket
