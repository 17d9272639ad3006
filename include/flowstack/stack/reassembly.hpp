// IPv4 reassembly, sans I/O (RFC 791 §3.2, with the limits that RFC 791 leaves to the host).
//
// Fragments are kept per datagram (source, destination, protocol, identification) until they
// cover it from offset 0 to the end the last fragment gives, and then returned as one datagram.
// A sender controls everything here, so everything is bounded:
// - a datagram not complete within options::timeout is dropped;
// - at most options::max_datagrams are reassembled at once and options::max_bytes are held in
//   all; room for a new fragment is made by dropping the datagrams that started first;
// - at most options::max_fragments per datagram;
// - a fragment that overlaps another (RFC 5722's rule, which Linux applies to IPv4 too since the
//   FragmentSmack attacks) drops the whole datagram, since overlaps are how filters are evaded;
//   an exact duplicate (a retransmitted fragment) is ignored;
// - a datagram longer than 65,535 octets, a non-final fragment whose length is not a multiple of
//   8, and a second, different end drop the datagram too.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <flowstack/core/buffer.hpp>
#include <flowstack/core/clock.hpp>
#include <flowstack/stack/ipv4.hpp>
#include <map>
#include <optional>
#include <tuple>
#include <vector>

namespace flowstack::stack {

class reassembly {
 public:
  using time_point = clock::time_point;
  using duration = clock::duration;

  struct options {
    duration timeout = std::chrono::seconds(30);  // Linux's ipfrag_time
    std::size_t max_datagrams = 64;
    std::size_t max_bytes = 4 * 1024 * 1024;
    std::size_t max_fragments = 64;
  };

  struct datagram {
    ipv4_header header;  // the first fragment's, as if never fragmented
    buffer payload;
  };

  // Why datagrams were dropped, for the stack's counters.
  struct counters {
    std::size_t timed_out = 0;
    std::size_t overlapping = 0;
    std::size_t malformed = 0;  // too long, misaligned, two ends, too many fragments
    std::size_t evicted = 0;    // to make room
  };

  reassembly() : reassembly(options{}) {}
  explicit reassembly(options o) : options_(o) {}

  // Takes one fragment (header.is_fragment()); returns the datagram it completes, if it does.
  std::optional<datagram> add(const ipv4_packet& fragment, time_point now);

  // Drops the datagrams whose time is up.
  void poll(time_point now);
  std::optional<time_point> next_deadline() const;

  std::size_t in_progress() const noexcept { return datagrams_.size(); }
  std::size_t bytes_held() const noexcept { return bytes_; }
  const counters& dropped() const noexcept { return dropped_; }

 private:
  using key = std::tuple<std::uint32_t, std::uint32_t, std::uint8_t, std::uint16_t>;
  struct partial {
    time_point deadline;
    std::optional<ipv4_header> first;      // the header of the fragment at offset 0
    std::optional<std::size_t> end;        // known once the last fragment came
    std::map<std::size_t, buffer> pieces;  // by offset
    std::size_t bytes = 0;
  };

  void drop(std::map<key, partial>::iterator it, std::size_t& reason);
  // Drops the datagrams that started first, other than `keeping`, until `bytes` more fit (and
  // one more datagram, for a new one); false when they cannot.
  bool make_room(std::size_t bytes, const key& keeping, bool new_datagram);
  std::optional<datagram> complete(std::map<key, partial>::iterator it);

  options options_;
  std::map<key, partial> datagrams_;
  std::size_t bytes_ = 0;
  counters dropped_;
};

}  // namespace flowstack::stack
