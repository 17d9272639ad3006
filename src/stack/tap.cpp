#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <asio/experimental/as_tuple.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/use_awaitable.hpp>
#include <cerrno>
#include <cstring>
#include <flowstack/stack/checksum.hpp>
#include <flowstack/stack/error.hpp>
#include <flowstack/stack/tap.hpp>
#include <random>

namespace flowstack::stack {
namespace {

// The largest IPv4 packet, which is what a GSO frame may carry.
constexpr std::size_t max_ipv4_packet = 65535;

std::error_code last_error() {
  return {errno, std::system_category()};
}

class tap_device final : public device {
 public:
  tap_device(asio::any_io_executor executor, int fd, mac_address address, std::size_t mtu,
             bool offloads)
      : descriptor_(std::move(executor), fd),
        address_(address),
        mtu_(mtu),
        // One frame per read(2): the largest the interface may send is the MTU plus the
        // Ethernet header (with room for a VLAN tag), or with offloads a whole IPv4 packet.
        read_size_(virtio_net_header_size + ethernet_header_size + 4 +
                   (offloads ? max_ipv4_packet : mtu)) {}

  // Reads until a frame comes or the device would block: the frames that arrived together are
  // taken one after the other without waiting again.
  asio::awaitable<result<frame>> receive() override {
    for (;;) {
      if (!descriptor_.is_open()) co_return fail(flow_errc::closed);
      buffer b = buffer::create_uninitialized(read_size_);
      ssize_t n = ::read(descriptor_.native_handle(), b.data(), b.size());
      if (n > 0) {
        auto f = frame_of_virtio_net(b.sub(0, static_cast<std::size_t>(n)));
        if (f) co_return std::move(*f);
        continue;  // a header the kernel should not have sent: the frame is dropped
      }
      if (n < 0 && errno != EAGAIN && errno != EINTR) co_return fail(last_error());
      if (n < 0 && errno == EINTR) continue;
      auto [ec] =
          co_await descriptor_.async_wait(asio::posix::descriptor_base::wait_read,
                                          asio::experimental::as_tuple(asio::use_awaitable));
      if (ec == asio::error::operation_aborted || !descriptor_.is_open())
        co_return fail(flow_errc::closed);
      if (ec) co_return fail(ec);
    }
  }

  // The frame goes behind a header that asks nothing of the kernel: its checksums are complete.
  result<void> send(buffer data) override {
    if (!descriptor_.is_open()) return fail(flow_errc::closed);
    virtio_net_header header;
    iovec parts[2] = {{&header, sizeof header}, {data.data(), data.size()}};
    ssize_t n = ::writev(descriptor_.native_handle(), parts, 2);
    // A full queue drops the frame, as a NIC would; the interface being down (EIO) too.
    if (n < 0 && errno != EAGAIN && errno != EIO) return fail(last_error());
    return {};
  }

  std::size_t mtu() const noexcept override { return mtu_; }
  mac_address address() const noexcept override { return address_; }
  void close() override {
    std::error_code ignored;
    descriptor_.close(ignored);
  }

 private:
  asio::posix::stream_descriptor descriptor_;
  mac_address address_;
  std::size_t mtu_;
  std::size_t read_size_;
};

}  // namespace

result<frame> frame_of_virtio_net(buffer read) {
  if (read.size() < virtio_net_header_size) return fail(stack_errc::truncated);
  // The header is in the machine's own byte order (a TAP device's default, TUNSETVNETLE unset).
  virtio_net_header header;
  std::memcpy(&header, read.data(), sizeof header);
  frame f{read.shift(virtio_net_header_size)};
  switch (header.gso_type & ~virtio_net_header::gso_ecn) {
    case virtio_net_header::gso_none:
    case virtio_net_header::gso_tcpv4:
      break;
    default:
      return fail(stack_errc::unsupported);
  }
  if (header.flags & virtio_net_header::needs_csum) {
    // The kernel's own packet, which never crossed a wire: the field holds the pseudo-header's
    // sum, and the sum of everything from csum_start on completes it (virtio 1.1 §5.1.6.2).
    const std::size_t start = header.csum_start, field = start + header.csum_offset;
    if (start < ethernet_header_size || field + 2 > f.data.size())
      return fail(stack_errc::truncated);
    auto bytes = f.data.octets();
    std::uint16_t sum = internet_checksum(bytes.subspan(start));
    if (sum == 0) sum = 0xffff;  // the same number; UDP keeps 0 for "no checksum" (RFC 768)
    bytes[field] = static_cast<std::uint8_t>(sum >> 8);
    bytes[field + 1] = static_cast<std::uint8_t>(sum);
    f.checksums_verified = true;
  } else if (header.flags & virtio_net_header::data_valid) {
    f.checksums_verified = true;
  }
  return f;
}

mac_address random_mac_address() {
  std::random_device random;
  mac_address m;
  for (auto& b : m.bytes) b = static_cast<std::uint8_t>(random());
  m.bytes[0] = static_cast<std::uint8_t>((m.bytes[0] & 0xfe) | 0x02);  // unicast, local
  return m;
}

result<std::unique_ptr<device>> open_tap(asio::any_io_executor executor, tap_options options) {
  if (options.name.empty() || options.name.size() >= IFNAMSIZ)
    return fail(std::make_error_code(std::errc::invalid_argument));
  int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return fail(last_error());
  auto failed = [fd] {
    auto ec = last_error();
    ::close(fd);
    return ec;
  };
  ifreq request{};
  request.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  std::memcpy(request.ifr_name, options.name.data(), options.name.size());
  if (::ioctl(fd, TUNSETIFF, &request) < 0) return fail(failed());
  int header_size = static_cast<int>(virtio_net_header_size);
  if (::ioctl(fd, TUNSETVNETHDRSZ, &header_size) < 0) return fail(failed());
  const unsigned offloads = options.offloads ? TUN_F_CSUM | TUN_F_TSO4 : 0u;
  if (::ioctl(fd, TUNSETOFFLOAD, offloads) < 0) return fail(failed());
  mac_address address = options.address.value_or(random_mac_address());
  return std::unique_ptr<device>(std::make_unique<tap_device>(std::move(executor), fd, address,
                                                              options.mtu, options.offloads));
}

}  // namespace flowstack::stack
