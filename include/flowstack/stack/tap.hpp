// A TAP device (/dev/net/tun, IFF_TAP | IFF_NO_PI | IFF_VNET_HDR): the userspace stack's wire to
// the kernel. The interface appears in the current network namespace under its name; the kernel's
// side of it has its own MAC address, and the stack at this end another (tap_options::address).
//
// Opening creates the interface when it does not exist (root, or CAP_NET_ADMIN) and attaches to
// it when it does; it neither brings it up nor gives it addresses: that is the job of whoever
// configures the kernel side (`ip link set NAME up`, `ip addr add ...`).
//
// Every frame crosses the device behind a virtio-net header (linux/virtio_net.h), which is how
// the kernel says what it knows of a frame's checksums. A frame the kernel verified already
// (VIRTIO_NET_HDR_F_DATA_VALID) reaches the stack with frame::checksums_verified, and the stack
// does not sum it again. With offloads (the default), the kernel also leaves the transport
// checksum of its own packets to this end (VIRTIO_NET_HDR_F_NEEDS_CSUM: the device completes
// it, so a capture shows correct frames) and hands a run of TCP segments over as one segment of
// up to 64 KiB (GSO TCPv4), which the stack takes whole: one frame where there were dozens. The
// other way, the data segments of one connection that the stack sends in one go, each following
// the last, go to the kernel as one such segment (TSO), its checksum left partial.
#pragma once

#include <asio/any_io_executor.hpp>
#include <cstddef>
#include <cstdint>
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
  // TUNSETOFFLOAD TUN_F_CSUM | TUN_F_TSO4: partial checksums and large TCP segments from the
  // kernel, and runs of segments to it, as above. Without, every frame either way is at most the
  // MTU and every checksum is complete.
  bool offloads = true;
};

// Errors: a name that does not fit an interface name (invalid_argument), what open(2) and
// ioctl(TUNSETIFF) say (no /dev/net/tun, not permitted, a non-TAP interface of that name).
result<std::unique_ptr<device>> open_tap(asio::any_io_executor executor, tap_options options);

// The header before each frame: struct virtio_net_hdr of linux/virtio_net.h (which C++ cannot
// include: a field there is named `class`), in the machine's byte order as TAP devices use it.
struct virtio_net_header {
  static constexpr std::uint8_t needs_csum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
  static constexpr std::uint8_t data_valid = 2;  // VIRTIO_NET_HDR_F_DATA_VALID
  static constexpr std::uint8_t gso_none = 0, gso_tcpv4 = 1, gso_udp = 3, gso_tcpv6 = 4,
                                gso_udp_l4 = 5, gso_ecn = 0x80;  // VIRTIO_NET_HDR_GSO_*

  std::uint8_t flags = 0;
  std::uint8_t gso_type = gso_none;
  std::uint16_t header_length = 0;  // Ethernet, IP and TCP headers of a GSO frame
  std::uint16_t gso_size = 0;       // the segments' size that a GSO frame stands for
  std::uint16_t csum_start = 0;     // with needs_csum: where the sum starts, from the frame's start
  std::uint16_t csum_offset = 0;    // ... and where the checksum goes, from csum_start
};
inline constexpr std::size_t virtio_net_header_size = 10;
static_assert(sizeof(virtio_net_header) == virtio_net_header_size);

// What one read(2) of the device gives (the virtio-net header, then the frame) as the frame the
// stack receives: DATA_VALID marks it verified; NEEDS_CSUM has its checksum completed in place
// at csum_start + csum_offset, and marks it verified; a GSO frame of TCP over IPv4 is taken as
// the one large segment it is. Errors: truncated (shorter than the header, or a checksum field
// past the frame's end), unsupported (a GSO kind other than TCPv4, which is never asked for).
result<frame> frame_of_virtio_net(buffer read);

// A random locally administered unicast address (02:xx:xx:xx:xx:xx).
mac_address random_mac_address();

}  // namespace flowstack::stack
