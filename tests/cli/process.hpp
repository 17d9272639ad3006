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

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
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

}  // namespace flowstack::test
