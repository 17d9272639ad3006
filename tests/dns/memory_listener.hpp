// memory_listener: an in-memory bound datagram socket for the server's UDP tests. Datagrams are
// delivered with deliver(); what the server sends is kept in `sent`, in order. close() ends a
// pending receive_from with `closed`, as closing a socket does; sends after close are
// still recorded (sends_after_close counts them), so a test can see that answers in flight
// still went out.
#pragma once

#include <flowstack/core/wait_queue.hpp>
#include <flowstack/net/datagram.hpp>

#include <asio/error.hpp>

#include <deque>
#include <functional>
#include <utility>
#include <vector>

namespace flowstack::dns::test {

class memory_listener final : public net::datagram_socket {
 public:
  struct sent_datagram {
    buffer data;
    asio::ip::udp::endpoint to;
  };

  explicit memory_listener(asio::any_io_executor executor)
      : readable_(executor), changed_(executor) {}

  void deliver(buffer data, asio::ip::udp::endpoint from) {
    inbox_.push_back(result<net::datagram>(net::datagram{std::move(data), from}));
    readable_.notify_all();
  }
  // The next receive_from fails with `ec` (an ICMP error reported on the socket, say).
  void deliver_error(std::error_code ec) {
    inbox_.push_back(result<net::datagram>(fail(ec)));
    readable_.notify_all();
  }

  asio::awaitable<result<net::datagram>> receive_from(std::size_t = 65535) override {
    while (inbox_.empty() && !closed_) {
      bool woken = co_await readable_.wait();
      if (!woken) co_return fail(flow_errc::cancelled);
    }
    if (closed_) co_return fail(flow_errc::closed);
    auto next = std::move(inbox_.front());
    inbox_.pop_front();
    ++received_;
    changed_.notify_all();
    co_return next;
  }

  // A bound socket only: a server does not connect.
  asio::awaitable<result<void>> send(buffer) override {
    co_return fail(std::make_error_code(std::errc::not_supported));
  }
  asio::awaitable<result<buffer>> receive(std::size_t = 65535) override {
    co_return fail(std::make_error_code(std::errc::not_supported));
  }
  net::udp_endpoint local_endpoint() const override {
    return {asio::ip::make_address("192.0.2.1"), 53};
  }

  asio::awaitable<result<void>> send_to(buffer datagram, net::udp_endpoint to) override {
    if (closed_) ++sends_after_close_;
    sent_.push_back({std::move(datagram), to});
    changed_.notify_all();
    co_return result<void>{};
  }

  void close() override {
    closed_ = true;
    inbox_.clear();
    readable_.notify_all();
    changed_.notify_all();
  }

  const std::vector<sent_datagram>& sent() const noexcept { return sent_; }
  std::size_t received() const noexcept { return received_; }
  std::size_t sends_after_close() const noexcept { return sends_after_close_; }

  // Waits until `condition` holds, re-checking after every receive, send and close.
  asio::awaitable<bool> wait_until(std::function<bool()> condition) {
    while (!condition()) {
      bool woken = co_await changed_.wait();
      if (!woken) co_return false;
    }
    co_return true;
  }

 private:
  std::deque<result<net::datagram>> inbox_;
  std::vector<sent_datagram> sent_;
  std::size_t received_ = 0;
  std::size_t sends_after_close_ = 0;
  bool closed_ = false;
  wait_queue readable_;
  wait_queue changed_;
};

}  // namespace flowstack::dns::test
