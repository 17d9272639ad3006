// `flowstack cat` with TLS layered over vchan: a TLS server over vchan-listen: and a TLS client
// over vchan:, two processes exchanging bytes both ways with half-close.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "../tls/test_certs.hpp"
#include "process.hpp"

namespace flowstack::test {
namespace {

std::string random_bytes(std::size_t size, unsigned seed) {
  std::string bytes(size, '\0');
  std::mt19937 random(seed);
  for (auto& c : bytes) c = static_cast<char>(random());
  return bytes;
}

// A fresh rendezvous directory for vchan, removed (and checked empty) at the end.
struct vchan_dir {
  std::filesystem::path path;
  vchan_dir() {
    char tmpl[] = "/tmp/flowstack-tls-vchan-cat-XXXXXX";
    path = ::mkdtemp(tmpl);
    ::setenv("FLOWSTACK_VCHAN_DIR", path.c_str(), 1);
  }
  ~vchan_dir() {
    ::unsetenv("FLOWSTACK_VCHAN_DIR");
    std::filesystem::remove_all(path);
  }
};

TEST(tls_vchan_cat, tls_over_vchan_relays_both_ways_with_half_close_byte_for_byte) {
  const auto& certs = certificates();
  vchan_dir dir;
  // Each side's stdin is a file: it ends, which half-closes that direction (close_notify),
  // while the other direction keeps flowing.
  const std::string request = random_bytes(300000, 1);
  const std::string answer = random_bytes(200000, 2);
  auto request_file = (dir.path / "request.bin").string();
  auto answer_file = (dir.path / "answer.bin").string();
  std::ofstream(request_file, std::ios::binary) << request;
  std::ofstream(answer_file, std::ios::binary) << answer;

  child server({FLOWSTACK_BINARY, "cat", "-v",
                "tls,cert=" + certs.server_cert_file + ",key=" + certs.server_key_file +
                    "|vchan-listen:0:tls-web",
                "-"},
               answer_file);
  ASSERT_TRUE(server.wait_for_stderr("listening on")) << server.err();
  child client(
      {FLOWSTACK_BINARY, "cat", "-", "tls,sni=localhost,ca=" + certs.ca_file + "|vchan:0:tls-web"},
      request_file);

  // Both sides' stdout is collected at once: neither may stall the other behind a full pipe.
  auto deadline = std::chrono::steady_clock::now() + 15s;
  while ((server.out().size() < request.size() || client.out().size() < answer.size()) &&
         std::chrono::steady_clock::now() < deadline) {
    server.wait_for_stdout(request.size(), 20ms);
    client.wait_for_stdout(answer.size(), 20ms);
  }
  EXPECT_EQ(client.wait(), 0) << client.err();
  EXPECT_EQ(server.wait(), 0) << server.err();  // without fork: one client, then done
  EXPECT_EQ(server.out().size(), request.size());
  EXPECT_TRUE(server.out() == request) << "the request changed on the way";
  EXPECT_EQ(client.out().size(), answer.size());
  EXPECT_TRUE(client.out() == answer) << "the answer changed on the way";
  EXPECT_NE(server.err().find("tls server"), std::string::npos) << server.err();
  std::filesystem::remove(request_file);
  std::filesystem::remove(answer_file);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path)) << "a rendezvous entry was left behind";
}

TEST(tls_vchan_cat, tls_client_over_vchan_refuses_a_server_its_ca_did_not_sign) {
  const auto& certs = certificates();
  vchan_dir dir;
  child server({FLOWSTACK_BINARY, "cat", "-v",
                "tls,cert=" + certs.untrusted_cert_file + ",key=" + certs.untrusted_key_file +
                    "|vchan-listen:0:tls-untrusted",
                "-"},
               "/dev/null");
  ASSERT_TRUE(server.wait_for_stderr("listening on")) << server.err();
  child client({FLOWSTACK_BINARY, "cat", "-",
                "tls,sni=localhost,ca=" + certs.ca_file + "|vchan:0:tls-untrusted"},
               "/dev/null");
  EXPECT_EQ(client.wait(), 1) << client.err();
  EXPECT_NE(client.err().find("certificate"), std::string::npos) << client.err();
  server.wait();
}

}  // namespace
}  // namespace flowstack::test
