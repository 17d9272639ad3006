#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <asio/experimental/awaitable_operators.hpp>
#include <chrono>
#include <cstring>
#include <flowstack/core/combinators.hpp>
#include <flowstack/vchan/ring.hpp>
#include <flowstack/vchan/vchan.hpp>
#include <fstream>
#include <string>

#include "conformance/vchan_kinds.hpp"
#include "support/async.hpp"
#include "support/run.hpp"
#include "support/virtual_time.hpp"
#include "vchan/leaks.hpp"

namespace flowstack::vchan {
namespace {

using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
using test::vchan_pair;
using test::vchan_runtime_dir;

asio::awaitable<std::string> read_string(flow& f, std::size_t size) {
  std::string got;
  while (got.size() < size) {
    auto r = co_await f.read();
    if (!r || r->is_eof()) break;
    got += r->data().to_string();
  }
  co_return got;
}

// Writes once the operations started beside it have run until they wait (a read on an empty
// ring waits for this write).
asio::awaitable<write_result> write_later(flow& f, std::string text) {
  co_await test::yield(3);
  co_return co_await f.write(buffer::of_string(text));
}

// Writes an impossible order for the left ring, tries to write (which fails corrupt), then
// closes, which signals the waiting reader so that it looks at the header again. It starts once
// the read beside it waits.
asio::awaitable<write_result> scribble_then_write(flow& client_end) {
  co_await test::yield(3);
  auto memory = client_end.as<vchan_flow>()->shared_memory();
  std::uint16_t bad_order = 40;
  std::memcpy(memory.data() + layout::left_order, &bad_order, sizeof bad_order);
  auto w = co_await client_end.write(buffer::of_string("x"));
  co_await client_end.close();
  co_return w;
}

TEST(vchan_port, accepts_letters_digits_underscore_and_dash) {
  EXPECT_TRUE(port::parse("web_1-A"));
  EXPECT_EQ(port("data").name(), "data");
}

TEST(vchan_port, bad_name_error_names_the_rule_and_the_name) {
  EXPECT_EQ(port::parse("a b").error().code, vchan_errc::invalid_port);
  EXPECT_EQ(port::parse("").error().code, vchan_errc::invalid_port);
  try {
    port bad("we/b");
    FAIL() << "accepted " << bad.name();
  } catch (const std::invalid_argument& e) {
    std::string message = e.what();
    EXPECT_NE(message.find("[a-zA-Z0-9_-]+"), std::string::npos) << message;
    EXPECT_NE(message.find("\"we/b\""), std::string::npos) << message;
  }
}

TEST(vchan_port, bad_name_error_escapes_control_characters) {
  auto bad = port::parse("a\x1b[2J\n");
  ASSERT_FALSE(bad);
  const std::string& message = bad.error().detail;
  EXPECT_EQ(message.find('\x1b'), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_NE(message.find("a\\x1b[2J\\x0a"), std::string::npos) << message;
}

TEST(vchan_rendezvous, offer_reports_listen_time_errors_before_any_client_comes) {
  vchan_runtime_dir dir;
  manual_clock time;
  test::run_virtual(time, [&dir, &time](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto opts = dir.options();
    auto first = offer(ex, 0, port("taken"), 4096, 4096, opts);
    EXPECT_TRUE(first);
    EXPECT_EQ(offer(ex, 0, port("taken"), 4096, 4096, opts).error(), vchan_errc::port_in_use);
    EXPECT_EQ(offer(ex, 0, port("huge"), std::size_t{1} << 40, 4096, opts).error(),
              vchan_errc::invalid_ring_size);
    std::string file = dir.path() + "/file";
    { std::ofstream(file) << "x"; }
    options in_a_file;
    in_a_file.runtime_dir = file;
    EXPECT_EQ(offer(ex, 0, port("f"), 4096, 4096, in_a_file).error(),
              vchan_errc::runtime_dir_not_a_directory);
    ::unlink(file.c_str());
    options too_long;
    too_long.runtime_dir = dir.path() + "/" + std::string(120, 'd');
    EXPECT_EQ(offer(ex, 0, port("f"), 4096, 4096, too_long).error(), vchan_errc::path_too_long);
    if (first) {
      auto gave_up = co_await with_timeout(std::move(*first), 10ms, time);
      EXPECT_EQ(gave_up.error(), flow_errc::timeout);
    }
  });
  EXPECT_EQ(test::entries_in(dir.path()), 0u);
}

TEST(vchan_rendezvous, client_without_server_gets_no_server) {
  vchan_runtime_dir dir;
  auto r = test::run([&dir](asio::any_io_executor ex) -> asio::awaitable<result<flow>> {
    auto opts = dir.options();
    co_return co_await client(ex, 0, port("nobody"), opts);
  });
  EXPECT_EQ(r.error(), vchan_errc::no_server);
}

TEST(vchan_rendezvous, runtime_dir_is_made_private_and_entry_removed_once_the_client_is_in) {
  vchan_runtime_dir parent;
  std::string dir = parent.path() + "/run";
  test::run([&dir](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [c, s] = co_await vchan_pair(ex, dir, 4096, 4096);
    struct stat info {};
    EXPECT_EQ(::stat(dir.c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 0777, 0700u);
    EXPECT_EQ(test::entries_in(dir), 0u);
    co_await c.close();
    co_await s.close();
  });
  ::rmdir(dir.c_str());
}

TEST(vchan_rendezvous, second_server_on_a_live_port_gets_port_in_use) {
  vchan_runtime_dir dir;
  manual_clock time;
  test::run_virtual(time, [&dir, &time](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto opts = dir.options();
    port p("busy");
    auto first = server(ex, 0, p, 4096, 4096, opts);
    auto second = co_await server(ex, 0, p, 4096, 4096, opts);
    EXPECT_EQ(second.error(), vchan_errc::port_in_use);
    auto gave_up = co_await with_timeout(std::move(first), 10ms, time);
    EXPECT_EQ(gave_up.error(), flow_errc::timeout);
  });
  EXPECT_EQ(test::entries_in(dir.path()), 0u) << "a server that gave up removes its entry";
}

TEST(vchan_rendezvous, stale_entry_of_a_dead_server_is_replaced) {
  vchan_runtime_dir dir;
  std::string path = entry_path(dir.path(), 0, port("stale"));
  {  // a socket file nobody listens on, as a killed server leaves it
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strcpy(address.sun_path, path.c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    ::close(fd);
  }
  test::run([&dir](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto opts = dir.options();
    port p("stale");
    auto accepting = server(ex, 0, p, 4096, 4096, opts);
    auto connecting = client(ex, 0, p, opts);
    auto [accepted, connected] = co_await (std::move(accepting) && std::move(connecting));
    EXPECT_TRUE(connected);
    EXPECT_TRUE(accepted);
    if (connected) co_await connected->close();
    if (accepted) co_await accepted->close();
  });
  EXPECT_EQ(test::entries_in(dir.path()), 0u);
}

TEST(vchan_flow, header_after_setup_shows_both_ends_live_and_the_ring_orders) {
  vchan_runtime_dir dir;
  test::run([&dir](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [c, s] = co_await vchan_pair(ex, dir.path(), 256 * 1024, 2048);
    auto memory = s.as<vchan_flow>()->shared_memory();
    const std::array<std::uint8_t, 24> expected = {0,  0, 0,  0, 0, 0, 0, 0,  //
                                                   0,  0, 0,  0, 0, 0, 0, 0,  //
                                                   18, 0, 11, 0, 1, 1, 0, 0};
    std::array<std::uint8_t, 24> actual{};
    std::memcpy(actual.data(), memory.data(), actual.size());
    EXPECT_EQ(actual, expected);
    EXPECT_EQ(memory.size(), 4096u + 256u * 1024u);
    EXPECT_EQ(c.as<vchan_flow>()->write_ring_size(), 256u * 1024u);
    EXPECT_EQ(c.as<vchan_flow>()->read_ring_size(), 2048u);
    co_await c.close();
    co_await s.close();
  });
}

TEST(vchan_flow, reader_blocked_before_the_first_write_wakes_with_the_data) {
  vchan_runtime_dir dir;
  test::run([&dir](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [c, s] = co_await vchan_pair(ex, dir.path(), 1024, 1024);
    auto [got, w] = co_await (read_string(s, 5) && write_later(c, "hello"));
    EXPECT_TRUE(w);
    EXPECT_EQ(got, "hello");
    co_await c.close();
    co_await s.close();
  });
}

TEST(vchan_flow, peer_close_drains_the_ring_before_eof_and_fails_writes_closed) {
  vchan_runtime_dir dir;
  test::run([&dir](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [c, s] = co_await vchan_pair(ex, dir.path(), 4096, 4096);
    auto w = co_await c.write(buffer::of_string("last words"));
    EXPECT_TRUE(w);
    co_await c.close();
    auto got = co_await read_string(s, 10);
    EXPECT_EQ(got, "last words");
    auto end = co_await s.read();
    EXPECT_TRUE(end && end->is_eof());
    auto late = co_await s.write(buffer::of_string("anyone?"));
    EXPECT_EQ(late.error(), flow_errc::closed);
    co_await s.close();
  });
}

TEST(vchan_flow, shutdown_write_gives_the_peer_eof_and_the_other_direction_works) {
  vchan_runtime_dir dir;
  test::run([&dir](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [c, s] = co_await vchan_pair(ex, dir.path(), 4096, 4096);
    auto w = co_await c.write(buffer::of_string("request"));
    EXPECT_TRUE(w);
    co_await c.shutdown(shutdown_mode::write);
    auto request = co_await read_string(s, 7);
    EXPECT_EQ(request, "request");
    auto end = co_await s.read();
    EXPECT_TRUE(end && end->is_eof());
    auto answer = co_await s.write(buffer::of_string("answer"));
    EXPECT_TRUE(answer);
    auto got = co_await read_string(c, 6);
    EXPECT_EQ(got, "answer");
    auto memory = c.as<vchan_flow>()->shared_memory();
    EXPECT_EQ(static_cast<std::uint8_t>(memory[layout::cli_notify]) & layout::shut_write,
              layout::shut_write);
    co_await c.close();
    co_await s.close();
  });
}

TEST(vchan_flow, shutdown_read_fails_the_peers_writes_closed_and_the_other_direction_works) {
  vchan_runtime_dir dir;
  test::run([&dir](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [c, s] = co_await vchan_pair(ex, dir.path(), 1024, 1024);
    // More than the ring holds: the write waits for a reader until it learns there is none.
    test::background<write_result> pending(ex, c.write(buffer::create(8192)));
    co_await test::yield(3);
    EXPECT_FALSE(pending.ready());
    co_await s.shutdown(shutdown_mode::read);
    auto w = co_await pending.get();
    EXPECT_EQ(w.error(), flow_errc::closed);
    auto late = co_await c.write(buffer::of_string("late"));
    EXPECT_EQ(late.error(), flow_errc::closed);
    auto memory = s.as<vchan_flow>()->shared_memory();
    EXPECT_EQ(static_cast<std::uint8_t>(memory[layout::srv_notify]) & layout::shut_read,
              layout::shut_read);
    auto r = co_await s.read();
    EXPECT_TRUE(r && r->is_eof());
    auto answer = co_await s.write(buffer::of_string("answer"));
    EXPECT_TRUE(answer);
    auto got = co_await read_string(c, 6);
    EXPECT_EQ(got, "answer");
    co_await c.close();
    co_await s.close();
  });
}

TEST(vchan_flow, read_with_timeout_times_out_and_the_flow_stays_usable) {
  vchan_runtime_dir dir;
  manual_clock time;
  test::run_virtual(time, [&dir, &time](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [c, s] = co_await vchan_pair(ex, dir.path(), 4096, 4096);
    auto r = co_await with_timeout(s.read(), 20ms, time);
    EXPECT_EQ(r.error(), flow_errc::timeout);
    auto w = co_await c.write(buffer::of_string("after"));
    EXPECT_TRUE(w);
    auto got = co_await read_string(s, 5);
    EXPECT_EQ(got, "after");
    co_await c.close();
    co_await s.close();
  });
}

TEST(vchan_flow, write_into_a_full_ring_with_timeout_times_out) {
  vchan_runtime_dir dir;
  manual_clock time;
  test::run_virtual(time, [&dir, &time](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [c, s] = co_await vchan_pair(ex, dir.path(), 1024, 1024);
    auto big = buffer::create(8192);
    auto w = co_await with_timeout(c.write(big), 20ms, time);
    EXPECT_EQ(w.error(), flow_errc::timeout);
    co_await c.close();
    co_await s.close();
  });
}

TEST(vchan_flow, producer_index_beyond_the_ring_makes_the_reader_fail_corrupt) {
  vchan_runtime_dir dir;
  test::run([&dir](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [c, s] = co_await vchan_pair(ex, dir.path(), 1024, 2048);
    auto memory = c.as<vchan_flow>()->shared_memory();
    std::uint32_t impossible = 5000;  // left ring is 1 KiB (server reads it)
    std::memcpy(memory.data() + layout::left_prod, &impossible, sizeof impossible);
    auto r = co_await s.read();
    EXPECT_EQ(r.error(), vchan_errc::corrupt);
    co_await c.close();
    co_await s.close();
  });
}

TEST(vchan_flow, hostile_index_written_while_the_reader_waits_is_reported_corrupt) {
  vchan_runtime_dir dir;
  test::run([&dir](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [c, s] = co_await vchan_pair(ex, dir.path(), 1024, 2048);
    auto [r, w] = co_await (s.read() && scribble_then_write(c));
    EXPECT_EQ(w.error(), vchan_errc::corrupt);
    EXPECT_EQ(r.error(), vchan_errc::corrupt);
    co_await c.close();
    co_await s.close();
  });
}

// Corrupts the ring the client reads, then frees space in the ring the client writes, which
// signals the client: its reader sees the corruption, and its writer, which can go on writing,
// must fail with it too rather than wait on the full ring.
// It starts once the client's read and write beside it wait (the write on the full ring).
asio::awaitable<bool> corrupt_then_free_space(flow& server_end) {
  co_await test::yield(3);
  auto memory = server_end.as<vchan_flow>()->shared_memory();
  std::uint32_t impossible = 5000;  // right ring is 1 KiB (client reads it)
  std::memcpy(memory.data() + layout::right_prod, &impossible, sizeof impossible);
  auto r = co_await server_end.read();
  co_return r.has_value();
}

TEST(vchan_flow, corruption_seen_by_the_reader_fails_the_pending_write_at_once) {
  vchan_runtime_dir dir;
  test::run([&dir](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [c, s] = co_await vchan_pair(ex, dir.path(), 1024, 1024);
    auto started = std::chrono::steady_clock::now();
    auto [r, w, done] = co_await (with_timeout(c.read(), 3s) &&
                                  with_timeout(c.write(buffer::create(64 * 1024)), 3s) &&
                                  corrupt_then_free_space(s));
    EXPECT_TRUE(done);
    EXPECT_EQ(r.error(), vchan_errc::corrupt);
    EXPECT_EQ(w.error(), vchan_errc::corrupt);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
    co_await c.shutdown(shutdown_mode::read_write);  // a failed flow's shutdown returns
    co_await c.close();
    co_await s.close();
  });
}

TEST(vchan_rendezvous, silent_connection_does_not_keep_the_next_client_out) {
  vchan_runtime_dir dir;
  auto opts = dir.options();
  opts.rendezvous_timeout = 100ms;
  port p("quiet");
  int silent = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  test::run([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto accepting = server(ex, 0, p, 4096, 4096, opts);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strcpy(address.sun_path, entry_path(dir.path(), 0, p).c_str());
    EXPECT_EQ(::connect(silent, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    auto connecting = client(ex, 0, p, opts);
    auto [accepted, connected] = co_await (with_timeout(std::move(accepting), 3s) &&
                                           with_timeout(std::move(connecting), 3s));
    EXPECT_TRUE(accepted) << accepted.error().message();
    EXPECT_TRUE(connected) << connected.error().message();
    if (connected) co_await connected->close();
    if (accepted) co_await accepted->close();
  });
  ::close(silent);
}

TEST(vchan_flow, nothing_is_left_behind_after_both_ends_close) {
  vchan_runtime_dir dir;
  auto before = test::resources();
  test::run([&dir](asio::any_io_executor ex) -> asio::awaitable<void> {
    for (int i = 0; i < 3; ++i) {
      auto [c, s] = co_await vchan_pair(ex, dir.path(), 64 * 1024, 4096);
      auto w = co_await c.write(buffer::of_string("bytes"));
      EXPECT_TRUE(w);
      co_await c.close();
      co_await s.close();
      co_await c.close();  // idempotent
    }
  });
  EXPECT_EQ(test::resources(), before);
  EXPECT_EQ(test::entries_in(dir.path()), 0u);
}

}  // namespace
}  // namespace flowstack::vchan
