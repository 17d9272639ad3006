// A TAP device (/dev/net/tun, IFF_TAP | IFF_NO_PI): the userspace stack's wire to the kernel. The
// interface appears in the current network namespace under its name; the kernel's side of it has
// its own MAC address, and the stack at this end another (tap_options::address).
//
// Opening creates the interface when it does not exist (root, or CAP_NET_ADMIN) and attaches to
// it when it does; it neither brings it up nor gives it addresses: that is the job of whoever
// configures the kernel side (`ip link set NAME up`, `ip addr add ...`).
#pragma once

#include <asio/any_io_executor.hpp>
#include <cstddef>
#include <flowstack/stack/device.hpp>
#include <memory>
#include <optional>
#include <string>

namespace flowstack::stack {

struct tap_options {
  std::string name = "flowstack0";  // at most 15 characters (IFNAMSIZ)
  // This end's address; none picks a random locally administered unicast one.
  std::optional<mac_address> address;
  std::size_t mtu = 1500;
};

// Errors: a name that does not fit an interface name (invalid_argument), what open(2) and
// ioctl(TUNSETIFF) say (no /dev/net/tun, not permitted, a non-TAP interface of that name).
result<std::unique_ptr<device>> open_tap(asio::any_io_executor executor, tap_options options);

// A random locally administered unicast address (02:xx:xx:xx:xx:xx).
mac_address random_mac_address();

}  // namespace flowstack::stack
