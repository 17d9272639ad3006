// The flowstack half of a side-by-side benchmark: a listener on its own thread and io_context
// (as a server process would have), and a client coroutine run to completion on the caller's
// thread. Both are bounded in time.
#pragma once

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/address_v4.hpp>
#include <asio/post.hpp>
#include <asio/use_future.hpp>
#include <atomic>
#include <chrono>
#include <flowstack/socket/tcp.hpp>
#include <future>
#include <string>
#include <thread>
#include <utility>

#include "common.hpp"

namespace flowstack::bench {

class flowstack_server {
 public:
  flowstack_server(net::flow_handler handler, net::listen_options options = {}) {
    auto l =
        socket::listen(io_.get_executor(), net::tcp_endpoint(asio::ip::address_v4::loopback(), 0),
                       std::move(handler), std::move(options));
    if (!l) die("flowstack listen: " + l.error().message());
    listener_ = std::move(*l);
    port_ = listener_.local_port();
    thread_ = std::thread([this] {
      while (!stopping_) io_.run_for(std::chrono::milliseconds(50));
      // Let the accept loop and finished handlers wind down; bounded.
      io_.run_for(std::chrono::seconds(2));
    });
  }
  flowstack_server(const flowstack_server&) = delete;
  flowstack_server& operator=(const flowstack_server&) = delete;

  ~flowstack_server() {
    asio::post(io_, [this] { listener_.unlisten(); });
    stopping_ = true;
    thread_.join();
    io_.stop();
  }

  std::uint16_t port() const { return port_; }

 private:
  asio::io_context io_{1};
  net::listener listener_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

// Runs `make(executor)`'s awaitable on a fresh io_context on this thread and returns its value;
// gives up (dies) after `limit`.
template <typename MakeAwaitable>
auto run_client(MakeAwaitable make, std::chrono::seconds limit = std::chrono::seconds(60)) {
  asio::io_context io{1};
  auto future = asio::co_spawn(io, make(io.get_executor()), asio::use_future);
  io.run_for(limit);
  if (future.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    die("a flowstack client did not finish within " + std::to_string(limit.count()) + " s");
  }
  return future.get();
}

inline net::tcp_endpoint loopback_endpoint(std::uint16_t port) {
  return {asio::ip::address_v4::loopback(), port};
}

}  // namespace flowstack::bench
