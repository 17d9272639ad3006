// stack: the kernel's TCP and UDP for one io_context, as a net::stack (the seeds' socket stack).
#pragma once

#include <flowstack/net/stack.hpp>
#include <flowstack/socket/tcp.hpp>
#include <flowstack/socket/udp.hpp>

namespace flowstack::socket {

class stack final : public net::stack {
 public:
  explicit stack(asio::any_io_executor executor) : executor_(std::move(executor)) {}

  asio::awaitable<result<flow>> connect(net::tcp_endpoint remote,
                                        net::connect_options options = {}) override {
    return socket::connect(remote, std::move(options));
  }
  result<net::listener> listen(net::tcp_endpoint local, net::flow_handler handler,
                               net::listen_options options = {}) override {
    return socket::listen(executor_, local, std::move(handler), std::move(options));
  }
  result<std::unique_ptr<net::datagram_socket>> udp_bind(
      net::udp_endpoint local, net::datagram_options options = {}) override {
    return boxed(udp_socket::bind(executor_, local, options));
  }
  result<std::unique_ptr<net::datagram_socket>> udp_connect(net::udp_endpoint remote) override {
    return boxed(udp_socket::connect(executor_, remote));
  }

  const asio::any_io_executor& get_executor() const noexcept override { return executor_; }

 private:
  static result<std::unique_ptr<net::datagram_socket>> boxed(result<udp_socket> s) {
    if (!s) return fail(s.error());
    return std::make_unique<udp_socket>(std::move(*s));
  }

  asio::any_io_executor executor_;
};

}  // namespace flowstack::socket
