// The userspace stack of a command (`flowstack stack`, and `flowstack cat`'s stack addresses): one
// TAP device and one direct_stack per process, made when an address first needs it and shared by
// every address of the command.
#pragma once

#include <asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <flowstack/core/error.hpp>
#include <flowstack/stack/direct_stack.hpp>
#include <flowstack/stack/tap.hpp>
#include <memory>
#include <string>

namespace flowstack::cli {

// The --stack-* options as written.
struct stack_options {
  std::string tap = "flowstack0";
  std::string address = "10.0.0.2/24";
  std::string gateway;  // empty: none, only the subnet is reachable
  std::size_t mtu = 1500;
  std::string pcap;  // empty: no capture
};

// The options checked: what opening the device and starting the stack take.
struct stack_setup {
  stack::tap_options tap;
  stack::direct_stack_config config;
  std::string pcap;
};

// Checks everything that can be checked before a device is opened. Errors are one sentence that
// names the option (its name `option_prefix` + "tap", ...), what was wrong and what was expected.
expected<stack_setup, std::string> check_stack_options(const stack_options& options,
                                                       const std::string& option_prefix);

// "10.0.0.2/24 on flowstack0 (MAC 02:..., MTU 1500), gateway 10.0.0.1"
std::string describe(const stack_setup& setup, const stack::direct_stack& running);

class userspace_stack {
 public:
  explicit userspace_stack(stack_setup setup);
  ~userspace_stack();
  userspace_stack(const userspace_stack&) = delete;
  userspace_stack& operator=(const userspace_stack&) = delete;

  // The stack, brought up on `executor` the first time (the TAP device created if absent, the
  // capture file opened). Errors: those of open_tap and of opening the capture.
  result<stack::direct_stack*> get(asio::any_io_executor executor);
  // Null until get() succeeded, and after release().
  stack::direct_stack* running() const noexcept { return stack_.get(); }
  // Drops the stack: its listeners stop accepting; flows it made go on, and it ends (closing the
  // device) once they have ended, so that the executor's run() can return.
  void release();

  // The counters for -v, one "name: values" line each: frames, drops by reason, TCP, connections.
  std::string counters() const;

  struct frame_counts {
    std::uint64_t received = 0;
    std::uint64_t sent = 0;
    std::uint64_t send_failed = 0;
  };

 private:
  stack_setup setup_;
  std::shared_ptr<frame_counts> frames_;
  std::unique_ptr<stack::direct_stack> stack_;
};

// `flowstack stack`: brings the stack up and keeps it answering (ARP, ping, RST for TCP ports no
// one listens on) until SIGINT or SIGTERM, then exits 0; 1 when it cannot come up. `verbose`
// prints the counters at the end, and every `interval` (when not zero) if they changed.
int run_stack(const stack_setup& setup, bool verbose, std::chrono::seconds interval);

}  // namespace flowstack::cli
