// TLS flows over the memory pair: handshakes, verification, client certificates, resumption,
// key update, errors for bad input, and a fault-injection run that cuts the ciphertext anywhere.
#include <gtest/gtest.h>

#include <openssl/x509_vfy.h>
#include <algorithm>
#include <flowstack/core/combinators.hpp>
#include <flowstack/core/memory_flow.hpp>
#include <flowstack/tls/tls.hpp>
#include <string>
#include <utility>

#include "support/async.hpp"
#include "support/run.hpp"
#include "support/virtual_time.hpp"
#include "tls/test_certs.hpp"

namespace flowstack::tls {
namespace {

using namespace std::chrono_literals;
using test::background;
using test::certificates;
using test::describe;
using test::error_of;
using test::read_all;
using test::read_string;
using test::write_string;

config server_config() {
  config c;
  c.certificate_pem = certificates().server_cert_pem;
  c.private_key_pem = certificates().server_key_pem;
  c.ca_pem = certificates().ca_pem;
  return c;
}

config client_config() {
  config c;
  c.ca_pem = certificates().ca_pem;
  return c;
}

struct handshakes {
  detailed<flow> client;
  detailed<flow> server;
};

// Both handshakes at once over a fresh memory pair.
asio::awaitable<handshakes> connect(asio::any_io_executor ex, context client_ctx,
                                    context server_ctx, std::string name) {
  auto ends = memory_pair(ex);
  background<detailed<flow>> server_side(ex, server(server_ctx, std::move(ends.second)));
  auto client_side = co_await client(client_ctx, std::move(ends.first), name);
  auto server_done = co_await server_side.get();
  co_return handshakes{std::move(client_side), std::move(server_done)};
}

asio::awaitable<handshakes> connect_configs(asio::any_io_executor ex, config client_c,
                                            config server_c, std::string name) {
  auto client_ctx = context::make(client_c, role::client);
  auto server_ctx = context::make(server_c, role::server);
  EXPECT_TRUE(client_ctx) << error_of(client_ctx).message();
  EXPECT_TRUE(server_ctx) << error_of(server_ctx).message();
  co_return co_await connect(ex, *client_ctx, *server_ctx, std::move(name));
}

asio::awaitable<void> close_all(handshakes& h) {
  if (h.client) co_await h.client->close();
  if (h.server) co_await h.server->close();
}

session_info epoch_of(flow& f) {
  return f.as<tls_flow>()->epoch();
}

TEST(tls, handshake_agrees_on_tls_1_3_and_reports_the_session) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto client_c = client_config();
    client_c.alpn = {"h2", "http/1.1"};
    auto server_c = server_config();
    server_c.alpn = {"http/1.1"};
    auto h = co_await connect_configs(ex, client_c, server_c, "localhost");
    EXPECT_TRUE(h.client) << error_of(h.client).message();
    EXPECT_TRUE(h.server) << error_of(h.server).message();
    if (h.client && h.server) {
      auto c = epoch_of(*h.client);
      auto s = epoch_of(*h.server);
      EXPECT_EQ(c.version, "TLSv1.3");
      EXPECT_EQ(c.cipher, s.cipher);
      EXPECT_EQ(c.alpn, "http/1.1");
      EXPECT_EQ(s.alpn, "http/1.1");
      EXPECT_EQ(s.server_name, "localhost");
      EXPECT_FALSE(c.peer_certificates_pem.empty());
      if ((c.peer_certificates_pem.empty())) co_return;
      EXPECT_EQ(c.peer_certificates_pem[0], certificates().server_cert_pem);
      EXPECT_TRUE(s.peer_certificates_pem.empty());
      EXPECT_FALSE(c.resumed);
      EXPECT_NE(h.client->description().find("tls client"), std::string::npos);
    }
    co_await close_all(h);
  });
}

TEST(tls, max_version_1_2_gives_a_tls_1_2_session_that_carries_data) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto client_c = client_config();
    client_c.max_version = version::tls1_2;
    auto h = co_await connect_configs(ex, client_c, server_config(), "localhost");
    EXPECT_TRUE(h.client && h.server);
    if (h.client && h.server) {
      EXPECT_EQ(epoch_of(*h.client).version, "TLSv1.2");
      auto w = co_await write_string(*h.client, "over 1.2");
      EXPECT_TRUE(w);
      auto got = co_await read_string(*h.server, 8);
      EXPECT_EQ(got.value_or(""), "over 1.2");
    }
    co_await close_all(h);
  });
}

TEST(tls, an_ip_address_is_checked_against_the_certificates_ip_entries) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto h = co_await connect_configs(ex, client_config(), server_config(), "127.0.0.1");
    EXPECT_TRUE(h.client) << error_of(h.client).message();
    if (h.client) {
      EXPECT_EQ(epoch_of(*h.client).server_name, "");  // no SNI for an IP
    }
    co_await close_all(h);
  });
}

TEST(tls, an_untrusted_certificate_fails_verification_with_openssls_reason) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto server_c = server_config();
    server_c.certificate_pem = certificates().untrusted_cert_pem;
    server_c.private_key_pem = certificates().untrusted_key_pem;
    auto h = co_await connect_configs(ex, client_config(), server_c, "localhost");
    EXPECT_FALSE(h.client);
    if ((h.client)) co_return;
    EXPECT_EQ(kind_of(h.client.error().code), tls_errc::verify_failed);
    EXPECT_EQ(h.client.error().code, verify_error(X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT));
    EXPECT_NE(h.client.error().code.message().find("self-signed"), std::string::npos)
        << h.client.error().code.message();
    // The server hears why: the client's alert, by number.
    EXPECT_FALSE(h.server);
    if ((h.server)) co_return;
    EXPECT_EQ(kind_of(h.server.error().code), tls_errc::alert_received);
    EXPECT_NE(h.server.error().code.message().find("(alert "), std::string::npos)
        << h.server.error().code.message();
  });
}

TEST(tls, a_wrong_hostname_fails_verification_as_a_hostname_mismatch) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto h = co_await connect_configs(ex, client_config(), server_config(), "example.org");
    EXPECT_FALSE(h.client);
    if ((h.client)) co_return;
    EXPECT_EQ(h.client.error().code, verify_error(X509_V_ERR_HOSTNAME_MISMATCH));
    EXPECT_NE(h.client.error().code.message().find("mismatch"), std::string::npos);
    co_await close_all(h);
  });
}

TEST(tls, handshakes_failing_at_once_on_one_thread_each_keep_their_own_reason) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto untrusted = server_config();
    untrusted.certificate_pem = certificates().untrusted_cert_pem;
    untrusted.private_key_pem = certificates().untrusted_key_pem;
    background<handshakes> first(ex, connect_configs(ex, client_config(), untrusted, "localhost"));
    auto second = co_await connect_configs(ex, client_config(), server_config(), "example.org");
    auto h = co_await first.get();
    EXPECT_FALSE(h.client || second.client);
    if (h.client || second.client) co_return;
    // Each detail: the code's sentence, then OpenSSL's routine and reason.
    const std::string& self_signed = h.client.error().detail;
    const std::string& mismatch = second.client.error().detail;
    EXPECT_EQ(self_signed.rfind(h.client.error().code.message(), 0), 0u) << self_signed;
    EXPECT_NE(self_signed.find("certificate verify failed"), std::string::npos) << self_signed;
    EXPECT_NE(self_signed.find("self-signed"), std::string::npos) << self_signed;
    EXPECT_NE(mismatch.find("mismatch"), std::string::npos) << mismatch;
    EXPECT_EQ(mismatch.find("self-signed"), std::string::npos) << mismatch;
    co_await close_all(h);
    co_await close_all(second);
  });
}

TEST(tls, the_server_chooses_its_certificate_by_the_name_the_client_asks_for) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    // The default certificate would fail verification; the one for "localhost" passes.
    auto server_c = server_config();
    server_c.certificate_pem = certificates().untrusted_cert_pem;
    server_c.private_key_pem = certificates().untrusted_key_pem;
    server_c.sni_certificates = {{.server_name = "localhost",
                                  .certificate_pem = certificates().server_cert_pem,
                                  .private_key_pem = certificates().server_key_pem}};
    auto h = co_await connect_configs(ex, client_config(), server_c, "localhost");
    EXPECT_TRUE(h.client) << error_of(h.client).message();
    if (h.client) {
      EXPECT_EQ(epoch_of(*h.client).peer_certificates_pem.at(0), certificates().server_cert_pem);
    }
    co_await close_all(h);
  });
}

TEST(tls, verify_off_accepts_an_untrusted_certificate) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto server_c = server_config();
    server_c.certificate_pem = certificates().untrusted_cert_pem;
    server_c.private_key_pem = certificates().untrusted_key_pem;
    auto client_c = client_config();
    client_c.verify_peer = false;
    auto h = co_await connect_configs(ex, client_c, server_c, "example.org");
    EXPECT_TRUE(h.client) << error_of(h.client).message();
    co_await close_all(h);
  });
}

TEST(tls, certificates_and_keys_load_from_pem_files) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    config server_c;
    server_c.certificate_file = certificates().server_cert_file;
    server_c.private_key_file = certificates().server_key_file;
    config client_c;
    client_c.ca_file = certificates().ca_file;
    auto h = co_await connect_configs(ex, client_c, server_c, "localhost");
    EXPECT_TRUE(h.client) << error_of(h.client).message();
    co_await close_all(h);
  });
}

TEST(tls, a_key_that_does_not_match_the_certificate_is_an_invalid_config) {
  config c;
  c.certificate_pem = certificates().server_cert_pem;
  c.private_key_pem = certificates().client_key_pem;
  auto ctx = context::make(c, role::server);
  ASSERT_FALSE(ctx);
  EXPECT_EQ(ctx.error().code, tls_errc::invalid_config);
  // OpenSSL's reason, after the setting it is about.
  EXPECT_NE(ctx.error().detail.find("private key: "), std::string::npos) << ctx.error().detail;
  EXPECT_NE(ctx.error().detail.find("key values mismatch"), std::string::npos)
      << ctx.error().detail;
}

TEST(tls, a_required_client_certificate_is_verified_and_reported) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto server_c = server_config();
    server_c.client_certificates = client_auth::require;
    auto client_c = client_config();
    client_c.certificate_pem = certificates().client_cert_pem;
    client_c.private_key_pem = certificates().client_key_pem;
    auto h = co_await connect_configs(ex, client_c, server_c, "localhost");
    EXPECT_TRUE(h.server) << error_of(h.server).message();
    if (h.server) {
      auto s = epoch_of(*h.server);
      // The client's certificate first, then the chain OpenSSL built for it.
      EXPECT_FALSE(s.peer_certificates_pem.empty());
      if (s.peer_certificates_pem.empty()) co_return;
      EXPECT_EQ(s.peer_certificates_pem[0], certificates().client_cert_pem);
    }
    co_await close_all(h);
  });
}

TEST(tls, a_client_without_a_required_certificate_is_refused_with_an_alert) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto server_c = server_config();
    server_c.client_certificates = client_auth::require;
    auto h = co_await connect_configs(ex, client_config(), server_c, "localhost");
    EXPECT_FALSE(h.server);
    if ((h.server)) co_return;
    // In TLS 1.3 the client has finished its handshake by then: its first read hears the alert.
    if (h.client) {
      auto r = co_await h.client->read();
      EXPECT_FALSE(r) << describe(r);
      if ((r)) co_return;
      EXPECT_EQ(alert_of(r.error()), 116) << r.error().message();  // certificate_required
    }
    co_await close_all(h);
  });
}

asio::awaitable<bool> resumed_connection(asio::any_io_executor ex, context client_ctx,
                                         context server_ctx) {
  auto h = co_await connect(ex, client_ctx, server_ctx, "localhost");
  EXPECT_TRUE(h.client && h.server);
  bool resumed = false;
  if (h.client && h.server) {
    resumed = epoch_of(*h.client).resumed;
    // The client takes TLS 1.3 tickets with its reads.
    auto w = co_await write_string(*h.server, "ping");
    EXPECT_TRUE(w);
    auto got = co_await read_string(*h.client, 4);
    EXPECT_EQ(got.value_or(""), "ping");
  }
  co_await close_all(h);
  co_return resumed;
}

asio::awaitable<void> resumption_test(asio::any_io_executor ex, version v) {
  auto client_c = client_config();
  client_c.max_version = v;
  auto client_ctx = context::make(client_c, role::client);
  auto server_ctx = context::make(server_config(), role::server);
  bool first = co_await resumed_connection(ex, *client_ctx, *server_ctx);
  bool second = co_await resumed_connection(ex, *client_ctx, *server_ctx);
  EXPECT_FALSE(first);
  EXPECT_TRUE(second);
}

TEST(tls, a_second_connection_resumes_the_session_with_tls_1_3_tickets) {
  test::run([](asio::any_io_executor ex) { return resumption_test(ex, version::tls1_3); });
}

TEST(tls, a_second_connection_resumes_the_session_with_tls_1_2) {
  test::run([](asio::any_io_executor ex) { return resumption_test(ex, version::tls1_2); });
}

TEST(tls, key_update_requesting_the_peer_keeps_data_flowing_both_ways) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto h = co_await connect_configs(ex, client_config(), server_config(), "localhost");
    EXPECT_TRUE(h.client && h.server);
    if (!(h.client && h.server)) co_return;
    auto k = co_await h.client->as<tls_flow>()->key_update(true);
    EXPECT_TRUE(k) << error_of(k).message();
    auto w1 = co_await write_string(*h.client, "after update");
    EXPECT_TRUE(w1);
    auto got1 = co_await read_string(*h.server, 12);
    EXPECT_EQ(got1.value_or(""), "after update");
    auto w2 = co_await write_string(*h.server, "and back");
    EXPECT_TRUE(w2);
    auto got2 = co_await read_string(*h.client, 8);
    EXPECT_EQ(got2.value_or(""), "and back");
    co_await close_all(h);
  });
}

// Forwards to an inner flow, counting the bytes written through it.
class counting_flow final : public flow_impl {
 public:
  counting_flow(flow inner, std::size_t* written)
      : flow_impl(inner.get_executor()), inner_(std::move(inner)), written_(written) {}
  std::string description() const override { return "counting " + inner_.description(); }

 protected:
  asio::awaitable<read_result> do_read() override { return inner_.read(); }
  asio::awaitable<write_result> do_writev(std::span<const buffer> data) override {
    *written_ += total_size(data);
    return inner_.writev(data);
  }
  asio::awaitable<void> do_shutdown_write() override { return inner_.shutdown_write(); }
  asio::awaitable<void> do_close() override { return inner_.close(); }

 private:
  flow inner_;
  std::size_t* written_;
};

TEST(tls, writev_gathers_small_buffers_into_full_records) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto ends = memory_pair(ex);
    std::size_t written = 0;
    auto counted = make_flow<counting_flow>(std::move(ends.first), &written);
    background<detailed<flow>> server_side(ex, server(server_config(), std::move(ends.second)));
    auto c = co_await client(client_config(), std::move(counted), std::string("localhost"));
    auto s = co_await server_side.get();
    EXPECT_TRUE(c && s);
    if (!c || !s) co_return;
    std::vector<buffer> parts(1000, buffer::of_string("0123456789"));
    std::size_t before = written;
    auto w = co_await c->writev(parts);
    EXPECT_TRUE(w);
    // One record per buffer would add 22 bytes of framing and tag to each: 32000 bytes.
    EXPECT_LT(written - before, 10000u + 2 * 32);
    auto got = co_await read_string(*s, 10000);
    EXPECT_EQ(got.value_or("").substr(0, 20), "01234567890123456789");
    co_await c->close();
    co_await s->close();
  });
}

// ---- bad input ---------------------------------------------------------------------------------

TEST(tls, garbage_instead_of_a_client_hello_fails_the_server_handshake) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto ends = memory_pair(ex);
    auto server_ctx = context::make(server_config(), role::server);
    background<detailed<flow>> server_side(ex, server(*server_ctx, std::move(ends.second)));
    auto w = co_await write_string(ends.first, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_TRUE(w);
    auto s = co_await server_side.get();
    EXPECT_FALSE(s);
    if ((s)) co_return;
    EXPECT_EQ(s.error().code, tls_errc::bad_record) << s.error().detail;
    // The server closed its end: the other end reads to eof, nothing hangs.
    auto answer = co_await read_all(ends.first);
    EXPECT_TRUE(answer);
    co_await ends.first.close();
  });
}

TEST(tls, a_peer_that_stops_mid_handshake_times_out_saying_it_was_the_handshake) {
  test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        auto start = time.now();
        auto ends = memory_pair(ex);
        auto server_c = server_config();
        server_c.handshake_timeout = 200ms;
        server_c.time = &time;
        background<detailed<flow>> server_side(ex, server(server_c, std::move(ends.second)));
        auto w = co_await write_string(ends.first, std::string("\x16\x03\x01\x00\x40", 5));
        EXPECT_TRUE(w);
        auto s = co_await server_side.get();
        EXPECT_FALSE(s);
        if ((s)) co_return;
        EXPECT_EQ(s.error().code, tls_errc::handshake_timeout);
        EXPECT_EQ(s.error().code, flow_condition::timeout) << "still a timeout to whoever asks";
        EXPECT_NE(s.error().detail.find("TLS handshake"), std::string::npos);
        EXPECT_EQ(time.now() - start, 200ms) << "the bound is the config's clock's";
        co_await ends.first.close();
      });
}

TEST(tls, close_gives_up_on_close_notify_after_close_timeout_when_the_peer_reads_nothing) {
  test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        // Four full TLS 1.3 records (16 KiB of plaintext, 22 octets of header, type and tag each)
        // fill the client-to-server direction exactly: close_notify finds no room.
        constexpr std::size_t records = 4;
        auto ends = memory_pair(ex, {.capacity = records * (16 * 1024 + 22)});
        auto client_c = client_config();
        auto server_c = server_config();
        client_c.time = &time;
        server_c.time = &time;
        background<detailed<flow>> server_side(ex, server(server_c, std::move(ends.second)));
        auto c = co_await client(client_c, std::move(ends.first), "localhost");
        auto s = co_await server_side.get();
        EXPECT_TRUE(c && s);
        if (!c || !s) co_return;
        auto w = co_await write_string(*c, std::string(records * 16 * 1024, 'x'));
        EXPECT_TRUE(w);
        auto start = time.now();
        co_await c->close();
        EXPECT_GE(time.now() - start, client_c.close_timeout);
        EXPECT_LT(time.now() - start, client_c.close_timeout + 100ms) << "bounded by close_timeout";
        co_await s->close();
      });
}

TEST(tls, a_peer_that_goes_away_mid_handshake_gives_closed) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto ends = memory_pair(ex);
    background<detailed<flow>> client_side(
        ex, client(client_config(), std::move(ends.first), std::string("localhost")));
    auto hello = co_await ends.second.read();
    EXPECT_TRUE(hello && !hello->is_eof());
    co_await ends.second.close();
    auto c = co_await client_side.get();
    EXPECT_FALSE(c);
    if ((c)) co_return;
    EXPECT_EQ(c.error().code, tls_errc::closed);
  });
}

TEST(tls, a_record_of_wrong_length_is_a_bad_record) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto h = co_await connect_configs(ex, client_config(), server_config(), "localhost");
    EXPECT_TRUE(h.client && h.server);
    if (!(h.client && h.server)) co_return;
    // An application-data record that claims more than any record may hold.
    auto w = co_await h.client->underlying()->write(
        buffer::of_string(std::string("\x17\x03\x03\xff\xff", 5) + std::string(64, 'x')));
    EXPECT_TRUE(w);
    auto r = co_await h.server->read();
    EXPECT_FALSE(r) << describe(r);
    if ((r)) co_return;
    EXPECT_EQ(r.error(), tls_errc::bad_record) << r.error().message();
    auto again = co_await h.server->read();  // sticky
    EXPECT_EQ(error_of(again), r.error());
    co_await close_all(h);
  });
}

asio::awaitable<void> truncation_test(asio::any_io_executor ex, bool allow) {
  auto server_c = server_config();
  server_c.allow_truncation = allow;
  auto h = co_await connect_configs(ex, client_config(), server_c, "localhost");
  EXPECT_TRUE(h.client && h.server);
  if (!h.client || !h.server) co_return;
  // Half a record, then the inner stream ends without close_notify.
  auto w = co_await h.client->underlying()->write(
      buffer::of_string(std::string("\x17\x03\x03\x00\x40", 5) + std::string(10, 'x')));
  EXPECT_TRUE(w);
  co_await h.client->underlying()->shutdown(shutdown_mode::write);
  auto r = co_await h.server->read();
  if (allow) {
    EXPECT_EQ(describe(r), "<eof>");
  } else {
    EXPECT_FALSE(r) << describe(r);
    if ((r)) co_return;
    EXPECT_EQ(r.error(), tls_errc::truncated);
  }
  co_await close_all(h);
}

TEST(tls, inner_eof_mid_record_is_truncated) {
  test::run([](asio::any_io_executor ex) { return truncation_test(ex, false); });
}

TEST(tls, inner_eof_mid_record_is_eof_when_truncation_is_allowed) {
  test::run([](asio::any_io_executor ex) { return truncation_test(ex, true); });
}

TEST(tls, close_notify_is_eof_and_the_inner_flow_closes_once_both_halves_are_done) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto h = co_await connect_configs(ex, client_config(), server_config(), "localhost");
    EXPECT_TRUE(h.client && h.server);
    if (!(h.client && h.server)) co_return;
    co_await h.client->shutdown(shutdown_mode::write);
    EXPECT_FALSE(h.client->underlying()->is_closed());
    auto r = co_await h.server->read();
    EXPECT_EQ(describe(r), "<eof>");
    auto w = co_await write_string(*h.server, "reply");
    EXPECT_TRUE(w);
    co_await h.server->shutdown(shutdown_mode::write);
    EXPECT_TRUE(h.server->underlying()->is_closed());
    auto got = co_await read_all(*h.client);
    EXPECT_EQ(got.value_or("<error>"), "reply");
    EXPECT_TRUE(h.client->underlying()->is_closed());
    co_await close_all(h);
  });
}

// ---- fault injection ----------------------------------------------------------------------------

std::string pattern(std::size_t n, std::uint64_t seed) {
  std::string text(n, '\0');
  for (std::size_t i = 0; i < n; ++i) text[i] = static_cast<char>('a' + (seed + i * 7) % 26);
  return text;
}

// Writes `text` in pieces of varying sizes (some as writev, some after yielding to the other
// coroutines), then shuts the write side down.
asio::awaitable<write_result> send_in_pieces(flow& f, std::string text, std::uint64_t seed) {
  std::size_t at = 0;
  std::uint64_t state = seed | 1;
  while (at < text.size()) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    std::size_t n = std::min<std::size_t>(text.size() - at, 1 + state % 5000);
    write_result w;
    if (state % 3 == 0) {
      std::vector<buffer> parts;
      for (std::size_t i = 0; i < n; i += 100) {
        parts.push_back(buffer::of_string(text.substr(at + i, std::min<std::size_t>(100, n - i))));
      }
      w = co_await f.writev(parts);
    } else {
      w = co_await f.write(buffer::of_string(text.substr(at, n)));
    }
    if (!w) co_return w;
    at += n;
    if (state % 11 == 0) co_await test::yield(static_cast<int>(state % 4));
  }
  co_await f.shutdown(shutdown_mode::write);
  co_return write_result{};
}

asio::awaitable<void> fault_run(asio::any_io_executor ex, std::uint64_t seed) {
  auto ends = memory_pair(ex, memory_pair_options{.capacity = 4096});
  ends.first.as<memory_flow>()->cut_reads(1 + seed % 40, seed);
  ends.second.as<memory_flow>()->cut_reads(1 + seed % 23, seed + 100);
  auto client_ctx = context::make(client_config(), role::client);
  auto server_ctx = context::make(server_config(), role::server);
  background<detailed<flow>> server_side(ex, server(*server_ctx, std::move(ends.second)));
  auto c = co_await client(*client_ctx, std::move(ends.first), "localhost");
  auto s = co_await server_side.get();
  EXPECT_TRUE(c && s) << "seed " << seed;
  if (!c || !s) co_return;
  const std::string to_server = pattern(20000 + seed * 131 % 30000, seed);
  const std::string to_client = pattern(10000 + seed * 71 % 20000, seed + 1);
  background<result<std::string>> server_reads(ex, read_all(*s));
  background<result<std::string>> client_reads(ex, read_all(*c));
  background<write_result> client_writes(ex, send_in_pieces(*c, to_server, seed));
  background<write_result> server_writes(ex, send_in_pieces(*s, to_client, seed + 5));
  auto cw = co_await client_writes.get();
  EXPECT_TRUE(cw) << "seed " << seed << ": " << error_of(cw).message();
  auto sw = co_await server_writes.get();
  EXPECT_TRUE(sw) << "seed " << seed << ": " << error_of(sw).message();
  // Wait for each side's reading to end before closing it, so a close cuts no reader short.
  auto at_server = co_await server_reads.get();
  auto at_client = co_await client_reads.get();
  EXPECT_TRUE(at_server) << "seed " << seed << ": " << error_of(at_server).message();
  EXPECT_TRUE(at_client) << "seed " << seed << ": " << error_of(at_client).message();
  EXPECT_TRUE(at_server.value_or("") == to_server) << "seed " << seed;
  EXPECT_TRUE(at_client.value_or("") == to_client) << "seed " << seed;
  co_await c->close();
  co_await s->close();
}

struct read_end {
  std::string text;
  read_result last;  // eof or the error that ended the reading
};

// Reads until eof or an error, keeping what arrived before the end.
asio::awaitable<read_end> read_to_end(flow& f) {
  read_end out;
  for (;;) {
    auto r = co_await f.read();
    if (!r || r->is_eof()) {
      out.last = std::move(r);
      co_return out;
    }
    out.text += r->data().as_string_view();
  }
}

// The client writes part of its data and then its inner flow is cut (no close_notify) or the
// client closes (close_notify first): the server reads a prefix then `truncated`, or all of it
// then eof; nothing hangs.
asio::awaitable<void> cut_run(asio::any_io_executor ex, std::uint64_t seed) {
  auto ends = memory_pair(ex, memory_pair_options{.capacity = 4096});
  ends.first.as<memory_flow>()->cut_reads(1 + seed % 17, seed);
  ends.second.as<memory_flow>()->cut_reads(1 + seed % 29, seed + 7);
  background<detailed<flow>> server_side(ex, server(server_config(), std::move(ends.second)));
  auto c = co_await client(client_config(), std::move(ends.first), std::string("localhost"));
  auto s = co_await server_side.get();
  EXPECT_TRUE(c && s) << "seed " << seed;
  if (!c || !s) co_return;
  const std::string data = pattern(3000 + seed * 977 % 20000, seed);
  background<read_end> server_reads(ex, read_to_end(*s));
  background<read_end> client_reads(ex, read_to_end(*c));
  std::size_t cut_at = seed * 7919 % data.size();
  auto w = co_await c->write(buffer::of_string(data.substr(0, cut_at)));
  EXPECT_TRUE(w);
  co_await test::yield(static_cast<int>(seed % 5));
  bool abrupt = seed % 2 == 0;
  if (abrupt) {
    co_await c->underlying()->close();
  } else {
    co_await c->close();
  }
  auto at_server = co_await server_reads.get();
  EXPECT_TRUE(data.compare(0, at_server.text.size(), at_server.text) == 0) << "seed " << seed;
  if (abrupt) {
    EXPECT_EQ(error_of(at_server.last), make_error_code(tls_errc::truncated)) << "seed " << seed;
  } else {
    EXPECT_EQ(describe(at_server.last), "<eof>") << "seed " << seed;
    EXPECT_EQ(at_server.text.size(), cut_at) << "seed " << seed;
  }
  co_await c->close();
  auto at_client = co_await client_reads.get();
  EXPECT_FALSE(at_client.last) << "seed " << seed;  // its own close ended its read
  co_await s->close();
}

TEST(tls, a_cut_or_closed_stream_ends_in_truncated_or_eof_after_a_prefix_of_the_data) {
  for (std::uint64_t seed = 1; seed <= 16; ++seed) {
    test::run([seed](asio::any_io_executor ex) { return cut_run(ex, seed); }, 20s);
  }
}

TEST(tls, ciphertext_cut_anywhere_carries_every_byte_exactly_once_both_ways) {
  for (std::uint64_t seed = 1; seed <= 24; ++seed) {
    test::run([seed](asio::any_io_executor ex) { return fault_run(ex, seed); }, 20s);
  }
}

// A TLS 1.2 client that offers only the given suites, against a server with the default profile.
asio::awaitable<void> expect_tls12_client_refused(asio::any_io_executor ex, std::string suites) {
  auto client_c = client_config();
  client_c.max_version = version::tls1_2;
  client_c.ciphers = std::move(suites);
  auto h = co_await connect_configs(ex, client_c, server_config(), "localhost");
  EXPECT_FALSE(h.client) << "the client got a session";
  EXPECT_FALSE(h.server) << "the server accepted " << client_c.ciphers;
  co_await close_all(h);
}

TEST(tls, default_server_refuses_a_client_offering_only_cbc_suites) {
  test::run([](asio::any_io_executor ex) {
    return expect_tls12_client_refused(ex,
                                       "ECDHE+AES256+SHA1:ECDHE+AES128+SHA256:ECDHE+AES256+SHA384");
  });
}

TEST(tls, default_profile_still_agrees_on_tls_1_2_with_ecdhe_and_aead) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto client_c = client_config();
    client_c.max_version = version::tls1_2;
    auto h = co_await connect_configs(ex, client_c, server_config(), "localhost");
    EXPECT_TRUE(h.client) << error_of(h.client).message();
    EXPECT_TRUE(h.server) << error_of(h.server).message();
    if (h.client && h.server) {
      auto c = epoch_of(*h.client);
      EXPECT_EQ(c.version, "TLSv1.2");
      EXPECT_EQ(c.cipher.rfind("ECDHE-", 0), 0u) << c.cipher;
    }
    co_await close_all(h);
  });
}

TEST(tls, a_tls_1_3_only_server_refuses_a_tls_1_2_client) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto client_c = client_config();
    client_c.max_version = version::tls1_2;
    auto server_c = server_config();
    server_c.min_version = version::tls1_3;
    auto h = co_await connect_configs(ex, client_c, server_c, "localhost");
    EXPECT_FALSE(h.client);
    EXPECT_FALSE(h.server);
    co_await close_all(h);
  });
}

TEST(tls, every_rfc_8446_alert_prints_its_name) {
  const std::pair<int, const char*> alerts[] = {
      {116, "certificate_required"},     {109, "missing_extension"},
      {120, "no_application_protocol"},  {115, "unknown_psk_identity"},
      {86, "inappropriate_fallback"},    {90, "user_canceled"},
      {112, "unrecognized_name"},        {40, "handshake_failure"},
      {111, "certificate_unobtainable"}, {113, "bad_certificate_status_response"},
  };
  for (const auto& [code, name] : alerts) {
    const std::string text = alert_error(code).message();
    EXPECT_NE(text.find(name), std::string::npos) << text;
    EXPECT_EQ(text.find("unknown (alert"), std::string::npos) << text;
  }
}

}  // namespace
}  // namespace flowstack::tls
