// TLS as flow kinds of the conformance suite: TLS over the memory pair and over TCP (IPv4),
// with certificates made by the tests (tls/test_certs.hpp).
#pragma once

#include <flowstack/tls/tls.hpp>
#include <utility>

#include <flowstack/core/memory_flow.hpp>
#include <stdexcept>
#include <string>

#include "support/async.hpp"
#include "tls/test_certs.hpp"

namespace flowstack::conformance {

// From kinds.hpp, which includes this header before it defines them.
[[noreturn]] inline void setup_failed(const std::string& what, std::error_code ec);
inline asio::awaitable<std::pair<flow, flow>> tcp_pair(asio::any_io_executor ex, const char* host);

inline tls::config tls_server_config() {
  const auto& certs = test::certificates();
  tls::config c;
  c.certificate_pem = certs.server_cert_pem;
  c.private_key_pem = certs.server_key_pem;
  return c;
}

inline tls::config tls_client_config() {
  tls::config c;
  c.ca_pem = test::certificates().ca_pem;
  return c;
}

// Runs both handshakes at once over the two ends of `ends`.
inline asio::awaitable<std::pair<flow, flow>> tls_over(asio::any_io_executor ex,
                                                       std::pair<flow, flow> ends) {
  auto server_config = tls_server_config();
  auto client_config = tls_client_config();
  test::background<detailed<flow>> server_side(ex,
                                               tls::server(server_config, std::move(ends.second)));
  auto client_side = co_await tls::client(client_config, std::move(ends.first), "localhost");
  auto server_done = co_await server_side.get();
  if (!client_side) setup_failed("TLS client handshake", client_side.error().code);
  if (!server_done) setup_failed("TLS server handshake", server_done.error().code);
  co_return std::pair{std::move(*client_side), std::move(*server_done)};
}

struct tls_memory_kind {
  static constexpr const char* name = "tls_over_memory";
  static constexpr std::size_t bulk_bytes = 16 << 20;
  static asio::awaitable<std::pair<flow, flow>> make_pair(asio::any_io_executor ex) {
    return tls_over(ex, memory_pair(ex));
  }
};

struct tls_tcp_v4_kind {
  static constexpr const char* name = "tls_over_tcp_v4";
  static constexpr std::size_t bulk_bytes = 16 << 20;
  static asio::awaitable<std::pair<flow, flow>> make_pair(asio::any_io_executor ex) {
    auto ends = co_await tcp_pair(ex, "127.0.0.1");
    co_return co_await tls_over(ex, std::move(ends));
  }
};

}  // namespace flowstack::conformance
