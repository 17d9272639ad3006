// Ping-pong of small messages over loopback TCP: flowstack flows vs plain blocking sockets, both
// with TCP_NODELAY, client and echo server on two threads. Every round trip is timed; a run
// reports its median and p99, and the table gives the median of those over the runs.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <flowstack/core/combinators.hpp>
#include <functional>
#include <thread>
#include <vector>

#include "benchmarks.hpp"
#include "flowstack_side.hpp"

namespace flowstack::bench {
namespace {

constexpr auto run_limit = std::chrono::seconds(60);
constexpr int warm_up = 500;

struct latencies {
  double median_us = 0;
  double p99_us = 0;
};

latencies summarize(const std::vector<double>& round_trips_us) {
  return {median(round_trips_us), percentile(round_trips_us, 99)};
}

asio::awaitable<void> echo(flow& f) {
  for (;;) {
    auto got = co_await f.read();
    if (!got || got->is_eof()) break;
    auto w = co_await f.write(std::move(*got).data());
    if (!w) break;
  }
}

struct pinged {
  std::vector<double> round_trips_us;
  std::error_code error;
};

asio::awaitable<pinged> ping(asio::any_io_executor, std::uint16_t port, std::size_t size,
                             int count) {
  pinged out;
  net::connect_options options;
  options.nodelay = true;
  auto connected = co_await socket::connect(loopback_endpoint(port), options);
  if (!connected) {
    out.error = connected.error();
    co_return out;
  }
  flow f = std::move(*connected);
  auto message = buffer::create(size);
  out.round_trips_us.reserve(static_cast<std::size_t>(count));
  for (int i = -warm_up; i < count; ++i) {
    auto start = clock::now();
    auto w = co_await f.write(message);
    if (!w) {
      out.error = w.error();
      break;
    }
    auto back = co_await read_exactly(f, size);
    if (!back) {
      out.error = back.error();
      break;
    }
    auto took = std::chrono::duration<double, std::micro>(clock::now() - start).count();
    if (i >= 0) out.round_trips_us.push_back(took);
  }
  co_await f.shutdown(shutdown_mode::write);
  for (;;) {
    auto r = co_await f.read();
    if (!r || r->is_eof()) break;
  }
  co_await f.close();
  co_return out;
}

latencies flowstack_pingpong(std::size_t size, int count) {
  net::listen_options options;
  options.flow.nodelay = true;
  flowstack_server server([](flow& f) { return echo(f); }, options);
  auto p = run_client(
      [&](asio::any_io_executor ex) { return ping(ex, server.port(), size, count); }, run_limit);
  if (p.error) die("flowstack ping-pong: " + p.error.message());
  return summarize(p.round_trips_us);
}

latencies plain_pingpong(std::size_t size, int count) {
  auto l = plain_listen();
  std::thread server([&] {
    int fd = plain_accept(l.fd);
    if (fd < 0) return;
    set_nodelay(fd);
    set_io_timeout(fd, run_limit);
    std::vector<char> buf(size);
    while (recv_exact(fd, buf.data(), size) && send_all(fd, buf.data(), size)) {
    }
    ::close(fd);
  });
  int fd = plain_connect(l.port);
  if (fd < 0) die("plain ping-pong connect failed");
  set_nodelay(fd);
  set_io_timeout(fd, run_limit);
  std::vector<char> message(size, 'p'), back(size);
  std::vector<double> round_trips_us;
  round_trips_us.reserve(static_cast<std::size_t>(count));
  for (int i = -warm_up; i < count; ++i) {
    auto start = clock::now();
    if (!send_all(fd, message.data(), size) || !recv_exact(fd, back.data(), size)) {
      die("plain ping-pong failed");
    }
    auto took = std::chrono::duration<double, std::micro>(clock::now() - start).count();
    if (i >= 0) round_trips_us.push_back(took);
  }
  ::shutdown(fd, SHUT_WR);
  recv_until_eof(fd);
  ::close(fd);
  server.join();
  ::close(l.fd);
  return summarize(round_trips_us);
}

void print_runs(const std::vector<double>& medians) {
  std::printf("  ");
  for (double m : medians) std::printf(" %.1f", m);
  std::printf("\n");
}

}  // namespace

int run_pingpong(const pingpong_options& o) {
  std::vector<double> fs_median, fs_p99, plain_median, plain_p99;
  std::printf(
      "ping-pong: %zu-byte messages, loopback TCP, TCP_NODELAY, %d round trips per run, "
      "%d runs (median of per-run values)\n",
      o.message, o.round_trips, o.runs);
  std::fflush(stdout);
  auto wanted = [&](const char* name) { return o.only.empty() || o.only == name; };
  std::vector<std::function<void()>> contenders;
  if (wanted("flowstack")) {
    contenders.push_back([&] {
      auto l = flowstack_pingpong(o.message, o.round_trips);
      fs_median.push_back(l.median_us);
      fs_p99.push_back(l.p99_us);
    });
  }
  if (wanted("plain")) {
    contenders.push_back([&] {
      auto l = plain_pingpong(o.message, o.round_trips);
      plain_median.push_back(l.median_us);
      plain_p99.push_back(l.p99_us);
    });
  }
  for (int run = 0; run < o.runs; ++run) {
    for (std::size_t i = 0; i < contenders.size(); ++i) {
      contenders[(i + static_cast<std::size_t>(run)) % contenders.size()]();
    }
  }
  std::printf("  %-28s %10s %10s   medians of the runs\n", "round trip (us)", "median", "p99");
  if (!fs_median.empty()) {
    std::printf("  %-28s %10.1f %10.1f", "flowstack flows", median(fs_median), median(fs_p99));
    print_runs(fs_median);
  }
  if (!plain_median.empty()) {
    std::printf("  %-28s %10.1f %10.1f", "plain blocking sockets", median(plain_median),
                median(plain_p99));
    print_runs(plain_median);
  }
  if (!fs_median.empty() && !plain_median.empty()) {
    double r_median = median(fs_median) / median(plain_median);
    double r_p99 = median(fs_p99) / median(plain_p99);
    std::printf("  %-28s %10s %10s   target median <= 1.30x: %s\n", "flowstack / plain",
                format_ratio(r_median).c_str(), format_ratio(r_p99).c_str(),
                r_median <= 1.3 ? "met" : "MISSED");
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace flowstack::bench
