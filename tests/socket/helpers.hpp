// Helpers for the socket tests: loopback endpoints, handlers, descriptor counts.
#pragma once

#include <dirent.h>
#include <gtest/gtest.h>

#include <flowstack/core/combinators.hpp>
#include <flowstack/core/wait_queue.hpp>
#include <flowstack/net/datagram.hpp>
#include <flowstack/socket/tcp.hpp>
#include <memory>
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
