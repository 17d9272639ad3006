// How the forwarder reaches the network. The forwarder is written against these interfaces and
// the flow type only; the daemon gives it kernel sockets, the tests give it memory flows.
#pragma once

#include <flowstack/core/buffer.hpp>
#include <flowstack/core/error.hpp>
#include <flowstack/core/flow.hpp>
#include <flowstack/dns/config.hpp>

#include <asio/awaitable.hpp>
#include <asio/ip/udp.hpp>

#include <memory>
#include <optional>

namespace flowstack::dns {

// A datagram socket connected to one upstream server, from a fresh random local port: only that
// server's datagrams are received (RFC 5452 §9.2).
class datagram_channel {
 public:
  virtual ~datagram_channel() = default;
  virtual asio::awaitable<result<void>> send(buffer datagram) = 0;
  // Waits for the next datagram; the error operation_aborted after close().
  virtual asio::awaitable<result<buffer>> receive() = 0;
  virtual void close() = 0;
  // The local end, when the transport can say. A channel whose local end is the server's own
  // address is connected to itself: the server is down and the kernel handed its port out as a
  // source port. Such a channel reads back its own queries and keeps the server from binding
  // its port again, so the forwarder closes it at once and opens another.
  virtual std::optional<server_address> local_address() const { return std::nullopt; }
};

// The upstream side: opens streams and datagram channels to servers.
class upstream_transport {
 public:
  virtual ~upstream_transport() = default;
  virtual asio::awaitable<result<flow>> connect_stream(const server_address& server) = 0;
  virtual result<std::unique_ptr<datagram_channel>> open_datagram(const server_address& server) = 0;
};

// The client side of UDP: one socket many clients send to.
struct client_datagram {
  buffer data;
  asio::ip::udp::endpoint from;
};

class datagram_listener {
 public:
  virtual ~datagram_listener() = default;
  virtual asio::awaitable<result<client_datagram>> receive_from() = 0;
  virtual asio::awaitable<result<void>> send_to(buffer datagram, asio::ip::udp::endpoint to) = 0;
  virtual void close() = 0;
};

}  // namespace flowstack::dns
