// UDP sockets: datagrams, not flows (a datagram is a message; a flow is a byte stream).
//
// Unconnected: send_to / receive_from. Connected (connect): send / receive talk to one peer and
// the kernel drops datagrams from anyone else (the DNS forwarder relies on this, RFC 5452).
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/udp.hpp>
#include <cstddef>
#include <flowstack/core/buffer.hpp>
#include <flowstack/core/error.hpp>
#include <flowstack/socket/address.hpp>

namespace flowstack::socket {

struct datagram {
  buffer data;
  udp_endpoint from;
};

class udp_socket {
 public:
  // Binds to `local` (port 0: a free port).
  static result<udp_socket> bind(asio::any_io_executor executor, udp_endpoint local);
  // A socket on a fresh ephemeral port connected to `remote`.
  static result<udp_socket> connect(asio::any_io_executor executor, udp_endpoint remote);

  asio::awaitable<result<void>> send_to(buffer data, udp_endpoint to);
  // Waits for one datagram; data larger than `max_size` is cut (and the rest lost, as in UDP).
  asio::awaitable<result<datagram>> receive_from(std::size_t max_size = 65535);
  asio::awaitable<result<void>> send(buffer data);
  asio::awaitable<result<buffer>> receive(std::size_t max_size = 65535);

  udp_endpoint local_endpoint() const;
  void close();

  explicit udp_socket(asio::ip::udp::socket socket) : socket_(std::move(socket)) {}

 private:
  asio::ip::udp::socket socket_;
};

}  // namespace flowstack::socket
