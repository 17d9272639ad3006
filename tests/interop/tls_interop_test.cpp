// flowstack's TLS against real `openssl s_server` and `s_client` processes on loopback:
// TLS 1.2 and 1.3, ALPN, SNI, resumption, key update, client certificates, and a wrong hostname
// or an untrusted certificate rejected with a clear verification error. Every wait is bounded
// and the child processes are always killed (tests/cli/process.hpp).
#include <gtest/gtest.h>

#include <openssl/x509_vfy.h>
#include <flowstack/core/combinators.hpp>
#include <flowstack/core/function_flow.hpp>
#include <flowstack/core/wait_queue.hpp>
#include <flowstack/net/listener.hpp>
#include <flowstack/socket/tcp.hpp>
#include <flowstack/tls/tls.hpp>
#include <memory>
#include <string>
#include <vector>

#include "cli/process.hpp"
#include "support/async.hpp"
#include "support/run.hpp"
#include "tls/test_certs.hpp"

namespace flowstack::tls {
namespace {

using namespace std::chrono_literals;
using test::certificates;
using test::child;
using test::error_of;

// Waits (bounded) until s_server says it accepts connections.
bool wait_until_accepting(child& server) {
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (server.out().find("ACCEPT") == std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    if (!server.wait_for_stdout(server.out().size() + 1, 1000ms)) return false;
  }
  return true;
}

// `openssl s_server` answering each line reversed, for `accepts` connections.
std::unique_ptr<child> start_s_server(unsigned short port, std::vector<std::string> extra,
                                      int accepts = 1) {
  const auto& certs = certificates();
  std::vector<std::string> argv = {"openssl",
                                   "s_server",
                                   "-accept",
                                   "127.0.0.1:" + std::to_string(port),
                                   "-cert",
                                   certs.server_cert_file,
                                   "-key",
                                   certs.server_key_file,
                                   "-rev",
                                   "-naccept",
                                   std::to_string(accepts)};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto server = std::make_unique<child>(argv);
  EXPECT_TRUE(wait_until_accepting(*server)) << "s_server did not start: " << server->err();
  return server;
}

config client_config() {
  config c;
  c.ca_file = certificates().ca_file;
  return c;
}

struct exchange {
  std::error_code error;
  std::string answer;
  session_info session;
};

// Connects to 127.0.0.1:port with `ctx` as `name`, sends "hello\n", reads the reversed line.
asio::awaitable<exchange> talk(unsigned short port, context ctx, std::string name,
                               bool update_keys) {
  exchange result;
  net::tcp_endpoint there(asio::ip::make_address("127.0.0.1"), port);
  auto tcp = co_await socket::connect(there);
  if (!tcp) {
    result.error = tcp.error();
    co_return result;
  }
  auto f = co_await client(ctx, std::move(*tcp), name);
  if (!f) {
    result.error = f.error().code;
    co_return result;
  }
  if (update_keys) {
    auto k = co_await f->as<tls_flow>()->key_update(true);
    EXPECT_TRUE(k) << error_of(k).message();
  }
  auto w = co_await test::write_string(*f, "hello\n");
  EXPECT_TRUE(w) << error_of(w).message();
  auto got = co_await test::read_string(*f, 6);
  if (!got) result.error = got.error();
  result.answer = got.value_or("");
  result.session = f->as<tls_flow>()->epoch();
  co_await f->close();
  co_return result;
}

exchange talk_to(unsigned short port, const config& c, const std::string& name,
                 bool update_keys = false) {
  auto ctx = context::make(c, role::client);
  EXPECT_TRUE(ctx);
  return test::run([&](asio::any_io_executor) { return talk(port, *ctx, name, update_keys); }, 20s);
}

TEST(tls_interop, client_talks_tls_1_3_with_alpn_to_openssl_s_server) {
  auto port = test::free_port();
  auto server = start_s_server(port, {"-alpn", "flow,http/1.1"});
  auto c = client_config();
  c.alpn = {"flow"};
  auto r = talk_to(port, c, "localhost");
  EXPECT_FALSE(r.error) << r.error.message();
  EXPECT_EQ(r.answer, "olleh\n");
  EXPECT_EQ(r.session.version, "TLSv1.3");
  EXPECT_EQ(r.session.alpn, "flow");
}

TEST(tls_interop, client_talks_tls_1_2_to_openssl_s_server) {
  auto port = test::free_port();
  auto server = start_s_server(port, {"-tls1_2"});
  auto r = talk_to(port, client_config(), "localhost");
  EXPECT_FALSE(r.error) << r.error.message();
  EXPECT_EQ(r.answer, "olleh\n");
  EXPECT_EQ(r.session.version, "TLSv1.2");
}

TEST(tls_interop, client_resumes_its_session_with_openssl_s_server) {
  for (const char* v : {"-tls1_3", "-tls1_2"}) {
    auto port = test::free_port();
    auto server = start_s_server(port, {v}, 2);
    auto ctx = context::make(client_config(), role::client);
    ASSERT_TRUE(ctx);
    auto first =
        test::run([&](asio::any_io_executor) { return talk(port, *ctx, "localhost", false); }, 20s);
    auto second =
        test::run([&](asio::any_io_executor) { return talk(port, *ctx, "localhost", false); }, 20s);
    EXPECT_FALSE(first.error) << v << ": " << first.error.message();
    EXPECT_FALSE(second.error) << v << ": " << second.error.message();
    EXPECT_FALSE(first.session.resumed) << v;
    EXPECT_TRUE(second.session.resumed) << v;
  }
}

TEST(tls_interop, client_key_update_is_understood_by_openssl_s_server) {
  auto port = test::free_port();
  auto server = start_s_server(port, {});
  auto r = talk_to(port, client_config(), "localhost", true);
  EXPECT_FALSE(r.error) << r.error.message();
  EXPECT_EQ(r.answer, "olleh\n");
}

TEST(tls_interop, client_presents_its_certificate_when_s_server_requires_one) {
  auto port = test::free_port();
  auto server = start_s_server(
      port, {"-Verify", "1", "-verify_return_error", "-CAfile", certificates().ca_file});
  auto c = client_config();
  c.certificate_file = certificates().client_cert_file;
  c.private_key_file = certificates().client_key_file;
  auto r = talk_to(port, c, "localhost");
  EXPECT_FALSE(r.error) << r.error.message();
  EXPECT_EQ(r.answer, "olleh\n");
}

TEST(tls_interop, a_wrong_hostname_is_rejected_with_a_hostname_mismatch) {
  auto port = test::free_port();
  auto server = start_s_server(port, {});
  auto r = talk_to(port, client_config(), "wrong.example");
  EXPECT_EQ(r.error, verify_error(X509_V_ERR_HOSTNAME_MISMATCH)) << r.error.message();
  EXPECT_NE(r.error.message().find("mismatch"), std::string::npos) << r.error.message();
}

TEST(tls_interop, an_untrusted_certificate_is_rejected_with_openssls_reason) {
  auto port = test::free_port();
  const auto& certs = certificates();
  child server({"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert",
                certs.untrusted_cert_file, "-key", certs.untrusted_key_file, "-naccept", "1"});
  ASSERT_TRUE(wait_until_accepting(server)) << server.err();
  auto r = talk_to(port, client_config(), "localhost");
  EXPECT_EQ(kind_of(r.error), tls_errc::verify_failed) << r.error.message();
  EXPECT_NE(r.error.message().find("self-signed"), std::string::npos) << r.error.message();
}

// ---- flowstack as the server, openssl s_client as the client ----------------------------------

// The listener closes the flow its handler got when the handler returns: the handler moves the
// accepted flow here (leaving an empty string flow behind) for the test to own.
struct accepted_slot {
  explicit accepted_slot(asio::any_io_executor ex) : arrived(std::move(ex)) {}
  flow accepted;
  wait_queue arrived;
};

asio::awaitable<void> hand_over(std::shared_ptr<accepted_slot> slot, flow& f) {
  slot->accepted = std::exchange(f, string_flow(f.get_executor(), ""));
  slot->arrived.notify_all();
  co_return;
}

asio::awaitable<flow> wait_for_accepted(std::shared_ptr<accepted_slot> slot) {
  while (!slot->accepted) co_await slot->arrived.wait();
  co_return std::move(slot->accepted);
}

struct served {
  std::error_code error;
  std::string request;
  session_info session;
  std::unique_ptr<child> client_process;
};

// Accepts one connection on 127.0.0.1:port, reads a line of 5 bytes, answers "pong\n" and
// closes its sending side (s_client then exits).
asio::awaitable<served> serve_once(asio::any_io_executor ex, unsigned short port, context ctx,
                                   std::vector<std::string> client_argv) {
  served out;
  auto slot = std::make_shared<accepted_slot>(ex);
  net::flow_handler handler = [slot](flow& f) { return hand_over(slot, f); };
  auto listening =
      socket::listen(ex, net::tcp_endpoint(asio::ip::make_address("127.0.0.1"), port), handler);
  if (!listening) {
    out.error = listening.error();
    co_return out;
  }
  // Started once we listen; it sends "ping\n" and waits for our answer and close_notify.
  out.client_process = std::make_unique<child>(client_argv);
  out.client_process->write_stdin("ping\n");
  auto accepted = co_await with_timeout(wait_for_accepted(slot), 10s);
  listening->unlisten();
  if (!accepted) {
    out.error = accepted.error();
    co_return out;
  }
  auto f = co_await server(ctx, std::move(*accepted));
  if (!f) {
    out.error = f.error().code;
    co_return out;
  }
  out.session = f->as<tls_flow>()->epoch();
  auto got = co_await test::read_string(*f, 5);
  if (!got) out.error = got.error();
  out.request = got.value_or("");
  auto w = co_await test::write_string(*f, "pong\n");
  EXPECT_TRUE(w) << error_of(w).message();
  co_await f->shutdown(shutdown_mode::write);
  co_await with_timeout(test::read_all(*f), 5s);
  co_await f->close();
  co_return out;
}

config server_config() {
  config c;
  c.certificate_file = certificates().server_cert_file;
  c.private_key_file = certificates().server_key_file;
  c.ca_file = certificates().ca_file;
  return c;
}

served serve_s_client(const config& c, std::vector<std::string> client_argv, unsigned short port) {
  auto ctx = context::make(c, role::server);
  EXPECT_TRUE(ctx);
  return test::run(
      [&](asio::any_io_executor ex) { return serve_once(ex, port, *ctx, client_argv); }, 20s);
}

std::vector<std::string> s_client_argv(unsigned short port, std::vector<std::string> extra) {
  std::vector<std::string> argv = {"openssl",
                                   "s_client",
                                   "-connect",
                                   "127.0.0.1:" + std::to_string(port),
                                   "-CAfile",
                                   certificates().ca_file,
                                   "-verify_return_error",
                                   "-quiet",
                                   "-no_ign_eof"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

TEST(tls_interop, openssl_s_client_talks_tls_1_3_with_sni_and_alpn_to_the_server) {
  auto port = test::free_port();
  auto c = server_config();
  c.alpn = {"other", "flow"};
  auto r =
      serve_s_client(c, s_client_argv(port, {"-servername", "localhost", "-alpn", "flow"}), port);
  EXPECT_FALSE(r.error) << r.error.message();
  EXPECT_EQ(r.request, "ping\n");
  EXPECT_EQ(r.session.version, "TLSv1.3");
  EXPECT_EQ(r.session.server_name, "localhost");
  EXPECT_EQ(r.session.alpn, "flow");
  ASSERT_TRUE(r.client_process);
  r.client_process->wait(10000ms);
  EXPECT_NE(r.client_process->out().find("pong"), std::string::npos) << r.client_process->err();
}

TEST(tls_interop, openssl_s_client_talks_tls_1_2_with_a_client_certificate) {
  auto port = test::free_port();
  const auto& certs = certificates();
  auto c = server_config();
  c.client_certificates = client_auth::require;
  auto r = serve_s_client(c,
                          s_client_argv(port, {"-tls1_2", "-cert", certs.client_cert_file, "-key",
                                               certs.client_key_file}),
                          port);
  EXPECT_FALSE(r.error) << r.error.message();
  EXPECT_EQ(r.request, "ping\n");
  EXPECT_EQ(r.session.version, "TLSv1.2");
  ASSERT_FALSE(r.session.peer_certificates_pem.empty()) << r.error.message();
  EXPECT_EQ(r.session.peer_certificates_pem[0], certs.client_cert_pem);
  ASSERT_TRUE(r.client_process);
  r.client_process->wait(10000ms);
  EXPECT_NE(r.client_process->out().find("pong"), std::string::npos) << r.client_process->err();
}

}  // namespace
}  // namespace flowstack::tls
