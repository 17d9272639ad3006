// The ARP layer's memory, sans I/O (DESIGN.md §5): which IPv4 neighbours have which MAC address,
// and the packets waiting for an answer. It is driven by what arrives and by `now`, and says what
// to send; the stack's driver does the sending and sleeps until next_deadline().
//
// Rules, and why:
// - An answer is trusted for options::reachable, then forgotten: the next packet asks again.
// - A mapping is learned from an ARP packet only when it updates one we have, or when the packet
//   is addressed to us (RFC 826's merge rule). Unsolicited replies and gratuitous ARP for
//   addresses we never asked about create nothing, so a peer cannot fill the table.
// - A packet for an unknown address is held, at most options::max_waiting per address (the
//   oldest is dropped), and requests are sent at most once per options::retry per address, at
//   most options::max_requests times; then the address is given up and its packets are handed
//   back (so the IP layer can answer with ICMP host unreachable).
// - At most options::max_entries addresses are known or asked about; when full, the entry that
//   expires first is forgotten, and a new question is refused when every entry is a pending one.
#pragma once

#include <asio/ip/address_v4.hpp>
#include <chrono>
#include <cstddef>
#include <flowstack/core/buffer.hpp>
#include <flowstack/core/clock.hpp>
#include <flowstack/stack/arp.hpp>
#include <flowstack/stack/ethernet.hpp>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

namespace flowstack::stack {

class arp_cache {
 public:
  using time_point = clock::time_point;
  using duration = clock::duration;

  struct options {
    duration reachable = std::chrono::seconds(60);
    duration retry = std::chrono::seconds(1);
    unsigned max_requests = 3;
    std::size_t max_entries = 1024;
    std::size_t max_waiting = 16;
  };

  arp_cache() : arp_cache(options{}) {}
  explicit arp_cache(options o) : options_(o) {}

  // The address of `ip`, when an answer for it is still trusted at `now`.
  std::optional<mac_address> lookup(const asio::ip::address_v4& ip, time_point now) const;

  // What hold() did with a packet.
  enum class held {
    ask,      // held; send an ARP request for the address now
    waiting,  // held behind a request already sent
    refused,  // not held: the table is full of pending questions
  };
  // Holds `packet` (an IP packet for `ip`, whose address lookup() did not know) until an answer.
  held hold(const asio::ip::address_v4& ip, buffer packet, time_point now);

  // An ARP packet from `ip` at `mac` arrived; `for_us` when its target address is ours. Returns
  // the packets that waited for `ip`, to be sent now.
  std::vector<buffer> learn(const asio::ip::address_v4& ip, const mac_address& mac, bool for_us,
                            time_point now);

  struct due {
    std::vector<asio::ip::address_v4> ask;  // send a request for each again
    // Addresses that never answered, with the packets that waited for them.
    std::vector<std::pair<asio::ip::address_v4, std::vector<buffer>>> given_up;
  };
  // Lets time pass: requests due again, addresses given up, answers forgotten.
  due poll(time_point now);
  // When poll() next has something to do.
  std::optional<time_point> next_deadline() const;

  std::size_t size() const noexcept { return entries_.size(); }

 private:
  struct entry {
    std::optional<mac_address> mac;  // none while asking
    time_point deadline;             // known: when it is forgotten; asking: the next request
    unsigned requests = 0;
    std::vector<buffer> waiting;
  };

  // Makes room for one more entry; false when every entry is a pending question.
  bool make_room();

  options options_;
  std::unordered_map<std::uint32_t, entry> entries_;
};

// The reply to `request` when it asks for `our_ip` (RFC 826), from `our_mac`.
std::optional<arp_packet> reply_to(const arp_packet& request, const asio::ip::address_v4& our_ip,
                                   const mac_address& our_mac);

// A request for `target` from us.
arp_packet request_for(const asio::ip::address_v4& target, const asio::ip::address_v4& our_ip,
                       const mac_address& our_mac);

// A gratuitous ARP announcing our address (RFC 5227 §3: a request whose sender and target
// addresses are both ours), sent when the stack comes up so neighbours update stale entries.
arp_packet announcement(const asio::ip::address_v4& our_ip, const mac_address& our_mac);

}  // namespace flowstack::stack
