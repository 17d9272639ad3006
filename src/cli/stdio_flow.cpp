#include "stdio_flow.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <asio/error.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <cerrno>
#include <flowstack/socket/error.hpp>
#include <optional>
#include <vector>

namespace flowstack::cli {
namespace {

constexpr std::size_t read_size = 64 * 1024;
constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);

std::error_code map_error(std::error_code ec) {
  if (ec == std::errc::broken_pipe) return make_error_code(flow_errc::closed);
  return socket::map_system_error(ec);
}

// One direction of stdio: a duplicate of the original fd, driven by the reactor when epoll
// accepts it and by plain blocking calls when it does not (regular files, /dev/null).
class stdio_end {
 public:
  stdio_end(asio::any_io_executor executor, int original) : original_(original), io_(executor) {
    int fd = ::fcntl(original, F_DUPFD_CLOEXEC, 3);
    if (fd < 0) {
      error_ = std::error_code(errno, std::generic_category());
      return;
    }
    // Asio makes the descriptor non-blocking, and the flag belongs to the open file, which the
    // shell shares with the next command of a pipeline: release() puts it back.
    status_flags_ = ::fcntl(fd, F_GETFL);
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
      blocking_fd_ = fd;
      return;
    }
    std::error_code ec;
    io_.assign(fd, ec);
    if (ec) blocking_fd_ = fd;
  }
  ~stdio_end() { release(false); }

  std::error_code error() const { return error_; }

  asio::awaitable<read_result> read() {
    if (error_) co_return fail(error_);
    if (stopped_) co_return data_or_eof::eof();
    auto data = buffer::create_uninitialized(read_size);
    if (blocking_fd_ >= 0) {
      ssize_t n;
      do {
        n = ::read(blocking_fd_, data.data(), data.size());
      } while (n < 0 && errno == EINTR);
      if (n < 0) co_return fail(map_error(std::error_code(errno, std::generic_category())));
      if (n == 0) co_return data_or_eof::eof();
      co_return data_or_eof(data.sub(0, static_cast<std::size_t>(n)));
    }
    auto [ec, n] = co_await io_.async_read_some(asio::buffer(data.data(), data.size()), as_tuple);
    if (stopped_ || ec == asio::error::eof) co_return data_or_eof::eof();
    if (ec) co_return fail(map_error(ec));
    co_return data_or_eof(data.sub(0, n));
  }

  asio::awaitable<write_result> writev(std::span<const buffer> data) {
    if (error_) co_return fail(error_);
    if (stopped_) co_return fail(flow_errc::closed);
    if (blocking_fd_ >= 0) {
      for (const buffer& b : data) {
        std::size_t done = 0;
        while (done < b.size()) {
          ssize_t n = ::write(blocking_fd_, b.data() + done, b.size() - done);
          if (n < 0 && errno == EINTR) continue;
          if (n < 0) co_return fail(map_error(std::error_code(errno, std::generic_category())));
          done += static_cast<std::size_t>(n);
        }
      }
      co_return write_result{};
    }
    std::vector<asio::const_buffer> pieces;
    pieces.reserve(data.size());
    for (const buffer& b : data) pieces.emplace_back(b.data(), b.size());
    auto [ec, n] = co_await asio::async_write(io_, pieces, as_tuple);
    if (ec) co_return fail(map_error(ec));
    co_return write_result{};
  }

  // Ends a pending read with eof and refuses later reads.
  void stop() {
    stopped_ = true;
    std::error_code ignored;
    if (io_.is_open()) io_.cancel(ignored);
  }

  // Closes our duplicate; with `detach_original` the original fd is pointed at /dev/null, so
  // the last reference to the file goes and the peer sees eof.
  void release(bool detach_original) {
    stopped_ = true;
    std::error_code ignored;
    if (io_.is_open() && status_flags_ >= 0) ::fcntl(io_.native_handle(), F_SETFL, status_flags_);
    if (io_.is_open()) io_.close(ignored);
    if (blocking_fd_ >= 0) ::close(blocking_fd_);
    blocking_fd_ = -1;
    if (detach_original && original_ >= 0) {
      int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
      if (null_fd >= 0) {
        ::dup2(null_fd, original_);
        ::close(null_fd);
      }
      original_ = -1;
    }
  }

 private:
  int original_;
  asio::posix::stream_descriptor io_;
  int blocking_fd_ = -1;
  int status_flags_ = -1;  // the file's flags when we found it
  bool stopped_ = false;
  std::error_code error_;
};

class stdio_flow_impl final : public flow_impl {
 public:
  stdio_flow_impl(asio::any_io_executor executor, int in_fd, int out_fd)
      : flow_impl(executor), in_(executor, in_fd), out_(executor, out_fd) {}

  std::string description() const override { return "stdio"; }

 protected:
  asio::awaitable<read_result> do_read() override { return in_.read(); }
  asio::awaitable<write_result> do_writev(std::span<const buffer> data) override {
    return out_.writev(data);
  }
  asio::awaitable<void> do_shutdown_read() override {
    in_.stop();
    co_return;
  }
  asio::awaitable<void> do_shutdown_write() override {
    out_.release(true);
    co_return;
  }
  asio::awaitable<void> do_close() override {
    in_.release(false);
    out_.release(true);
    co_return;
  }

 private:
  stdio_end in_;
  stdio_end out_;
};

}  // namespace

flow stdio_flow(asio::any_io_executor executor, int in_fd, int out_fd) {
  return make_flow<stdio_flow_impl>(executor, in_fd, out_fd);
}

}  // namespace flowstack::cli
