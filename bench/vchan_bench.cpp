// flowstack_vchan_bench: vchan between two processes side by side with the kernel's local
// channels, in one run: one-way bulk transfer with 4 KiB and 64 KiB writes, and 64-byte
// ping-pong latency. Contenders: a vchan flow (flowstack, both ends coroutines on Asio), a Unix
// domain socket pair, a pipe (bulk only: one direction), loopback TCP. The kernel contenders use
// plain blocking read/write, the least a program could do; vchan pays for the flow API.
//
//   flowstack_vchan_bench [--bytes 256M] [--round-trips N] [--runs N]
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <flowstack/vchan/vchan.hpp>
#include <functional>
#include <string>
#include <vector>

namespace {

using namespace flowstack;
using clock_type = std::chrono::steady_clock;

struct settings {
  std::uint64_t bytes = 256ull << 20;
  int round_trips = 20000;
  int runs = 3;
  std::string runtime_dir;
  // Contenders to run (vchan, unix, pipe, tcp); all when empty.
  std::string only;
  // One line per vchan bulk run: rate, and the receiver's page faults and context switches.
  bool detail = false;
  // Ring size each way for the vchan bulk runs.
  std::size_t ring_size = vchan::default_ring_size;
  bool wants(const std::string& contender) const {
    return only.empty() || ("," + only + ",").find("," + contender + ",") != std::string::npos;
  }
};

// The receiving process's page faults and context switches so far.
struct usage_counts {
  long minor_faults = 0;
  long voluntary_switches = 0;
  long involuntary_switches = 0;
  static usage_counts now() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return {u.ru_minflt, u.ru_nvcsw, u.ru_nivcsw};
  }
};

// ---- plain descriptors -------------------------------------------------------------------------

bool write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

bool read_exactly(int fd, char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::read(fd, data, size);
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

void send_bulk(int fd, std::uint64_t bytes, std::size_t chunk) {
  std::vector<char> block(chunk, 'x');
  for (std::uint64_t sent = 0; sent < bytes; sent += chunk) {
    if (!write_all(fd, block.data(), std::min<std::uint64_t>(chunk, bytes - sent))) break;
  }
}

std::uint64_t receive_bulk(int fd) {
  std::vector<char> block(256 * 1024);
  std::uint64_t total = 0;
  for (;;) {
    ssize_t n = ::read(fd, block.data(), block.size());
    if (n <= 0) return total;
    total += static_cast<std::uint64_t>(n);
  }
}

void echo(int fd, std::size_t message, int round_trips) {
  std::vector<char> m(message);
  for (int i = 0; i < round_trips; ++i) {
    if (!read_exactly(fd, m.data(), message) || !write_all(fd, m.data(), message)) return;
  }
}

double ping(int fd, std::size_t message, int round_trips) {
  std::vector<char> m(message, 'p');
  auto start = clock_type::now();
  for (int i = 0; i < round_trips; ++i) {
    if (!write_all(fd, m.data(), message) || !read_exactly(fd, m.data(), message)) return -1;
  }
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

int wait_child(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

// A connected pair of descriptors of one kind: [parent end, child end].
std::pair<int, int> connected_pair(const std::string& kind) {
  int fds[2] = {-1, -1};
  if (kind == "unix") {
    ::socketpair(AF_UNIX, SOCK_STREAM, 0, fds);
  } else if (kind == "pipe") {
    ::pipe(fds);  // [read end, write end]: the parent reads
  } else {
    int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listener, 1);
    socklen_t len = sizeof a;
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len);
    fds[1] = ::socket(AF_INET, SOCK_STREAM, 0);
    ::connect(fds[1], reinterpret_cast<sockaddr*>(&a), sizeof a);
    fds[0] = ::accept(listener, nullptr, nullptr);
    ::close(listener);
    int one = 1;
    ::setsockopt(fds[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::setsockopt(fds[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return {fds[0], fds[1]};
}

// Seconds for the parent to receive `bytes` the child sends in `chunk` writes.
double plain_bulk(const std::string& kind, std::uint64_t bytes, std::size_t chunk) {
  auto [mine, theirs] = connected_pair(kind);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(mine);
    send_bulk(theirs, bytes, chunk);
    ::_exit(0);
  }
  ::close(theirs);
  auto start = clock_type::now();
  std::uint64_t got = receive_bulk(mine);
  double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  ::close(mine);
  wait_child(pid);
  return got == bytes ? seconds : -1;
}

double plain_pingpong(const std::string& kind, std::size_t message, int round_trips) {
  auto [mine, theirs] = connected_pair(kind);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(mine);
    echo(theirs, message, round_trips);
    ::_exit(0);
  }
  ::close(theirs);
  double seconds = ping(mine, message, round_trips);
  ::close(mine);
  wait_child(pid);
  return seconds;
}

// ---- vchan -------------------------------------------------------------------------------------

vchan::port bench_port() {
  static int counter = 0;
  return vchan::port("bench" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
}

asio::awaitable<result<flow>> connect_retrying(asio::any_io_executor ex, vchan::port p,
                                               vchan::options opts) {
  for (int attempt = 0; attempt < 1000; ++attempt) {
    auto c = co_await vchan::client(ex, 0, p, opts);
    if (c || c.error() != vchan::vchan_errc::no_server) co_return c;
    asio::steady_timer pause(ex, std::chrono::milliseconds(5));
    co_await pause.async_wait(asio::use_awaitable);
  }
  co_return fail(vchan::vchan_errc::no_server);
}

// Runs `body` on a fresh io_context in this process until it finishes.
template <typename Body>
void run_here(Body body) {
  asio::io_context io;
  asio::co_spawn(io, body(io.get_executor()), asio::detached);
  io.run();
}

asio::awaitable<void> vchan_sender(asio::any_io_executor ex, vchan::port p, vchan::options opts,
                                   std::uint64_t bytes, std::size_t chunk) {
  auto c = co_await connect_retrying(ex, p, opts);
  if (!c) co_return;
  auto block = buffer::create(chunk);
  for (std::uint64_t sent = 0; sent < bytes; sent += chunk) {
    auto piece =
        block.sub(0, static_cast<std::size_t>(std::min<std::uint64_t>(chunk, bytes - sent)));
    auto w = co_await c->write(piece);
    if (!w) break;
  }
  co_await c->shutdown(shutdown_mode::write);
  auto end = co_await c->read();  // the receiver's close
  (void)end;
  co_await c->close();
}

asio::awaitable<void> vchan_receiver(asio::any_io_executor ex, vchan::port p, vchan::options opts,
                                     std::size_t ring_size, double* seconds, std::uint64_t* got) {
  auto s = co_await vchan::server(ex, 0, p, ring_size, ring_size, opts);
  if (!s) co_return;
  auto start = clock_type::now();
  for (;;) {
    auto r = co_await s->read();
    if (!r || r->is_eof()) break;
    *got += r->data().size();
  }
  *seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  co_await s->close();
}

double vchan_bulk(const settings& o, std::size_t chunk) {
  auto p = bench_port();
  vchan::options opts;
  opts.runtime_dir = o.runtime_dir;
  pid_t pid = ::fork();
  if (pid == 0) {
    run_here([&](asio::any_io_executor ex) { return vchan_sender(ex, p, opts, o.bytes, chunk); });
    ::_exit(0);
  }
  double seconds = -1;
  std::uint64_t got = 0;
  auto before = usage_counts::now();
  run_here([&](asio::any_io_executor ex) {
    return vchan_receiver(ex, p, opts, o.ring_size, &seconds, &got);
  });
  auto after = usage_counts::now();
  wait_child(pid);
  if (o.detail) {
    std::printf(
        "    vchan %zu-byte writes: %8.0f MB/s, receiver: %ld page faults, %ld+%ld context "
        "switches (voluntary+involuntary)\n",
        chunk, seconds > 0 ? o.bytes / seconds / 1e6 : 0.0,
        after.minor_faults - before.minor_faults,
        after.voluntary_switches - before.voluntary_switches,
        after.involuntary_switches - before.involuntary_switches);
  }
  return got == o.bytes ? seconds : -1;
}

asio::awaitable<bool> read_exactly(flow& f, std::size_t size) {
  while (size > 0) {
    auto r = co_await f.read();
    if (!r || r->is_eof()) co_return false;
    size -= std::min(size, r->data().size());
  }
  co_return true;
}

asio::awaitable<void> vchan_echo(asio::any_io_executor ex, vchan::port p, vchan::options opts,
                                 std::size_t message, int round_trips) {
  auto c = co_await connect_retrying(ex, p, opts);
  if (!c) co_return;
  auto m = buffer::create(message);
  for (int i = 0; i < round_trips; ++i) {
    bool ok = co_await read_exactly(*c, message);
    if (!ok) break;
    auto w = co_await c->write(m);
    if (!w) break;
  }
  co_await c->close();
}

asio::awaitable<void> vchan_ping(asio::any_io_executor ex, vchan::port p, vchan::options opts,
                                 std::size_t message, int round_trips, double* seconds) {
  auto s = co_await vchan::server(ex, 0, p, 4096, 4096, opts);
  if (!s) co_return;
  auto m = buffer::create(message);
  auto start = clock_type::now();
  for (int i = 0; i < round_trips; ++i) {
    auto w = co_await s->write(m);
    if (!w) co_return;
    bool ok = co_await read_exactly(*s, message);
    if (!ok) co_return;
  }
  *seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  co_await s->close();
}

double vchan_pingpong(const settings& o, std::size_t message) {
  auto p = bench_port();
  vchan::options opts;
  opts.runtime_dir = o.runtime_dir;
  pid_t pid = ::fork();
  if (pid == 0) {
    run_here(
        [&](asio::any_io_executor ex) { return vchan_echo(ex, p, opts, message, o.round_trips); });
    ::_exit(0);
  }
  double seconds = -1;
  run_here([&](asio::any_io_executor ex) {
    return vchan_ping(ex, p, opts, message, o.round_trips, &seconds);
  });
  wait_child(pid);
  return seconds;
}

// ---- report ------------------------------------------------------------------------------------

// "256M", "1G", "65536k", "1000": bytes.
std::uint64_t parse_size(const std::string& text) {
  std::size_t used = 0;
  std::uint64_t value = std::stoull(text, &used);
  switch (used < text.size() ? text[used] : ' ') {
    case 'k':
    case 'K':
      return value << 10;
    case 'm':
    case 'M':
      return value << 20;
    case 'g':
    case 'G':
      return value << 30;
    default:
      return value;
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double median_of(int runs, const std::function<double()>& once) {
  std::vector<double> v;
  for (int i = 0; i < runs; ++i) v.push_back(once());
  return median(v);
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  settings o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string name = argv[i];
    if (name == "--bytes") {
      o.bytes = parse_size(argv[i + 1]);
    } else if (name == "--round-trips") {
      o.round_trips = std::stoi(argv[i + 1]);
    } else if (name == "--runs") {
      o.runs = std::stoi(argv[i + 1]);
    } else if (name == "--ring") {
      o.ring_size = parse_size(argv[i + 1]);
    } else if (name == "--only") {
      o.only = argv[i + 1];
    } else if (name == "--detail") {
      o.detail = std::string(argv[i + 1]) == "1";
    } else {
      std::fprintf(stderr,
                   "usage: %s [--bytes SIZE (k, M, G)] [--round-trips N] [--runs N]\n"
                   "          [--ring SIZE] [--only vchan,unix,pipe,tcp] [--detail 1]\n",
                   argv[0]);
      return 2;
    }
  }
  char dir[] = "/tmp/flowstack-vchan-bench-XXXXXX";
  o.runtime_dir = ::mkdtemp(dir);

  std::printf("vchan vs kernel channels, two processes, median of %d runs\n", o.runs);
  std::printf("one-way bulk, %llu MiB per run (MB/s; ratio = vchan / unix socket pair)\n",
              static_cast<unsigned long long>(o.bytes >> 20));
  for (std::size_t chunk : {std::size_t{4096}, std::size_t{65536}}) {
    auto rate = [&o](double seconds) { return seconds > 0 ? o.bytes / seconds / 1e6 : 0.0; };
    auto cell = [&o](const char* contender, const std::function<double()>& once) {
      return o.wants(contender) ? median_of(o.runs, once) : 0.0;
    };
    double v = rate(cell("vchan", [&] { return vchan_bulk(o, chunk); }));
    double u = rate(cell("unix", [&] { return plain_bulk("unix", o.bytes, chunk); }));
    double p = rate(cell("pipe", [&] { return plain_bulk("pipe", o.bytes, chunk); }));
    double t = rate(cell("tcp", [&] { return plain_bulk("tcp", o.bytes, chunk); }));
    std::printf("  %6zu-byte writes: vchan %8.0f  unix %8.0f  pipe %8.0f  tcp %8.0f  ratio %.2fx\n",
                chunk, v, u, p, t, u > 0 ? v / u : 0.0);
  }
  std::printf("ping-pong, 64-byte messages, %d round trips per run (us per round trip)\n",
              o.round_trips);
  auto per_trip = [&o](double seconds) { return seconds > 0 ? seconds / o.round_trips * 1e6 : 0; };
  auto cell = [&o](const char* contender, const std::function<double()>& once) {
    return o.wants(contender) ? median_of(o.runs, once) : 0.0;
  };
  double v = per_trip(cell("vchan", [&] { return vchan_pingpong(o, 64); }));
  double u = per_trip(cell("unix", [&] { return plain_pingpong("unix", 64, o.round_trips); }));
  double t = per_trip(cell("tcp", [&] { return plain_pingpong("tcp", 64, o.round_trips); }));
  std::printf("  vchan %.2f  unix %.2f  tcp %.2f  (vchan / unix %.2f)\n", v, u, t,
              u > 0 ? v / u : 0.0);
  ::rmdir(o.runtime_dir.c_str());
  return 0;
}
