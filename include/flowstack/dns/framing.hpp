// DNS over a stream (RFC 1035 §4.2.2): each message is preceded by its length as two octets,
// big-endian: core's length-prefixed framing with a 16-bit prefix.
#pragma once

#include <flowstack/core/framing.hpp>
#include <flowstack/dns/error.hpp>

#include <optional>

namespace flowstack::dns {

// Reads one framed message and returns its octets (without the length). The stream ending
// before the first octet of a frame is a clean end: std::nullopt. Ending anywhere inside a frame
// fails flow_errc::unexpected_eof. A zero length gives an empty buffer (which does not decode).
template <flow_like F>
asio::awaitable<result<std::optional<buffer>>> read_tcp_message(F& f) {
  co_return co_await read_frame(f, length_prefix::be16, max_frame_length(length_prefix::be16));
}

// Writes one message with its length prefix in one writev. Fails message_too_large above 65535
// octets, else whatever the flow's write fails with.
template <flow_like F>
asio::awaitable<result<void>> write_tcp_message(F& f, buffer message) {
  if (message.size() > max_frame_length(length_prefix::be16))
    co_return fail(make_error_code(dns_errc::message_too_large));
  co_return co_await write_frame(f, length_prefix::be16, std::move(message));
}

}  // namespace flowstack::dns
