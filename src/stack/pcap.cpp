#include <cerrno>
#include <cstdint>
#include <flowstack/stack/pcap.hpp>

namespace flowstack::stack {
namespace {

// The classic pcap file format: a global header, then a record header before each frame, in the
// writer's byte order (the magic number tells readers which).
constexpr std::uint32_t pcap_magic_microseconds = 0xa1b2c3d4;
constexpr std::uint16_t pcap_version_major = 2;
constexpr std::uint16_t pcap_version_minor = 4;
constexpr std::uint32_t snapshot_length = 262144;
constexpr std::uint32_t link_type_ethernet = 1;

struct global_header {
  std::uint32_t magic = pcap_magic_microseconds;
  std::uint16_t major = pcap_version_major;
  std::uint16_t minor = pcap_version_minor;
  std::int32_t zone = 0;
  std::uint32_t sigfigs = 0;
  std::uint32_t snaplen = snapshot_length;
  std::uint32_t link_type = link_type_ethernet;
};

struct record_header {
  std::uint32_t seconds;
  std::uint32_t microseconds;
  std::uint32_t captured;
  std::uint32_t length;
};

}  // namespace

result<std::unique_ptr<pcap_tap>> pcap_tap::open(const std::string& path,
                                                 std::unique_ptr<device> inner, clock& time) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (!file) return fail(std::error_code(errno, std::system_category()));
  global_header h;
  std::fwrite(&h, sizeof h, 1, file);
  return std::unique_ptr<pcap_tap>(new pcap_tap(file, std::move(inner), time));
}

pcap_tap::pcap_tap(std::FILE* file, std::unique_ptr<device> inner, clock& time)
    : file_(file),
      inner_(std::move(inner)),
      clock_(time),
      opened_(time.now()),
      opened_wall_(std::chrono::system_clock::now()) {}

pcap_tap::~pcap_tap() {
  std::fclose(file_);
}

void pcap_tap::write(const buffer& frame) {
  auto at = opened_wall_.time_since_epoch() +
            std::chrono::duration_cast<std::chrono::system_clock::duration>(clock_.now() - opened_);
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(at).count();
  auto size = static_cast<std::uint32_t>(frame.size());
  record_header r{static_cast<std::uint32_t>(us / 1'000'000),
                  static_cast<std::uint32_t>(us % 1'000'000), std::min(size, snapshot_length),
                  size};
  std::fwrite(&r, sizeof r, 1, file_);
  std::fwrite(frame.data(), 1, r.captured, file_);
  ++written_;
}

asio::awaitable<result<frame>> pcap_tap::receive() {
  auto f = co_await inner_->receive();
  if (f) write(f->data);
  co_return f;
}

result<void> pcap_tap::send(buffer frame) {
  write(frame);
  return inner_->send(std::move(frame));
}

void pcap_tap::close() {
  inner_->close();
  std::fflush(file_);
}

}  // namespace flowstack::stack
