// The state a listener shares with its accept loop and its handlers. Private to the socket module.
#pragma once

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/steady_timer.hpp>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <exception>
#include <flowstack/core/wait_queue.hpp>
#include <flowstack/socket/listener.hpp>

#include "socket_flow.hpp"

namespace flowstack::socket {

struct listener::state {
  state(asio::any_io_executor ex, flow_handler h, listen_options o)
      : executor(ex), handler(std::move(h)), options(std::move(o)), slot_free(ex) {
    if (options.max_connections == 0) options.max_connections = 1;
  }
  virtual ~state() = default;

  // Stops accepting: closes the acceptor (which ends a pending accept) and wakes the accept loop
  // if it waits for a free slot. Idempotent.
  void stop() {
    if (stopped) return;
    stopped = true;
    close_acceptor();
    slot_free.notify_all();
  }

  virtual void close_acceptor() = 0;
  virtual std::string local_address() const = 0;
  virtual unsigned short local_port() const = 0;

  asio::any_io_executor executor;
  flow_handler handler;
  listen_options options;
  std::atomic<std::size_t> active{0};
  std::atomic<std::size_t> accepted{0};
  bool stopped = false;
  wait_queue slot_free;  // notified when a handler returns
};

namespace detail {

// Runs the handler for one accepted flow, then closes the flow and frees its slot.
inline asio::awaitable<void> run_handler(std::shared_ptr<listener::state> s, flow f) {
  try {
    co_await s->handler(f);
  } catch (const std::exception& e) {
    // A handler that throws is a bug in the handler; the listener goes on serving others.
    std::fprintf(stderr, "flowstack: a connection handler threw: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "flowstack: a connection handler threw\n");
  }
  // A handler may have taken the flow (to layer TLS over it, say); then it is the owner now.
  if (f) co_await f.close();
  --s->active;
  s->slot_free.notify_one();
}

// The listener state for one kind of acceptor.
template <typename Protocol>
struct acceptor_state : listener::state {
  acceptor_state(asio::any_io_executor ex, flow_handler h, listen_options o)
      : listener::state(ex, std::move(h), std::move(o)), acceptor(ex) {}

  void close_acceptor() override {
    std::error_code ec;
    acceptor.close(ec);
  }

  // Turns an accepted socket into a flow.
  virtual flow wrap(typename Protocol::socket socket) = 0;

  typename Protocol::acceptor acceptor;
};

inline bool is_resource_shortage(std::error_code ec) {
  return ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
         ec == asio::error::no_memory || ec.value() == ENFILE;
}

template <typename Protocol>
asio::awaitable<void> accept_loop(std::shared_ptr<acceptor_state<Protocol>> s) {
  for (;;) {
    // At the limit, stop accepting: new peers wait in the kernel's backlog.
    while (!s->stopped && s->active >= s->options.max_connections) {
      co_await s->slot_free.wait();
    }
    if (s->stopped) co_return;
    auto [ec, socket] = co_await s->acceptor.async_accept(as_result);
    if (s->stopped) co_return;
    if (ec) {
      if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) co_return;
      if (is_resource_shortage(ec)) {
        // Out of descriptors or memory: give the handlers time to free some instead of spinning.
        asio::steady_timer pause(s->executor, std::chrono::milliseconds(100));
        co_await pause.async_wait(as_result);
      }
      continue;  // e.g. a peer that reset while in the backlog
    }
    ++s->accepted;
    ++s->active;
    flow f = s->wrap(std::move(socket));
    std::shared_ptr<listener::state> base = s;
    asio::co_spawn(s->executor, run_handler(std::move(base), std::move(f)), asio::detached);
  }
}

template <typename Protocol>
void start_accepting(std::shared_ptr<acceptor_state<Protocol>> s) {
  auto executor = s->executor;
  asio::co_spawn(executor, accept_loop<Protocol>(std::move(s)), asio::detached);
}

}  // namespace detail
}  // namespace flowstack::socket
