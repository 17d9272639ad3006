// Memory held by idle connections: a server holding N accepted connections that wait for data.
//
// Each kind runs in a fresh process (this program again, with --kind), so heaps do not mix. The
// server measures its own heap (mallinfo2: bytes in use, arenas and mmapped chunks) and its RSS
// before the clients connect and once all N connections are accepted and idle; the clients are
// plain sockets in a forked child, so nothing of theirs is counted. Kernel socket memory is not
// in either number.
//
// Kinds:
//   flowstack  socket::listen with a handler that waits in flow.read()
//   asio       an asio acceptor, one coroutine per socket waiting in async_wait(read): the
//              same runtime without flowstack's layers
//   plain      blocking accept(2), the fds kept in a vector: the floor
#include <malloc.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/use_awaitable.hpp>
#include <cstdio>
#include <fstream>
#include <vector>

#include "benchmarks.hpp"
#include "flowstack_side.hpp"

namespace flowstack::bench {
namespace {

constexpr auto connect_limit = std::chrono::seconds(60);

std::int64_t heap_in_use() {
  auto m = mallinfo2();
  return static_cast<std::int64_t>(m.uordblks + m.hblkhd);
}

std::int64_t rss() {
  std::ifstream statm("/proc/self/statm");
  std::int64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * ::sysconf(_SC_PAGESIZE);
}

// The clients: a forked child that connects `count` plain sockets, says so with one byte on
// `ready`, and holds them until `hold` is closed.
[[noreturn]] void clients(int port_fd, int ready_fd, int hold_fd, int count) {
  std::uint16_t port = 0;
  if (::read(port_fd, &port, sizeof port) != sizeof port) ::_exit(1);
  std::vector<int> fds;
  fds.reserve(static_cast<std::size_t>(count));
  char result = 'k';
  for (int i = 0; i < count; ++i) {
    int fd = plain_connect(port);
    if (fd < 0) {
      result = 'x';
      break;
    }
    fds.push_back(fd);
  }
  [[maybe_unused]] auto n = ::write(ready_fd, &result, 1);
  char c;
  while (::read(hold_fd, &c, 1) > 0) {
  }
  ::_exit(0);
}

struct client_process {
  pid_t pid = -1;
  int port_fd = -1;   // we write the port here
  int ready_fd = -1;  // the child writes one byte here when connected
  int hold_fd = -1;   // closing it lets the child go

  void start(std::uint16_t port) {
    if (::write(port_fd, &port, sizeof port) != sizeof port) die("cannot reach the client process");
  }
  // 0: not yet; 1: all connected; -1: failed.
  int poll_ready(int timeout_ms) const {
    pollfd p{ready_fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return 0;
    char c = 0;
    if (::read(ready_fd, &c, 1) != 1) return -1;
    return c == 'k' ? 1 : -1;
  }
  void finish() {
    ::close(hold_fd);
    int status = 0;
    ::waitpid(pid, &status, 0);
  }
};

client_process fork_clients(int count) {
  int port_pipe[2], ready_pipe[2], hold_pipe[2];
  if (::pipe(port_pipe) || ::pipe(ready_pipe) || ::pipe(hold_pipe)) die("pipe failed");
  pid_t pid = ::fork();
  if (pid < 0) die("fork failed");
  if (pid == 0) {
    ::close(port_pipe[1]);
    ::close(ready_pipe[0]);
    ::close(hold_pipe[1]);
    clients(port_pipe[0], ready_pipe[1], hold_pipe[0], count);
  }
  ::close(port_pipe[0]);
  ::close(ready_pipe[1]);
  ::close(hold_pipe[0]);
  return {pid, port_pipe[1], ready_pipe[0], hold_pipe[1]};
}

struct measurement {
  std::int64_t heap = 0;
  std::int64_t rss = 0;
};

asio::awaitable<void> wait_idle(flow& f) {
  // An idle connection: a read that waits until the client goes away.
  auto got = co_await f.read();
  (void)got;
}

measurement measure_flowstack(client_process& c, int count) {
  asio::io_context io{1};
  net::listen_options options;
  options.max_connections = static_cast<std::size_t>(count) + 16;
  auto l = socket::listen(
      io.get_executor(), loopback_endpoint(0), [](flow& f) { return wait_idle(f); }, options);
  if (!l) die("flowstack listen: " + l.error().message());
  io.run_for(std::chrono::milliseconds(20));
  auto heap0 = heap_in_use();
  auto rss0 = rss();
  c.start(l->local_port());
  auto deadline = clock::now() + connect_limit;
  int ready = 0;
  while (ready == 0 || l->active_connections() < static_cast<std::size_t>(count)) {
    if (clock::now() > deadline) die("flowstack: the connections were not all accepted in time");
    io.run_for(std::chrono::milliseconds(10));
    if (ready == 0) ready = c.poll_ready(0);
    if (ready < 0) die("the client process could not connect");
  }
  io.run_for(std::chrono::milliseconds(100));  // every handler now waits in read
  measurement m{heap_in_use() - heap0, rss() - rss0};
  c.finish();
  deadline = clock::now() + std::chrono::seconds(20);
  while (l->active_connections() > 0 && clock::now() < deadline) {
    io.run_for(std::chrono::milliseconds(10));
  }
  l->unlisten();
  io.run_for(std::chrono::milliseconds(100));
  return m;
}

asio::awaitable<void> asio_idle(asio::ip::tcp::socket s, int* active) {
  ++*active;
  auto [ec] = co_await s.async_wait(asio::ip::tcp::socket::wait_read,
                                    asio::experimental::as_tuple(asio::use_awaitable));
  (void)ec;
  --*active;
}

asio::awaitable<void> asio_accept(asio::ip::tcp::acceptor* acceptor, int count, int* active) {
  for (int i = 0; i < count; ++i) {
    auto [ec, s] =
        co_await acceptor->async_accept(asio::experimental::as_tuple(asio::use_awaitable));
    if (ec) break;
    asio::co_spawn(acceptor->get_executor(), asio_idle(std::move(s), active), asio::detached);
  }
}

measurement measure_asio(client_process& c, int count) {
  asio::io_context io{1};
  asio::ip::tcp::acceptor acceptor(io, loopback_endpoint(0));
  acceptor.listen(1024);
  int active = 0;
  asio::co_spawn(io, asio_accept(&acceptor, count, &active), asio::detached);
  io.run_for(std::chrono::milliseconds(20));
  auto heap0 = heap_in_use();
  auto rss0 = rss();
  c.start(acceptor.local_endpoint().port());
  auto deadline = clock::now() + connect_limit;
  int ready = 0;
  while (ready == 0 || active < count) {
    if (clock::now() > deadline) die("asio: the connections were not all accepted in time");
    io.run_for(std::chrono::milliseconds(10));
    if (ready == 0) ready = c.poll_ready(0);
    if (ready < 0) die("the client process could not connect");
  }
  io.run_for(std::chrono::milliseconds(100));
  measurement m{heap_in_use() - heap0, rss() - rss0};
  c.finish();
  deadline = clock::now() + std::chrono::seconds(20);
  while (active > 0 && clock::now() < deadline) io.run_for(std::chrono::milliseconds(10));
  return m;
}

measurement measure_plain(client_process& c, int count) {
  auto l = plain_listen(0, 1024);
  auto heap0 = heap_in_use();
  auto rss0 = rss();
  c.start(l.port);
  std::vector<int> fds;
  for (int i = 0; i < count; ++i) {
    int fd = plain_accept(l.fd);
    if (fd < 0) die("plain accept failed");
    fds.push_back(fd);
  }
  if (c.poll_ready(static_cast<int>(connect_limit.count()) * 1000) != 1) {
    die("the client process could not connect");
  }
  measurement m{heap_in_use() - heap0, rss() - rss0};
  c.finish();
  for (int fd : fds) ::close(fd);
  ::close(l.fd);
  return m;
}

int measure_one(const std::string& kind, int count) {
  raise_fd_limit(static_cast<std::size_t>(count) + 256);
  auto c = fork_clients(count);
  measurement m;
  if (kind == "flowstack") {
    m = measure_flowstack(c, count);
  } else if (kind == "asio") {
    m = measure_asio(c, count);
  } else if (kind == "plain") {
    m = measure_plain(c, count);
  } else {
    die("unknown memory kind " + kind);
  }
  std::printf("heap=%lld rss=%lld\n", static_cast<long long>(m.heap),
              static_cast<long long>(m.rss));
  return 0;
}

}  // namespace

int run_memory(const memory_options& o) {
  if (!o.kind.empty()) return measure_one(o.kind, o.connections);

  struct kind {
    const char* name;
    const char* label;
    std::vector<double> heap, rss;
  };
  std::vector<kind> kinds = {
      {"flowstack", "flowstack listener", {}, {}},
      {"asio", "asio coroutine per socket", {}, {}},
      {"plain", "plain accept(2), fds only", {}, {}},
  };
  std::printf(
      "memory: a server holding %d idle loopback connections, bytes per connection, "
      "%d runs (median)\n",
      o.connections, o.runs);
  std::fflush(stdout);
  for (int run = 0; run < o.runs; ++run) {
    for (auto& k : kinds) {
      auto child = spawn({"/proc/self/exe", "memory", "--kind", k.name, "--connections",
                          std::to_string(o.connections)},
                         child_output::capture);
      auto out = read_all(child.stdout_fd);
      int status = wait_child(child, std::chrono::seconds(120));
      long long heap = 0, rss_bytes = 0;
      if (status != 0 || std::sscanf(out.c_str(), "heap=%lld rss=%lld", &heap, &rss_bytes) != 2) {
        die(std::string("memory --kind ") + k.name + " failed (status " + std::to_string(status) +
            "): " + out);
      }
      k.heap.push_back(static_cast<double>(heap) / o.connections);
      k.rss.push_back(static_cast<double>(rss_bytes) / o.connections);
    }
  }
  std::printf("  %-28s %14s %14s\n", "bytes per connection", "heap", "RSS");
  for (const auto& k : kinds) {
    std::printf("  %-28s %14.0f %14.0f\n", k.label, median(k.heap), median(k.rss));
  }
  double fs_heap = median(kinds[0].heap);
  std::printf("  %-28s %14s   target < 4096 B heap: %s\n", "flowstack heap",
              (std::to_string(static_cast<long long>(fs_heap)) + " B").c_str(),
              fs_heap < 4096 ? "met" : "MISSED");
  std::printf("  %-28s %14s\n", "flowstack / asio (heap)",
              format_ratio(fs_heap / median(kinds[1].heap)).c_str());
  std::fflush(stdout);
  return 0;
}

}  // namespace flowstack::bench
