// vchan with its two ends in two processes: the test forks a child that runs one end on an
// io_context of its own and reports through its exit status.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstring>
#include <flowstack/core/combinators.hpp>
#include <flowstack/vchan/ring.hpp>
#include <flowstack/vchan/vchan.hpp>
#include <random>
#include <string>

#include "conformance/vchan_kinds.hpp"
#include "support/run.hpp"
#include "vchan/leaks.hpp"

namespace flowstack::vchan {
namespace {

using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
using test::vchan_runtime_dir;

// Runs `body(executor)` to completion in a child process; its int result is the exit status.
//
// A test starts the child once the child's peer is there (the parent's vchan entry is bound, or
// the listening socket the child serves on is made and inherited as `keep`), so the child never
// waits for it. The child closes every other descriptor it inherited: it must hold none of the
// test process's (its listener, its sockets, its io_context's epoll instance) open.
template <typename Body>
pid_t spawn_child(Body body, int keep = -1) {
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  for (int fd = 3; fd < 1024; ++fd) {
    if (fd != keep) ::close(fd);
  }
  int code = 90;
  {
    asio::io_context io;
    bool done = false;
    auto finished = [&code, &done](std::exception_ptr e, int c) {
      code = e ? 91 : c;
      done = true;
    };
    asio::co_spawn(io, body(io.get_executor()), finished);
    io.run_for(20s);
    if (!done) code = 92;
  }
  ::_exit(code);
}

// The child's exit status, or 128 + the signal that ended it.
int wait_for_child(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

port unique_port() {
  static int counter = 0;
  return port("proc" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
}

// Child: echoes everything back until eof, then shuts down and closes.
asio::awaitable<int> echo_child(asio::any_io_executor ex, options opts, port p) {
  auto c = co_await client(ex, 0, p, opts);
  if (!c) co_return 1;
  for (;;) {
    auto r = co_await c->read();
    if (!r) co_return 2;
    if (r->is_eof()) break;
    auto w = co_await c->write(std::move(*r).data());
    if (!w) co_return 3;
  }
  co_await c->shutdown(shutdown_mode::write);
  co_await c->close();
  co_return 0;
}

buffer pattern(std::size_t size, unsigned seed) {
  auto data = buffer::create(size);
  std::mt19937 random(seed);
  for (auto& b : data.bytes()) b = static_cast<std::byte>(random());
  return data;
}

std::chrono::microseconds random_pause(std::mt19937& random, bool sleepy) {
  if (!sleepy || random() % 4 != 0) return 0us;
  return std::chrono::microseconds(random() % 1500);
}

// Writes `data` in chunks of random size (with random pauses when `sleepy`), then shuts down.
asio::awaitable<write_result> write_in_chunks(flow& f, buffer data, unsigned seed, bool sleepy) {
  std::mt19937 random(seed);
  while (!data.empty()) {
    auto size = std::min<std::size_t>(data.size(), 1 + random() % 20000);
    auto [chunk, rest] = data.split(size);
    auto w = co_await f.write(chunk);
    if (!w) co_return w;
    data = rest;
    auto pause = random_pause(random, sleepy);
    if (pause > 0us) {
      asio::steady_timer t(f.get_executor(), pause);
      co_await t.async_wait(asio::use_awaitable);
    }
  }
  co_await f.shutdown(shutdown_mode::write);
  co_return write_result{};
}

// Reads to eof (with random pauses when `sleepy`); the bytes, or an error message.
asio::awaitable<std::string> read_to_eof(flow& f, unsigned seed, bool sleepy) {
  std::mt19937 random(seed);
  std::string got;
  for (;;) {
    auto r = co_await f.read();
    if (!r) co_return "<error: " + r.error().message() + ">";
    if (r->is_eof()) co_return got;
    got += r->data().as_string_view();
    auto pause = random_pause(random, sleepy);
    if (pause > 0us) {
      asio::steady_timer t(f.get_executor(), pause);
      co_await t.async_wait(asio::use_awaitable);
    }
  }
}

struct ring_sizes {
  std::size_t server_read;
  std::size_t server_write;
  const char* name;
};

class vchan_two_processes : public ::testing::TestWithParam<ring_sizes> {};

TEST_P(vchan_two_processes, echo_through_a_child_arrives_byte_exact) {
  vchan_runtime_dir dir;
  auto opts = dir.options();
  auto p = unique_port();
  auto before = test::resources();
  pid_t child = -1;
  auto sizes = GetParam();
  std::size_t largest = std::max(sizes.server_read, sizes.server_write);
  std::size_t total =
      std::min<std::size_t>(std::max<std::size_t>(200 * 1024, 2 * largest + 17), 3 << 20);
  auto sent = pattern(total, 3);
  test::run([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto offered = server(ex, 0, p, sizes.server_read, sizes.server_write, opts);
    child = spawn_child([opts, p](asio::any_io_executor ex) { return echo_child(ex, opts, p); });
    auto s = co_await std::move(offered);
    EXPECT_TRUE(s);
    if (!s) co_return;
    auto [w, got] = co_await (write_in_chunks(*s, sent, 5, false) && read_to_eof(*s, 6, false));
    EXPECT_TRUE(w);
    EXPECT_TRUE(got == sent.to_string()) << "received " << got.size() << " of " << total;
    co_await s->close();
  });
  EXPECT_EQ(wait_for_child(child), 0);
  EXPECT_EQ(test::resources(), before);
  EXPECT_EQ(test::entries_in(dir.path()), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    ring_size_matrix, vchan_two_processes,
    ::testing::Values(ring_sizes{1024, 2048, "in_page_1k_2k"},
                      ring_sizes{2048, 1024, "in_page_2k_1k"}, ring_sizes{1024, 1024, "both_1k"},
                      ring_sizes{4096, 4096, "pages_4k"}, ring_sizes{65536, 65536, "both_64k"},
                      ring_sizes{1 << 20, 1 << 20, "both_1m"},
                      ring_sizes{1024, 1 << 20, "mixed_1k_1m"},
                      ring_sizes{1023, 65535, "one_below_powers_of_two"}),
    [](const ::testing::TestParamInfo<ring_sizes>& info) { return std::string(info.param.name); });

// Child: writes `size` pattern bytes in random chunks with random pauses over small rings.
asio::awaitable<int> sleepy_writer_child(asio::any_io_executor ex, options opts, port p) {
  auto c = co_await client(ex, 0, p, opts);
  if (!c) co_return 1;
  auto w = co_await write_in_chunks(*c, pattern(256 * 1024, 9), 10, true);
  if (!w) co_return 2;
  auto end = co_await c->read();  // the parent's eof: it has read everything
  if (!end || !end->is_eof()) co_return 3;
  co_await c->close();
  co_return 0;
}

TEST(vchan_two_processes_timing, random_pauses_on_both_sides_lose_and_change_no_byte) {
  vchan_runtime_dir dir;
  auto opts = dir.options();
  auto p = unique_port();
  pid_t child = -1;
  test::run([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto offered = server(ex, 0, p, 2048, 1024, opts);
    child = spawn_child(
        [opts, p](asio::any_io_executor ex) { return sleepy_writer_child(ex, opts, p); });
    auto s = co_await std::move(offered);
    EXPECT_TRUE(s);
    if (!s) co_return;
    auto got = co_await read_to_eof(*s, 11, true);
    EXPECT_TRUE(got == pattern(256 * 1024, 9).to_string()) << "received " << got.size();
    co_await s->shutdown(shutdown_mode::write);
    co_await s->close();
  });
  EXPECT_EQ(wait_for_child(child), 0);
}

// Child: connects, writes a few bytes, then waits to be killed.
asio::awaitable<int> doomed_child(asio::any_io_executor ex, options opts, port p) {
  auto c = co_await client(ex, 0, p, opts);
  if (!c) co_return 1;
  auto w = co_await c->write(buffer::of_string("last words"));
  if (!w) co_return 2;
  asio::steady_timer forever(ex, 60s);
  co_await forever.async_wait(asio::use_awaitable);
  co_return 3;
}

TEST(vchan_two_processes_peer_loss, killed_peer_is_seen_as_eof_after_its_bytes) {
  vchan_runtime_dir dir;
  auto opts = dir.options();
  auto p = unique_port();
  auto before = test::resources();
  pid_t child = -1;
  test::run([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto offered = server(ex, 0, p, 4096, 4096, opts);
    child = spawn_child([opts, p](asio::any_io_executor ex) { return doomed_child(ex, opts, p); });
    auto s = co_await std::move(offered);
    EXPECT_TRUE(s);
    if (!s) co_return;
    auto first = co_await s->read();
    EXPECT_TRUE(first && !first->is_eof());
    ::kill(child, SIGKILL);
    // The killed child never cleared its live flag: only the rendezvous connection tells.
    auto end = co_await with_timeout(s->read(), 5s);
    EXPECT_TRUE(end && end->is_eof()) << (end ? "data" : end.error().message());
    auto late = co_await s->write(buffer::of_string("hello?"));
    EXPECT_EQ(late.error(), flow_errc::closed);
    co_await s->close();
  });
  EXPECT_EQ(wait_for_child(child), 128 + SIGKILL);
  EXPECT_EQ(test::resources(), before);
}

TEST(vchan_two_processes_peer_loss,
     writer_blocked_on_a_full_ring_fails_closed_when_peer_is_killed) {
  vchan_runtime_dir dir;
  auto opts = dir.options();
  auto p = unique_port();
  pid_t child = -1;
  test::run([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto offered = server(ex, 0, p, 4096, 4096, opts);
    child = spawn_child([opts, p](asio::any_io_executor ex) { return doomed_child(ex, opts, p); });
    auto s = co_await std::move(offered);
    EXPECT_TRUE(s);
    if (!s) co_return;
    auto first = co_await s->read();
    EXPECT_TRUE(first);
    ::kill(child, SIGKILL);
    auto w = co_await with_timeout(s->write(pattern(64 * 1024, 1)), 5s);
    EXPECT_EQ(w.error(), flow_errc::closed);
    co_await s->close();
  });
  EXPECT_EQ(wait_for_child(child), 128 + SIGKILL);
}

// What a hand-written hostile server does wrong; the defaults make an honest one.
struct misbehaviour {
  bool impossible_order = false;     // a header naming a ring order out of range
  bool unsealed = false;             // memory the client could be cut off from by ftruncate
  bool blocking_full_event = false;  // blocking eventfds, the one the client signals full
  bool never_send = false;           // takes the hello and never answers
};

// The rendezvous entry at `path`, taken by hand: a listening Unix socket, or -1.
int listen_at(const std::string& path) {
  int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strcpy(address.sun_path, path.c_str());
  if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listener, 1) != 0) {
    ::close(listener);
    return -1;
  }
  return listener;
}

// A hostile server on the entry `listener` (at `path`): it runs the rendezvous as `bad` says,
// then waits for the client to hang up.
int hostile_server(int listener, const std::string& path, misbehaviour bad) {
  if (listener < 0) return 1;
  int link = ::accept(listener, nullptr, nullptr);
  ::close(listener);
  ::unlink(path.c_str());
  if (link < 0) return 2;
  char hello[8];
  if (::read(link, hello, sizeof hello) != 8) return 3;
  char rest;
  if (bad.never_send) {
    while (::read(link, &rest, 1) > 0) {
    }
    return 0;
  }
  int memfd = ::memfd_create("hostile", MFD_ALLOW_SEALING);
  if (::ftruncate(memfd, 4096) != 0) return 4;
  if (!bad.unsealed && ::fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) != 0) return 6;
  auto* memory =
      static_cast<std::byte*>(::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0));
  init_header({memory, 4096}, *place_rings(10, 11));
  if (bad.impossible_order) {
    std::uint16_t impossible = 31;
    std::memcpy(memory + layout::right_order, &impossible, sizeof impossible);
  }
  int flags = bad.blocking_full_event ? 0 : EFD_NONBLOCK;
  int events[2] = {::eventfd(0, flags), ::eventfd(0, flags)};
  if (bad.blocking_full_event) {
    std::uint64_t almost_full = 0xfffffffffffffffe;  // one more signal would block
    if (::write(events[0], &almost_full, sizeof almost_full) != 8) return 7;
  }
  int fds[3] = {memfd, events[0], events[1]};
  msghdr message{};
  const char greeting[8] = {'F', 'S', 'V', 'C', 'H', 'A', 'N', '1'};
  iovec io{const_cast<char*>(greeting), sizeof greeting};
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof fds)] = {};
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof fds);
  std::memcpy(CMSG_DATA(header), fds, sizeof fds);
  if (::sendmsg(link, &message, 0) != 8) return 5;
  while (::read(link, &rest, 1) > 0) {
  }
  return 0;
}

asio::awaitable<int> hostile_child(asio::any_io_executor, int listener, std::string path,
                                   misbehaviour bad) {
  co_return hostile_server(listener, path, bad);
}

// A hostile server in a child process, serving on an entry made before the child starts (so a
// client may connect at once).
pid_t spawn_hostile_server(const std::string& path, misbehaviour bad) {
  int listener = listen_at(path);
  pid_t child =
      spawn_child([listener, path, bad](
                      asio::any_io_executor ex) { return hostile_child(ex, listener, path, bad); },
                  listener);
  if (listener >= 0) ::close(listener);  // the child's now
  return child;
}

// Connects to a hostile server in a child process; the client's result.
result<flow> attach_to_hostile(misbehaviour bad, options opts, int& child_status) {
  auto p = unique_port();
  std::string path = entry_path(opts.runtime_dir, 0, p);
  pid_t child = spawn_hostile_server(path, bad);
  auto r = test::run([&](asio::any_io_executor ex) -> asio::awaitable<result<flow>> {
    auto c = co_await client(ex, 0, p, opts);
    if (c) co_await c->close();
    co_return c;
  });
  child_status = wait_for_child(child);
  return r;
}

TEST(vchan_two_processes_hostile, client_refuses_memory_not_sealed_against_shrinking) {
  vchan_runtime_dir dir;
  auto before = test::resources();
  int status = -1;
  misbehaviour bad;
  bad.unsealed = true;
  auto r = attach_to_hostile(bad, dir.options(), status);
  EXPECT_EQ(r.error(), vchan_errc::memory_not_sealed);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(test::resources(), before) << "the refused descriptors are released";
}

TEST(vchan_two_processes_hostile, client_does_not_block_on_a_blocking_eventfd_with_a_full_counter) {
  vchan_runtime_dir dir;
  auto opts = dir.options();
  auto p = unique_port();
  std::string path = entry_path(opts.runtime_dir, 0, p);
  misbehaviour bad;
  bad.blocking_full_event = true;
  // The client runs in the child, so that a write(2) that blocks cannot hang the test: the
  // alarm ends it, and its status says so. The entry is there before it starts.
  int listener = listen_at(path);
  std::fflush(nullptr);
  pid_t child = ::fork();
  if (child == 0) {
    ::close(listener);
    ::alarm(5);
    asio::io_context io;
    int code = 90;
    auto body = [](asio::any_io_executor ex, options o, port q) -> asio::awaitable<int> {
      auto c = co_await client(ex, 0, q, o);
      if (!c) co_return 1;
      auto w = co_await c->write(buffer::of_string("signal"));
      co_await c->close();
      co_return w ? 0 : 2;
    };
    auto finished = [&code](std::exception_ptr e, int c) { code = e ? 91 : c; };
    asio::co_spawn(io, body(io.get_executor(), opts, p), finished);
    io.run_for(5s);
    ::_exit(code);
  }
  EXPECT_EQ(hostile_server(listener, path, bad), 0);
  EXPECT_EQ(wait_for_child(child), 0) << "128 + SIGALRM (142) means the client blocked";
}

TEST(vchan_two_processes_hostile, client_gives_up_on_a_server_that_never_sends_descriptors) {
  vchan_runtime_dir dir;
  auto opts = dir.options();
  opts.rendezvous_timeout = 100ms;
  int status = -1;
  misbehaviour bad;
  bad.never_send = true;
  auto started = std::chrono::steady_clock::now();
  auto r = attach_to_hostile(bad, opts, status);
  EXPECT_EQ(r.error(), flow_errc::timeout);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
  EXPECT_EQ(status, 0);
}

// A hostile client in a child: it takes the server's descriptors and tries to shrink the
// shared memory under the server's mapping. Exit 0 when the kernel refuses.
int shrinking_client(const std::string& path) {
  int link = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strcpy(address.sun_path, path.c_str());
  if (::connect(link, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) return 1;
  const char hello[8] = {'F', 'S', 'V', 'C', 'H', 'E', 'L', 'O'};
  if (::write(link, hello, sizeof hello) != 8) return 2;
  char text[8];
  iovec io{text, sizeof text};
  msghdr message{};
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 3)] = {};
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  if (::recvmsg(link, &message, 0) != 8) return 3;
  int fds[3];
  std::memcpy(fds, CMSG_DATA(CMSG_FIRSTHDR(&message)), sizeof fds);
  bool refused = ::ftruncate(fds[0], 0) != 0 && errno == EPERM;
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(fds[1], &one, sizeof one);  // make the server look
  return refused ? 0 : 4;
}

asio::awaitable<int> shrinking_child(asio::any_io_executor, std::string path) {
  co_return shrinking_client(path);
}

TEST(vchan_two_processes_hostile, server_memory_is_sealed_so_a_client_cannot_shrink_it) {
  vchan_runtime_dir dir;
  auto opts = dir.options();
  auto p = unique_port();
  std::string path = entry_path(opts.runtime_dir, 0, p);
  pid_t child = -1;
  test::run([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto offered = server(ex, 0, p, 4096, 4096, opts);
    child = spawn_child([path](asio::any_io_executor ex) { return shrinking_child(ex, path); });
    auto s = co_await with_timeout(std::move(offered), 5s);
    EXPECT_TRUE(s);
    if (!s) co_return;
    auto r = co_await with_timeout(s->read(), 5s);  // the client exits: eof, no SIGBUS
    EXPECT_TRUE(r && r->is_eof());
    co_await s->close();
  });
  EXPECT_EQ(wait_for_child(child), 0) << "4 means ftruncate on the shared memory succeeded";
}

TEST(vchan_two_processes_hostile, client_refuses_a_header_with_impossible_orders_as_corrupt) {
  vchan_runtime_dir dir;
  auto p = unique_port();
  std::string path = entry_path(dir.path(), 0, p);
  auto before = test::resources();
  misbehaviour bad;
  bad.impossible_order = true;
  pid_t child = spawn_hostile_server(path, bad);
  auto opts = dir.options();
  auto r = test::run([&](asio::any_io_executor ex) -> asio::awaitable<result<flow>> {
    co_return co_await client(ex, 0, p, opts);
  });
  EXPECT_EQ(r.error(), vchan_errc::corrupt);
  EXPECT_EQ(wait_for_child(child), 0);
  EXPECT_EQ(test::resources(), before) << "the refused descriptors and mapping are released";
}

}  // namespace
}  // namespace flowstack::vchan
