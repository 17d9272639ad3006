// `flowstack cat` with TLS addresses end to end, against socat's OpenSSL addresses and against
// itself, on loopback only, with certificates made by the openssl program.

#include <gtest/gtest.h>

#include <string>

#include "../tls/test_certs.hpp"
#include "process.hpp"

namespace flowstack::test {
namespace {

const std::string flowstack_binary = FLOWSTACK_BINARY;
const std::string socat_binary = SOCAT_BINARY;

// The port in flowstack's "listening on 127.0.0.1:PORT" line (cat -v).
std::string reported_port(const child& c) {
  auto at = c.err().find("listening on ");
  if (at == std::string::npos) return "";
  auto line_end = c.err().find('\n', at);
  auto line = c.err().substr(at, line_end - at);
  return line.substr(line.rfind(':') + 1);
}

// A socat server on 127.0.0.1 that answers, once it has read eof, with the byte count it read.
std::vector<std::string> counting_server(unsigned short port) {
  return {socat_binary, "-d", "-d",
          "TCP-LISTEN:" + std::to_string(port) + ",bind=127.0.0.1,reuseaddr", "SYSTEM:wc -c"};
}

const std::string request(100000, 'r');

TEST(tls_cat, tls_listen_serves_a_verifying_client_and_relays_half_close_and_the_answer) {
  const auto& certs = certificates();
  auto backend = free_port();
  child server(counting_server(backend));
  ASSERT_TRUE(server.wait_for_stderr("listening on")) << server.err();

  child relay(
      {flowstack_binary, "cat", "-v",
       "tls-listen:127.0.0.1:0,cert=" + certs.server_cert_file + ",key=" + certs.server_key_file,
       "tcp:127.0.0.1:" + std::to_string(backend)});
  ASSERT_TRUE(relay.wait_for_stderr("listening on")) << relay.err();

  child client({socat_binary, "-t", "10", "-",
                "OPENSSL:127.0.0.1:" + reported_port(relay) + ",cafile=" + certs.ca_file +
                    ",commonname=localhost"});
  client.write_stdin(request);
  client.close_stdin();
  EXPECT_EQ(client.wait(), 0) << client.err();
  EXPECT_EQ(client.out(), "100000\n");
  EXPECT_EQ(relay.wait(), 0) << relay.err();
}

TEST(tls_cat, tls_shorthand_connects_verifying_the_server) {
  const auto& certs = certificates();
  auto port = free_port();
  child server({socat_binary, "-d", "-d",
                "OPENSSL-LISTEN:" + std::to_string(port) + ",bind=127.0.0.1,reuseaddr,cert=" +
                    certs.server_cert_file + ",key=" + certs.server_key_file + ",verify=0",
                "SYSTEM:wc -c"});
  ASSERT_TRUE(server.wait_for_stderr("listening on")) << server.err();

  child cat({flowstack_binary, "cat", "-",
             "tls:127.0.0.1:" + std::to_string(port) + ",sni=localhost,ca=" + certs.ca_file});
  cat.write_stdin(request);
  cat.close_stdin();
  EXPECT_EQ(cat.wait(), 0) << cat.err();
  EXPECT_EQ(cat.out(), "100000\n");
}

TEST(tls_cat, tls_shorthand_refuses_a_server_its_ca_did_not_sign) {
  const auto& certs = certificates();
  auto port = free_port();
  child server({socat_binary, "-d", "-d",
                "OPENSSL-LISTEN:" + std::to_string(port) + ",bind=127.0.0.1,reuseaddr,cert=" +
                    certs.untrusted_cert_file + ",key=" + certs.untrusted_key_file + ",verify=0",
                "SYSTEM:wc -c"});
  ASSERT_TRUE(server.wait_for_stderr("listening on")) << server.err();

  child cat({flowstack_binary, "cat", "-",
             "tls:127.0.0.1:" + std::to_string(port) + ",sni=localhost,ca=" + certs.ca_file},
            "/dev/null");
  EXPECT_EQ(cat.wait(), 1) << cat.err();
}

TEST(tls_cat, tls_layer_over_unix_socket_between_two_flowstacks) {
  const auto& certs = certificates();
  auto backend = free_port();
  child server(counting_server(backend));
  ASSERT_TRUE(server.wait_for_stderr("listening on")) << server.err();

  std::string path = certs.dir + "/relay.sock";
  child relay({flowstack_binary, "cat", "-v",
               "tls,cert=" + certs.server_cert_file + ",key=" + certs.server_key_file +
                   "|unix-listen:" + path,
               "tcp:127.0.0.1:" + std::to_string(backend)});
  ASSERT_TRUE(relay.wait_for_stderr("listening on")) << relay.err();

  child cat(
      {flowstack_binary, "cat", "-", "tls,sni=localhost,ca=" + certs.ca_file + "|unix:" + path});
  cat.write_stdin(request);
  cat.close_stdin();
  EXPECT_EQ(cat.wait(), 0) << cat.err();
  EXPECT_EQ(cat.out(), "100000\n");
  EXPECT_EQ(relay.wait(), 0) << relay.err();
}

TEST(tls_cat, tls_listen_without_certificate_exits_2_saying_what_is_needed) {
  child cat({flowstack_binary, "cat", "tls-listen:127.0.0.1:0", "-"}, "/dev/null");
  EXPECT_EQ(cat.wait(), 2);
  EXPECT_NE(cat.err().find("accepting TLS needs cert=FILE and key=FILE"), std::string::npos)
      << cat.err();
}

TEST(tls_cat, a_tls_1_3_only_listener_refuses_a_client_limited_to_tls_1_2) {
  const auto& certs = certificates();
  child relay({flowstack_binary, "cat", "-v",
               "tls-listen:127.0.0.1:0,min-version=1.3,cert=" + certs.server_cert_file +
                   ",key=" + certs.server_key_file,
               "-"});
  ASSERT_TRUE(relay.wait_for_stderr("listening on")) << relay.err();
  child client({flowstack_binary, "cat",
                "tls:127.0.0.1:" + reported_port(relay) +
                    ",sni=localhost,max-version=1.2,ca=" + certs.ca_file,
                "-"});
  client.close_stdin();
  EXPECT_NE(client.wait(), 0) << client.err();
  EXPECT_EQ(relay.wait(), 1) << relay.err();
}

TEST(tls_cat, tls_listen_without_fork_exits_1_when_its_one_handshake_fails) {
  const auto& certs = certificates();
  child relay(
      {flowstack_binary, "cat", "-v",
       "tls-listen:127.0.0.1:0,cert=" + certs.server_cert_file + ",key=" + certs.server_key_file,
       "-"});
  ASSERT_TRUE(relay.wait_for_stderr("listening on")) << relay.err();
  child client({socat_binary, "-", "TCP:127.0.0.1:" + reported_port(relay)});
  client.write_stdin("GET / HTTP/1.0\r\n\r\n");
  client.close_stdin();
  client.wait();
  EXPECT_EQ(relay.wait(), 1) << relay.err();
}

TEST(tls_cat, a_silent_client_fails_the_handshake_timeout_and_the_message_names_the_handshake) {
  const auto& certs = certificates();
  child relay({flowstack_binary, "cat", "-v",
               "tls-listen:127.0.0.1:0,handshake-timeout=200,cert=" + certs.server_cert_file +
                   ",key=" + certs.server_key_file,
               "-"});
  ASSERT_TRUE(relay.wait_for_stderr("listening on")) << relay.err();
  // socat connects and then says nothing while its stdin stays open.
  child client({socat_binary, "-", "TCP:127.0.0.1:" + reported_port(relay)});
  EXPECT_EQ(relay.wait(), 1) << relay.err();
  EXPECT_NE(relay.err().find("the TLS handshake did not finish in time"), std::string::npos)
      << relay.err();
  client.close_stdin();
  client.wait();
}

TEST(tls_cat, an_unknown_tls_version_is_a_malformed_address) {
  child c({flowstack_binary, "cat", "tls:127.0.0.1:1,sni=localhost,max-version=1.1", "-"});
  EXPECT_EQ(c.wait(), 2) << c.err();
  EXPECT_NE(c.err().find("max-version must be 1.2 or 1.3"), std::string::npos) << c.err();
}

}  // namespace
}  // namespace flowstack::test
