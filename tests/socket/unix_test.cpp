#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <flowstack/socket/error.hpp>
#include <flowstack/socket/unix.hpp>
#include <fstream>

#include "helpers.hpp"
#include "support/run.hpp"

namespace flowstack::socket {
namespace {

using namespace std::chrono_literals;
using namespace test;

// A unique socket path in /tmp, removed when the test ends whatever happened.
struct socket_path {
  explicit socket_path(const char* name)
      : path("/tmp/flowstack-test-" + std::to_string(::getpid()) + "-" + name + ".sock") {
    ::unlink(path.c_str());
  }
  ~socket_path() { ::unlink(path.c_str()); }
  std::string path;
};

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// Leaves a socket file behind as a process that died would: bound, then closed, not removed.
void leave_stale_socket_file(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ::close(fd);
}

listener must_unix_listen(asio::any_io_executor ex, const std::string& path, flow_handler handler) {
  auto l = unix_listen(ex, path, std::move(handler));
  if (!l) {
    ADD_FAILURE() << "unix_listen on " << path << ": " << l.error().message();
    return {};
  }
  return std::move(*l);
}

asio::awaitable<std::string> send_and_read_back(std::string_view path, std::string_view text) {
  std::string where(path);
  auto f = co_await unix_connect(where);
  EXPECT_TRUE(f) << error_of(f).message();
  if (!f) co_return "<no connection>";
  auto w = co_await write_string(*f, text);
  EXPECT_TRUE(w);
  co_await f->shutdown(shutdown_mode::write);
  auto back = co_await read_all(*f);
  co_await f->close();
  co_return back.value_or("<error>");
}

TEST(unix_socket, unix_socket_roundtrip) {
  socket_path where("roundtrip");
  auto got = run([&where](asio::any_io_executor ex) -> asio::awaitable<std::string> {
    auto l = must_unix_listen(ex, where.path, echo_handler());
    EXPECT_EQ(l.local_address(), where.path);
    EXPECT_EQ(l.local_port(), 0);
    co_return co_await send_and_read_back(where.path, "over a unix socket");
  });
  EXPECT_EQ(got, "over a unix socket");
}

TEST(unix_socket, description_names_the_socket_file) {
  socket_path where("description");
  run([&where](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto l = must_unix_listen(ex, where.path, echo_handler());
    auto f = co_await unix_connect(where.path);
    EXPECT_TRUE(f);
    if (!f) co_return;
    EXPECT_EQ(f->description(), "unix (unnamed) -> " + where.path);
    co_await f->close();
  });
}

TEST(unix_socket, stale_unix_socket_file_is_replaced) {
  socket_path where("stale");
  leave_stale_socket_file(where.path);
  ASSERT_TRUE(exists(where.path));
  auto got = run([&where](asio::any_io_executor ex) -> asio::awaitable<std::string> {
    auto l = must_unix_listen(ex, where.path, echo_handler());
    co_return co_await send_and_read_back(where.path, "replaced");
  });
  EXPECT_EQ(got, "replaced");
}

TEST(unix_socket, live_unix_socket_gives_address_in_use) {
  socket_path where("live");
  auto error = run([&where](asio::any_io_executor ex) -> asio::awaitable<std::error_code> {
    auto first = must_unix_listen(ex, where.path, echo_handler());
    auto second = unix_listen(ex, where.path, echo_handler());
    // The first listener still works: its file was not taken away.
    auto text = co_await send_and_read_back(where.path, "first");
    EXPECT_EQ(text, "first");
    co_return error_of(second);
  });
  EXPECT_EQ(error, net::net_errc::address_in_use);
}

TEST(unix_socket, a_file_that_is_not_a_socket_is_left_alone) {
  socket_path where("regular");
  std::ofstream(where.path) << "keep me";
  auto error = run([&where](asio::any_io_executor ex) -> asio::awaitable<std::error_code> {
    auto l = unix_listen(ex, where.path, echo_handler());
    co_return error_of(l);
  });
  // Not "address already in use": nothing is bound there, the path is taken by a file.
  EXPECT_EQ(error, socket_errc::not_a_socket);
  EXPECT_NE(error.message().find("not a socket"), std::string::npos) << error.message();
  std::ifstream in(where.path);
  std::string content;
  std::getline(in, content);
  EXPECT_EQ(content, "keep me");
}

TEST(unix_socket, socket_file_is_removed_when_the_listener_stops) {
  socket_path where("removed");
  run([&where](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto l = must_unix_listen(ex, where.path, echo_handler());
    EXPECT_TRUE(exists(where.path));
    l.unlisten();
    EXPECT_FALSE(exists(where.path));
    co_return;
  });
}

TEST(unix_socket, connect_to_a_path_nobody_listens_on_fails) {
  socket_path where("nobody");
  auto error = run([&where](asio::any_io_executor) -> asio::awaitable<std::error_code> {
    auto f = co_await unix_connect(where.path);
    co_return error_of(f);
  });
  EXPECT_TRUE(error);
  EXPECT_NE(error.message(), "");
}

// One byte more than sun_path holds with its NUL: Asio's endpoint would throw for it.
std::string path_too_long_for_a_socket() {
  return "/tmp/" + std::string(max_unix_path_length - 4, 'x');
}

TEST(unix_socket, connect_to_a_path_too_long_for_a_socket_address_fails_without_throwing) {
  auto error = run([](asio::any_io_executor) -> asio::awaitable<std::error_code> {
    auto f = co_await unix_connect(path_too_long_for_a_socket());
    co_return error_of(f);
  });
  EXPECT_EQ(error, std::errc::filename_too_long);
}

TEST(unix_socket, listen_on_a_path_too_long_for_a_socket_address_fails_without_throwing) {
  auto error = run([](asio::any_io_executor ex) -> asio::awaitable<std::error_code> {
    auto l = unix_listen(ex, path_too_long_for_a_socket(), echo_handler());
    co_return error_of(l);
  });
  EXPECT_EQ(error, std::errc::filename_too_long);
}

TEST(unix_socket, the_longest_path_a_socket_address_holds_is_accepted) {
  std::string dir = "/tmp/flowstack-long-XXXXXX";
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  std::string path = dir + "/" + std::string(max_unix_path_length - dir.size() - 1, 'p');
  ASSERT_EQ(path.size(), max_unix_path_length);
  auto got = run([&path](asio::any_io_executor ex) -> asio::awaitable<std::string> {
    auto l = must_unix_listen(ex, path, echo_handler());
    co_return co_await send_and_read_back(path, "at the limit");
  });
  EXPECT_EQ(got, "at the limit");
  ::unlink(path.c_str());
  ::rmdir(dir.c_str());
}

// A name in the abstract namespace, unique to this test process.
std::string abstract_name(const char* name) {
  return "@flowstack-test-" + std::to_string(::getpid()) + "-" + name;
}

TEST(unix_socket, an_abstract_name_carries_a_flow_and_makes_no_file) {
  const std::string name = abstract_name("roundtrip");
  auto got = run([&name](asio::any_io_executor ex) -> asio::awaitable<std::string> {
    auto l = must_unix_listen(ex, name, echo_handler());
    EXPECT_EQ(l.local_address(), name);
    EXPECT_FALSE(exists(name)) << "a file was made for an abstract name";
    co_return co_await send_and_read_back(name, "over an abstract socket");
  });
  EXPECT_EQ(got, "over an abstract socket");
  EXPECT_FALSE(exists(name));
}

TEST(unix_socket, an_abstract_name_is_written_with_an_at_sign_in_descriptions) {
  const std::string name = abstract_name("description");
  run([&name](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto l = must_unix_listen(ex, name, echo_handler());
    auto f = co_await unix_connect(name);
    EXPECT_TRUE(f) << error_of(f).message();
    if (!f) co_return;
    EXPECT_EQ(f->description(), "unix (unnamed) -> " + name);
    co_await f->close();
  });
}

TEST(unix_socket, an_abstract_name_already_bound_gives_address_in_use) {
  const std::string name = abstract_name("taken");
  auto error = run([&name](asio::any_io_executor ex) -> asio::awaitable<std::error_code> {
    auto first = must_unix_listen(ex, name, echo_handler());
    auto second = unix_listen(ex, name, echo_handler());
    auto text = co_await send_and_read_back(name, "first");
    EXPECT_EQ(text, "first");
    co_return error_of(second);
  });
  EXPECT_EQ(error, net::net_errc::address_in_use);
}

TEST(unix_socket, an_abstract_name_nobody_listens_on_is_refused) {
  const std::string name = abstract_name("nobody");
  auto error = run([&name](asio::any_io_executor) -> asio::awaitable<std::error_code> {
    auto f = co_await unix_connect(name);
    co_return error_of(f);
  });
  EXPECT_EQ(error, net::net_errc::refused);
}

TEST(unix_socket, only_a_leading_at_sign_names_the_abstract_namespace_not_one_in_a_file_name) {
  socket_path dir("at-sign-dir");
  ASSERT_EQ(::mkdir(dir.path.c_str(), 0700), 0);
  const std::string file = dir.path + "/@x";
  auto got = run([&file](asio::any_io_executor ex) -> asio::awaitable<std::string> {
    auto l = must_unix_listen(ex, file, echo_handler());
    EXPECT_TRUE(exists(file));
    co_return co_await send_and_read_back(file, "a file after all");
  });
  EXPECT_EQ(got, "a file after all");
  ::rmdir(dir.path.c_str());
}

asio::awaitable<read_result> read_of(flow& f) {
  co_return co_await f.read();
}

TEST(unix_socket, shutdown_read_wakes_a_pending_read_with_eof) {
  socket_path where("shutdown-read");
  auto got = run([&where](asio::any_io_executor ex) -> asio::awaitable<std::string> {
    auto l = must_unix_listen(ex, where.path, echo_handler());
    auto f = co_await unix_connect(where.path);
    EXPECT_TRUE(f);
    if (!f) co_return "";
    background<read_result> pending(ex, read_of(*f));
    co_await yield(3);  // the read has started; nothing will come for it
    EXPECT_FALSE(pending.ready());
    co_await f->shutdown(shutdown_mode::read);
    auto r = co_await pending.get();
    co_await f->close();
    co_return describe(r);
  });
  EXPECT_EQ(got, "<eof>");
}

}  // namespace
}  // namespace flowstack::socket
