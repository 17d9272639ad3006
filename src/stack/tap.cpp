#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <asio/experimental/as_tuple.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <cerrno>
#include <cstring>
#include <flowstack/stack/checksum.hpp>
#include <flowstack/stack/error.hpp>
#include <flowstack/stack/ipv4.hpp>
#include <flowstack/stack/segment.hpp>
#include <flowstack/stack/tap.hpp>
#include <random>
#include <vector>

namespace flowstack::stack {
namespace {

// The largest IPv4 packet, which is what a GSO frame may carry.
constexpr std::size_t max_ipv4_packet = 65535;

std::error_code last_error() {
  return {errno, std::system_category()};
}

std::uint16_t load16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}
std::uint32_t load32(const std::uint8_t* p) {
  return std::uint32_t(load16(p)) << 16 | load16(p + 2);
}
void store16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}

constexpr std::size_t ip_at = ethernet_header_size;
constexpr std::size_t tcp_at = ethernet_header_size + ipv4_min_header_size;

// A TCP segment over IPv4 without IP options that may join a run: data, and no flag but ACK and
// PSH. Its headers' size and its payload's, or nothing.
struct data_segment {
  std::size_t headers = 0;
  std::size_t payload = 0;
};
std::optional<data_segment> data_segment_of(const buffer& f) {
  auto b = f.octets();
  if (b.size() < tcp_at + tcp_min_header_size) return std::nullopt;
  const std::uint8_t* p = b.data();
  if (load16(p + 12) != 0x0800 || p[ip_at] != 0x45 || p[ip_at + 9] != 6) return std::nullopt;
  if ((load16(p + ip_at + 6) & 0x3fff) != 0) return std::nullopt;  // a fragment
  const std::size_t total = load16(p + ip_at + 2);
  const std::size_t tcp_header = std::size_t(p[tcp_at + 12] >> 4) * 4;
  const std::uint8_t flags = p[tcp_at + 13];
  if (flags & (tcp_flag::syn | tcp_flag::fin | tcp_flag::rst | tcp_flag::urg)) return std::nullopt;
  if (tcp_header < tcp_min_header_size || ethernet_header_size + total > b.size() ||
      total <= ipv4_min_header_size + tcp_header)
    return std::nullopt;
  return data_segment{tcp_at + tcp_header, total - ipv4_min_header_size - tcp_header};
}

class tap_device final : public device {
 public:
  tap_device(asio::any_io_executor executor, int fd, mac_address address, std::size_t mtu,
             bool offloads)
      : descriptor_(std::move(executor), fd),
        address_(address),
        mtu_(mtu),
        offloads_(offloads),
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

  // With offloads, data segments of one connection that follow each other wait for the end of
  // this turn of the executor (the stack sends what it has in one go), and go to the kernel as
  // one segment behind a GSO header: one write(2), and one pass of the kernel's receive path,
  // for up to 44 frames (TSO). Anything else goes at once, after the run before it.
  result<void> send(buffer data) override {
    if (!descriptor_.is_open()) return fail(flow_errc::closed);
    if (!offloads_) return write_one(data);
    auto segment = data_segment_of(data);
    if (segment) data = data.sub(0, segment->headers + segment->payload);  // no padding
    if (segment && continues_run(data, *segment)) {
      run_.push_back(std::move(data));
      run_payload_ += segment->payload;
      return {};
    }
    if (auto sent = flush_run(); !sent) return sent;
    if (!segment) return write_one(data);
    run_.push_back(std::move(data));
    run_headers_ = segment->headers;
    run_segment_ = segment->payload;
    run_payload_ = segment->payload;
    if (!flush_posted_) {
      flush_posted_ = true;
      asio::post(descriptor_.get_executor(), [this, alive = std::weak_ptr<bool>(alive_)] {
        if (alive.expired()) return;
        flush_posted_ = false;
        (void)flush_run();
      });
    }
    return {};
  }

  std::size_t mtu() const noexcept override { return mtu_; }
  mac_address address() const noexcept override { return address_; }
  void close() override {
    run_.clear();
    std::error_code ignored;
    descriptor_.close(ignored);
  }

 private:
  // The frame behind a header that asks nothing of the kernel: its checksums are complete.
  result<void> write_one(const buffer& data) {
    virtio_net_header header;
    iovec parts[2] = {{&header, sizeof header}, {data.data(), data.size()}};
    return write_parts(parts, 2);
  }

  result<void> write_parts(iovec* parts, std::size_t count) {
    ssize_t n = ::writev(descriptor_.native_handle(), parts, static_cast<int>(count));
    // A full queue drops the frame, as a NIC would; the interface being down (EIO) too.
    if (n < 0 && errno != EAGAIN && errno != EIO) return fail(last_error());
    return {};
  }

  // Whether `f` carries on the run: the same addresses, ports, acknowledgment and options, the
  // next sequence number, after segments of the run's size, and room in one IPv4 packet.
  bool continues_run(const buffer& f, const data_segment& s) const {
    if (run_.empty() || s.headers != run_headers_ || s.payload > run_segment_) return false;
    const buffer& last = run_.back();
    if (last.size() - run_headers_ != run_segment_) return false;  // only the last may be short
    if (ipv4_min_header_size + (run_headers_ - tcp_at) + run_payload_ + s.payload > 65535)
      return false;
    const std::uint8_t* a = run_.front().octets().data();
    const std::uint8_t* b = f.octets().data();
    if (std::memcmp(a, b, ethernet_header_size) != 0 ||
        std::memcmp(a + ip_at + 12, b + ip_at + 12, 8) != 0 ||  // addresses
        std::memcmp(a + tcp_at, b + tcp_at, 4) != 0 ||          // ports
        std::memcmp(a + tcp_at + 8, b + tcp_at + 8, 4) != 0 ||  // acknowledgment
        std::memcmp(a + tcp_at + tcp_min_header_size, b + tcp_at + tcp_min_header_size,
                    run_headers_ - tcp_at - tcp_min_header_size) != 0)  // options
      return false;
    const std::uint8_t* l = last.octets().data();
    return load32(b + tcp_at + 4) ==
           load32(l + tcp_at + 4) + static_cast<std::uint32_t>(run_segment_);
  }

  // Writes the run as one segment: the first frame's headers with the whole length, the last
  // one's window and any PSH, the IPv4 checksum made again and the TCP one left partial
  // (NEEDS_CSUM, the pseudo-header's sum in its field, as the kernel's own are).
  result<void> flush_run() {
    if (run_.empty()) return {};
    std::vector<buffer> run = std::exchange(run_, {});
    if (run.size() == 1) return write_one(run.front());
    std::uint8_t headers[tcp_at + tcp_max_header_size];
    std::memcpy(headers, run.front().data(), run_headers_);
    const std::uint8_t* last = run.back().octets().data();
    const std::size_t tcp_length = run_headers_ - tcp_at + run_payload_;
    store16(headers + ip_at + 2, static_cast<std::uint16_t>(ipv4_min_header_size + tcp_length));
    store16(headers + ip_at + 10, 0);
    store16(headers + ip_at + 10, internet_checksum(std::span<const std::uint8_t>(
                                      headers + ip_at, ipv4_min_header_size)));
    for (const buffer& f : run) headers[tcp_at + 13] |= f.octets()[tcp_at + 13] & tcp_flag::psh;
    std::memcpy(headers + tcp_at + 14, last + tcp_at + 14, 2);  // the window
    checksum pseudo;
    pseudo.add(std::span<const std::uint8_t>(headers + ip_at + 12, 8));
    pseudo.add_u16(6);
    pseudo.add_u16(static_cast<std::uint16_t>(tcp_length));
    store16(headers + tcp_at + 16, static_cast<std::uint16_t>(~pseudo.value()));

    virtio_net_header header;
    header.flags = virtio_net_header::needs_csum;
    header.gso_type = virtio_net_header::gso_tcpv4;
    header.header_length = static_cast<std::uint16_t>(run_headers_);
    header.gso_size = static_cast<std::uint16_t>(run_segment_);
    header.csum_start = tcp_at;
    header.csum_offset = 16;
    std::vector<iovec> parts;
    parts.reserve(run.size() + 2);
    parts.push_back({&header, sizeof header});
    parts.push_back({headers, run_headers_});
    for (const buffer& f : run) parts.push_back({f.data() + run_headers_, f.size() - run_headers_});
    return write_parts(parts.data(), parts.size());
  }

  asio::posix::stream_descriptor descriptor_;
  mac_address address_;
  std::size_t mtu_;
  bool offloads_;
  std::size_t read_size_;
  // The run of data segments waiting for the end of the turn, and what they have in common.
  std::vector<buffer> run_;
  std::size_t run_headers_ = 0;  // Ethernet, IPv4 and TCP headers of each
  std::size_t run_segment_ = 0;  // every segment's payload but the last one's
  std::size_t run_payload_ = 0;  // all of it
  bool flush_posted_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // for the posted flush
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
  // (What the kernel takes from us needs no flag: a TAP device accepts GSO frames always.)
  if (::ioctl(fd, TUNSETOFFLOAD, offloads) < 0) return fail(failed());
  mac_address address = options.address.value_or(random_mac_address());
  return std::unique_ptr<device>(std::make_unique<tap_device>(std::move(executor), fd, address,
                                                              options.mtu, options.offloads));
}

}  // namespace flowstack::stack
