// listener: accepts connections and runs one handler per accepted flow (TCP or Unix sockets).
//
// Each accepted connection becomes a flow handed to the handler as its own coroutine; the flow
// is closed when the handler returns. At most `max_connections` handlers run at once: while the
// limit is reached the listener stops accepting and new peers wait in the kernel's backlog.
// `unlisten` stops accepting (connections already accepted go on); destroying the listener
// unlistens too. A listener, like its flows, is used from the thread that runs its executor.
#pragma once

#include <asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <flowstack/core/flow.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace flowstack::socket {

using flow_handler = std::function<asio::awaitable<void>(flow&)>;

// TCP keepalive: probe an idle connection `after` its last traffic, every `interval`, and give up
// (the flow fails `timeout`) after `probes` unanswered probes.
struct keepalive {
  std::chrono::seconds after{60};
  std::chrono::seconds interval{10};
  int probes = 5;
};

// Options of a connected flow, whether it came from connect or from a listener.
struct flow_options {
  // The largest buffer one read returns; 0 means the default. (`connect(ep, {})` picks the
  // seeds' read_buffer_size form with 0, and so gets the default too.)
  std::size_t read_buffer_size = 64 * 1024;
  bool nodelay = false;                        // TCP_NODELAY (TCP only)
  std::optional<socket::keepalive> keepalive;  // TCP only
};

struct listen_options {
  flow_options flow;
  std::size_t max_connections = 1024;
  int backlog = 1024;
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
  // The address bound, e.g. "127.0.0.1:41234" or a Unix socket path.
  std::string local_address() const;
  // The bound port (TCP), 0 for Unix sockets.
  unsigned short local_port() const;
  std::size_t active_connections() const;
  std::size_t accepted_connections() const;

 private:
  std::shared_ptr<state> state_;
};

}  // namespace flowstack::socket
