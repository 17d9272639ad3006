// TLS 1.2 / 1.3 over any flow (OpenSSL 3).
//
// TLS knows nothing of sockets: OpenSSL reads and writes ciphertext to memory BIOs, and the TLS
// flow moves that ciphertext to and from an inner flow it owns (kernel TCP, a Unix socket, the
// memory pair, anything). The TLS flow is itself a flow and follows the layering rules of the
// flow contract (DESIGN.md §1.3):
//   shutdown(write)   sends close_notify; the inner write side stays open;
//   close_notify in   is eof (no automatic reply);
//   both halves done  closes the inner flow;
//   close             sends close_notify when the write side is still open (bounded wait) and
//                     always closes the inner flow;
//   abort             sends no close_notify and aborts the inner flow: the peer's read fails
//                     (`truncated`, or the inner transport's reset) instead of ending;
//   inner eof         without close_notify is the error `truncated` (or eof when the config
//                     says the peer never sends close_notify);
//   inner errors      pass through unchanged.
//
//   auto ctx = tls::context::make(config, tls::role::client);
//   auto f = co_await tls::client(*ctx, std::move(tcp), "example.org");
#pragma once

#include <flowstack/core/clock.hpp>
#include <flowstack/core/flow.hpp>
#include <flowstack/core/layered_flow.hpp>
#include <flowstack/tls/error.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace flowstack::tls {

enum class version : int { tls1_2 = 0x0303, tls1_3 = 0x0304 };

// The TLS 1.2 suites used when config::ciphers is empty: ECDHE key exchange with an AEAD cipher.
inline constexpr const char* default_tls12_ciphers = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL";

enum class client_auth {
  none,     // the server asks for no client certificate
  request,  // the server asks; a client without one is still accepted
  require,  // the server asks and rejects a client without one
};

struct config {
  // Our certificate (with its chain, leaf first) and private key: PEM text or a PEM file.
  // A server needs them; a client only for client authentication.
  std::string certificate_pem;
  std::string certificate_file;
  std::string private_key_pem;
  std::string private_key_file;

  // Server: other certificates, chosen by the name the client asks for (SNI); a client that
  // names none of them, or no name, gets the certificate above.
  struct named_certificate {
    std::string server_name;
    std::string certificate_pem, certificate_file;
    std::string private_key_pem, private_key_file;
  };
  std::vector<named_certificate> sni_certificates;

  // Whom we trust: PEM text and/or a PEM file; with neither, the system's trust store.
  std::string ca_pem;
  std::string ca_file;

  // Verify the peer's certificate (client: the server's, with the name given to client()).
  bool verify_peer = true;
  // Server: whether to ask clients for certificates (verified against the CAs above).
  client_auth client_certificates = client_auth::none;

  version min_version = version::tls1_2;
  version max_version = version::tls1_3;
  std::string ciphers;       // TLS 1.2 cipher list (OpenSSL syntax); empty: default_tls12_ciphers
  std::string ciphersuites;  // TLS 1.3 suites; empty: OpenSSL's default
  std::string groups;        // key exchange groups, e.g. "X25519:P-256"; empty: default

  // ALPN protocols in order of preference (client: offered; server: accepted).
  std::vector<std::string> alpn;

  // Client: remember sessions per server name and resume them. Server: issue tickets.
  bool session_resumption = true;

  // Peers that end the connection without close_notify: inner eof is eof, not `truncated`.
  bool allow_truncation = false;

  clock::duration handshake_timeout = std::chrono::seconds(10);
  // How long close and shutdown(write) wait to hand close_notify to the inner flow.
  clock::duration close_timeout = std::chrono::seconds(1);
  // What the bounds above are measured on (tests give a manual_clock). It must outlive every
  // context and flow made with this config.
  flowstack::clock* time = &clock::steady();
};

enum class role { client, server };

// An OpenSSL context made from a config: shared by the connections made with it, which share
// its session cache (client) and ticket keys (server). Cheap to copy.
class context {
 public:
  // The failure says which setting OpenSSL rejected, and OpenSSL's reason.
  static detailed<context> make(const config& c, role r);

  const config& settings() const noexcept;
  role side() const noexcept;

 private:
  struct state;  // the SSL_CTX and what the module keeps beside it (src/tls/context_state.hpp)
  friend struct context_access;
  std::shared_ptr<state> state_;
};

// What a connection agreed on (mirage-tls's epoch).
struct session_info {
  std::string version;      // "TLSv1.3"
  std::string cipher;       // "TLS_AES_128_GCM_SHA256"
  std::string alpn;         // empty when none was agreed
  std::string server_name;  // the SNI the client sent (empty when none)
  // The peer's certificates in PEM, leaf first (empty when it sent none).
  std::vector<std::string> peer_certificates_pem;
  bool resumed = false;
};

// The TLS flow. Reach it with `f.as<tls::tls_flow>()`. The engine behind it lives in the module
// (src/tls/openssl_flow.hpp); the layering rules above are layered_flow's.
class tls_flow : public layered_flow {
 public:
  // What the handshake agreed on.
  virtual session_info epoch() const = 0;
  // Sends a TLS 1.3 KeyUpdate (asking the peer to update too when `request_peer`).
  virtual asio::awaitable<write_result> key_update(bool request_peer) = 0;
  // The server name given to client() (empty on a server).
  virtual const std::string& peer_name() const noexcept = 0;
  // The last error of this flow's engine with OpenSSL's reason (a bad record, an alert), for a
  // person; the code is what the failed operation returned.
  virtual const failure& last_failure() const noexcept = 0;

 protected:
  using layered_flow::layered_flow;
};

// The client side over `inner`: returns once the handshake is done. `server_name` is sent as
// SNI (unless it is an IP address) and checked against the certificate when verifying. A failed
// handshake's failure carries OpenSSL's reason.
asio::awaitable<detailed<flow>> client(const context& ctx, flow inner, std::string server_name);
// The server side over `inner`.
asio::awaitable<detailed<flow>> server(const context& ctx, flow inner);

// The same with a context made for this one connection (no session sharing).
asio::awaitable<detailed<flow>> client(const config& c, flow inner, std::string server_name);
asio::awaitable<detailed<flow>> server(const config& c, flow inner);

}  // namespace flowstack::tls
