// Port numbers of one transport (UDP or TCP) of the userspace stack: ports taken by number (a
// listener, a bound socket) and ephemeral ones handed out for outgoing connections.
//
// An ephemeral port is picked at random in the range (RFC 6056 §3.3.1), so that an off-path
// attacker cannot guess it, and then the next free one after it: one pass over the range at most,
// so allocation never spins however full the range is (mirage-tcpip's issue #462 was a loop that
// retried random ports forever), and an exhausted range is an answer, not a hang.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <vector>

namespace flowstack::stack {

class port_allocator {
 public:
  // The ephemeral range; IANA's by default (RFC 6335 §6).
  explicit port_allocator(std::uint16_t first = 49152, std::uint16_t last = 65535,
                          std::uint64_t seed = std::random_device()());

  // A free ephemeral port, now taken; none when every port of the range is.
  std::optional<std::uint16_t> allocate();
  // Takes `port` by number (any port but 0); false when it is taken already.
  bool reserve(std::uint16_t port);
  // Gives a port back. Releasing a free port does nothing.
  void release(std::uint16_t port);

  bool in_use(std::uint16_t port) const noexcept { return used_[port]; }
  // Free ports left in the ephemeral range.
  std::size_t ephemeral_free() const noexcept { return free_; }

 private:
  bool in_range(std::uint16_t port) const noexcept { return port >= first_ && port <= last_; }

  std::uint16_t first_;
  std::uint16_t last_;
  std::mt19937_64 random_;
  std::vector<bool> used_ = std::vector<bool>(65536, false);
  std::size_t free_;
};

}  // namespace flowstack::stack
