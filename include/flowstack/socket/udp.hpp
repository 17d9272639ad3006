// UDP on the kernel's sockets, as net::datagram_socket.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/udp.hpp>
#include <cstddef>
#include <flowstack/core/buffer.hpp>
#include <flowstack/core/error.hpp>
#include <flowstack/net/address.hpp>
#include <flowstack/net/datagram.hpp>
#include <flowstack/net/options.hpp>

namespace flowstack::socket {

class udp_socket final : public net::datagram_socket {
 public:
  // Binds to `local` (port 0: a free port). A receive buffer is asked with SO_RCVBUFFORCE
  // (allowed with CAP_NET_ADMIN, not capped by net.core.rmem_max) and else SO_RCVBUF (capped).
  static result<udp_socket> bind(asio::any_io_executor executor, net::udp_endpoint local,
                                 net::datagram_options options = {});
  // A socket on a fresh ephemeral port connected to `remote`.
  static result<udp_socket> connect(asio::any_io_executor executor, net::udp_endpoint remote);

  asio::awaitable<result<void>> send_to(buffer data, net::udp_endpoint to) override;
  asio::awaitable<result<net::datagram>> receive_from(std::size_t max_size = 65535) override;
  asio::awaitable<result<void>> send(buffer data) override;
  asio::awaitable<result<buffer>> receive(std::size_t max_size = 65535) override;

  net::udp_endpoint local_endpoint() const override;
  // Bound sockets: what getsockopt(SO_RCVBUF) said at bind, halved (Linux reports twice the
  // size set, the other half being its bookkeeping).
  std::size_t receive_buffer_size() const override { return receive_buffer_size_; }
  void close() override;

  explicit udp_socket(asio::ip::udp::socket socket) : socket_(std::move(socket)) {}
  udp_socket(udp_socket&&) noexcept = default;
  udp_socket& operator=(udp_socket&&) noexcept = default;

 private:
  asio::ip::udp::socket socket_;
  std::size_t receive_buffer_size_ = 0;
};

}  // namespace flowstack::socket
