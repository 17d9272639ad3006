// Frame devices: where the userspace stack's Ethernet frames come from and go to (a TAP device,
// the in-memory switch of tests and benchmarks, a pcap tap around either).
//
// A device moves whole frames, without the frame check sequence. Sending never waits for the
// wire: like a NIC's queue, a device that has no room drops the frame (TCP recovers, as it does
// from any loss). Receiving waits for the next frame; after close() both fail flow_errc::closed.
#pragma once

#include <asio/awaitable.hpp>
#include <cstddef>
#include <flowstack/core/buffer.hpp>
#include <flowstack/core/error.hpp>
#include <flowstack/stack/ethernet.hpp>

namespace flowstack::stack {

struct frame {
  buffer data;
  // The device checked the checksums already (a TAP device's virtio-net header says so): the
  // stack need not sum the packet again.
  bool checksums_verified = false;
};

class device {
 public:
  virtual ~device() = default;

  virtual asio::awaitable<result<frame>> receive() = 0;
  // Hands `frame` over: the sender must not change its bytes afterwards.
  virtual result<void> send(buffer frame) = 0;

  // The largest IP packet a frame carries (1500 on Ethernet).
  virtual std::size_t mtu() const noexcept = 0;
  // This end's own address.
  virtual mac_address address() const noexcept = 0;
  // Ends pending and later operations with flow_errc::closed. Idempotent.
  virtual void close() = 0;
};

}  // namespace flowstack::stack
