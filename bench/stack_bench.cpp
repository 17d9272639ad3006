// flowstack_stack_bench: the userspace stack side by side with the kernel's, in one run, through
// the same code: a transfer written once against net::stack runs on two direct stacks over the
// in-memory switch, and on the kernel's loopback TCP (socket::stack).
//
//   flowstack_stack_bench throughput [--bytes 1G] [--runs 5] [--write 64K] [--mtu 1500]
//                                    [--loss P --delay MS]
//       one flow, one way: Gbit/s of each contender (median of the runs) and their ratio; with
//       --loss, every frame on the switch is lost with probability P (one-way delay MS), and the
//       rate is printed beside Mathis' estimate MSS/RTT * 1.22/sqrt(P)
//   flowstack_stack_bench memory [--connections 10000]
//       idle connections between two direct stacks: resident memory per connection end
//   flowstack_stack_bench tap [--bytes 256M] [--runs 3]
//       (root) the stack on a TAP device against Linux's TCP in a network namespace, each way,
//       beside Linux against Linux over a veth pair between two namespaces, through the same
//       plain-socket peer; and iperf3 over the veth pair for reference
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <flowstack/core/wait_queue.hpp>
#include <flowstack/socket/stack.hpp>
#include <flowstack/stack/direct_stack.hpp>
#include <flowstack/stack/memory_switch.hpp>
#include <flowstack/stack/tap.hpp>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace flowstack;
using wall = std::chrono::steady_clock;

struct settings {
  std::uint64_t bytes = 1ull << 30;
  std::size_t write_size = 64 * 1024;
  int runs = 5;
  std::size_t connections = 10000;
  std::size_t mtu = 1500;
  double loss = 0;
  double delay_ms = 0;
  bool bytes_given = false;
  bool offloads = true;
};

std::uint64_t parse_size(const char* text) {
  char* end = nullptr;
  std::uint64_t n = std::strtoull(text, &end, 10);
  switch (*end) {
    case 'K':
      return n << 10;
    case 'M':
      return n << 20;
    case 'G':
      return n << 30;
    default:
      return n;
  }
}

// Two direct stacks, 10.0.0.1 and 10.0.0.2, on one switch (no faults).
struct direct_pair {
  direct_pair(asio::any_io_executor ex, std::size_t buffers, std::size_t mtu,
              stack::link_faults faults = {})
      : net(ex, clock::steady()),
        a(make(ex, 1, buffers, mtu, faults)),
        b(make(ex, 2, buffers, mtu, faults)) {}

  std::unique_ptr<stack::direct_stack> make(asio::any_io_executor ex, std::uint8_t n,
                                            std::size_t buffers, std::size_t mtu,
                                            stack::link_faults link) {
    stack::direct_stack_config c;
    c.ipv4.address = asio::ip::address_v4({10, 0, 0, n});
    c.ipv4.mtu = mtu;
    c.tcp.settings.mss = static_cast<std::uint16_t>(std::min<std::size_t>(mtu - 40, 65495));
    link.mtu = mtu;
    c.tcp.settings.send_buffer = buffers;
    c.tcp.settings.receive_buffer = buffers;
    return std::make_unique<stack::direct_stack>(
        ex, net.connect(stack::mac_address{{2, 0, 0, 0, 0, n}}, link), c);
  }

  stack::memory_switch net;
  std::unique_ptr<stack::direct_stack> a, b;
};

// Sends `bytes` from a connection to `server` to a listener on `server`, which reads and counts
// them; returns the seconds from connect to the last byte read.
asio::awaitable<double> transfer(net::stack& client, net::stack& server, net::tcp_endpoint where,
                                 const settings& s) {
  auto ex = co_await asio::this_coro::executor;
  std::uint64_t received = 0;
  wait_queue done(ex);
  bool finished = false;
  auto l = server.listen(where, [&](flow& f) -> asio::awaitable<void> {
    for (;;) {
      auto r = co_await f.read();
      if (!r || r->is_eof()) break;
      received += r->data().size();
    }
    finished = true;
    done.notify_all();
  });
  if (!l) {
    std::fprintf(stderr, "listen: %s\n", l.error().message().c_str());
    std::exit(1);
  }
  where.port(l->local_port());
  const auto start = wall::now();
  auto f = co_await client.connect(where);
  if (!f) {
    std::fprintf(stderr, "connect: %s\n", f.error().message().c_str());
    std::exit(1);
  }
  buffer chunk = buffer::create(s.write_size);
  for (std::uint64_t sent = 0; sent < s.bytes; sent += chunk.size()) {
    auto w = co_await f->write(chunk);
    if (!w) {
      std::fprintf(stderr, "write: %s\n", w.error().message().c_str());
      std::exit(1);
    }
  }
  co_await f->shutdown(shutdown_mode::write);
  while (!finished) co_await done.wait();
  const double seconds = std::chrono::duration<double>(wall::now() - start).count();
  co_await f->close();
  if (received < s.bytes)
    std::fprintf(stderr, "short transfer: %llu\n", (unsigned long long)received);
  co_return seconds;
}

template <typename Make>
double run_once(Make make_and_run) {
  asio::io_context io;
  auto result = asio::co_spawn(io, make_and_run(io.get_executor()), asio::use_future);
  io.run();
  return result.get();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int throughput(const settings& s) {
  stack::link_faults faults;
  faults.loss = s.loss;
  faults.delay = std::chrono::microseconds(static_cast<long long>(s.delay_ms * 1000));
  std::vector<double> direct, kernel;
  for (int i = 0; i < s.runs; ++i) {
    direct.push_back(run_once([&](asio::any_io_executor ex) -> asio::awaitable<double> {
      direct_pair p(ex, 1 << 20, s.mtu, faults);
      double t = co_await transfer(*p.b, *p.a, {asio::ip::address_v4({10, 0, 0, 1}), 5001}, s);
      co_return s.bytes * 8 / t / 1e9;
    }));
    if (s.loss > 0) continue;  // the kernel's loopback has no loss to compare with
    kernel.push_back(run_once([&](asio::any_io_executor ex) -> asio::awaitable<double> {
      socket::stack k(ex);
      double t = co_await transfer(k, k, {asio::ip::address_v4::loopback(), 0}, s);
      co_return s.bytes * 8 / t / 1e9;
    }));
  }
  const double d = median(direct);
  std::printf(
      "stack throughput, one flow, %llu MiB in %zu KiB writes, MTU %zu, median of %d runs\n",
      (unsigned long long)(s.bytes >> 20), s.write_size >> 10, s.mtu, s.runs);
  if (s.loss > 0) {
    // Mathis et al. 1997: the rate of a Reno flow that loses a fraction p of its segments.
    const double mss = static_cast<double>(std::min<std::size_t>(s.mtu - 40, 65495));
    const double rtt = 2 * s.delay_ms / 1000;
    std::printf("  loss %.2f %% of frames each way, one-way delay %.2f ms\n", s.loss * 100,
                s.delay_ms);
    std::printf("  direct stacks over the lossy switch   %7.3f Gbit/s\n", d);
    if (rtt > 0) {
      const double expected = mss * 8 / rtt * 1.22 / std::sqrt(s.loss) / 1e9;
      std::printf("  Mathis MSS/RTT*1.22/sqrt(p)           %7.3f Gbit/s\n", expected);
      std::printf("  ratio measured/expected: %.2fx\n", d / expected);
    }
    return 0;
  }
  const double k = median(kernel);
  std::printf("  direct stacks over the memory switch  %7.2f Gbit/s\n", d);
  std::printf("  kernel loopback TCP (socket::stack)   %7.2f Gbit/s\n", k);
  std::printf("  ratio direct/kernel: %.2fx\n", d / k);
  return 0;
}

long resident_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return 0;
}

int memory(const settings& s) {
  asio::io_context io;
  auto done = asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        direct_pair p(ex, 256 * 1024, s.mtu);
        std::vector<flow> accepted, connected;
        auto l = p.a->listen(
            {asio::ip::address_v4::any(), 80},
            [&](flow& f) -> asio::awaitable<void> {
              accepted.push_back(std::move(f));
              co_return;
            },
            {.max_connections = s.connections + 1, .backlog = static_cast<int>(s.connections)});
        const long before = resident_kib();
        for (std::size_t i = 0; i < s.connections; ++i) {
          auto f = co_await p.b->connect({asio::ip::address_v4({10, 0, 0, 1}), 80});
          if (!f) {
            std::fprintf(stderr, "connect %zu: %s\n", i, f.error().message().c_str());
            std::exit(1);
          }
          connected.push_back(std::move(*f));
        }
        while (accepted.size() < s.connections) co_await asio::post(asio::use_awaitable);
        const long after = resident_kib();
        const double per_end = double(after - before) * 1024 / double(2 * s.connections);
        std::printf("stack memory, %zu idle connections between two direct stacks\n",
                    s.connections);
        std::printf("  resident memory per connection end: %.0f bytes (target < 4096)\n", per_end);
        for (auto& f : connected) co_await f.close();
        for (auto& f : accepted) co_await f.close();
        l->unlisten();
      },
      asio::use_future);
  io.run();
  done.get();
  return 0;
}

// ---- the stack on a TAP device vs Linux over veth ----------------------------------------------

// A network namespace for the run, deleted at the end.
struct netns {
  explicit netns(const std::string& tag)
      : name("flowstack-bench-" + tag + "-" + std::to_string(::getpid())) {
    ok = shell("ip netns add " + name) && shell("ip -n " + name + " link set lo up");
  }
  ~netns() {
    if (ok) shell("ip netns del " + name);
  }
  static bool shell(const std::string& command) {
    if (std::system((command + " >/dev/null 2>&1").c_str()) == 0) return true;
    std::fprintf(stderr, "failed: %s\n", command.c_str());
    return false;
  }
  bool ip(const std::string& args) const { return shell("ip -n " + name + " " + args); }
  // Moves the calling thread into the namespace: sockets made afterwards belong to it.
  bool enter() const {
    int fd = ::open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    bool entered = ::setns(fd, CLONE_NEWNET) == 0;
    ::close(fd);
    return entered;
  }
  std::string name;
  bool ok = false;
};

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(1);
}

sockaddr_in socket_address(const char* ip, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

// On every address of the calling thread's namespace (the TAP device's comes later).
int listening_socket(std::uint16_t port) {
  int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int on = 1;
  ::setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  auto a = socket_address("0.0.0.0", port);
  if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("bind");
  if (::listen(l, 4) != 0) die("listen");
  return l;
}

// Linux's end of every transfer, the same for the stack and for veth: takes one connection and
// writes `bytes` to it then closes (a source), or reads it to its end then closes (a sink).
void kernel_peer(int listener, bool source, std::uint64_t bytes) {
  int c = ::accept(listener, nullptr, nullptr);
  if (c < 0) die("accept");
  std::vector<char> chunk(64 * 1024);
  if (source) {
    for (std::uint64_t sent = 0; sent < bytes;) {
      ssize_t n = ::write(c, chunk.data(), std::min<std::uint64_t>(chunk.size(), bytes - sent));
      if (n <= 0) die("write");
      sent += static_cast<std::uint64_t>(n);
    }
  } else {
    while (::read(c, chunk.data(), chunk.size()) > 0) {
    }
  }
  ::close(c);
}

// The connecting end over the kernel's TCP: reads to the end (Linux sends) or writes `bytes`,
// shuts its writing half and waits for the peer's close. Seconds from connect to the end.
double kernel_client(const char* ip, std::uint16_t port, bool writer, std::uint64_t bytes) {
  const auto start = wall::now();
  int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  auto a = socket_address(ip, port);
  if (::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("connect");
  std::vector<char> chunk(64 * 1024);
  std::uint64_t moved = 0;
  if (writer) {
    while (moved < bytes) {
      ssize_t n = ::write(c, chunk.data(), std::min<std::uint64_t>(chunk.size(), bytes - moved));
      if (n <= 0) die("write");
      moved += static_cast<std::uint64_t>(n);
    }
    ::shutdown(c, SHUT_WR);
  }
  for (ssize_t n; (n = ::read(c, chunk.data(), chunk.size())) > 0;)
    moved += writer ? 0 : static_cast<std::uint64_t>(n);
  ::close(c);
  if (moved < bytes) std::fprintf(stderr, "short transfer: %llu\n", (unsigned long long)moved);
  return std::chrono::duration<double>(wall::now() - start).count();
}

// The same over the stack.
asio::awaitable<double> stack_client(net::stack& stack, net::tcp_endpoint where, bool writer,
                                     std::uint64_t bytes) {
  const auto start = wall::now();
  auto f = co_await stack.connect(where, {.timeout = std::chrono::seconds(5)});
  if (!f) {
    std::fprintf(stderr, "connect: %s\n", f.error().message().c_str());
    std::exit(1);
  }
  std::uint64_t moved = 0;
  if (writer) {
    buffer chunk = buffer::create(64 * 1024);
    for (; moved < bytes; moved += chunk.size()) {
      auto w = co_await f->write(chunk);
      if (!w) {
        std::fprintf(stderr, "write: %s\n", w.error().message().c_str());
        std::exit(1);
      }
    }
    co_await f->shutdown(shutdown_mode::write);
  }
  for (;;) {
    auto r = co_await f->read();
    if (!r || r->is_eof()) break;
    if (!writer) moved += r->data().size();
  }
  const double seconds = std::chrono::duration<double>(wall::now() - start).count();
  co_await f->close();
  if (moved < bytes) std::fprintf(stderr, "short transfer: %llu\n", (unsigned long long)moved);
  co_return seconds;
}

// One transfer between the stack on a TAP device in `ns` (10.213.20.2) and Linux there
// (10.213.20.1): `to_stack` says which way. Gbit/s.
double tap_once(const netns& ns, bool to_stack, std::uint64_t bytes, bool offloads) {
  int l = listening_socket(5301);
  std::thread peer;
  double seconds = run_once([&](asio::any_io_executor ex) -> asio::awaitable<double> {
    auto dev = stack::open_tap(ex, {.name = "fsb0",
                                    .address = stack::mac_address{{2, 0, 0, 0, 0x20, 2}},
                                    .offloads = offloads});
    if (!dev) {
      std::fprintf(stderr, "open_tap: %s\n", dev.error().message().c_str());
      std::exit(1);
    }
    if (!ns.ip("link set fsb0 up") || !ns.ip("addr add 10.213.20.1/24 dev fsb0")) std::exit(1);
    stack::direct_stack_config c;
    c.ipv4 = {asio::ip::make_address_v4("10.213.20.2"), 24, std::nullopt, 1500};
    c.tcp.settings.send_buffer = c.tcp.settings.receive_buffer = 1 << 20;
    auto net = std::make_unique<stack::direct_stack>(ex, std::move(*dev), c);
    peer = std::thread(kernel_peer, l, to_stack, bytes);
    double t = co_await stack_client(*net, {asio::ip::make_address_v4("10.213.20.1"), 5301},
                                     !to_stack, bytes);
    co_return t;
  });
  peer.join();
  ::close(l);
  return bytes * 8 / seconds / 1e9;
}

// One transfer between Linux in `a` (10.213.21.1) and Linux in `b` (10.213.21.2) over veth, with
// the same peer as tap_once in `a`. Gbit/s.
double veth_once(const netns& b, bool to_b, std::uint64_t bytes) {
  int l = listening_socket(5302);
  std::thread peer(kernel_peer, l, to_b, bytes);
  double seconds = 0;
  std::thread client([&] {
    if (!b.enter()) die("setns");
    seconds = kernel_client("10.213.21.1", 5302, !to_b, bytes);
  });
  client.join();
  peer.join();
  ::close(l);
  return bytes * 8 / seconds / 1e9;
}

// iperf3 over the veth pair: `iperf3 -c` in `b`, `-R` for the other way. Gbit/s received.
double iperf3_once(const netns& a, const netns& b, bool reverse, std::uint64_t bytes) {
  const std::string server = "ip netns exec " + a.name + " timeout 60 iperf3 -s -1 -p 5303 -D";
  if (!netns::shell(server)) return 0;
  std::string command =
      "ip netns exec " + b.name +
      " timeout 60 sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do iperf3 -c 10.213.21.1 -p 5303 -J -n " +
      std::to_string(bytes) + (reverse ? " -R" : "") + " && break; sleep 0.1; done' 2>/dev/null";
  std::string out;
  if (std::FILE* p = ::popen(command.c_str(), "r")) {
    char chunk[4096];
    while (std::size_t n = std::fread(chunk, 1, sizeof chunk, p)) out.append(chunk, n);
    ::pclose(p);
  }
  auto at = out.find("\"sum_received\"");
  if (at == std::string::npos) return 0;
  at = out.find("\"bits_per_second\":", at);
  if (at == std::string::npos) return 0;
  return std::atof(out.c_str() + at + 18) / 1e9;
}

int tap(settings s) {
  if (!s.bytes_given) s.bytes = 256ull << 20;
  netns ns("tap"), a("veth-a"), b("veth-b");
  if (!ns.ok || !a.ok || !b.ok) return 1;
  if (!netns::shell("ip link add fsb-a netns " + a.name + " type veth peer name fsb-b netns " +
                    b.name) ||
      !a.ip("addr add 10.213.21.1/24 dev fsb-a") || !a.ip("link set fsb-a up") ||
      !b.ip("addr add 10.213.21.2/24 dev fsb-b") || !b.ip("link set fsb-b up"))
    return 1;
  std::vector<double> tap_in, tap_out, veth_in, veth_out, iperf_in, iperf_out;
  for (int i = 0; i < s.runs; ++i) {
    if (!ns.enter()) die("setns");
    tap_in.push_back(tap_once(ns, true, s.bytes, s.offloads));
    tap_out.push_back(tap_once(ns, false, s.bytes, s.offloads));
    if (!a.enter()) die("setns");
    veth_in.push_back(veth_once(b, true, s.bytes));
    veth_out.push_back(veth_once(b, false, s.bytes));
    iperf_in.push_back(iperf3_once(a, b, true, s.bytes));
    iperf_out.push_back(iperf3_once(a, b, false, s.bytes));
  }
  const double ti = median(tap_in), to = median(tap_out), vi = median(veth_in),
               vo = median(veth_out);
  std::printf("stack on a TAP device vs Linux over veth, one flow, %llu MiB, median of %d runs\n",
              (unsigned long long)(s.bytes >> 20), s.runs);
  std::printf("  Linux -> stack over TAP                %7.2f Gbit/s\n", ti);
  std::printf("  Linux -> Linux over veth               %7.2f Gbit/s   (iperf3 %.2f)\n", vi,
              median(iperf_in));
  std::printf("  ratio TAP/veth, towards the stack: %.2fx\n", ti / vi);
  std::printf("  stack -> Linux over TAP                %7.2f Gbit/s\n", to);
  std::printf("  Linux -> Linux over veth               %7.2f Gbit/s   (iperf3 %.2f)\n", vo,
              median(iperf_out));
  std::printf("  ratio TAP/veth, from the stack: %.2fx\n", to / vo);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: flowstack_stack_bench throughput|memory|tap [options]\n");
    return 2;
  }
  settings s;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string o = argv[i];
    if (o == "--bytes") {
      s.bytes = parse_size(argv[i + 1]);
      s.bytes_given = true;
    } else if (o == "--loss")
      s.loss = std::atof(argv[i + 1]);
    else if (o == "--delay")
      s.delay_ms = std::atof(argv[i + 1]);
    else if (o == "--offloads")
      s.offloads = std::atoi(argv[i + 1]) != 0;
    else if (o == "--runs")
      s.runs = std::atoi(argv[i + 1]);
    else if (o == "--write")
      s.write_size = parse_size(argv[i + 1]);
    else if (o == "--connections")
      s.connections = parse_size(argv[i + 1]);
    else if (o == "--mtu")
      s.mtu = parse_size(argv[i + 1]);
    else {
      std::fprintf(stderr, "flowstack_stack_bench: unknown option %s\n", o.c_str());
      return 2;
    }
  }
  std::string what = argv[1];
  if (what == "throughput") return throughput(s);
  if (what == "memory") return memory(s);
  if (what == "tap") return tap(s);
  std::fprintf(stderr, "flowstack_stack_bench: unknown benchmark %s\n", what.c_str());
  return 2;
}
