// A pcap tap: a device that passes every frame through to the device it wraps and writes each
// one, received or sent, to a capture file Wireshark, tshark and tcpdump read (the classic pcap
// format, microsecond timestamps, link type Ethernet).
//
//   auto dev = stack::pcap_tap::open("run.pcap", std::move(tap_device), clock::steady());
//
// Timestamps come from the clock the tap is given, counted from the wall-clock time the file was
// opened, so a capture made on a manual clock shows the test's own time line. Writing is plain
// buffered file I/O: a tap is for tests and debugging, not for line rate.
#pragma once

#include <cstdio>
#include <flowstack/core/clock.hpp>
#include <flowstack/stack/device.hpp>
#include <memory>
#include <string>

namespace flowstack::stack {

class pcap_tap final : public device {
 public:
  // Errors: what fopen says (as a system error).
  static result<std::unique_ptr<pcap_tap>> open(const std::string& path,
                                                std::unique_ptr<device> inner, clock& time);
  ~pcap_tap() override;

  asio::awaitable<result<frame>> receive() override;
  result<void> send(buffer frame) override;
  std::size_t mtu() const noexcept override { return inner_->mtu(); }
  mac_address address() const noexcept override { return inner_->address(); }
  void close() override;

  // The frames written so far.
  std::size_t frames_written() const noexcept { return written_; }

 private:
  pcap_tap(std::FILE* file, std::unique_ptr<device> inner, clock& time);
  void write(const buffer& frame);

  std::FILE* file_;
  std::unique_ptr<device> inner_;
  clock& clock_;
  clock::time_point opened_;
  std::chrono::system_clock::time_point opened_wall_;
  std::size_t written_ = 0;
};

}  // namespace flowstack::stack
