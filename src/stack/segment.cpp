#include <flowstack/stack/error.hpp>
#include <flowstack/stack/segment.hpp>

#include "bytes.hpp"

namespace flowstack::stack {

using wire::load16;
using wire::load32;
using wire::store16;
using wire::store32;

namespace {

// TCP option kinds (IANA "TCP Option Kind Numbers") and the lengths RFC 9293, 7323 and 2018 give
// them.
constexpr std::uint8_t option_end = 0;
constexpr std::uint8_t option_nop = 1;
constexpr std::uint8_t option_mss = 2;
constexpr std::uint8_t option_window_scale = 3;
constexpr std::uint8_t option_sack_permitted = 4;
constexpr std::uint8_t option_sack = 5;
constexpr std::uint8_t option_timestamps = 8;

constexpr std::size_t mss_length = 4;
constexpr std::size_t window_scale_length = 3;
constexpr std::size_t sack_permitted_length = 2;
constexpr std::size_t timestamps_length = 10;
constexpr std::size_t sack_block_length = 8;

// One known option's data (after kind and length) into `o`; false when its length is wrong.
bool read_option(std::uint8_t kind, std::span<const std::uint8_t> data, tcp_options& o) {
  const std::size_t length = data.size() + 2;
  switch (kind) {
    case option_mss:
      if (length != mss_length) return false;
      o.mss = load16(data.data());
      return true;
    case option_window_scale:
      if (length != window_scale_length) return false;
      o.window_scale = data[0];
      return true;
    case option_sack_permitted:
      if (length != sack_permitted_length) return false;
      o.sack_permitted = true;
      return true;
    case option_sack: {
      std::size_t blocks = data.size() / sack_block_length;
      if (data.size() % sack_block_length != 0 || blocks == 0 || blocks > o.sack.size())
        return false;
      for (std::size_t b = 0; b < blocks; ++b) {
        o.sack[b] = {load32(data.data() + b * sack_block_length),
                     load32(data.data() + b * sack_block_length + 4)};
      }
      o.sack_count = static_cast<std::uint8_t>(blocks);
      return true;
    }
    case option_timestamps:
      if (length != timestamps_length) return false;
      o.timestamps = tcp_timestamps{load32(data.data()), load32(data.data() + 4)};
      return true;
    default:
      return true;  // unknown: skipped by its length
  }
}

result<tcp_options> read_options(std::span<const std::uint8_t> bytes) {
  tcp_options o;
  std::size_t i = 0;
  while (i < bytes.size()) {
    std::uint8_t kind = bytes[i];
    if (kind == option_end) break;
    if (kind == option_nop) {
      ++i;
      continue;
    }
    if (i + 1 >= bytes.size()) return fail(stack_errc::bad_option);
    std::size_t length = bytes[i + 1];
    if (length < 2 || i + length > bytes.size()) return fail(stack_errc::bad_option);
    if (!read_option(kind, bytes.subspan(i + 2, length - 2), o))
      return fail(stack_errc::bad_option);
    i += length;
  }
  return o;
}

// Writes the options at `p` in the order Linux sends them on a SYN (MSS, SACK-permitted,
// timestamps, window scale), NOP-aligned so that each 32-bit field stays aligned; returns the
// bytes written, a multiple of 4.
std::size_t write_options(std::uint8_t* p, const tcp_options& o) noexcept {
  std::uint8_t* start = p;
  if (o.mss) {
    p[0] = option_mss;
    p[1] = mss_length;
    store16(p + 2, *o.mss);
    p += 4;
  }
  if (o.sack_permitted && o.timestamps) {
    p[0] = option_sack_permitted;
    p[1] = sack_permitted_length;
    p += 2;
  } else if (o.sack_permitted) {
    p[0] = option_nop;
    p[1] = option_nop;
    p[2] = option_sack_permitted;
    p[3] = sack_permitted_length;
    p += 4;
  } else if (o.timestamps) {
    p[0] = option_nop;
    p[1] = option_nop;
    p += 2;
  }
  if (o.timestamps) {
    p[0] = option_timestamps;
    p[1] = timestamps_length;
    store32(p + 2, o.timestamps->value);
    store32(p + 6, o.timestamps->echo_reply);
    p += timestamps_length;
  }
  if (o.window_scale) {
    p[0] = option_nop;
    p[1] = option_window_scale;
    p[2] = window_scale_length;
    p[3] = *o.window_scale;
    p += 4;
  }
  if (o.sack_count > 0) {
    p[0] = option_nop;
    p[1] = option_nop;
    p[2] = option_sack;
    p[3] = static_cast<std::uint8_t>(2 + o.sack_count * sack_block_length);
    p += 4;
    for (std::size_t b = 0; b < o.sack_count; ++b) {
      store32(p, o.sack[b].left);
      store32(p + 4, o.sack[b].right);
      p += sack_block_length;
    }
  }
  return static_cast<std::size_t>(p - start);
}

}  // namespace

std::size_t tcp_options::wire_size() const noexcept {
  std::size_t n = 0;
  if (mss) n += 4;
  if (sack_permitted || timestamps) n += sack_permitted && !timestamps ? 4 : 2;
  if (timestamps) n += timestamps_length;
  if (window_scale) n += 4;
  if (sack_count > 0) n += 4 + sack_count * sack_block_length;
  return n;
}

result<tcp_segment> parse_tcp(std::span<const std::uint8_t> segment, checksum pseudo,
                              bool verify_checksum) {
  if (segment.size() < tcp_min_header_size) return fail(stack_errc::truncated);
  const std::uint8_t* p = segment.data();
  std::size_t header_length = std::size_t(p[12] >> 4) * 4;
  if (header_length < tcp_min_header_size || header_length > segment.size())
    return fail(stack_errc::bad_header_length);
  if (verify_checksum) {
    pseudo.add_u16(static_cast<std::uint16_t>(segment.size()));
    pseudo.add(segment);
    if (!pseudo.verifies()) return fail(stack_errc::bad_checksum);
  }
  auto options =
      read_options(segment.subspan(tcp_min_header_size, header_length - tcp_min_header_size));
  if (!options) return fail(options.error());

  tcp_segment s;
  tcp_header& h = s.header;
  h.source_port = load16(p);
  h.destination_port = load16(p + 2);
  h.seq = load32(p + 4);
  h.ack = load32(p + 8);
  h.flags = p[13];
  h.window = load16(p + 14);
  h.urgent = load16(p + 18);
  h.options = *options;
  s.payload = segment.subspan(header_length);
  return s;
}

std::size_t write_tcp_header(std::span<std::uint8_t> out, const tcp_header& h,
                             std::size_t payload_size, checksum partial) noexcept {
  std::uint8_t* p = out.data();
  store16(p, h.source_port);
  store16(p + 2, h.destination_port);
  store32(p + 4, h.seq);
  store32(p + 8, h.ack);
  std::size_t size = tcp_min_header_size + write_options(p + tcp_min_header_size, h.options);
  p[12] = static_cast<std::uint8_t>(size / 4 << 4);
  p[13] = h.flags;
  store16(p + 14, h.window);
  store16(p + 16, 0);
  store16(p + 18, h.urgent);
  checksum sum;
  sum.add(out.first(size));
  sum.add(partial);
  sum.add_u16(static_cast<std::uint16_t>(size + payload_size));
  store16(p + 16, sum.value());
  return size;
}

std::string flags_to_string(std::uint8_t flags) {
  static constexpr struct {
    std::uint8_t bit;
    const char* name;
  } names[] = {{tcp_flag::syn, "SYN"}, {tcp_flag::fin, "FIN"}, {tcp_flag::rst, "RST"},
               {tcp_flag::psh, "PSH"}, {tcp_flag::ack, "ACK"}, {tcp_flag::urg, "URG"},
               {tcp_flag::ece, "ECE"}, {tcp_flag::cwr, "CWR"}};
  std::string out;
  for (const auto& n : names) {
    if ((flags & n.bit) == 0) continue;
    if (!out.empty()) out += ',';
    out += n.name;
  }
  return out.empty() ? "none" : out;
}

}  // namespace flowstack::stack
