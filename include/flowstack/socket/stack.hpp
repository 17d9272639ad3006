// stack: the kernel's TCP and UDP gathered for one io_context (the seeds' socket stack).
#pragma once

#include <flowstack/socket/tcp.hpp>
#include <flowstack/socket/udp.hpp>

namespace flowstack::socket {

class stack {
 public:
  explicit stack(asio::any_io_executor executor) : executor_(std::move(executor)) {}

  // The seeds' create_connection: errors timeout / refused / unreachable.
  asio::awaitable<result<flow>> create_connection(tcp_endpoint remote,
                                                  connect_options options = {}) {
    return connect(remote, std::move(options));
  }
  result<listener> listen(tcp_endpoint local, flow_handler handler, listen_options options = {}) {
    return socket::listen(executor_, local, std::move(handler), std::move(options));
  }
  result<udp_socket> udp_bind(udp_endpoint local) { return udp_socket::bind(executor_, local); }
  result<udp_socket> udp_connect(udp_endpoint remote) {
    return udp_socket::connect(executor_, remote);
  }

  const asio::any_io_executor& get_executor() const noexcept { return executor_; }

 private:
  asio::any_io_executor executor_;
};

}  // namespace flowstack::socket
