// The TCP of one userspace stack, sans I/O (DESIGN.md §5): every connection, found by its
// addresses and ports, and the listeners, by port. The stack's driver feeds it the segments the IP
// layer delivers and the time; the application's side acts on a socket's connection and then
// tells the layer (update). It gives back the segments to send, the sockets whose state changed
// and the listeners that have a connection to accept.
//
//   layer.input(ip_header, segment_bytes, verified, now);
//   for (auto& p : layer.take_output()) ip.send(p.destination, ip_protocol::tcp, p.segment, ...);
//   for (auto* s : layer.take_changed()) wake_whoever_waits_on(s);
//   layer.poll(now);                                          // at next_deadline()
//
// What it answers on its own (RFC 9293 §3.10.7.1): a segment for no connection and no listener
// gets a RST (never one for a RST); at a listener, an ACK gets a RST and a SYN starts a
// connection while the listener's backlog has room — half-open and not yet accepted connections
// count against it, and a SYN beyond it is dropped, as Linux does when its queues are full (the
// peer's SYN retransmission tries again). Every connection in any state counts against
// options::max_connections, so a flood of SYNs costs bounded memory.
//
// Memory: each connection holds at most its send buffer, its receive buffer and as many bytes
// again out of order (tcp_settings). Across connections, options::buffer_budget bounds the bytes
// they hold together (received and unread, out of order, written and unacknowledged): once it
// is spent, data segments from peers are dropped without being acknowledged, so that peers
// filling their windows while the application reads nothing cannot grow memory past it. Their
// retransmissions come in once an application reads. Writes are not refused: what the
// application writes is bounded by each send buffer, and it counts against the budget.
//
// Lifetime: a socket stays while its connection lives or the application holds it. A connection
// the application released goes on (FIN-WAIT, TIME-WAIT) and is freed once it is closed; its
// ephemeral port is free again then.
#pragma once

#include <asio/ip/address_v4.hpp>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <flowstack/core/buffer.hpp>
#include <flowstack/core/clock.hpp>
#include <flowstack/core/error.hpp>
#include <flowstack/stack/icmp.hpp>
#include <flowstack/stack/ipv4.hpp>
#include <flowstack/stack/isn.hpp>
#include <flowstack/stack/ports.hpp>
#include <flowstack/stack/tcp_connection.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <unordered_map>
#include <vector>

namespace flowstack::stack {

// A TCP segment to send: header and payload, checksummed for its addresses.
struct tcp_packet {
  asio::ip::address_v4 destination;
  buffer segment;
};

class tcp_layer {
 public:
  using time_point = clock::time_point;

  struct options {
    tcp_settings settings;
    std::size_t max_connections = 65536;           // in every state, TIME-WAIT included
    std::size_t buffer_budget = 64 * 1024 * 1024;  // bytes all connections hold together
    std::uint16_t ephemeral_first = 49152;
    std::uint16_t ephemeral_last = 65535;
    // Ephemeral ports and the secret of initial sequence numbers (RFC 6528): random unless a test
    // wants a run it can repeat.
    std::uint64_t seed = std::random_device()() ^ (std::uint64_t{std::random_device()()} << 32);
  };

  struct counters {
    std::uint64_t segments_in = 0;       // that parsed, whoever took them
    std::uint64_t segments_out = 0;      // resets included
    std::uint64_t retransmissions = 0;   // segments sent again, after a timeout or three dup ACKs
    std::uint64_t fast_retransmits = 0;  // of which after three duplicate ACKs
    std::uint64_t malformed = 0;         // segments that did not parse or failed their checksum
    std::uint64_t resets_sent = 0;       // for segments no connection or listener took
    std::uint64_t syns_dropped = 0;      // a listener's backlog was full
    std::uint64_t table_full = 0;        // SYNs and connects refused at max_connections
    std::uint64_t not_for_us = 0;        // to an address that is not ours (a broadcast, say)
    std::uint64_t icmp_ignored = 0;      // ICMP errors quoting a sequence number not in flight
    std::uint64_t over_budget = 0;       // data segments dropped: buffer_budget was spent
  };

  // One connection and who holds it. The driver may keep a pointer in `owner` to find whom to
  // wake; the layer never reads it.
  struct socket {
    explicit socket(tcp_connection c) : connection(std::move(c)) {}
    tcp_connection connection;
    void* owner = nullptr;

   private:
    friend class tcp_layer;
    std::uint64_t key = 0;
    std::optional<std::uint16_t> listener;  // came from this listener, not yet accepted
    bool held = false;                      // the application has it
    bool changed = false;                   // listed in changed_
    bool ephemeral = false;                 // its local port is ours to release
    std::uint64_t retransmissions_counted = 0;
    std::uint64_t fast_retransmits_counted = 0;
    std::size_t charged = 0;  // its buffered bytes, as buffered_ counts them
    std::optional<std::multimap<time_point, socket*>::iterator> timer;
  };

  tcp_layer(asio::ip::address_v4 local, options o);
  ~tcp_layer();
  tcp_layer(const tcp_layer&) = delete;
  tcp_layer& operator=(const tcp_layer&) = delete;

  // Listens on `port` (0: a free ephemeral one); returns the port. Errors: address_in_use.
  result<std::uint16_t> listen(std::uint16_t port, std::size_t backlog);
  // Stops listening: connections not yet accepted are reset.
  void unlisten(std::uint16_t port, time_point now);
  // The oldest established connection of `port`'s listener, now held by the caller; null when
  // there is none.
  socket* accept(std::uint16_t port);

  // An active open from a free ephemeral port; the socket is held by the caller. Errors:
  // no_buffer_space at max_connections, address_in_use when no ephemeral port is left.
  result<socket*> connect(const asio::ip::address_v4& remote, std::uint16_t port, time_point now);

  // A segment the IP layer delivered (`ip` its header, `segment` the TCP header and payload).
  void input(const ipv4_header& ip, std::span<const std::uint8_t> segment, bool checksum_verified,
             time_point now);

  // An ICMP destination unreachable that quotes a segment we sent from `local_port` to
  // `remote`:`remote_port`, with that segment's sequence number. It reaches the connection only
  // when the number is one the connection has sent and not had acknowledged (RFC 5927 §4.1.2),
  // so that a blind attacker cannot end connections by guessing ports.
  void input_icmp_error(const asio::ip::address_v4& remote, std::uint16_t remote_port,
                        std::uint16_t local_port, std::uint32_t seq, unreachable_code code,
                        time_point now);

  // The next hop of the remote addresses for which `behind` holds never answered ARP: each
  // connection to one of them takes it as a host unreachable (a connect fails `unreachable`).
  void next_hop_lost(const std::function<bool(const asio::ip::address_v4&)>& behind,
                     time_point now);

  // After the application acted on s->connection (write, read, shutdown, close, abort).
  void update(socket* s, time_point now);
  // The application is done with `s` (it called close or abort on the connection first). `s`
  // must not be used afterwards.
  void release(socket* s, time_point now);

  void poll(time_point now);
  std::optional<time_point> next_deadline() const;
  // Ends every connection at once, with RST where a peer is owed one (the stack is going away).
  void abort_all(time_point now);

  std::vector<tcp_packet> take_output() { return std::exchange(output_, {}); }
  // Held sockets whose connection changed since the last call.
  std::vector<socket*> take_changed();
  // Listeners that got a connection to accept since the last call.
  std::vector<std::uint16_t> take_ready_listeners() { return std::exchange(ready_listeners_, {}); }

  std::size_t connections() const noexcept { return sockets_.size(); }
  // Connections that still have something to say: every one but those in TIME-WAIT.
  std::size_t closing_or_open() const noexcept;
  // The bytes every connection holds together, counted against options::buffer_budget.
  std::size_t buffered_bytes() const noexcept { return buffered_; }
  const counters& stats() const noexcept { return counters_; }
  const asio::ip::address_v4& local_address() const noexcept { return local_; }

 private:
  struct listener {
    std::size_t backlog;
    std::size_t half_open = 0;
    std::deque<socket*> ready;  // established, waiting for accept()
  };

  static std::uint64_t key_of(const asio::ip::address_v4& remote, std::uint16_t remote_port,
                              std::uint16_t local_port) noexcept;
  socket* add(tcp_connection c, bool ephemeral);
  void input_listener(listener& l, const ipv4_header& ip, const tcp_segment& seg, time_point now);
  // Sends what the connection has to send, keeps its timer and its place in a listener's queues,
  // and frees it when it is closed and nobody holds it.
  void settle(socket* s, time_point now);
  void free(socket* s);
  void reset_for(const ipv4_header& ip, const tcp_header& h, std::size_t payload_size);
  void emit(const asio::ip::address_v4& destination, const tcp_header& h, const buffer& payload);
  static isn_generator isn_from(std::uint64_t seed);

  asio::ip::address_v4 local_;
  options options_;
  isn_generator isn_;
  port_allocator ports_;
  std::unordered_map<std::uint64_t, std::unique_ptr<socket>> sockets_;
  std::unordered_map<std::uint16_t, listener> listeners_;
  std::multimap<time_point, socket*> timers_;
  std::vector<tcp_packet> output_;
  std::vector<socket*> changed_;
  std::vector<std::uint16_t> ready_listeners_;
  counters counters_;
  std::size_t buffered_ = 0;
};

}  // namespace flowstack::stack
