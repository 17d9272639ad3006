// vchan flow kinds for the conformance suite: both ends in this process, each with its own
// mapping of the shared memory, meeting through a fresh runtime directory.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
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

// Rings of different sizes each way, 64 KiB (the least the suite's tests assume a flow buffers
// before its peer reads) and 1 MiB. The in-page 1 KiB and 2 KiB rings are covered by
// tests/vchan.
struct vchan_mixed_rings_kind {
  static constexpr const char* name = "vchan_mixed_rings";
  static asio::awaitable<std::pair<flow, flow>> make_pair(asio::any_io_executor ex) {
    test::vchan_runtime_dir dir;
    co_return co_await test::vchan_pair(ex, dir.path(), 64 * 1024, 1024 * 1024);
  }
};

}  // namespace flowstack::conformance
