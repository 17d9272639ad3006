// `flowstack cat` with vchan addresses end to end: TCP -> vchan -> TCP through two relays.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <random>
#include <string>

#include "process.hpp"

namespace flowstack::test {
namespace {

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

TEST(cat_vchan, bad_vchan_port_is_reported_with_the_rule) {
  child cat({FLOWSTACK_BINARY, "cat", "-", "vchan:0:no/slash"});
  EXPECT_NE(cat.wait(), 0);
  EXPECT_NE(cat.err().find("[a-zA-Z0-9_-]+"), std::string::npos) << cat.err();
}

}  // namespace
}  // namespace flowstack::test
