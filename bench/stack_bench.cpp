// flowstack_stack_bench: the userspace stack side by side with the kernel's, in one run, through
// the same code: a transfer written once against net::stack runs on two direct stacks over the
// in-memory switch, and on the kernel's loopback TCP (socket::stack).
//
//   flowstack_stack_bench throughput [--bytes 1G] [--runs 5] [--write 64K] [--mtu 1500]
//       one flow, one way: Gbit/s of each contender (median of the runs) and their ratio
//   flowstack_stack_bench memory [--connections 10000]
//       idle connections between two direct stacks: resident memory per connection end
#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <flowstack/core/wait_queue.hpp>
#include <flowstack/socket/stack.hpp>
#include <flowstack/stack/direct_stack.hpp>
#include <flowstack/stack/memory_switch.hpp>
#include <fstream>
#include <memory>
#include <string>
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
  direct_pair(asio::any_io_executor ex, std::size_t buffers, std::size_t mtu)
      : net(ex, clock::steady()), a(make(ex, 1, buffers, mtu)), b(make(ex, 2, buffers, mtu)) {}

  std::unique_ptr<stack::direct_stack> make(asio::any_io_executor ex, std::uint8_t n,
                                            std::size_t buffers, std::size_t mtu) {
    stack::direct_stack_config c;
    c.ipv4.address = asio::ip::address_v4({10, 0, 0, n});
    c.ipv4.mtu = mtu;
    c.tcp.settings.mss = static_cast<std::uint16_t>(std::min<std::size_t>(mtu - 40, 65495));
    stack::link_faults link;
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
  std::vector<double> direct, kernel;
  for (int i = 0; i < s.runs; ++i) {
    direct.push_back(run_once([&](asio::any_io_executor ex) -> asio::awaitable<double> {
      direct_pair p(ex, 1 << 20, s.mtu);
      double t = co_await transfer(*p.b, *p.a, {asio::ip::address_v4({10, 0, 0, 1}), 5001}, s);
      co_return s.bytes * 8 / t / 1e9;
    }));
    kernel.push_back(run_once([&](asio::any_io_executor ex) -> asio::awaitable<double> {
      socket::stack k(ex);
      double t = co_await transfer(k, k, {asio::ip::address_v4::loopback(), 0}, s);
      co_return s.bytes * 8 / t / 1e9;
    }));
  }
  const double d = median(direct), k = median(kernel);
  std::printf(
      "stack throughput, one flow, %llu MiB in %zu KiB writes, MTU %zu, median of %d runs\n",
      (unsigned long long)(s.bytes >> 20), s.write_size >> 10, s.mtu, s.runs);
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

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: flowstack_stack_bench throughput|memory [options]\n");
    return 2;
  }
  settings s;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string o = argv[i];
    if (o == "--bytes")
      s.bytes = parse_size(argv[i + 1]);
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
  std::fprintf(stderr, "flowstack_stack_bench: unknown benchmark %s\n", what.c_str());
  return 2;
}
