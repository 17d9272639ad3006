// vchan flow kinds for the conformance suite. The one-process kinds put both ends in this
// process, each with its own mapping of the shared memory, meeting through a fresh runtime
// directory. The two-process kind (vchan_two_processes_kind, below) puts every ring the test
// drives across a process boundary.
#pragma once

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <flowstack/core/combinators.hpp>
#include <flowstack/core/flow.hpp>
#include <flowstack/core/wait_queue.hpp>
#include <flowstack/vchan/vchan.hpp>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace flowstack::test {

// A fresh, private runtime directory for rendezvous entries, removed with this object.
class vchan_runtime_dir {
 public:
  vchan_runtime_dir() : path_("/tmp/flowstack-vchan-test-XXXXXX") {
    if (::mkdtemp(path_.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  }
  vchan_runtime_dir(const vchan_runtime_dir&) = delete;
  vchan_runtime_dir& operator=(const vchan_runtime_dir&) = delete;
  ~vchan_runtime_dir() { ::rmdir(path_.c_str()); }
  const std::string& path() const noexcept { return path_; }
  vchan::options options() const {
    vchan::options o;
    o.runtime_dir = path_;
    return o;
  }

 private:
  std::string path_;
};

struct vchan_server_slot {
  explicit vchan_server_slot(asio::any_io_executor ex) : arrived(std::move(ex)) {}
  std::optional<result<flow>> accepted;
  wait_queue arrived;
};

inline vchan::port next_vchan_port() {
  static int counter = 0;
  return vchan::port("p" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
}

// (client, server) connected through `dir`; the server reads rings of at least `server_read`
// bytes and writes rings of at least `server_write`.
inline asio::awaitable<std::pair<flow, flow>> vchan_pair(asio::any_io_executor ex, std::string dir,
                                                         std::size_t server_read,
                                                         std::size_t server_write) {
  vchan::options opts;
  opts.runtime_dir = dir;
  vchan::port p = next_vchan_port();
  auto slot = std::make_shared<vchan_server_slot>(ex);
  auto accepting = vchan::server(ex, 0, p, server_read, server_write, opts);
  auto done = [slot](std::exception_ptr, result<flow> r) {
    slot->accepted.emplace(std::move(r));
    slot->arrived.notify_all();
  };
  asio::co_spawn(ex, std::move(accepting), done);
  auto connected = co_await vchan::client(ex, 0, p, opts);
  if (!connected) throw std::runtime_error("vchan client: " + connected.error().message());
  while (!slot->accepted) co_await slot->arrived.wait();
  if (!*slot->accepted) {
    throw std::runtime_error("vchan server: " + slot->accepted->error().message());
  }
  co_return std::pair{std::move(*connected), std::move(**slot->accepted)};
}

// ---- two processes ----------------------------------------------------------------------------
//
// The test process serves two channels, `a` and `b`; a forked relay process is the client of
// both and copies each one's input to the other's output. So `a` and `b` are both real vchan
// flows the test drives directly, and each one's peer is a vchan end in another process: every
// byte crosses two rings and two process boundaries, every wake-up is an eventfd signal from the
// other process, and every peer event a cell looks at (shutdown, close, a reader gone) reaches
// the test's end through the relay's vchan end:
//   - eof from one side (its write side shut down or closed) becomes shutdown(write) on the
//     other, so the other reads everything, then eof;
//   - a write refused by one side (it closed, or shut down its read side) becomes
//     shutdown(read) on the other, whose writes then fail `closed`;
//   - once both directions have ended the relay closes both channels and exits; it also ends
//     when the test process dies (the rendezvous connection's eof).
// A cell about a peer's close sees, at the test's end, the relay's shutdown(write) and later
// its close; the one-process kinds check a direct close.

// The relay's half: copies `from` to `to` until eof, then passes the end of the data on.
inline asio::awaitable<void> relay_direction(flow& from, flow& to) {
  auto copied = co_await copy(from, to);
  if (copied) {
    co_await to.shutdown(shutdown_mode::write);
  } else if (copied.error().side == copy_side::destination) {
    co_await from.shutdown(shutdown_mode::read);
  } else {
    co_await to.abort();  // a cut stays a cut across the relay
  }
}

inline asio::awaitable<int> relay_both_ways(asio::any_io_executor ex, std::string dir,
                                            vchan::port to_a, vchan::port to_b) {
  using namespace asio::experimental::awaitable_operators;
  vchan::options opts;
  opts.runtime_dir = dir;
  auto a = co_await vchan::client(ex, 0, to_a, opts);
  if (!a) {
    std::fprintf(stderr, "vchan relay: client of a: %s\n", a.error().message().c_str());
    co_return 1;
  }
  auto b = co_await vchan::client(ex, 0, to_b, opts);
  if (!b) {
    std::fprintf(stderr, "vchan relay: client of b: %s\n", b.error().message().c_str());
    co_return 2;
  }
  co_await (relay_direction(*a, *b) && relay_direction(*b, *a));
  co_await a->close();
  co_await b->close();
  co_return 0;
}

// Starts the relay in a grandchild (the middle process exits at once, so nothing is left for
// this process to reap). The relay closes what it inherited first: it must hold no descriptor
// of the test process (sockets, eventfds, the io_context's epoll instance) open.
inline void start_vchan_relay(const std::string& dir, const vchan::port& to_a,
                              const vchan::port& to_b) {
  std::fflush(nullptr);
  pid_t middle = ::fork();
  if (middle < 0) throw std::runtime_error("fork failed");
  if (middle == 0) {
    if (::fork() != 0) ::_exit(0);
    for (int fd = 3; fd < 1024; ++fd) ::close(fd);
    int code = 3;
    {
      asio::io_context io;
      auto finished = [&code](std::exception_ptr e, int c) { code = e ? 4 : c; };
      asio::co_spawn(io, relay_both_ways(io.get_executor(), dir, to_a, to_b), finished);
      // A bound, in case the test process neither closes nor dies.
      io.run_for(std::chrono::seconds(120));
    }
    ::_exit(code);
  }
  int status = 0;
  ::waitpid(middle, &status, 0);
}

// (a, b): the servers of two channels whose client is one relay process.
inline asio::awaitable<std::pair<flow, flow>> vchan_pair_through_relay(asio::any_io_executor ex,
                                                                       std::string dir,
                                                                       std::size_t ring_size) {
  vchan::options opts;
  opts.runtime_dir = dir;
  vchan::port pa = next_vchan_port();
  vchan::port pb = next_vchan_port();
  // Both entries exist before the relay starts, so it never has to retry.
  auto offer_a = vchan::server(ex, 0, pa, ring_size, ring_size, opts);
  auto offer_b = vchan::server(ex, 0, pb, ring_size, ring_size, opts);
  start_vchan_relay(dir, pa, pb);
  auto a = co_await with_timeout(std::move(offer_a), std::chrono::seconds(10));
  if (!a) throw std::runtime_error("vchan server a: " + a.error().message());
  auto b = co_await with_timeout(std::move(offer_b), std::chrono::seconds(10));
  if (!b) throw std::runtime_error("vchan server b: " + b.error().message());
  co_return std::pair{std::move(*a), std::move(*b)};
}

}  // namespace flowstack::test

namespace flowstack::conformance {

struct vchan_kind {
  static constexpr const char* name = "vchan";
  static asio::awaitable<std::pair<flow, flow>> make_pair(asio::any_io_executor ex) {
    test::vchan_runtime_dir dir;
    co_return co_await test::vchan_pair(ex, dir.path(), vchan::default_ring_size,
                                        vchan::default_ring_size);
  }
};

// Rings of different sizes each way: 64 KiB and 1 MiB.
struct vchan_mixed_rings_kind {
  static constexpr const char* name = "vchan_mixed_rings";
  static asio::awaitable<std::pair<flow, flow>> make_pair(asio::any_io_executor ex) {
    test::vchan_runtime_dir dir;
    co_return co_await test::vchan_pair(ex, dir.path(), 64 * 1024, 1024 * 1024);
  }
};

// Xen's in-page rings, 1 KiB one way and 2 KiB the other, both in the header's page. No cell
// may need the flow to buffer more than 1 KiB before the peer reads (a cell that writes a large
// buffer reads it at the same time); bulk moves in 1 KiB steps, so it moves less.
struct vchan_in_page_rings_kind {
  static constexpr const char* name = "vchan_in_page_rings";
  static constexpr std::size_t bulk_bytes = 8 << 20;
  static asio::awaitable<std::pair<flow, flow>> make_pair(asio::any_io_executor ex) {
    test::vchan_runtime_dir dir;
    co_return co_await test::vchan_pair(ex, dir.path(), 1024, 2048);
  }
};

// a and b in this process, each the server of a channel whose client is a relay process that
// copies between the two (see vchan_pair_through_relay).
struct vchan_two_processes_kind {
  static constexpr const char* name = "vchan_two_processes";
  static constexpr std::size_t bulk_bytes = 16 << 20;
  static asio::awaitable<std::pair<flow, flow>> make_pair(asio::any_io_executor ex) {
    test::vchan_runtime_dir dir;
    co_return co_await test::vchan_pair_through_relay(ex, dir.path(), vchan::default_ring_size);
  }
};

}  // namespace flowstack::conformance
