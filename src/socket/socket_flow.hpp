// socket_flow: a flow over an Asio stream socket (TCP or Unix). Private to the socket module.
#pragma once

#include <algorithm>
#include <asio/error.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/socket_base.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <cstring>
#include <flowstack/core/flow.hpp>
#include <flowstack/net/options.hpp>
#include <flowstack/socket/error.hpp>
#include <string>
#include <vector>

namespace flowstack::socket::detail {

inline constexpr auto as_result = asio::experimental::as_tuple(asio::use_awaitable);

// A flow over `Protocol::socket`; `Base` is flow_impl or an interface derived from it (tcp_flow).
template <typename Protocol, typename Base>
class socket_flow : public Base {
 public:
  using socket_type = typename Protocol::socket;

  socket_flow(socket_type socket, const net::flow_options& options, std::string description)
      : Base(socket.get_executor()),
        socket_(std::move(socket)),
        read_buffer_size_(options.read_buffer_size != 0 ? options.read_buffer_size
                                                        : net::flow_options{}.read_buffer_size),
        description_(std::move(description)) {
    // Reads are done by hand after a readiness wait; non-blocking makes a spurious wake-up
    // give would_block instead of blocking the thread.
    std::error_code ec;
    socket_.non_blocking(true, ec);
  }

  std::string description() const override { return description_; }

 protected:
  asio::awaitable<read_result> do_read() override {
    // A stream that filled the last read buffer likely has more queued: try a full-size read
    // first, one system call per read. Otherwise (request and answer traffic, or an idle flow)
    // wait by reading into a small landing block: Asio's reactor performs that read itself when
    // the socket turns readable, with no epoll re-arm, and an idle flow holds only the landing
    // block, not a whole read buffer.
    if (last_read_filled_) {
      auto data = buffer::create_uninitialized(read_buffer_size_);
      std::error_code ec;
      std::size_t n = socket_.read_some(asio::buffer(data.data(), data.size()), ec);
      if (ec != asio::error::would_block && ec != asio::error::try_again) {
        co_return finish_read(std::move(data), n, ec);
      }
    }
    auto landing = buffer::create_uninitialized(std::min(landing_size, read_buffer_size_));
    auto [ec, n] =
        co_await socket_.async_read_some(asio::buffer(landing.data(), landing.size()), as_result);
    if (ec || n < landing.size()) co_return finish_read(std::move(landing), n, ec);
    // The landing block filled up: more is likely queued; take it without waiting.
    auto data = buffer::create_uninitialized(read_buffer_size_);
    std::memcpy(data.data(), landing.data(), n);
    std::size_t more = socket_.read_some(asio::buffer(data.data() + n, data.size() - n), ec);
    if (ec) more = 0;  // nothing more now (or an error the next read reports): deliver the landing
    co_return finish_read(std::move(data), n + more, {});
  }

  std::optional<read_result> do_try_read() override {
    // The socket is non-blocking: a read with nothing queued gives would_block at once.
    auto data = buffer::create_uninitialized(read_buffer_size_);
    std::error_code ec;
    std::size_t n = socket_.read_some(asio::buffer(data.data(), data.size()), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) return std::nullopt;
    return finish_read(std::move(data), n, ec);
  }

  asio::awaitable<write_result> do_writev(std::span<const buffer> data) override {
    std::vector<asio::const_buffer> gather;
    gather.reserve(data.size());
    for (const auto& part : data) {
      if (!part.empty()) gather.emplace_back(part.data(), part.size());
    }
    // Send at once what the kernel takes; only the rest waits for writability.
    std::error_code ec;
    std::size_t sent = socket_.write_some(gather, ec);
    if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
      co_return fail(map_system_error(ec));
    }
    consume(gather, sent);
    if (gather.empty()) co_return write_result{};
    auto [write_ec, n] = co_await asio::async_write(socket_, gather, as_result);
    (void)n;
    if (write_ec) co_return fail(map_system_error(write_ec));
    co_return write_result{};
  }

  asio::awaitable<void> do_shutdown_read() override {
    // SHUT_RD wakes a pending read (the socket turns readable with nothing to read).
    std::error_code ec;
    socket_.shutdown(asio::socket_base::shutdown_receive, ec);
    co_return;
  }

  asio::awaitable<void> do_shutdown_write() override {
    std::error_code ec;
    socket_.shutdown(asio::socket_base::shutdown_send, ec);
    co_return;
  }

  asio::awaitable<void> do_close() override {
    std::error_code ec;
    socket_.close(ec);  // cancels pending operations
    co_return;
  }

  asio::awaitable<void> do_abort() override {
    // Linger on with a zero timeout: TCP's close sends RST, not FIN, and drops what is queued.
    // A Unix socket ignores it; its peer reads eof, or ECONNRESET when our receive queue held
    // bytes it sent.
    std::error_code ec;
    socket_.set_option(asio::socket_base::linger(true, 0), ec);
    socket_.close(ec);
    co_return;
  }

  // The result of a read of `n` bytes into `data` that ended with `ec`.
  read_result finish_read(buffer data, std::size_t n, std::error_code ec) {
    if (ec == asio::error::eof || (!ec && n == 0)) return data_or_eof::eof();
    if (ec) return fail(map_system_error(ec));
    last_read_filled_ = n == data.size();
    return data_or_eof(fit(std::move(data), n));
  }

  // A read of `n` bytes into `data`: small reads move to a block of their own size, so a kept
  // message does not pin a whole read buffer; large ones keep the block (no copy).
  static buffer fit(buffer data, std::size_t n) {
    if (n == data.size()) return data;
    if (n <= small_read && data.size() > small_read) return buffer::copy_of(data.bytes().first(n));
    return data.sub(0, n);
  }

  // Drops the first `n` bytes from a gather list.
  static void consume(std::vector<asio::const_buffer>& gather, std::size_t n) {
    std::size_t whole = 0;
    while (whole < gather.size() && n >= gather[whole].size()) n -= gather[whole++].size();
    gather.erase(gather.begin(), gather.begin() + static_cast<std::ptrdiff_t>(whole));
    if (!gather.empty()) gather.front() += n;
  }

  static constexpr std::size_t small_read = 4096;
  static constexpr std::size_t landing_size = 256;

  socket_type socket_;
  std::size_t read_buffer_size_;
  bool last_read_filled_ = true;
  std::string description_;
};

}  // namespace flowstack::socket::detail
