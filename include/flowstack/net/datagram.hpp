// UDP sockets, whichever stack carries them: datagrams, not flows (a datagram is a message; a
// flow is a byte stream).
//
// Unconnected (bound): send_to / receive_from. Connected: send / receive talk to one peer, and
// datagrams from anyone else are dropped (the DNS forwarder relies on this, RFC 5452 §9.2).
#pragma once

#include <asio/awaitable.hpp>
#include <cstddef>
#include <flowstack/core/buffer.hpp>
#include <flowstack/core/error.hpp>
#include <flowstack/net/address.hpp>

namespace flowstack::net {

struct datagram {
  buffer data;
  udp_endpoint from;
};

class datagram_socket {
 public:
  virtual ~datagram_socket() = default;

  virtual asio::awaitable<result<void>> send_to(buffer data, udp_endpoint to) = 0;
  // Waits for one datagram; data larger than `max_size` is cut (and the rest lost, as in UDP).
  // After close(): flow_errc::closed.
  virtual asio::awaitable<result<datagram>> receive_from(std::size_t max_size = 65535) = 0;
  virtual asio::awaitable<result<void>> send(buffer data) = 0;
  virtual asio::awaitable<result<buffer>> receive(std::size_t max_size = 65535) = 0;

  virtual udp_endpoint local_endpoint() const = 0;
  // The receive buffer the stack gave the socket, in bytes (0: the stack does not say).
  virtual std::size_t receive_buffer_size() const { return 0; }
  // Ends pending operations (they fail with flow_errc::closed). Idempotent.
  virtual void close() = 0;
};

}  // namespace flowstack::net
