// Options of connections and listeners, the same for every network stack.
#pragma once

#include <flowstack/core/clock.hpp>

#include <chrono>
#include <cstddef>
#include <optional>

namespace flowstack::net {

// TCP keepalive: probe an idle connection `after` its last traffic, every `interval`, and give up
// (the flow fails `timeout`) after `probes` unanswered probes.
struct keepalive {
  std::chrono::seconds after{60};
  std::chrono::seconds interval{10};
  int probes = 5;
};

// Options of a connected flow, whether it came from connect or from a listener.
struct flow_options {
  // The largest buffer one read returns; 0 means the default. (`connect(ep, {})` picks the
  // seeds' read_buffer_size form with 0, and so gets the default too.)
  std::size_t read_buffer_size = 64 * 1024;
  bool nodelay = false;                     // TCP_NODELAY (TCP only)
  std::optional<net::keepalive> keepalive;  // TCP only
};

struct connect_options : flow_options {
  // Gives up with `timeout` when the handshake has not finished by then, as measured on
  // `clock` (DESIGN.md §5: a test gives a manual clock and moves it). The clock must outlive the
  // connect.
  std::optional<std::chrono::milliseconds> timeout;
  flowstack::clock* clock = &flowstack::clock::steady();
};

// Options of a bound UDP socket.
struct datagram_options {
  // Bytes the socket may hold while nobody reads, so that a burst is not lost (0: the stack's
  // default). A stack may give less than asked: datagram_socket::receive_buffer_size says.
  std::size_t receive_buffer = 0;
};

struct listen_options {
  flow_options flow;
  std::size_t max_connections = 1024;
  int backlog = 1024;
};

}  // namespace flowstack::net
