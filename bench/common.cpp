#include "common.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

extern char** environ;

namespace flowstack::bench {
namespace {

// Children to kill when the watchdog fires; a fixed array so the signal handler stays
// async-signal-safe.
constexpr std::size_t max_children = 64;
volatile sig_atomic_t children[max_children];
std::mutex children_mutex;

void remember_child(int pid) {
  std::lock_guard lock(children_mutex);
  for (auto& slot : children) {
    if (slot == 0) {
      slot = pid;
      return;
    }
  }
}

void forget_child(int pid) {
  std::lock_guard lock(children_mutex);
  for (auto& slot : children) {
    if (slot == pid) slot = 0;
  }
}

void on_watchdog(int) {
  for (auto& slot : children) {
    if (slot > 0) ::kill(slot, SIGKILL);
  }
  constexpr char message[] = "flowstack_bench: time limit reached, giving up\n";
  [[maybe_unused]] auto n = ::write(2, message, sizeof message - 1);
  ::_exit(3);
}

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

std::string errno_text(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

}  // namespace

double median(std::vector<double> values) {
  return percentile(std::move(values), 50);
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  // Nearest rank, interpolated between neighbours.
  double rank = p / 100.0 * static_cast<double>(values.size() - 1);
  auto lo = static_cast<std::size_t>(std::floor(rank));
  auto hi = static_cast<std::size_t>(std::ceil(rank));
  double frac = rank - static_cast<double>(lo);
  return values[lo] + (values[hi] - values[lo]) * frac;
}

void die(const std::string& what) {
  std::fprintf(stderr, "flowstack_bench: %s\n", what.c_str());
  std::fflush(stdout);
  for (auto& slot : children) {
    if (slot > 0) ::kill(slot, SIGKILL);
  }
  std::_Exit(2);
}

void arm_watchdog(std::chrono::seconds limit) {
  struct sigaction sa {};
  sa.sa_handler = on_watchdog;
  ::sigaction(SIGALRM, &sa, nullptr);
  ::alarm(static_cast<unsigned>(limit.count()));
}

void raise_fd_limit(std::size_t count) {
  rlimit r{};
  ::getrlimit(RLIMIT_NOFILE, &r);
  if (r.rlim_cur >= count) return;
  if (r.rlim_max < count) r.rlim_max = count;  // works as root (CAP_SYS_RESOURCE)
  r.rlim_cur = count;
  if (::setrlimit(RLIMIT_NOFILE, &r) != 0) {
    die(errno_text(("raising the open-file limit to " + std::to_string(count)).c_str()));
  }
}

plain_listener plain_listen(std::uint16_t port, int backlog) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die(errno_text("socket"));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  auto a = loopback(port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die(errno_text("bind"));
  if (::listen(fd, backlog) != 0) die(errno_text("listen"));
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return {fd, ntohs(a.sin_port)};
}

int plain_accept(int listen_fd) {
  for (;;) {
    int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) return fd;
    if (errno != EINTR) return -1;
  }
}

int plain_connect(std::uint16_t port, std::chrono::milliseconds patience) {
  auto deadline = clock::now() + patience;
  for (;;) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die(errno_text("socket"));
    auto a = loopback(port);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd;
    int e = errno;
    ::close(fd);
    if (e != ECONNREFUSED || clock::now() > deadline) {
      errno = e;
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void set_nodelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void set_io_timeout(int fd, std::chrono::seconds limit) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(limit.count());
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

bool send_all(int fd, const void* data, std::size_t size) {
  auto* p = static_cast<const char*>(data);
  while (size > 0) {
    auto n = ::send(fd, p, size, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

bool recv_exact(int fd, void* data, std::size_t size) {
  auto* p = static_cast<char*>(data);
  while (size > 0) {
    auto n = ::recv(fd, p, size, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

std::optional<std::uint64_t> recv_until_eof(int fd, std::size_t chunk) {
  std::vector<char> buf(chunk);
  std::uint64_t total = 0;
  for (;;) {
    auto n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) return total;
    total += static_cast<std::uint64_t>(n);
  }
}

bool send_blocks(int fd, std::uint64_t bytes, std::size_t chunk) {
  std::vector<char> block(chunk, 'x');
  for (std::uint64_t left = bytes; left > 0;) {
    auto n = static_cast<std::size_t>(std::min<std::uint64_t>(left, chunk));
    if (!send_all(fd, block.data(), n)) return false;
    left -= n;
  }
  return true;
}

plain_sink::plain_sink(int listen_fd, std::size_t chunk, std::chrono::seconds io_limit)
    : thread_([this, listen_fd, chunk, io_limit] {
        int fd = plain_accept(listen_fd);
        if (fd < 0) return;
        set_io_timeout(fd, io_limit);
        receipt_.bytes = recv_until_eof(fd, chunk);
        receipt_.end = clock::now();
        ::close(fd);
      }) {}

plain_sink::~plain_sink() {
  if (thread_.joinable()) thread_.join();
}

plain_sink::receipt plain_sink::join() {
  if (thread_.joinable()) thread_.join();
  return receipt_;
}

std::uint16_t free_port() {
  auto l = plain_listen(0);
  ::close(l.fd);
  return l.port;
}

bool wait_listening(std::uint16_t port, std::chrono::milliseconds patience) {
  // /proc/net/tcp lines: "sl local_address rem_address st ...", local as HEXIP:HEXPORT, st 0A =
  // LISTEN.
  char want[8];
  std::snprintf(want, sizeof want, ":%04X", port);
  auto deadline = clock::now() + patience;
  for (;;) {
    for (const char* path : {"/proc/net/tcp", "/proc/net/tcp6"}) {
      std::ifstream in(path);
      std::string line;
      std::getline(in, line);  // header
      while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string sl, local, remote, state;
        fields >> sl >> local >> remote >> state;
        if (state == "0A" && local.size() >= 5 && local.compare(local.size() - 5, 5, want) == 0) {
          return true;
        }
      }
    }
    if (clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

child_process spawn(const std::vector<std::string>& argv, child_output output) {
  bool capture_stdout = output == child_output::capture;
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  if (output == child_output::discard) {
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  }
  int out[2] = {-1, -1};
  if (capture_stdout) {
    if (::pipe2(out, O_CLOEXEC) != 0) die(errno_text("pipe"));
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  }
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (capture_stdout) ::close(out[1]);
  if (rc != 0) die("cannot start " + argv[0] + ": " + std::strerror(rc));
  remember_child(pid);
  return {pid, out[0]};
}

int wait_child(child_process& child, std::chrono::milliseconds limit) {
  if (child.pid <= 0) return -1;
  auto deadline = clock::now() + limit;
  int status = 0;
  struct rusage usage {};
  auto reaped = [&] {
    forget_child(child.pid);
    child.pid = -1;
    auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
    child.cpu = std::chrono::duration<double>(seconds(usage.ru_utime) + seconds(usage.ru_stime));
  };
  for (;;) {
    pid_t r = ::wait4(child.pid, &status, WNOHANG, &usage);
    if (r == child.pid) break;
    if (clock::now() > deadline) {
      ::kill(child.pid, SIGKILL);
      ::wait4(child.pid, &status, 0, &usage);
      reaped();
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  reaped();
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string read_all(int fd) {
  std::string out;
  std::array<char, 4096> buf;
  for (;;) {
    auto n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf.data(), static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

bool have_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (::access((dir + "/" + name).c_str(), X_OK) == 0) return true;
  }
  return false;
}

std::string format_rate(double bytes_per_second) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f GB/s", bytes_per_second / 1e9);
  return text;
}

std::string format_ratio(double ratio) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2fx", ratio);
  return text;
}

std::string format_bytes(std::uint64_t bytes) {
  char text[32];
  if (bytes >= (1ull << 30) && bytes % (1ull << 30) == 0) {
    std::snprintf(text, sizeof text, "%llu GiB", static_cast<unsigned long long>(bytes >> 30));
  } else if (bytes >= (1ull << 20)) {
    std::snprintf(text, sizeof text, "%.0f MiB", static_cast<double>(bytes) / (1 << 20));
  } else {
    std::snprintf(text, sizeof text, "%llu B", static_cast<unsigned long long>(bytes));
  }
  return text;
}

std::uint64_t parse_size(const std::string& text) {
  std::size_t used = 0;
  std::uint64_t n = std::stoull(text, &used);
  std::string unit = text.substr(used);
  if (unit.empty()) return n;
  switch (unit[0]) {
    case 'k':
    case 'K':
      return n << 10;
    case 'm':
    case 'M':
      return n << 20;
    case 'g':
    case 'G':
      return n << 30;
    default:
      throw std::invalid_argument("unknown size unit in " + text);
  }
}

}  // namespace flowstack::bench
