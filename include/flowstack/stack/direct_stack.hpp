// The userspace stack as a net::stack (mirage-tcpip's "direct" stack): it owns a frame device and
// speaks ARP, IPv4, ICMP, UDP and TCP itself, so that TLS, `flowstack cat` and the DNS forwarder
// run on it as they run on the kernel's.
//
//   auto dev = stack::open_tap(ex, {.name = "tap0"});
//   stack::direct_stack net(ex, std::move(*dev), {.ipv4 = {address, 24, gateway}});
//   auto f = co_await net.connect({address_v4(...), 80});
//
// It is the thin driver of DESIGN.md §5 around the sans-I/O pieces: a loop reads frames and feeds
// the network layer (ipv4_layer.hpp), which hands TCP segments to the TCP layer (tcp_layer.hpp)
// and datagrams to the UDP sockets; what they give back goes to the device at once; one timer
// waits for the earliest deadline of all of them, on the clock the stack is given.
//
// Lifetime: the stack runs while it, or a flow, listener or socket it made, exists, and after that
// until its closed connections have delivered what they hold (FIN-WAIT, LAST-ACK; TIME-WAIT is not
// waited for). Destroying it stops its listeners from accepting; flows already open go on. When
// its device closes or fails, the stack stops: its connections end (flows fail `closed`), and
// connect, listen and the sockets fail `closed` from then on.
// Everything runs on the executor given, from one thread.
#pragma once

#include <asio/any_io_executor.hpp>
#include <cstddef>
#include <flowstack/core/clock.hpp>
#include <flowstack/net/stack.hpp>
#include <flowstack/stack/device.hpp>
#include <flowstack/stack/ipv4_layer.hpp>
#include <flowstack/stack/tcp_layer.hpp>
#include <memory>

namespace flowstack::stack {

struct direct_stack_config {
  ipv4_config ipv4;
  ipv4_layer::options network;
  tcp_layer::options tcp;
  // Bytes a UDP socket holds while nobody reads, unless udp_bind asks for another size.
  std::size_t udp_receive_buffer = 256 * 1024;
};

class direct_stack final : public net::stack {
 public:
  // Starts at once: announces its address (gratuitous ARP) and reads frames. The IP address and
  // MTU are the config's (an MTU above the device's is lowered to it).
  direct_stack(asio::any_io_executor executor, std::unique_ptr<device> dev,
               direct_stack_config config, clock& time = clock::steady());
  ~direct_stack() override;
  direct_stack(const direct_stack&) = delete;
  direct_stack& operator=(const direct_stack&) = delete;

  // IPv4 only, for now: another address family fails `unreachable`.
  asio::awaitable<result<flow>> connect(net::tcp_endpoint remote,
                                        net::connect_options options = {}) override;
  // `local` must be the stack's address or the unspecified one.
  result<net::listener> listen(net::tcp_endpoint local, net::flow_handler handler,
                               net::listen_options options = {}) override;
  result<std::unique_ptr<net::datagram_socket>> udp_bind(
      net::udp_endpoint local, net::datagram_options options = {}) override;
  result<std::unique_ptr<net::datagram_socket>> udp_connect(net::udp_endpoint remote) override;

  const asio::any_io_executor& get_executor() const noexcept override;

  // For counters and tests.
  const ipv4_layer& network() const noexcept;
  const tcp_layer& tcp() const noexcept;
  // Datagrams dropped because their socket's queue was full.
  std::uint64_t udp_queue_drops() const noexcept;

  struct state;

 private:
  std::shared_ptr<state> state_;
};

}  // namespace flowstack::stack
