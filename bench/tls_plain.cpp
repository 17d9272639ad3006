// The plain OpenSSL contender of the TLS benchmark (see tls_plain.hpp).
#include "tls_plain.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include "common.hpp"

namespace flowstack::bench::tls_bench {
namespace {

constexpr auto run_limit = std::chrono::seconds(60);

std::string openssl_error() {
  char text[256] = "";
  unsigned long e = ERR_get_error();
  if (e != 0) ERR_error_string_n(e, text, sizeof text);
  ERR_clear_error();
  return text[0] != '\0' ? text : "no OpenSSL error queued";
}

struct ctx_deleter {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
using ctx_ptr = std::unique_ptr<SSL_CTX, ctx_deleter>;

// The same settings as the flowstack side: the suite only, verification of "localhost" against
// the run's certificate, tickets (TLS 1.3: two per connection, OpenSSL's default) only when
// resuming.
ctx_ptr make_ctx(const credentials& c, const suite& s, bool server, bool resumption) {
  ctx_ptr ctx(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
  if (!ctx) die("SSL_CTX_new: " + openssl_error());
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_min_proto_version(ctx.get(), s.version);
  SSL_CTX_set_max_proto_version(ctx.get(), s.version);
  if (!s.ciphers.empty() && SSL_CTX_set_cipher_list(ctx.get(), s.ciphers.c_str()) != 1) {
    die("cipher list " + s.ciphers + ": " + openssl_error());
  }
  if (!s.ciphersuites.empty() && SSL_CTX_set_ciphersuites(ctx.get(), s.ciphersuites.c_str()) != 1) {
    die("suites " + s.ciphersuites + ": " + openssl_error());
  }
  if (server) {
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), c.cert_file.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx.get(), c.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      die("loading the benchmark certificate: " + openssl_error());
    }
    static const unsigned char id[] = "flowstack-bench";
    SSL_CTX_set_session_id_context(ctx.get(), id, sizeof id - 1);
    if (!resumption) {
      SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
      SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET);
      SSL_CTX_set_num_tickets(ctx.get(), 0);
    }
  } else {
    if (SSL_CTX_load_verify_locations(ctx.get(), c.cert_file.c_str(), nullptr) != 1) {
      die("loading the benchmark CA: " + openssl_error());
    }
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    if (!resumption) {
      SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
      SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET);
    }
  }
  return ctx;
}

SSL* client_ssl(SSL_CTX* ctx, int fd) {
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, "localhost");
  SSL_set1_host(ssl, "localhost");
  return ssl;
}

// Reads until the peer's close_notify (true) or an error / plain eof (false).
bool read_to_close_notify(SSL* ssl, std::vector<char>& block, std::uint64_t* total) {
  for (;;) {
    std::size_t n = 0;
    int rc = SSL_read_ex(ssl, block.data(), block.size(), &n);
    if (rc == 1) {
      if (total != nullptr) *total += n;
      continue;
    }
    bool clean = SSL_get_error(ssl, rc) == SSL_ERROR_ZERO_RETURN;
    ERR_clear_error();
    return clean;
  }
}

}  // namespace

double plain_bulk(const credentials& c, const suite& s, std::uint64_t bytes, std::size_t chunk) {
  auto server_ctx = make_ctx(c, s, true, true);
  auto client_ctx = make_ctx(c, s, false, true);
  auto l = plain_listen();

  std::uint64_t received = 0;
  bool clean_end = false;
  std::string receiver_error;
  clock::time_point end;
  std::thread receiver([&] {
    int fd = plain_accept(l.fd);
    if (fd < 0) {
      receiver_error = "accept failed";
      return;
    }
    set_io_timeout(fd, run_limit);
    SSL* ssl = SSL_new(server_ctx.get());
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) != 1) {
      receiver_error = "SSL_accept: " + openssl_error();
    } else {
      std::vector<char> block(chunk);
      clean_end = read_to_close_notify(ssl, block, &received);
      end = clock::now();
      SSL_shutdown(ssl);  // our close_notify: the sender waits for it
    }
    SSL_free(ssl);
    ::close(fd);
  });

  auto start = clock::now();
  int fd = plain_connect(l.port);
  if (fd < 0) die("plain TLS connect failed");
  set_io_timeout(fd, run_limit);
  SSL* ssl = client_ssl(client_ctx.get(), fd);
  if (SSL_connect(ssl) != 1) die("plain SSL_connect: " + openssl_error());
  if (s.cipher_name != SSL_get_cipher_name(ssl)) {
    die(std::string("plain TLS agreed on ") + SSL_get_cipher_name(ssl) + ", not " + s.cipher_name);
  }
  std::vector<char> block(chunk, 'x');
  for (std::uint64_t left = bytes; left > 0;) {
    auto n = static_cast<std::size_t>(std::min<std::uint64_t>(left, chunk));
    std::size_t written = 0;
    if (SSL_write_ex(ssl, block.data(), n, &written) != 1)
      die("plain SSL_write: " + openssl_error());
    left -= written;
  }
  SSL_shutdown(ssl);
  // Until the receiver's close_notify, so that closing cannot cut off bytes still queued.
  read_to_close_notify(ssl, block, nullptr);
  SSL_free(ssl);
  ::close(fd);
  receiver.join();
  ::close(l.fd);
  if (!receiver_error.empty()) die("plain TLS receiver: " + receiver_error);
  if (!clean_end || received != bytes) {
    die("plain TLS bulk: received " + std::to_string(received) + " bytes" +
        (clean_end ? "" : " and no close_notify"));
  }
  return static_cast<double>(bytes) / std::chrono::duration<double>(end - start).count();
}

double plain_handshakes(const credentials& c, const suite& s, int count, bool resumed) {
  auto server_ctx = make_ctx(c, s, true, resumed);
  auto client_ctx = make_ctx(c, s, false, resumed);
  auto l = plain_listen();
  int warmup = resumed ? 1 : 0;  // the first connection makes the session the others resume
  std::string server_error;
  std::thread server([&] {
    std::vector<char> block(4096);
    for (int i = 0; i < count + warmup; ++i) {
      int fd = plain_accept(l.fd);
      if (fd < 0) {
        server_error = "accept failed";
        return;
      }
      set_nodelay(fd);
      set_io_timeout(fd, run_limit);
      SSL* ssl = SSL_new(server_ctx.get());
      SSL_set_fd(ssl, fd);
      char byte = 0;
      std::size_t n = 0;
      if (SSL_accept(ssl) != 1 || SSL_read_ex(ssl, &byte, 1, &n) != 1 ||
          SSL_write_ex(ssl, &byte, 1, &n) != 1) {
        server_error = "connection " + std::to_string(i) + ": " + openssl_error();
      } else {
        read_to_close_notify(ssl, block, nullptr);
        SSL_shutdown(ssl);
      }
      SSL_free(ssl);
      ::close(fd);
      if (!server_error.empty()) return;
    }
  });

  SSL_SESSION* session = nullptr;
  int reused = 0;
  clock::time_point start;
  for (int i = 0; i < count + warmup; ++i) {
    if (i == warmup) start = clock::now();
    int fd = plain_connect(l.port);
    if (fd < 0) die("plain TLS connect failed");
    set_nodelay(fd);
    set_io_timeout(fd, run_limit);
    SSL* ssl = client_ssl(client_ctx.get(), fd);
    if (session != nullptr) SSL_set_session(ssl, session);
    char byte = 'h';
    std::size_t n = 0;
    // The byte back also brings the TLS 1.3 tickets, which come before it.
    if (SSL_connect(ssl) != 1 || SSL_write_ex(ssl, &byte, 1, &n) != 1 ||
        SSL_read_ex(ssl, &byte, 1, &n) != 1) {
      die("plain TLS handshake " + std::to_string(i) + ": " + openssl_error());
    }
    if (i >= warmup && SSL_session_reused(ssl) == 1) ++reused;
    if (resumed) {
      if (session != nullptr) SSL_SESSION_free(session);
      session = SSL_get1_session(ssl);
    }
    SSL_shutdown(ssl);
    SSL_free(ssl);
    ::close(fd);
  }
  auto seconds = std::chrono::duration<double>(clock::now() - start).count();
  if (session != nullptr) SSL_SESSION_free(session);
  server.join();
  ::close(l.fd);
  if (!server_error.empty()) die("plain TLS server: " + server_error);
  if (reused != (resumed ? count : 0)) {
    die("plain TLS: " + std::to_string(reused) + " of " + std::to_string(count) +
        " handshakes resumed a session");
  }
  return count / seconds;
}

std::string cipher_chosen_by_server(std::uint16_t port) {
  ctx_ptr ctx(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  int fd = plain_connect(port);
  if (fd < 0) return "(connect failed)";
  set_io_timeout(fd, std::chrono::seconds(10));
  SSL* ssl = SSL_new(ctx.get());
  SSL_set_fd(ssl, fd);
  std::string chosen = SSL_connect(ssl) == 1 ? SSL_get_cipher_name(ssl)
                                             : "(handshake failed: " + openssl_error() + ")";
  SSL_shutdown(ssl);
  SSL_free(ssl);
  ::close(fd);
  return chosen;
}

}  // namespace flowstack::bench::tls_bench
