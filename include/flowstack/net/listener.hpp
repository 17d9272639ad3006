// listener: accepts connections and runs one handler per accepted flow, for every stack.
//
// A stack's listening endpoint is an `acceptor`; `serve` runs the one accept loop there is over
// it. Each accepted connection becomes a flow handed to the handler as its own coroutine; the
// flow is closed when the handler returns. At most `max_connections` handlers run at once: while
// the limit is reached the loop stops accepting and new peers wait (in the kernel's backlog, or
// the stack's). `unlisten` stops accepting (connections already accepted go on); destroying the
// listener unlistens too. A listener, like its flows, is used from the thread that runs its
// executor.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <cstddef>
#include <flowstack/core/flow.hpp>
#include <functional>
#include <memory>
#include <string>

namespace flowstack::net {

using flow_handler = std::function<asio::awaitable<void>(flow&)>;

// What a stack's listening endpoint offers the accept loop.
class acceptor {
 public:
  virtual ~acceptor() = default;
  // The next connection. flow_errc::closed once close() has been called (the loop ends); any
  // other error is about one connection (the loop goes on). An acceptor that runs short of
  // resources waits a little before it says so, so that the loop does not spin.
  virtual asio::awaitable<result<flow>> accept() = 0;
  // Stops accepting; a pending accept ends with flow_errc::closed. Idempotent.
  virtual void close() = 0;
  // The address bound, e.g. "127.0.0.1:41234" or a Unix socket path; the port (0 if none).
  virtual std::string local_address() const = 0;
  virtual unsigned short local_port() const = 0;
};

class listener {
 public:
  struct state;  // shared with the accept loop

  listener() = default;
  explicit listener(std::shared_ptr<state> s) : state_(std::move(s)) {}
  listener(listener&&) noexcept = default;
  listener& operator=(listener&& other) noexcept;
  ~listener();

  // Stops accepting. Idempotent.
  void unlisten();
  std::string local_address() const;
  unsigned short local_port() const;
  std::size_t active_connections() const;
  std::size_t accepted_connections() const;

 private:
  std::shared_ptr<state> state_;
};

// Accepts from `from` and runs `handler` for each connection, at most `max_connections` at once
// (0 counts as 1). The accept loop runs on `executor`.
listener serve(asio::any_io_executor executor, std::unique_ptr<acceptor> from, flow_handler handler,
               std::size_t max_connections);

}  // namespace flowstack::net
