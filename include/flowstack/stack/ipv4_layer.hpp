// The network layer of one Ethernet interface, sans I/O (DESIGN.md §5): ARP, IPv4 and the ICMP
// the host itself answers. The stack's driver feeds it frames and the time, sends the frames it
// gives back, and hands it packets from the transports above (UDP, TCP) to send.
//
//   std::vector<buffer> out;
//   if (auto in = layer.input(received, now, out)) deliver(*in);   // UDP, TCP, ICMP errors
//   layer.send(destination, ip_protocol::udp, datagram, now, out);
//   layer.poll(now, out);                                          // at next_deadline()
//   for (auto& f : out) device.send(std::move(f));
//
// What it does on its own: answers ARP for its address and learns from ARP (arp_cache.hpp),
// announces itself when it starts (announce()), answers echo requests, reassembles fragments
// (reassembly.hpp) and fragments what it sends when a packet is larger than the MTU, and routes
// to the gateway what is not on its own subnet. What it refuses, it drops and counts (drops()):
// frames for another address, every malformed packet (wire.hpp's reasons), packets for another
// IP address (a host does not forward).
//
// ICMP errors it sends (send_unreachable) follow RFC 1122 §3.2.2 and RFC 1812 §4.3.2: never about
// an ICMP error, a broadcast or multicast packet, a fragment other than the first, or a source
// that is not a unicast host; at most options::icmp_errors_per_second (a token bucket, as Linux's
// icmp_ratelimit); quoting as much of the packet as fits in 576 octets.
#pragma once

#include <array>
#include <asio/ip/address_v4.hpp>
#include <cstdint>
#include <flowstack/core/buffer.hpp>
#include <flowstack/core/clock.hpp>
#include <flowstack/stack/arp_cache.hpp>
#include <flowstack/stack/device.hpp>
#include <flowstack/stack/icmp.hpp>
#include <flowstack/stack/ipv4.hpp>
#include <flowstack/stack/reassembly.hpp>
#include <optional>
#include <string_view>
#include <vector>

namespace flowstack::stack {

struct ipv4_config {
  asio::ip::address_v4 address;
  unsigned prefix_length = 24;
  std::optional<asio::ip::address_v4> gateway;  // none: only the subnet is reachable
  std::size_t mtu = 1500;
};

// An IP packet for the transports above: UDP, TCP, or an ICMP error about a packet we sent.
struct ipv4_delivery {
  ipv4_header header;
  buffer packet;   // the whole datagram, header included (what an ICMP error quotes)
  buffer payload;  // the transport's part
  bool checksums_verified = false;  // the device checked the transport checksum already
};

class ipv4_layer {
 public:
  using time_point = clock::time_point;

  struct options {
    arp_cache::options arp;
    reassembly::options fragments;
    std::uint8_t ttl = 64;
    double icmp_errors_per_second = 100;
    double icmp_error_burst = 50;
  };

  // Why input() dropped a frame, for the stack's counters.
  enum class drop_reason : std::size_t {
    not_for_us,         // another MAC, another IP address, or a protocol no one takes
    bad_frame,          // malformed Ethernet or ARP
    bad_packet,         // malformed IPv4 or ICMP (truncated, bad checksum, bad option)
    source_routed,      // IPv4 source routing (RFC 7126)
    bad_source,         // a source address no host may have (ours, broadcast, multicast)
    icmp_rate_limited,  // an ICMP error we did not send
    no_route,           // send() to an address with no route
    arp_unanswered,     // packets given up waiting for ARP
    arp_refused,        // packets not held: the ARP table was full of questions
    count_
  };
  static std::string_view name_of(drop_reason r);

  ipv4_layer(mac_address mac, ipv4_config config, time_point now)
      : ipv4_layer(mac, config, now, options{}) {}
  ipv4_layer(mac_address mac, ipv4_config config, time_point now, options o);

  // The gratuitous ARP that tells neighbours where our address is (RFC 5227 §3).
  void announce(std::vector<buffer>& out) const;

  // One frame from the device. Frames to send in reply (ARP replies, echo replies, packets that
  // waited for the ARP answer this frame brought) go to `out`.
  std::optional<ipv4_delivery> input(const frame& f, time_point now, std::vector<buffer>& out);

  // Sends `payload` (a transport header and its data) to `destination`, fragmented when it does
  // not fit the MTU, or held while its next hop's address is asked for. Errors:
  // net_errc::unreachable without a route.
  result<void> send(const asio::ip::address_v4& destination, ip_protocol protocol,
                    const buffer& payload, time_point now, std::vector<buffer>& out);

  // Destination (or protocol) unreachable about `cause`, unless the rules above forbid it.
  void send_unreachable(const ipv4_delivery& cause, unreachable_code code, time_point now,
                        std::vector<buffer>& out);

  // Lets time pass: ARP retries, reassembly timeouts. Returns the next hops (a neighbour on the
  // link, or the gateway) given up because they never answered ARP, so that the transports can
  // fail what waits for them (hop_for() says which hop a destination uses).
  std::vector<asio::ip::address_v4> poll(time_point now, std::vector<buffer>& out);
  std::optional<time_point> next_deadline() const;

  // The neighbour packets for `destination` go to: itself on the link, else the gateway.
  std::optional<asio::ip::address_v4> hop_for(const asio::ip::address_v4& destination) const;

  const ipv4_config& config() const noexcept { return config_; }
  const mac_address& mac() const noexcept { return mac_; }
  std::uint64_t drops(drop_reason r) const noexcept { return drops_[static_cast<std::size_t>(r)]; }
  // Datagrams reassembly gave up, by reason.
  const reassembly::counters& fragments_dropped() const noexcept { return reassembly_.dropped(); }
  // The largest transport payload one unfragmented packet carries.
  std::size_t max_payload() const noexcept { return config_.mtu - ipv4_min_header_size; }

 private:
  bool on_link(const asio::ip::address_v4& a) const noexcept;
  bool is_broadcast(const asio::ip::address_v4& a) const noexcept;
  void drop(drop_reason r) noexcept { ++drops_[static_cast<std::size_t>(r)]; }
  void input_arp(std::span<const std::uint8_t> payload, time_point now, std::vector<buffer>& out);
  std::optional<ipv4_delivery> input_ipv4(const frame& f, std::span<const std::uint8_t> payload,
                                          time_point now, std::vector<buffer>& out);
  void answer_echo(const ipv4_delivery& request, const icmp_message& m, time_point now,
                   std::vector<buffer>& out);
  // Puts one IP packet (in a frame whose Ethernet header is still blank) on its way to `hop`.
  void transmit(const asio::ip::address_v4& hop, buffer frame, time_point now,
                std::vector<buffer>& out);
  buffer arp_frame(const arp_packet& a, const mac_address& to) const;
  bool take_icmp_token(time_point now);

  mac_address mac_;
  ipv4_config config_;
  options options_;
  arp_cache arp_;
  reassembly reassembly_;
  std::uint16_t next_id_;
  double icmp_tokens_;
  time_point icmp_refilled_;
  std::array<std::uint64_t, static_cast<std::size_t>(drop_reason::count_)> drops_{};
};

}  // namespace flowstack::stack
