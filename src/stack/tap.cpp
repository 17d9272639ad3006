#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <asio/experimental/as_tuple.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/use_awaitable.hpp>
#include <cerrno>
#include <cstring>
#include <flowstack/stack/tap.hpp>
#include <random>

namespace flowstack::stack {
namespace {

std::error_code last_error() {
  return {errno, std::system_category()};
}

class tap_device final : public device {
 public:
  tap_device(asio::any_io_executor executor, int fd, mac_address address, std::size_t mtu)
      : descriptor_(std::move(executor), fd), address_(address), mtu_(mtu) {}

  asio::awaitable<result<frame>> receive() override {
    for (;;) {
      if (!descriptor_.is_open()) co_return fail(flow_errc::closed);
      // One frame per read(2); the largest the interface may send is the MTU plus the header
      // (with room for a VLAN tag).
      buffer b = buffer::create_uninitialized(mtu_ + ethernet_header_size + 4);
      ssize_t n = ::read(descriptor_.native_handle(), b.data(), b.size());
      if (n > 0) co_return frame{b.sub(0, static_cast<std::size_t>(n))};
      if (n < 0 && errno != EAGAIN && errno != EINTR) co_return fail(last_error());
      auto [ec] =
          co_await descriptor_.async_wait(asio::posix::descriptor_base::wait_read,
                                          asio::experimental::as_tuple(asio::use_awaitable));
      if (ec == asio::error::operation_aborted || !descriptor_.is_open())
        co_return fail(flow_errc::closed);
      if (ec) co_return fail(ec);
    }
  }

  result<void> send(buffer data) override {
    if (!descriptor_.is_open()) return fail(flow_errc::closed);
    ssize_t n = ::write(descriptor_.native_handle(), data.data(), data.size());
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
};

}  // namespace

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
  ifreq request{};
  request.ifr_flags = IFF_TAP | IFF_NO_PI;
  std::memcpy(request.ifr_name, options.name.data(), options.name.size());
  if (::ioctl(fd, TUNSETIFF, &request) < 0) {
    auto ec = last_error();
    ::close(fd);
    return fail(ec);
  }
  mac_address address = options.address.value_or(random_mac_address());
  return std::unique_ptr<device>(
      std::make_unique<tap_device>(std::move(executor), fd, address, options.mtu));
}

}  // namespace flowstack::stack
