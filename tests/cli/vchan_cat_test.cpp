// `flowstack cat` with vchan addresses end to end: TCP -> vchan -> TCP through two relays.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "process.hpp"

namespace flowstack::test {
namespace {

using namespace std::chrono_literals;

std::string listening_port(const child& c) {
  auto at = c.err().find("listening on ");
  if (at == std::string::npos) return "";
  auto line = c.err().substr(at, c.err().find('\n', at) - at);
  return line.substr(line.rfind(':') + 1);
}

TEST(cat_vchan, tcp_to_vchan_to_tcp_relays_a_request_and_its_answer_after_half_close) {
  char tmpl[] = "/tmp/flowstack-vchan-cat-XXXXXX";
  std::filesystem::path dir = ::mkdtemp(tmpl);
  ::setenv("FLOWSTACK_VCHAN_DIR", dir.c_str(), 1);
  auto backend = free_port();
  child server({SOCAT_BINARY, "-d", "-d",
                "TCP-LISTEN:" + std::to_string(backend) + ",bind=127.0.0.1,reuseaddr",
                "SYSTEM:wc -c"});
  ASSERT_TRUE(server.wait_for_stderr("listening on")) << server.err();

  child back({FLOWSTACK_BINARY, "cat", "-v", "vchan-listen:0:web,read-size=4k,write-size=64k",
              "tcp:127.0.0.1:" + std::to_string(backend)});
  ASSERT_TRUE(back.wait_for_stderr("listening on")) << back.err();
  child front({FLOWSTACK_BINARY, "cat", "-v", "tcp-listen:127.0.0.1:0,fork", "vchan:0:web"});
  ASSERT_TRUE(front.wait_for_stderr("listening on")) << front.err();

  std::string request(300000, '\0');
  std::mt19937 random(1);
  for (auto& c : request) c = static_cast<char>(random());
  child client({SOCAT_BINARY, "-t", "10", "-", "TCP:127.0.0.1:" + listening_port(front)});
  client.write_stdin(request);
  client.close_stdin();

  EXPECT_EQ(client.wait(), 0) << client.err();
  EXPECT_EQ(client.out(), "300000\n");
  EXPECT_EQ(back.wait(), 0) << back.err();  // without fork: one client, then done
  front.signal(SIGTERM);
  front.wait();
  EXPECT_EQ(server.wait(), 0) << server.err();
  EXPECT_TRUE(std::filesystem::is_empty(dir)) << "a rendezvous entry was left behind";
  std::filesystem::remove_all(dir);
  ::unsetenv("FLOWSTACK_VCHAN_DIR");
}

TEST(cat_vchan, listen_with_fork_offers_the_port_again_for_each_client) {
  char tmpl[] = "/tmp/flowstack-vchan-cat-XXXXXX";
  std::filesystem::path dir = ::mkdtemp(tmpl);
  ::setenv("FLOWSTACK_VCHAN_DIR", dir.c_str(), 1);
  auto backend = free_port();
  child server({SOCAT_BINARY, "-d", "-d",
                "TCP-LISTEN:" + std::to_string(backend) + ",bind=127.0.0.1,reuseaddr,fork",
                "SYSTEM:wc -c"});
  ASSERT_TRUE(server.wait_for_stderr("listening on")) << server.err();
  child back({FLOWSTACK_BINARY, "cat", "-v", "vchan-listen:0:many,fork,max-children=1",
              "tcp:127.0.0.1:" + std::to_string(backend)});
  ASSERT_TRUE(back.wait_for_stderr("listening on")) << back.err();

  for (std::string request : {"a", "bb", "ccc"}) {
    child client({FLOWSTACK_BINARY, "cat", "-", "vchan:0:many"});
    client.write_stdin(request);
    client.close_stdin();
    EXPECT_EQ(client.wait(), 0) << client.err();
    EXPECT_EQ(client.out(), std::to_string(request.size()) + "\n");
  }
  back.signal(SIGTERM);
  EXPECT_EQ(back.wait(), 128 + SIGTERM) << back.err();
  server.signal(SIGTERM);
  server.wait();
  EXPECT_TRUE(std::filesystem::is_empty(dir)) << "a rendezvous entry was left behind";
  std::filesystem::remove_all(dir);
  ::unsetenv("FLOWSTACK_VCHAN_DIR");
}

TEST(cat_vchan, bad_vchan_port_is_reported_with_the_rule) {
  child cat({FLOWSTACK_BINARY, "cat", "-", "vchan:0:no/slash"});
  EXPECT_NE(cat.wait(), 0);
  EXPECT_NE(cat.err().find("[a-zA-Z0-9_-]+"), std::string::npos) << cat.err();
}

// A fresh FLOWSTACK_VCHAN_DIR for one test, removed (with what is in it) afterwards.
class vchan_dir_env {
 public:
  vchan_dir_env() {
    char tmpl[] = "/tmp/flowstack-vchan-cat-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    ::setenv("FLOWSTACK_VCHAN_DIR", dir_.c_str(), 1);
  }
  ~vchan_dir_env() {
    ::unsetenv("FLOWSTACK_VCHAN_DIR");
    std::filesystem::remove_all(dir_);
  }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
};

// client -> flowstack (tcp-listen -> vchan) -> flowstack (vchan-listen -> tcp) -> backend: the
// client's reset crosses vchan as an abort (no shutdown flag) and resets the backend in turn.
TEST(cat_vchan, a_client_reset_crosses_vchan_as_an_abort_and_resets_the_backend) {
  vchan_dir_env env;
  tcp_server backend;
  child back({FLOWSTACK_BINARY, "cat", "-v", "vchan-listen:0:cut",
              "tcp:127.0.0.1:" + std::to_string(backend.port())});
  ASSERT_TRUE(back.wait_for_stderr("listening on")) << back.err();
  auto port = free_port();
  child front(
      {FLOWSTACK_BINARY, "cat", "tcp-listen:127.0.0.1:" + std::to_string(port), "vchan:0:cut"});
  auto client = tcp_connect(port);
  ASSERT_TRUE(client) << front.err();
  send_all(client, "half an upload");
  auto server = backend.accept();
  ASSERT_TRUE(server) << front.err() << back.err();
  EXPECT_EQ(receive(server, 14), "half an upload");
  client.reset();
  auto end = read_to_end(server);
  EXPECT_EQ(end.error, ECONNRESET) << "the backend saw " << end.what();
  EXPECT_EQ(front.wait(), 1) << front.err();
  EXPECT_EQ(back.wait(), 1) << back.err();
  EXPECT_NE(back.err().find("aborted"), std::string::npos) << back.err();
}

TEST(cat_vchan, listen_on_a_port_already_served_fails_at_once_with_exit_1) {
  vchan_dir_env env;
  child first({FLOWSTACK_BINARY, "cat", "-v", "vchan-listen:0:busy", "-"});
  ASSERT_TRUE(first.wait_for_stderr("listening on")) << first.err();
  child second({FLOWSTACK_BINARY, "cat", "vchan-listen:0:busy", "-"});
  EXPECT_EQ(second.wait(3000ms), 1) << second.err();
  EXPECT_NE(second.err().find("already listens"), std::string::npos) << second.err();
  first.signal(SIGTERM);
  first.wait();
}

TEST(cat_vchan, listen_with_an_absurd_ring_size_fails_at_once_with_exit_1) {
  vchan_dir_env env;
  child cat({FLOWSTACK_BINARY, "cat", "vchan-listen:0:big,read-size=4096m", "-"});
  EXPECT_EQ(cat.wait(3000ms), 1) << cat.err();
  EXPECT_NE(cat.err().find("ring size"), std::string::npos) << cat.err();
}

TEST(cat_vchan, listen_with_a_runtime_dir_that_is_a_file_fails_at_once_with_exit_1) {
  vchan_dir_env env;
  std::string file = (env.dir() / "file").string();
  { std::ofstream(file) << "x"; }
  ::setenv("FLOWSTACK_VCHAN_DIR", file.c_str(), 1);
  child cat({FLOWSTACK_BINARY, "cat", "vchan-listen:0:web", "-"});
  EXPECT_EQ(cat.wait(3000ms), 1) << cat.err();
  EXPECT_NE(cat.err().find("not a directory"), std::string::npos) << cat.err();
}

TEST(cat_vchan, listen_with_a_runtime_dir_too_long_for_a_socket_fails_at_once_with_exit_1) {
  vchan_dir_env env;
  std::string deep = (env.dir() / std::string(120, 'd')).string();
  ::setenv("FLOWSTACK_VCHAN_DIR", deep.c_str(), 1);
  child cat({FLOWSTACK_BINARY, "cat", "vchan-listen:0:web", "-"});
  EXPECT_EQ(cat.wait(3000ms), 1) << cat.err();
  EXPECT_NE(cat.err().find("too long"), std::string::npos) << cat.err();
}

TEST(cat_vchan, port_name_that_can_never_fit_a_socket_path_is_a_malformed_address) {
  child cat({FLOWSTACK_BINARY, "cat", "vchan-listen:0:" + std::string(110, 'p'), "-"});
  EXPECT_EQ(cat.wait(3000ms), 2) << cat.err();
  EXPECT_NE(cat.err().find("too long"), std::string::npos) << cat.err();
}

TEST(cat_vchan, control_characters_in_a_bad_address_are_escaped_in_the_message) {
  child cat({FLOWSTACK_BINARY, "cat", "-", "vchan:0:a\x1b[2Jb"});
  EXPECT_EQ(cat.wait(3000ms), 2) << cat.err();
  EXPECT_EQ(cat.err().find('\x1b'), std::string::npos) << cat.err();
  EXPECT_NE(cat.err().find("\\x1b"), std::string::npos) << cat.err();
}

}  // namespace
}  // namespace flowstack::test
