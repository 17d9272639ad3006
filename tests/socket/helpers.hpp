// Helpers for the socket tests: loopback endpoints, handlers, descriptor counts.
#pragma once

#include <dirent.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio/experimental/as_tuple.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/use_awaitable.hpp>

#include <cstdint>
#include <cstring>
#include <flowstack/core/combinators.hpp>
#include <flowstack/core/wait_queue.hpp>
#include <flowstack/net/datagram.hpp>
#include <flowstack/socket/tcp.hpp>
#include <memory>
#include <optional>
#include <string>

#include "support/async.hpp"

namespace flowstack::socket {

// The types every stack shares, as the kernel stack's tests name them.
using net::connect_options;
using net::datagram;
using net::flow_handler;
using net::flow_options;
using net::host_port;
using net::keepalive;
using net::listen_options;
using net::listener;
using net::tcp_endpoint;
using net::tcp_flow;
using net::to_string;
using net::udp_endpoint;

}  // namespace flowstack::socket

namespace flowstack::socket::test {

using namespace flowstack::test;

inline tcp_endpoint loopback_v4(unsigned short port = 0) {
  return {asio::ip::make_address("127.0.0.1"), port};
}
inline tcp_endpoint loopback_v6(unsigned short port = 0) {
  return {asio::ip::make_address("::1"), port};
}

// A latch coroutines can wait on: open() lets every waiter (and later ones) through.
struct gate {
  explicit gate(asio::any_io_executor ex) : queue(std::move(ex)) {}
  void open() {
    is_open = true;
    queue.notify_all();
  }
  asio::awaitable<void> wait() {
    while (!is_open) {
      bool ok = co_await queue.wait();
      if (!ok) co_return;
    }
  }
  bool is_open = false;
  wait_queue queue;
};

// Echoes everything until eof, then shuts its write side.
inline asio::awaitable<void> echo(flow& f) {
  (void)co_await copy(f, f);
  co_await f.shutdown(shutdown_mode::write);
}

inline flow_handler echo_handler() {
  return [](flow& f) { return echo(f); };
}

// Writes `text` and returns (the listener then closes the flow).
inline asio::awaitable<void> say_and_return(std::string text, flow& f) {
  (void)co_await write_string(f, text);
}

inline flow_handler say_and_return_handler(std::string text) {
  return [text](flow& f) { return say_and_return(text, f); };
}

// Starts a listener on `local` or fails the test.
inline listener must_listen(asio::any_io_executor ex, tcp_endpoint local, flow_handler handler,
                            listen_options options = {}) {
  auto l = listen(ex, local, std::move(handler), std::move(options));
  if (!l) {
    ADD_FAILURE() << "listen on " << to_string(local) << ": " << l.error().message();
    return {};
  }
  return std::move(*l);
}

// Connects or fails the test (the flow is then empty).
inline asio::awaitable<flow> must_connect(tcp_endpoint remote, connect_options options = {}) {
  auto r = co_await connect(remote, options);
  if (!r) {
    ADD_FAILURE() << "connect to " << to_string(remote) << ": " << r.error().message();
    co_return flow{};
  }
  co_return std::move(*r);
}

// ---- asking the kernel ---------------------------------------------------------------------
//
// A test that must wait for the kernel (the peer's bytes and FIN have arrived, a connection waits
// in a listener's backlog) waits for that event on the socket's descriptor. The library keeps
// its descriptors to itself, so the test finds the one it means among this process's own.

// The endpoint a socket address names (an empty endpoint for anything but IPv4 and IPv6).
inline tcp_endpoint endpoint_of(const sockaddr_storage& address, socklen_t length) {
  tcp_endpoint e;
  if (address.ss_family != AF_INET && address.ss_family != AF_INET6) return e;
  std::memcpy(e.data(), &address, length);
  e.resize(length);
  return e;
}

// This process's TCP socket bound to `local`: connected to `remote`, or the listening one when
// `remote` is not given. -1 when there is none.
inline int socket_descriptor(const tcp_endpoint& local, std::optional<tcp_endpoint> remote = {}) {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int found = -1;
  while (auto* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    int fd = ::atoi(entry->d_name);
    if (fd == ::dirfd(dir)) continue;
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) continue;
    if (endpoint_of(address, length) != local) continue;
    int listening = 0;
    socklen_t size = sizeof listening;
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) != 0) continue;
    if (!remote) {
      if (listening == 0) continue;
    } else {
      length = sizeof address;
      if (::getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) continue;
      if (endpoint_of(address, length) != *remote) continue;
    }
    found = fd;
    break;
  }
  ::closedir(dir);
  return found;
}

// The descriptor under a kernel TCP flow.
inline int socket_descriptor(flow& f) {
  auto* tcp = f.as<tcp_flow>();
  return tcp ? socket_descriptor(tcp->src(), tcp->dst()) : -1;
}

inline asio::awaitable<bool> readable(asio::posix::stream_descriptor& d) {
  auto [ec] = co_await d.async_wait(asio::posix::stream_descriptor::wait_read,
                                    asio::experimental::as_tuple(asio::use_awaitable));
  co_return !ec;
}

// Waits until the kernel reports `events` (EPOLLIN, EPOLLRDHUP, ...) on `fd`, for at most
// `limit`; false when they did not come. An epoll set that watches `fd` for `events` alone is
// readable exactly when they hold, so the event loop waits for it like for any descriptor and
// goes on running everything else (the peer's handler on the same loop, say).
inline asio::awaitable<bool> kernel_reports(
    int fd, std::uint32_t events, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  if (fd < 0) {
    ADD_FAILURE() << "no such socket in this process";
    co_return false;
  }
  int watch = ::epoll_create1(EPOLL_CLOEXEC);
  if (watch < 0) co_return false;
  epoll_event wanted{};
  wanted.events = events;
  wanted.data.fd = fd;
  if (::epoll_ctl(watch, EPOLL_CTL_ADD, fd, &wanted) != 0) {
    ::close(watch);
    co_return false;
  }
  auto executor = co_await asio::this_coro::executor;
  asio::posix::stream_descriptor set(executor, watch);
  auto waited = co_await with_timeout(readable(set), limit);
  co_return waited.value_or(false);
}

// Waits until the peer's FIN has reached the kernel under `f`. A stream delivers in order, so
// everything the peer sent before it is queued for reading then too.
inline asio::awaitable<bool> peer_finished(flow& f) {
  return kernel_reports(socket_descriptor(f), EPOLLRDHUP);
}

// Waits until a connection waits in the backlog of the listener on `local`.
inline asio::awaitable<bool> backlog_holds_a_connection(const tcp_endpoint& local) {
  return kernel_reports(socket_descriptor(local), EPOLLIN);
}

// The number of open descriptors of this process.
inline int open_descriptors() {
  int count = 0;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  while (auto* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  ::closedir(dir);
  return count - 1;  // the directory's own descriptor
}

}  // namespace flowstack::socket::test
