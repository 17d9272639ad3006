// socket_acceptor: a kernel listening socket (TCP or Unix) as the net::acceptor that the shared
// accept loop (net::serve) takes connections from. Private to the socket module.
#pragma once

#include <asio/steady_timer.hpp>
#include <cerrno>
#include <chrono>
#include <flowstack/net/listener.hpp>

#include "socket_flow.hpp"

namespace flowstack::socket::detail {

inline bool is_resource_shortage(std::error_code ec) {
  return ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
         ec == asio::error::no_memory || ec.value() == ENFILE;
}

template <typename Protocol>
class socket_acceptor : public net::acceptor {
 public:
  explicit socket_acceptor(asio::any_io_executor executor) : acceptor_(executor) {}

  asio::awaitable<result<flow>> accept() override {
    auto [ec, socket] = co_await acceptor_.async_accept(as_result);
    if (!ec) co_return wrap(std::move(socket));
    if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor ||
        !acceptor_.is_open()) {
      co_return fail(flow_errc::closed);
    }
    if (is_resource_shortage(ec)) {
      // Out of descriptors or memory: give the handlers time to free some instead of spinning.
      asio::steady_timer pause(acceptor_.get_executor(), std::chrono::milliseconds(100));
      co_await pause.async_wait(as_result);
    }
    co_return fail(map_system_error(ec));
  }

  void close() override {
    std::error_code ec;
    acceptor_.close(ec);
  }

  typename Protocol::acceptor& socket() noexcept { return acceptor_; }

 protected:
  // Turns an accepted socket into a flow.
  virtual flow wrap(typename Protocol::socket socket) = 0;

  typename Protocol::acceptor acceptor_;
};

}  // namespace flowstack::socket::detail
