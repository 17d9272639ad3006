// DNS over a stream (RFC 1035 §4.2.2): each message is preceded by its length as two octets,
// big-endian. Generic over anything flow-shaped, like the core combinators.
#pragma once

#include <flowstack/core/combinators.hpp>
#include <flowstack/dns/error.hpp>

#include <array>
#include <cstdint>
#include <optional>

namespace flowstack::dns {

// Reads one framed message and returns its octets (without the length). The stream ending
// before the first octet of a frame is a clean end: std::nullopt. Ending anywhere inside a frame
// fails flow_errc::unexpected_eof. A zero length gives an empty buffer (which does not decode).
template <flow_like F>
asio::awaitable<result<std::optional<buffer>>> read_tcp_message(F& f) {
  // One read first, to tell a clean end (eof here) from a cut frame (eof inside read_exactly).
  auto first = co_await f.read();
  if (!first) co_return fail(first.error());
  if (first->is_eof()) co_return std::optional<buffer>{};
  f.unread(std::move(*first).data());
  auto prefix = co_await read_exactly(f, 2);
  if (!prefix) co_return fail(prefix.error());
  std::size_t length = prefix->get_be16(0);
  if (length == 0) co_return std::optional<buffer>{buffer{}};
  auto body = co_await read_exactly(f, length);
  if (!body) co_return fail(body.error());
  co_return std::optional<buffer>{std::move(*body)};
}

// Writes one message with its length prefix in one writev. Fails message_too_large above 65535
// octets, else whatever the flow's write fails with.
template <flow_like F>
asio::awaitable<result<void>> write_tcp_message(F& f, buffer message) {
  if (message.size() > 0xffff) co_return fail(make_error_code(dns_errc::message_too_large));
  auto prefix = buffer::create(2);
  prefix.set_be16(0, static_cast<std::uint16_t>(message.size()));
  std::array<buffer, 2> parts{std::move(prefix), std::move(message)};
  auto written = co_await f.writev(parts);
  co_return written;
}

}  // namespace flowstack::dns
