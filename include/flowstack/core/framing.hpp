// Length-prefixed framing over any flow: each frame is its length, big-endian, then its octets.
// DNS over TCP uses a 16-bit length (RFC 1035 §4.2.2), QEMU's `-netdev stream` and the test
// record flow a 32-bit one. Generic over anything flow-shaped, like the combinators.
#pragma once

#include <flowstack/core/combinators.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace flowstack {

// How many octets carry a frame's length.
enum class length_prefix : std::uint8_t { be16 = 2, be32 = 4 };

// The longest frame the prefix can describe.
constexpr std::size_t max_frame_length(length_prefix prefix) noexcept {
  return prefix == length_prefix::be16 ? 0xffff : 0xffffffff;
}

// Reads one frame and returns its octets (without the length). The stream ending before the
// first octet of a frame is a clean end: std::nullopt. Ending anywhere inside a frame fails
// flow_errc::unexpected_eof. A zero length gives an empty buffer. A length above `max_length`
// fails flow_errc::frame_too_large before any of the frame's octets are read. When reading the
// body fails (a cancellation from with_timeout, say), the length and the octets read so far are
// put back with unread(), so a reader that tries again loses nothing.
template <flow_like F>
asio::awaitable<result<std::optional<buffer>>> read_frame(F& f, length_prefix prefix,
                                                          std::size_t max_length) {
  // One read first, to tell a clean end (eof here) from a cut frame (eof inside read_exactly).
  auto first = co_await f.read();
  if (!first) co_return fail(first.error());
  if (first->is_eof()) co_return std::optional<buffer>{};
  f.unread(std::move(*first).data());
  auto header = co_await read_exactly(f, static_cast<std::size_t>(prefix));
  if (!header) co_return fail(header.error());
  std::size_t length =
      prefix == length_prefix::be16 ? header->get_be16(0) : std::size_t{header->get_be32(0)};
  if (length > max_length) {
    f.unread(*header);
    co_return fail(flow_errc::frame_too_large);
  }
  if (length == 0) co_return std::optional<buffer>{buffer{}};
  auto body = co_await read_exactly(f, length);
  if (!body) {
    f.unread(*header);  // read_exactly put the partial body back; the length goes before it
    co_return fail(body.error());
  }
  co_return std::optional<buffer>{std::move(*body)};
}

// The length octets of a frame of `length` octets.
inline buffer frame_header(length_prefix prefix, std::size_t length) {
  auto header = buffer::create(static_cast<std::size_t>(prefix));
  if (prefix == length_prefix::be16)
    header.set_be16(0, static_cast<std::uint16_t>(length));
  else
    header.set_be32(0, static_cast<std::uint32_t>(length));
  return header;
}

// Writes one frame, its length and its octets in one writev. Fails flow_errc::frame_too_large
// when the prefix cannot describe the length, else whatever the flow's write fails with.
template <flow_like F>
asio::awaitable<result<void>> write_frame(F& f, length_prefix prefix, buffer message) {
  if (message.size() > max_frame_length(prefix)) co_return fail(flow_errc::frame_too_large);
  std::array<buffer, 2> parts{frame_header(prefix, message.size()), std::move(message)};
  auto written = co_await f.writev(parts);
  co_return written;
}

}  // namespace flowstack
