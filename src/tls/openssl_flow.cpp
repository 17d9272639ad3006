// openssl_flow: the TLS flow's engine, OpenSSL over memory BIOs with the ciphertext carried by
// the inner flow.
//
// How the engine is driven so that one read and one write can be in flight at once:
//   - OpenSSL calls never suspend (memory BIOs never block), so no two of them interleave;
//   - only the reader (do_read, or the handshake before the flow is handed out) reads the inner
//     flow, because the base allows one read at a time and renegotiation is off (writes never
//     need to read);
//   - whoever produced ciphertext drains the write BIO into the inner flow under one "output
//     turn", so ciphertext leaves in the order OpenSSL made it and only one inner write runs.
//     The holder of the turn drains until the BIO is empty, so a reader that made a KeyUpdate
//     reply while a writer holds the turn leaves it to the writer instead of waiting.
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstring>
#include <flowstack/core/combinators.hpp>
#include <vector>

#include "openssl_flow.hpp"

namespace flowstack::tls {
namespace {

constexpr std::size_t record_size = 16 * 1024;
// Ciphertext waiting in the write BIO beyond this is handed to the inner flow before a long
// write makes more: memory stays bounded and the peer starts reading early.
constexpr std::size_t flush_threshold = 64 * 1024;
// What close takes from the inner flow at most before closing it: more than tickets and alerts,
// and a peer that keeps sending cannot hold the close.
constexpr std::size_t drain_limit = 1024 * 1024;

bool is_ip_address(const std::string& name) {
  unsigned char raw[16];
  return inet_pton(AF_INET, name.c_str(), raw) == 1 || inet_pton(AF_INET6, name.c_str(), raw) == 1;
}

bool is_bad_record_reason(int reason) {
  switch (reason) {
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_RECORD_LENGTH_MISMATCH:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_ENCRYPTED_LENGTH_TOO_LONG:
    case SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC:
    case SSL_R_DATA_LENGTH_TOO_LONG:
    case SSL_R_LENGTH_MISMATCH:
    case SSL_R_BAD_LENGTH:
    case SSL_R_UNEXPECTED_RECORD:
    case SSL_R_HTTP_REQUEST:
    case SSL_R_HTTPS_PROXY_REQUEST:
      return true;
    default:
      return false;
  }
}

std::string pem_of(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  long length = BIO_get_mem_data(bio, &data);
  std::string text(data, static_cast<std::size_t>(length));
  BIO_free(bio);
  return text;
}

struct flag_guard {
  bool& flag;
  explicit flag_guard(bool& f) : flag(f) { flag = true; }
  ~flag_guard() { flag = false; }
};

}  // namespace

namespace detail {

openssl_flow::openssl_flow(flow inner, std::shared_ptr<context_state> ctx, SSL* ssl,
                           std::string peer_name)
    : tls_flow(std::move(inner)),
      ctx_(std::move(ctx)),
      ssl_(ssl),
      peer_name_(std::move(peer_name)),
      out_turn_(get_executor()) {
  rbio_ = BIO_new(BIO_s_mem());
  wbio_ = BIO_new(BIO_s_mem());
  // An empty read BIO means "more to come", never eof: eof is the inner flow's to say.
  BIO_set_mem_eof_return(rbio_, -1);
  SSL_set_bio(ssl_, rbio_, wbio_);
  SSL_set_app_data(ssl_, this);
}

openssl_flow::~openssl_flow() {
  SSL_free(ssl_);
}

std::string openssl_flow::description() const {
  std::string what = SSL_is_server(ssl_) ? "tls server" : "tls client";
  if (!peer_name_.empty()) what += " (" + peer_name_ + ")";
  return what + " over " + inner().description();
}

std::error_code openssl_flow::engine_error(int ssl_result, bool in_handshake) {
  int kind = SSL_get_error(ssl_, ssl_result);
  unsigned long e = ERR_peek_error();
  char text[256] = "";
  if (e != 0) ERR_error_string_n(e, text, sizeof text);
  std::error_code ec;
  int reason = ERR_GET_REASON(e);
  if (kind == SSL_ERROR_SSL && ERR_GET_LIB(e) == ERR_LIB_SSL) {
    long verify = SSL_get_verify_result(ssl_);
    if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED && verify != X509_V_OK) {
      ec = verify_error(verify);
    } else if (reason >= SSL_AD_REASON_OFFSET && reason < SSL_AD_REASON_OFFSET + 256) {
      ec = alert_error(reason - SSL_AD_REASON_OFFSET);
    } else if (is_bad_record_reason(reason)) {
      ec = tls_errc::bad_record;
    }
  }
  if (!ec) ec = in_handshake ? tls_errc::handshake_failed : tls_errc::bad_record;
  failure_ = failure(ec, text[0] != '\0' ? ec.message() + " (" + text + ")" : ec.message());
  ERR_clear_error();
  engine_failed_ = true;
  return ec;
}

asio::awaitable<result<bool>> openssl_flow::fill_in() {
  auto r = co_await inner().read();
  if (!r) co_return fail(r.error());
  if (r->is_eof()) co_return false;
  const buffer& data = r->data();
  BIO_write(rbio_, data.data(), static_cast<int>(data.size()));
  co_return true;
}

asio::awaitable<write_result> openssl_flow::flush_out() {
  while (out_busy_) {
    bool ok = co_await out_turn_.wait();
    if (!ok) co_return fail(flow_errc::cancelled);
  }
  if (out_error_) co_return fail(out_error_);
  write_result r;
  {
    flag_guard turn(out_busy_);
    while (BIO_ctrl_pending(wbio_) > 0) {
      std::size_t pending = BIO_ctrl_pending(wbio_);
      auto chunk = buffer::create_uninitialized(pending);
      int got = BIO_read(wbio_, chunk.data(), static_cast<int>(pending));
      if (got <= 0) break;
      r = co_await inner().write(chunk.sub(0, static_cast<std::size_t>(got)));
      if (!r) {
        out_error_ = r.error();
        break;
      }
    }
  }
  out_turn_.notify_all();
  co_return r;
}

asio::awaitable<result<void>> openssl_flow::run_handshake() {
  for (;;) {
    ERR_clear_error();
    int rc = SSL_do_handshake(ssl_);
    std::error_code ec;
    bool want_read = false;
    if (rc != 1) {
      if (SSL_get_error(ssl_, rc) == SSL_ERROR_WANT_READ) {
        want_read = true;
      } else {
        ec = engine_error(rc, true);
      }
    }
    // Our flight, or the alert that tells the peer why we give up.
    auto sent = co_await flush_out();
    if (ec) co_return fail(ec);
    if (!sent) {
      if (sent.error() == flow_errc::closed) co_return fail(tls_errc::closed);
      co_return fail(sent.error());
    }
    if (!want_read) {
      handshake_done_ = true;
      co_return result<void>{};
    }
    auto got = co_await fill_in();
    if (!got) {
      if (got.error() == flow_errc::closed) co_return fail(tls_errc::closed);
      co_return fail(got.error());
    }
    if (!*got) co_return fail(tls_errc::closed);
  }
}

asio::awaitable<read_result> openssl_flow::do_read() {
  for (;;) {
    auto data = buffer::create_uninitialized(record_size);
    std::size_t got = 0;
    ERR_clear_error();
    int rc = SSL_read_ex(ssl_, data.data(), data.size(), &got);
    int kind = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_, rc);
    std::error_code ec;
    if (kind != SSL_ERROR_NONE && kind != SSL_ERROR_WANT_READ && kind != SSL_ERROR_ZERO_RETURN) {
      ec = engine_error(rc, false);
    }
    // Reading can make ciphertext (a KeyUpdate reply, an alert). When a writer holds the
    // output turn it drains that too; waiting for it here could stall this read behind a
    // writer that waits for the peer to read.
    if (!out_busy_ && BIO_ctrl_pending(wbio_) > 0) co_await flush_out();
    if (ec) co_return fail(ec);
    if (kind == SSL_ERROR_NONE) {
      if (got < record_size / 4) co_return data_or_eof(buffer::copy_of(data.bytes().first(got)));
      co_return data_or_eof(data.sub(0, got));
    }
    if (kind == SSL_ERROR_ZERO_RETURN) {  // close_notify: the peer's end of data
      peer_ended_ = true;
      co_await end_read();
      co_return data_or_eof::eof();
    }
    auto in = co_await fill_in();
    if (!in) co_return fail(in.error());
    if (!*in) {
      // After shutdown(read) the inner eof is ours, not a cut in the peer's stream.
      bool ours = read_ended();
      peer_ended_ = true;
      if (ours || ctx_->settings.allow_truncation) {
        co_await end_read();
        co_return data_or_eof::eof();
      }
      mark_read_ended();
      co_return fail(tls_errc::truncated);
    }
  }
}

asio::awaitable<write_result> openssl_flow::do_writev(std::span<const buffer> data) {
  // Small buffers are gathered into full records; large ones go out a record at a time.
  std::vector<std::byte> staging;
  auto seal = [this](const std::byte* bytes, std::size_t n) -> std::error_code {
    std::size_t written = 0;
    ERR_clear_error();
    int rc = SSL_write_ex(ssl_, bytes, n, &written);
    if (rc != 1) return engine_error(rc, false);
    return {};
  };
  for (const auto& part : data) {
    std::size_t at = 0;
    while (at < part.size()) {
      std::size_t n = std::min(part.size() - at, record_size - staging.size());
      std::error_code ec;
      if (staging.empty() && n == record_size) {
        ec = seal(part.data() + at, n);
      } else {
        staging.insert(staging.end(), part.data() + at, part.data() + at + n);
        if (staging.size() == record_size) {
          ec = seal(staging.data(), staging.size());
          staging.clear();
        }
      }
      at += n;
      if (ec) {
        co_await flush_out();
        co_return fail(ec);
      }
      if (BIO_ctrl_pending(wbio_) >= flush_threshold) {
        auto sent = co_await flush_out();
        if (!sent) co_return sent;
      }
    }
  }
  if (!staging.empty()) {
    std::error_code ec = seal(staging.data(), staging.size());
    if (ec) {
      co_await flush_out();
      co_return fail(ec);
    }
  }
  co_return co_await flush_out();
}

asio::awaitable<void> openssl_flow::send_close_notify() {
  if (engine_failed_ || !handshake_done_) co_return;
  ERR_clear_error();
  SSL_shutdown(ssl_);
  ERR_clear_error();
  co_await with_timeout(flush_out(), ctx_->settings.close_timeout, *ctx_->settings.time);
}

asio::awaitable<void> openssl_flow::do_shutdown_read() {
  mark_read_ended();
  co_await inner().shutdown(shutdown_mode::read);
  co_await end_read();
}

asio::awaitable<void> openssl_flow::do_shutdown_write() {
  co_await send_close_notify();
  co_await end_write();
}

// abort is layered_flow's: without close_notify the peer cannot take the cut stream for a
// complete one (RFC 8446 §6.1).
asio::awaitable<void> openssl_flow::do_close() {
  // A write in flight holds the output turn: close does not wait behind it.
  if (!write_ended() && !out_busy_) co_await send_close_notify();
  mark_write_ended();
  mark_read_ended();
  drain_inner();
  co_await layered_flow::do_close();
}

void openssl_flow::drain_inner() {
  // A kernel socket closed with unread bytes in its receive buffer sends RST instead of FIN,
  // and what it had not sent yet is lost (the userspace stack does the same). TLS 1.3 servers
  // send session tickets that a client which only writes never reads, so take what has already
  // arrived, without waiting for more: close does not wait for the peer. After the peer's
  // close_notify (its last record, RFC 8446 §6.1) or the inner eof nothing more can come.
  if (inner_closed() || peer_ended_) return;
  for (std::size_t taken = 0; taken < drain_limit;) {
    auto r = inner().try_read();
    if (!r || !*r || (*r)->is_eof()) return;
    taken += (*r)->data().size();
  }
}

asio::awaitable<write_result> openssl_flow::key_update(bool request_peer) {
  if (is_closed()) co_return fail(flow_errc::closed);
  ERR_clear_error();
  int type = request_peer ? SSL_KEY_UPDATE_REQUESTED : SSL_KEY_UPDATE_NOT_REQUESTED;
  if (SSL_key_update(ssl_, type) != 1) {
    ERR_clear_error();
    co_return fail(tls_errc::handshake_failed);
  }
  // The KeyUpdate message is made by the next handshake step; send it now.
  int rc = SSL_do_handshake(ssl_);
  if (rc != 1) co_return fail(engine_error(rc, false));
  co_return co_await flush_out();
}

session_info openssl_flow::epoch() const {
  session_info info;
  info.version = SSL_get_version(ssl_);
  if (const char* cipher = SSL_get_cipher_name(ssl_)) info.cipher = cipher;
  const unsigned char* alpn = nullptr;
  unsigned int alpn_length = 0;
  SSL_get0_alpn_selected(ssl_, &alpn, &alpn_length);
  if (alpn != nullptr) info.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_length);
  if (const char* name = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name)) {
    info.server_name = name;
  }
  // The client's chain starts with the leaf; the server's leaves the leaf out.
  X509* leaf = SSL_get0_peer_certificate(ssl_);
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl_);
  if (leaf != nullptr) info.peer_certificates_pem.push_back(pem_of(leaf));
  if (chain != nullptr) {
    for (int i = 0; i < sk_X509_num(chain); ++i) {
      X509* cert = sk_X509_value(chain, i);
      if (i == 0 && leaf != nullptr && X509_cmp(cert, leaf) == 0) continue;
      info.peer_certificates_pem.push_back(pem_of(cert));
    }
  }
  info.resumed = SSL_session_reused(ssl_) == 1;
  return info;
}

asio::awaitable<detailed<void>> openssl_flow::handshake(clock::duration timeout) {
  auto done = co_await with_timeout(run_handshake(), timeout, *ctx_->settings.time);
  if (done) co_return detailed<void>{};
  co_await close_inner();
  // with_timeout's own timeout is this handshake's: say so (an inner flow's timeout stays).
  if (done.error() == make_error_code(flow_errc::timeout)) {
    co_return fail(tls_errc::handshake_timeout);
  }
  // The engine's own failure says why; one of the inner flow's is its code's message.
  if (engine_failed_ && failure_.code == done.error()) co_return unexpected(failure_);
  co_return fail(done.error());
}

}  // namespace detail

namespace {

// The client's checks of the server it names: SNI (not for an IP address), the name or
// address the certificate must carry, the session to resume.
void name_server(SSL* ssl, const context_state& state, const std::string& server_name) {
  const config& c = state.settings;
  bool ip = is_ip_address(server_name);
  if (!server_name.empty() && !ip) SSL_set_tlsext_host_name(ssl, server_name.c_str());
  if (c.verify_peer && !server_name.empty()) {
    if (ip) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), server_name.c_str());
    } else {
      SSL_set1_host(ssl, server_name.c_str());
    }
  }
  if (c.session_resumption) {
    auto found = state.sessions.find(server_name);
    if (found != state.sessions.end()) SSL_set_session(ssl, found->second);
  }
}

// One connection of `ctx` over `inner` in role `r`, returned once its handshake is done.
asio::awaitable<detailed<flow>> connect(context ctx, role r, flow inner, std::string server_name) {
  const auto& state = context_access::of(ctx);
  SSL* ssl = SSL_new(state->ctx);
  if (ssl == nullptr) {
    co_await inner.close();
    co_return fail(tls_errc::invalid_config);
  }
  if (r == role::client) {
    SSL_set_connect_state(ssl);
    name_server(ssl, *state, server_name);
  } else {
    SSL_set_accept_state(ssl);
  }
  auto engine =
      std::make_unique<detail::openssl_flow>(std::move(inner), state, ssl, std::move(server_name));
  auto done = co_await engine->handshake(state->settings.handshake_timeout);
  if (!done) co_return unexpected(done.error());
  co_return flow(std::move(engine));
}

}  // namespace

// A copy of the context: the caller's may be replaced during the handshake.
asio::awaitable<detailed<flow>> client(const context& ctx, flow inner, std::string server_name) {
  return connect(ctx, role::client, std::move(inner), std::move(server_name));
}

asio::awaitable<detailed<flow>> server(const context& ctx, flow inner) {
  return connect(ctx, role::server, std::move(inner), std::string());
}

asio::awaitable<detailed<flow>> client(const config& c, flow inner, std::string server_name) {
  auto ctx = context::make(c, role::client);
  if (!ctx) {
    co_await inner.close();
    co_return unexpected(ctx.error());
  }
  co_return co_await client(*ctx, std::move(inner), std::move(server_name));
}

asio::awaitable<detailed<flow>> server(const config& c, flow inner) {
  auto ctx = context::make(c, role::server);
  if (!ctx) {
    co_await inner.close();
    co_return unexpected(ctx.error());
  }
  co_return co_await server(*ctx, std::move(inner));
}

}  // namespace flowstack::tls
