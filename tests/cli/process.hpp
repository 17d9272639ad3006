// Runs programs (the built `flowstack`, socat) as child processes in end-to-end tests, with
// every wait bounded.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace flowstack::test {

using namespace std::chrono_literals;

class child {
 public:
  // Starts argv[0] (searched in PATH). Its stdin is `stdin_path` when given, else a pipe the
  // test writes with write_stdin(); stdout and stderr are pipes collected by the test.
  explicit child(std::vector<std::string> argv, std::optional<std::string> stdin_path = {}) {
    int in[2] = {-1, -1}, out[2], err[2];
    if (!stdin_path && ::pipe2(in, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
      throw std::runtime_error("pipe");
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {
      int in_fd = stdin_path ? ::open(stdin_path->c_str(), O_RDONLY) : in[0];
      if (in_fd < 0) ::_exit(126);
      ::dup2(in_fd, 0);
      ::dup2(out[1], 1);
      ::dup2(err[1], 2);
      ::signal(SIGPIPE, SIG_DFL);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
    if (!stdin_path) {
      ::close(in[0]);
      in_ = in[1];
    }
    ::close(out[1]);
    ::close(err[1]);
    out_ = out[0];
    err_ = err[0];
  }
  child(const child&) = delete;
  child& operator=(const child&) = delete;

  ~child() {
    if (!exited_) {
      ::kill(pid_, SIGKILL);
      int status;
      ::waitpid(pid_, &status, 0);
    }
    for (int fd : {in_, out_, err_})
      if (fd >= 0) ::close(fd);
  }

  pid_t pid() const { return pid_; }

  void write_stdin(std::string_view data) {
    ASSERT_GE(in_, 0);
    while (!data.empty()) {
      ssize_t n = ::write(in_, data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      ASSERT_GT(n, 0) << "writing to the child's stdin failed";
      data.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  void close_stdin() {
    if (in_ >= 0) ::close(in_);
    in_ = -1;
  }

  void signal(int number) { ::kill(pid_, number); }

  // Waits until stderr holds `needle`; returns false when `limit` passes or the child exits.
  bool wait_for_stderr(std::string_view needle, std::chrono::milliseconds limit = 5000ms) {
    return wait_until([&] { return err_text_.find(needle) != std::string::npos; }, limit);
  }
  // Waits until stdout holds `needle`.
  bool wait_for_stdout(std::string_view needle, std::chrono::milliseconds limit = 5000ms) {
    return wait_until([&] { return out_text_.find(needle) != std::string::npos; }, limit);
  }
  // Waits until stdout holds at least `size` bytes.
  bool wait_for_stdout(std::size_t size, std::chrono::milliseconds limit = 5000ms) {
    return wait_until([&] { return out_text_.size() >= size; }, limit);
  }

  // Waits for the exit; returns its code (128 + N when killed by signal N), or -1 when it did
  // not exit within `limit` (it is killed then).
  int wait(std::chrono::milliseconds limit = 10000ms) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!exited_) {
      pump(20ms);
      reap();
      if (!exited_ && std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        int status;
        ::waitpid(pid_, &status, 0);
        exited_ = true;
        return -1;
      }
    }
    // What is left in the pipes (a grandchild may hold them open: bound this too).
    auto drain_deadline = std::chrono::steady_clock::now() + 2s;
    while ((out_ >= 0 || err_ >= 0) && std::chrono::steady_clock::now() < drain_deadline)
      pump(20ms);
    return code_;
  }

  const std::string& out() const { return out_text_; }
  const std::string& err() const { return err_text_; }

 private:
  template <typename Predicate>
  bool wait_until(Predicate done, std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      if (done()) return true;
      if (std::chrono::steady_clock::now() > deadline) return false;
      if (exited_ && out_ < 0 && err_ < 0) return false;
      pump(20ms);
      reap();
    }
  }

  void reap() {
    if (exited_) return;
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
  }

  void pump(std::chrono::milliseconds timeout) {
    pollfd fds[2];
    int n = 0;
    if (out_ >= 0) fds[n++] = {out_, POLLIN, 0};
    if (err_ >= 0) fds[n++] = {err_, POLLIN, 0};
    if (n == 0) {
      ::usleep(static_cast<useconds_t>(timeout.count() * 1000));
      return;
    }
    if (::poll(fds, static_cast<nfds_t>(n), static_cast<int>(timeout.count())) <= 0) return;
    for (int i = 0; i < n; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      int& fd = fds[i].fd == out_ ? out_ : err_;
      std::string& text = fds[i].fd == out_ ? out_text_ : err_text_;
      char chunk[65536];
      ssize_t got = ::read(fd, chunk, sizeof chunk);
      if (got > 0) {
        text.append(chunk, static_cast<std::size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        ::close(fd);
        fd = -1;
      }
    }
  }

  pid_t pid_ = -1;
  int in_ = -1;
  int out_ = -1;
  int err_ = -1;
  bool exited_ = false;
  int code_ = -1;
  std::string out_text_;
  std::string err_text_;
};

// A TCP port on 127.0.0.1 that was free a moment ago (bind port 0, read it, close).
inline unsigned short free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// ---- raw TCP peers: what a test needs that socat cannot do (reset, or tell a reset from eof) ----

// A socket descriptor, closed when it goes.
class socket_fd {
 public:
  explicit socket_fd(int fd = -1) : fd_(fd) {}
  socket_fd(socket_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  socket_fd& operator=(socket_fd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  ~socket_fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }

  // Closes with SO_LINGER {1, 0}: the kernel sends RST instead of FIN, an abort.
  void reset() {
    linger abort{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
    ::close(std::exchange(fd_, -1));
  }

 private:
  int fd_;
};

// Connects to 127.0.0.1:port, trying again while nothing listens yet, for at most `limit`.
inline socket_fd tcp_connect(unsigned short port, std::chrono::milliseconds limit = 5000ms) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    socket_fd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return s;
    if (std::chrono::steady_clock::now() > deadline) return socket_fd();
    ::usleep(20000);
  }
}

// A TCP listener on 127.0.0.1, on a port the kernel picks.
class tcp_server {
 public:
  tcp_server() : listener_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listener_.get(), 16);
    socklen_t length = sizeof a;
    ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&a), &length);
    port_ = ntohs(a.sin_port);
  }
  unsigned short port() const { return port_; }

  // The next connection, or none when none comes within `limit`.
  socket_fd accept(std::chrono::milliseconds limit = 5000ms) {
    pollfd p{listener_.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(limit.count())) != 1) return socket_fd();
    return socket_fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  }

 private:
  socket_fd listener_;
  unsigned short port_ = 0;
};

inline void send_all(const socket_fd& s, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(s.get(), data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    ASSERT_GT(n, 0) << "send: " << std::strerror(errno);
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Reads until `n` bytes have come (or the stream ends, or `limit` passes); returns what came.
inline std::string receive(const socket_fd& s, std::size_t n,
                           std::chrono::milliseconds limit = 5000ms) {
  std::string got;
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (got.size() < n) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{s.get(), POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) != 1) break;
    char chunk[65536];
    ssize_t r = ::recv(s.get(), chunk, std::min(sizeof chunk, n - got.size()), 0);
    if (r <= 0 && errno != EINTR) break;
    if (r > 0) got.append(chunk, static_cast<std::size_t>(r));
  }
  return got;
}

// How a stream that a test read to its end ended.
struct stream_end {
  std::string data;  // everything read before the end
  bool eof = false;  // a clean end (FIN)
  int error = 0;     // or the errno that ended it (ECONNRESET for an abort)
  bool timed_out = false;
  std::string what() const {
    if (eof) return "eof";
    if (timed_out) return "nothing within the time limit";
    return std::strerror(error);
  }
};

// Reads until eof or an error, for at most `limit`.
inline stream_end read_to_end(const socket_fd& s, std::chrono::milliseconds limit = 5000ms) {
  stream_end end;
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{s.get(), POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) != 1) {
      end.timed_out = true;
      return end;
    }
    char chunk[65536];
    ssize_t n = ::recv(s.get(), chunk, sizeof chunk, 0);
    if (n > 0) {
      end.data.append(chunk, static_cast<std::size_t>(n));
    } else if (n == 0) {
      end.eof = true;
      return end;
    } else if (errno != EINTR) {
      end.error = errno;
      return end;
    }
  }
}

}  // namespace flowstack::test
