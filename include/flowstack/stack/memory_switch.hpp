// An Ethernet switch in memory, connecting several stacks in one process: for tests and
// benchmarks, with the faults of a real network applied at will, reproducibly.
//
// Each port is a device with its own MAC address; a frame goes to the port whose address it is
// sent to, or to every other port when it is broadcast, multicast or for no port. The faults of
// the port a frame is delivered to apply to it, drawn from one random generator seeded at
// construction, in the order frames are sent, so a run with the same seed and the same traffic
// loses, reorders and damages the same frames. Time (delay, rate, outages) comes from the clock
// the switch is given: with a manual clock a test controls it.
#pragma once

#include <asio/any_io_executor.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <flowstack/core/clock.hpp>
#include <flowstack/stack/device.hpp>
#include <memory>
#include <random>
#include <utility>
#include <vector>

namespace flowstack::stack {

struct link_faults {
  double loss = 0;       // probability that a frame is lost
  double ack_loss = 0;   // ... that a pure TCP ACK (no data, SYN, FIN or RST) is lost
  double duplicate = 0;  // ... that a frame is delivered twice
  double reorder = 0;    // ... that a frame is held back by reorder_delay, so later ones pass it
  double corrupt = 0;    // ... that one bit of a frame is flipped
  clock::duration reorder_delay = std::chrono::milliseconds(1);
  std::size_t mtu = 1500;             // larger packets are dropped, as a real link would
  clock::duration delay{};            // one-way propagation delay
  std::uint64_t bits_per_second = 0;  // the link's rate; 0 is unlimited
  // Windows of time [first, second) in which every frame to this port is lost.
  std::vector<std::pair<clock::time_point, clock::time_point>> outages;
  std::size_t queue_frames = 4096;  // frames waiting to be received; more are dropped
};

class memory_switch {
 public:
  // What happened to the frames delivered to one port.
  struct port_counters {
    std::uint64_t delivered = 0;
    std::uint64_t lost = 0;
    std::uint64_t acks_lost = 0;
    std::uint64_t duplicated = 0;
    std::uint64_t reordered = 0;
    std::uint64_t corrupted = 0;
    std::uint64_t too_big = 0;
    std::uint64_t in_outage = 0;
    std::uint64_t queue_full = 0;
  };

  memory_switch(asio::any_io_executor executor, clock& time, std::uint64_t seed = 1);
  ~memory_switch();
  memory_switch(const memory_switch&) = delete;
  memory_switch& operator=(const memory_switch&) = delete;

  // A new port: the device a stack runs on. A port that outlives the switch is closed.
  std::unique_ptr<device> connect(const mac_address& address, link_faults faults = {});

  // The counters of the port with `address`, or nothing when there is none.
  const port_counters* counters(const mac_address& address) const;

  struct port;

 private:
  friend class switch_port;
  void forward(const port& from, const buffer& frame);
  void deliver(port& to, const buffer& frame);

  asio::any_io_executor executor_;
  clock& clock_;
  std::mt19937_64 random_;
  std::vector<port*> ports_;
};

}  // namespace flowstack::stack
