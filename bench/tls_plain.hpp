// The plain OpenSSL program of the TLS benchmark: what the limit looks like. Blocking loopback
// sockets, one SSL per connection doing SSL_write / SSL_read straight on the socket (OpenSSL's
// socket BIO), a receiving thread and a sending thread. No event loop, no buffers of our own.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace flowstack::bench::tls_bench {

// A certificate (self-signed, for "localhost") and its key, made for this run.
struct credentials {
  std::string dir;
  std::string cert_file;
  std::string key_file;
};

// One protocol version with one AES-128-GCM suite.
struct suite {
  std::string label;         // "TLS 1.3"
  int version = 0;           // TLS1_3_VERSION or TLS1_2_VERSION
  std::string ciphers;       // TLS 1.2 cipher list (empty for 1.3)
  std::string ciphersuites;  // TLS 1.3 suites (empty for 1.2)
  std::string cipher_name;   // what the handshake must agree on, as OpenSSL names it
};

// One plain bulk transfer of `bytes` in `chunk`-byte SSL_writes; bytes per second from the
// start of connect to the receiver's close_notify. Dies when the transfer fails or the agreed
// cipher is not the suite's.
double plain_bulk(const credentials& c, const suite& s, std::uint64_t bytes, std::size_t chunk);

// `count` connections one after another (connect, handshake, one byte each way, close), full
// handshakes or resumed ones (each resuming the session of the one before). Handshakes per second.
double plain_handshakes(const credentials& c, const suite& s, int count, bool resumed);

// A client with OpenSSL's default suite list (which prefers AES-256) that connects to
// 127.0.0.1:port and returns the cipher the server chose: proves what a server is limited to.
std::string cipher_chosen_by_server(std::uint16_t port);

}  // namespace flowstack::bench::tls_bench
