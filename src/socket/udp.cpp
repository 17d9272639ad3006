#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <asio/error.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <climits>
#include <flowstack/socket/error.hpp>
#include <flowstack/socket/udp.hpp>
#include <span>

namespace flowstack::socket {
namespace {

constexpr auto as_result = asio::experimental::as_tuple(asio::use_awaitable);

}  // namespace

result<udp_socket> udp_socket::bind(asio::any_io_executor executor, net::udp_endpoint local,
                                    net::datagram_options options) {
  asio::ip::udp::socket socket(executor);
  std::error_code ec;
  socket.open(local.protocol(), ec);
  if (ec) return fail(map_system_error(ec));
  if (local.address().is_v6()) socket.set_option(asio::ip::v6_only(true), ec);
  if (options.receive_buffer > 0) {
    const int wanted = static_cast<int>(std::min<std::size_t>(options.receive_buffer, INT_MAX / 2));
    if (::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVBUFFORCE, &wanted, sizeof wanted) !=
        0) {
      ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVBUF, &wanted, sizeof wanted);
    }
  }
  socket.bind(local, ec);
  if (ec) return fail(map_system_error(ec));
  socket.non_blocking(true, ec);
  int reported = 0;
  socklen_t length = sizeof reported;
  ::getsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVBUF, &reported, &length);
  udp_socket bound(std::move(socket));
  bound.receive_buffer_size_ = static_cast<std::size_t>(reported / 2);
  return bound;
}

result<udp_socket> udp_socket::connect(asio::any_io_executor executor, net::udp_endpoint remote) {
  asio::ip::udp::socket socket(executor);
  std::error_code ec;
  socket.open(remote.protocol(), ec);
  if (ec) return fail(map_system_error(ec));
  // The kernel now drops datagrams from anyone but `remote` (RFC 5452 relies on it).
  socket.connect(remote, ec);
  if (ec) return fail(map_system_error(ec));
  socket.non_blocking(true, ec);
  return udp_socket(std::move(socket));
}

// Sends and receives are tried at once on the non-blocking socket and wait for the reactor only
// when the kernel says would_block: a forwarder under load finds its datagrams waiting, and each
// trip through the reactor costs a scheduler turn.

asio::awaitable<result<void>> udp_socket::send_to(buffer data, net::udp_endpoint to) {
  std::error_code ec;
  socket_.send_to(asio::buffer(data.data(), data.size()), to, 0, ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) {
    auto [async_ec, n] =
        co_await socket_.async_send_to(asio::buffer(data.data(), data.size()), to, as_result);
    (void)n;
    ec = async_ec;
  }
  if (ec) co_return fail(socket_.is_open() ? map_system_error(ec) : flow_errc::closed);
  co_return result<void>{};
}

asio::awaitable<result<void>> udp_socket::send(buffer data) {
  std::error_code ec;
  socket_.send(asio::buffer(data.data(), data.size()), 0, ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) {
    auto [async_ec, n] =
        co_await socket_.async_send(asio::buffer(data.data(), data.size()), as_result);
    (void)n;
    ec = async_ec;
  }
  if (ec) co_return fail(socket_.is_open() ? map_system_error(ec) : flow_errc::closed);
  co_return result<void>{};
}

asio::awaitable<result<net::datagram>> udp_socket::receive_from(std::size_t max_size) {
  // One scratch block per thread takes any datagram whole; the bytes are copied out into a
  // buffer of their own size before anything else can run on this thread.
  static thread_local std::array<std::byte, 65536> scratch;
  for (;;) {
    std::error_code ec;
    net::udp_endpoint from;
    if (!socket_.is_open()) co_return fail(flow_errc::closed);
    std::size_t n = socket_.receive_from(asio::buffer(scratch), from, 0, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      auto [wait_ec] = co_await socket_.async_wait(asio::socket_base::wait_read, as_result);
      if (wait_ec) {
        co_return fail(socket_.is_open() ? map_system_error(wait_ec) : flow_errc::closed);
      }
      continue;
    }
    if (ec) co_return fail(map_system_error(ec));
    auto data =
        buffer::copy_of(std::span(scratch.data(), std::min(n, std::max<std::size_t>(max_size, 1))));
    co_return net::datagram{std::move(data), from};
  }
}

asio::awaitable<result<buffer>> udp_socket::receive(std::size_t max_size) {
  // On a connected socket the kernel only delivers the peer's datagrams: the sender is known.
  auto r = co_await receive_from(max_size);
  if (!r) co_return fail(r.error());
  co_return std::move(r->data);
}

net::udp_endpoint udp_socket::local_endpoint() const {
  std::error_code ec;
  return socket_.local_endpoint(ec);
}

void udp_socket::close() {
  std::error_code ec;
  socket_.close(ec);
}

}  // namespace flowstack::socket
