#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <atomic>
#include <cstdio>
#include <exception>
#include <flowstack/core/wait_queue.hpp>
#include <flowstack/net/listener.hpp>

namespace flowstack::net {

struct listener::state {
  state(asio::any_io_executor ex, std::unique_ptr<net::acceptor> a, flow_handler h,
        std::size_t limit)
      : executor(ex),
        acceptor(std::move(a)),
        handler(std::move(h)),
        max_connections(limit == 0 ? 1 : limit),
        slot_free(ex) {}

  // Stops accepting: closes the acceptor (which ends a pending accept) and wakes the accept loop
  // if it waits for a free slot. Idempotent.
  void stop() {
    if (stopped) return;
    stopped = true;
    acceptor->close();
    slot_free.notify_all();
  }

  asio::any_io_executor executor;
  std::unique_ptr<net::acceptor> acceptor;
  flow_handler handler;
  std::size_t max_connections;
  std::atomic<std::size_t> active{0};
  std::atomic<std::size_t> accepted{0};
  bool stopped = false;
  wait_queue slot_free;  // notified when a handler returns
};

namespace {

// Runs the handler for one accepted flow, then closes the flow and frees its slot.
asio::awaitable<void> run_handler(std::shared_ptr<listener::state> s, flow f) {
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

asio::awaitable<void> accept_loop(std::shared_ptr<listener::state> s) {
  for (;;) {
    // At the limit, stop accepting: new peers wait in the stack's backlog.
    while (!s->stopped && s->active >= s->max_connections) co_await s->slot_free.wait();
    if (s->stopped) co_return;
    auto accepted = co_await s->acceptor->accept();
    if (s->stopped) co_return;
    if (!accepted) {
      if (accepted.error() == flow_errc::closed) co_return;
      continue;  // one connection failed (a peer that reset while in the backlog, say)
    }
    ++s->accepted;
    ++s->active;
    asio::co_spawn(s->executor, run_handler(s, std::move(*accepted)), asio::detached);
  }
}

}  // namespace

listener serve(asio::any_io_executor executor, std::unique_ptr<acceptor> from, flow_handler handler,
               std::size_t max_connections) {
  auto s = std::make_shared<listener::state>(executor, std::move(from), std::move(handler),
                                             max_connections);
  asio::co_spawn(executor, accept_loop(s), asio::detached);
  return listener(std::move(s));
}

listener& listener::operator=(listener&& other) noexcept {
  if (this != &other) {
    unlisten();
    state_ = std::move(other.state_);
  }
  return *this;
}

listener::~listener() {
  unlisten();
}

void listener::unlisten() {
  if (state_) state_->stop();
}

std::string listener::local_address() const {
  return state_ ? state_->acceptor->local_address() : "";
}

unsigned short listener::local_port() const {
  return state_ ? state_->acceptor->local_port() : 0;
}

std::size_t listener::active_connections() const {
  return state_ ? state_->active.load() : 0;
}

std::size_t listener::accepted_connections() const {
  return state_ ? state_->accepted.load() : 0;
}

}  // namespace flowstack::net
