// `flowstack cat` with TLS addresses end to end, against socat's OpenSSL addresses and against
// itself, on loopback only, with certificates made by the openssl program.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "../tls/test_certs.hpp"
#include "process.hpp"

namespace flowstack::test {
namespace {

const std::string flowstack_binary = FLOWSTACK_BINARY;
const std::string socat_binary = SOCAT_BINARY;
const std::string openssl_binary = OPENSSL_BINARY;

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

// A socat server on 127.0.0.1 that answers every connection with "hello".
std::vector<std::string> greeting_server(unsigned short port) {
  return {socat_binary, "-d", "-d",
          "TCP-LISTEN:" + std::to_string(port) + ",bind=127.0.0.1,reuseaddr,fork",
          "SYSTEM:echo hello"};
}

// flowstack cat -v serving TLS on a free port with fork, each peer relayed to `backend`.
std::vector<std::string> forking_tls_relay(
    unsigned short backend, const std::string& options = "",
    const std::string& cert = certificates().server_cert_file,
    const std::string& key = certificates().server_key_file) {
  return {flowstack_binary, "cat", "-v",
          "tls-listen:127.0.0.1:0,fork,cert=" + cert + ",key=" + key + options,
          "tcp:127.0.0.1:" + std::to_string(backend)};
}

// openssl s_client to the relay, verifying it, with `more` arguments.
std::vector<std::string> s_client(const child& relay, std::vector<std::string> more) {
  std::vector<std::string> argv{openssl_binary, "s_client",
                                "-connect",     "127.0.0.1:" + reported_port(relay),
                                "-CAfile",      certificates().ca_file,
                                "-servername",  "localhost"};
  argv.insert(argv.end(), more.begin(), more.end());
  return argv;
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// A TCP connection to 127.0.0.1 that never sends a byte: a peer that starts no handshake.
class silent_peer {
 public:
  explicit silent_peer(const std::string& port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<unsigned short>(std::stoi(port)));
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  silent_peer(const silent_peer&) = delete;
  silent_peer& operator=(const silent_peer&) = delete;
  ~silent_peer() { ::close(fd_); }

  bool connected() const { return connected_; }
  // True when the other side ends the connection within `limit`.
  bool closed_by_other_side(std::chrono::milliseconds limit) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(limit.count())) != 1) return false;
    char byte;
    return ::recv(fd_, &byte, 1, 0) <= 0;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

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

// client -> flowstack (tcp-listen -> tls) -> flowstack (tls-listen -> tcp) -> backend. The
// client's reset must cross the TLS hop as a cut (no close_notify): the second relay's TLS read
// fails instead of ending, and it resets the backend in turn.
TEST(tls_cat, a_client_reset_crosses_a_tls_hop_without_close_notify_and_resets_the_backend) {
  const auto& certs = certificates();
  tcp_server backend;
  auto tls_port = free_port();
  child back({flowstack_binary, "cat", "-v",
              "tls-listen:127.0.0.1:" + std::to_string(tls_port) +
                  ",cert=" + certs.server_cert_file + ",key=" + certs.server_key_file,
              "tcp:127.0.0.1:" + std::to_string(backend.port())});
  ASSERT_TRUE(back.wait_for_stderr("listening on")) << back.err();
  auto port = free_port();
  child front({flowstack_binary, "cat", "tcp-listen:127.0.0.1:" + std::to_string(port),
               "tls:127.0.0.1:" + std::to_string(tls_port) + ",sni=localhost,ca=" + certs.ca_file});
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
  // What the TLS reader saw: the stream cut, not close_notify.
  EXPECT_NE(back.err().find("failed reading from tls server"), std::string::npos) << back.err();
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

TEST(tls_cat, tls_listen_with_fork_resumes_tls_1_2_sessions_from_tickets_and_from_its_cache) {
  auto backend = free_port();
  child server(greeting_server(backend));
  ASSERT_TRUE(server.wait_for_stderr("listening on")) << server.err();
  child relay(forking_tls_relay(backend));
  ASSERT_TRUE(relay.wait_for_stderr("listening on")) << relay.err();

  // -reconnect connects five more times, each offering the session of the first connection: in
  // a ticket, or with -no_ticket by its id, found in the server's session cache.
  for (bool tickets : {true, false}) {
    std::vector<std::string> options{"-tls1_2", "-reconnect"};
    if (!tickets) options.push_back("-no_ticket");
    child client(s_client(relay, options), "/dev/null");
    client.wait();
    EXPECT_EQ(count_of(client.out(), "New, TLSv1.2"), 1u) << tickets << "\n" << client.out();
    EXPECT_EQ(count_of(client.out(), "Reused, TLSv1.2"), 5u) << tickets << "\n" << client.out();
  }
  EXPECT_TRUE(relay.wait_for_stderr("TLSv1.2, ECDHE-ECDSA-AES256-GCM-SHA384, ALPN none, resumed"))
      << relay.err();
}

TEST(tls_cat, tls_listen_with_fork_resumes_a_tls_1_3_session_and_v_says_it_was_resumed) {
  auto backend = free_port();
  child server(greeting_server(backend));
  ASSERT_TRUE(server.wait_for_stderr("listening on")) << server.err();
  child relay(forking_tls_relay(backend));
  ASSERT_TRUE(relay.wait_for_stderr("listening on")) << relay.err();

  // s_client's -reconnect does not wait for TLS 1.3's tickets, which come after the handshake:
  // keep the first connection's session in a file and offer it on the second.
  std::string session = certificates().dir + "/tls13-session.pem";
  std::filesystem::remove(session);
  child first(s_client(relay, {"-tls1_3", "-ign_eof", "-sess_out", session}), "/dev/null");
  first.wait();
  EXPECT_NE(first.out().find("New, TLSv1.3"), std::string::npos) << first.out();
  EXPECT_NE(first.out().find("hello"), std::string::npos) << first.out();
  child second(s_client(relay, {"-tls1_3", "-ign_eof", "-sess_in", session}), "/dev/null");
  second.wait();
  EXPECT_NE(second.out().find("Reused, TLSv1.3"), std::string::npos) << second.out();
  EXPECT_NE(second.out().find("hello"), std::string::npos) << second.out();
  EXPECT_TRUE(relay.wait_for_stderr("ALPN none, resumed session")) << relay.err();
  EXPECT_EQ(count_of(relay.err(), "TLS handshake done"), 2u) << relay.err();
  EXPECT_EQ(count_of(relay.err(), "new session"), 1u) << relay.err();
}

TEST(tls_cat, a_tls_connector_under_fork_resumes_its_session_with_the_same_server) {
  const auto& certs = certificates();
  auto port = free_port();
  child server({openssl_binary, "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-www",
                "-cert", certs.server_cert_file, "-key", certs.server_key_file});
  ASSERT_TRUE(server.wait_for_stdout(std::string("ACCEPT").size())) << server.err();
  child relay({flowstack_binary, "cat", "-v", "tcp-listen:127.0.0.1:0,fork",
               "tls:127.0.0.1:" + std::to_string(port) + ",ca=" + certs.ca_file});
  ASSERT_TRUE(relay.wait_for_stderr("listening on")) << relay.err();

  // s_server -www answers a GET with a page that says whether the session was resumed.
  for (const char* expected : {"New, TLSv1.3", "Reused, TLSv1.3"}) {
    child client({socat_binary, "-t", "5", "-", "TCP:127.0.0.1:" + reported_port(relay)});
    client.write_stdin("GET / HTTP/1.0\r\n\r\n");
    client.close_stdin();
    EXPECT_EQ(client.wait(), 0) << client.err();
    EXPECT_NE(client.out().find(expected), std::string::npos) << client.out();
  }
  EXPECT_TRUE(relay.wait_for_stderr("tls client (127.0.0.1) over tcp")) << relay.err();
  EXPECT_EQ(count_of(relay.err(), "resumed session"), 1u) << relay.err();
}

TEST(tls_cat, cat_v_tells_the_version_cipher_and_alpn_each_tls_handshake_agreed) {
  auto backend = free_port();
  child server(greeting_server(backend));
  ASSERT_TRUE(server.wait_for_stderr("listening on")) << server.err();
  child relay(forking_tls_relay(backend, ",alpn=h2:http/1.1"));
  ASSERT_TRUE(relay.wait_for_stderr("listening on")) << relay.err();
  child client(s_client(relay, {"-tls1_3", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256", "-alpn",
                                "http/1.1", "-ign_eof"}),
               "/dev/null");
  client.wait();
  EXPECT_NE(client.out().find("hello"), std::string::npos) << client.out();
  EXPECT_TRUE(
      relay.wait_for_stderr("TLSv1.3, TLS_CHACHA20_POLY1305_SHA256, ALPN http/1.1, new session"))
      << relay.err();
  EXPECT_NE(relay.err().find("flowstack cat: TLS handshake done, tls server over tcp 127.0.0.1:"),
            std::string::npos)
      << relay.err();
}

TEST(tls_cat, tls_listen_serves_a_renewed_certificate_once_its_files_change) {
  const auto& certs = certificates();
  auto backend = free_port();
  child server(greeting_server(backend));
  ASSERT_TRUE(server.wait_for_stderr("listening on")) << server.err();
  std::string cert = certs.dir + "/renewed.pem", key = certs.dir + "/renewed.key";
  using std::filesystem::copy_options;
  std::filesystem::copy_file(certs.server_cert_file, cert, copy_options::overwrite_existing);
  std::filesystem::copy_file(certs.server_key_file, key, copy_options::overwrite_existing);
  child relay(forking_tls_relay(backend, "", cert, key));
  ASSERT_TRUE(relay.wait_for_stderr("listening on")) << relay.err();

  child before(s_client(relay, {"-ign_eof"}), "/dev/null");
  before.wait();
  EXPECT_NE(before.out().find("issuer=CN = flowstack-test-ca"), std::string::npos) << before.out();

  // The renewal: the other (self-signed) certificate and its key, written over the old files.
  std::filesystem::copy_file(certs.untrusted_cert_file, cert, copy_options::overwrite_existing);
  std::filesystem::copy_file(certs.untrusted_key_file, key, copy_options::overwrite_existing);
  child after(s_client(relay, {"-ign_eof"}), "/dev/null");
  after.wait();
  EXPECT_NE(after.out().find("issuer=CN = localhost"), std::string::npos) << after.out();
  EXPECT_NE(after.out().find("hello"), std::string::npos) << after.out();
}

TEST(tls_cat, silent_connections_do_not_take_max_children_slots_from_a_real_client) {
  auto backend = free_port();
  child server(counting_server(backend));
  ASSERT_TRUE(server.wait_for_stderr("listening on")) << server.err();
  child relay(forking_tls_relay(backend, ",max-children=2,handshake-timeout=30000"));
  ASSERT_TRUE(relay.wait_for_stderr("listening on")) << relay.err();

  std::vector<std::unique_ptr<silent_peer>> silent;
  for (int i = 0; i < 6; ++i) {
    silent.push_back(std::make_unique<silent_peer>(reported_port(relay)));
    ASSERT_TRUE(silent.back()->connected());
  }
  child client({socat_binary, "-t", "10", "-",
                "OPENSSL:127.0.0.1:" + reported_port(relay) + ",cafile=" + certificates().ca_file +
                    ",commonname=localhost"});
  client.write_stdin("a short request");  // fits in the pipe: the wait below measures the relay
  client.close_stdin();
  // Long before the silent handshakes time out.
  EXPECT_EQ(client.wait(5000ms), 0) << client.err() << relay.err();
  EXPECT_EQ(client.out(), "15\n");
}

TEST(tls_cat, a_new_connection_abandons_the_oldest_handshake_when_max_handshakes_are_in_progress) {
  auto backend = free_port();
  child server(counting_server(backend));
  ASSERT_TRUE(server.wait_for_stderr("listening on")) << server.err();
  child relay(forking_tls_relay(backend, ",max-handshakes=2,handshake-timeout=30000"));
  ASSERT_TRUE(relay.wait_for_stderr("listening on")) << relay.err();

  silent_peer oldest(reported_port(relay));
  silent_peer second(reported_port(relay));
  silent_peer third(reported_port(relay));
  EXPECT_TRUE(oldest.closed_by_other_side(5000ms));
  EXPECT_TRUE(relay.wait_for_stderr("handshake abandoned for a newer connection")) << relay.err();

  child client({socat_binary, "-t", "10", "-",
                "OPENSSL:127.0.0.1:" + reported_port(relay) + ",cafile=" + certificates().ca_file +
                    ",commonname=localhost"});
  client.write_stdin("a short request");  // fits in the pipe: the wait below measures the relay
  client.close_stdin();
  EXPECT_EQ(client.wait(5000ms), 0) << client.err() << relay.err();
  EXPECT_EQ(client.out(), "15\n");
  EXPECT_TRUE(second.closed_by_other_side(5000ms));
  EXPECT_FALSE(third.closed_by_other_side(100ms));
}

TEST(tls_cat, with_fork_a_silent_peer_is_closed_after_the_handshake_timeout_given) {
  auto backend = free_port();
  child server(counting_server(backend));
  ASSERT_TRUE(server.wait_for_stderr("listening on")) << server.err();
  child relay(forking_tls_relay(backend, ",handshake-timeout=300"));
  ASSERT_TRUE(relay.wait_for_stderr("listening on")) << relay.err();
  silent_peer silent(reported_port(relay));
  EXPECT_FALSE(silent.closed_by_other_side(100ms));
  EXPECT_TRUE(silent.closed_by_other_side(3000ms));
  EXPECT_TRUE(relay.wait_for_stderr("the TLS handshake did not finish in time")) << relay.err();
}

TEST(tls_cat, help_documents_max_handshakes_and_what_one_more_handshake_does) {
  child help({flowstack_binary, "cat", "--help"}, "/dev/null");
  EXPECT_EQ(help.wait(), 0);
  for (const char* text : {"max-handshakes=N", "besides max-children",
                           "one more abandons the oldest", "sessions resume"})
    EXPECT_NE(help.out().find(text), std::string::npos) << text;
}

TEST(tls_cat, an_unknown_tls_version_is_a_malformed_address) {
  child c({flowstack_binary, "cat", "tls:127.0.0.1:1,sni=localhost,max-version=1.1", "-"});
  EXPECT_EQ(c.wait(), 2) << c.err();
  EXPECT_NE(c.err().find("max-version must be 1.2 or 1.3"), std::string::npos) << c.err();
}

}  // namespace
}  // namespace flowstack::test
