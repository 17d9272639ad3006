// tls::context: an SSL_CTX made from a tls::config.
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <memory>

#include "context_state.hpp"
#include "openssl_flow.hpp"

namespace flowstack::tls {
namespace {

using bio_ptr = std::unique_ptr<BIO, decltype(&BIO_free)>;

bio_ptr memory_bio(const std::string& text) {
  return bio_ptr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())), &BIO_free);
}

// What OpenSSL says about the setting it rejected, after our name for the setting.
failure config_error(const std::string& what) {
  char text[256];
  ERR_error_string_n(ERR_peek_last_error(), text, sizeof text);
  ERR_clear_error();
  return failure(tls_errc::invalid_config, what + ": " + text);
}

bool load_certificate_chain_pem(SSL_CTX* ctx, const std::string& pem) {
  auto bio = memory_bio(pem);
  X509* leaf = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
  if (leaf == nullptr) return false;
  bool ok = SSL_CTX_use_certificate(ctx, leaf) == 1;
  X509_free(leaf);
  while (ok) {
    X509* next = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (next == nullptr) break;
    ok = SSL_CTX_add0_chain_cert(ctx, next) == 1;
    if (!ok) X509_free(next);
  }
  ERR_clear_error();  // the end of the PEM text reads as an error
  return ok;
}

bool load_private_key_pem(SSL_CTX* ctx, const std::string& pem) {
  auto bio = memory_bio(pem);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr) return false;
  bool ok = SSL_CTX_use_PrivateKey(ctx, key) == 1;
  EVP_PKEY_free(key);
  return ok;
}

bool load_ca_pem(SSL_CTX* ctx, const std::string& pem) {
  auto bio = memory_bio(pem);
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  int count = 0;
  for (;;) {
    X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (cert == nullptr) break;
    X509_STORE_add_cert(store, cert);
    X509_free(cert);
    ++count;
  }
  ERR_clear_error();
  return count > 0;
}

// The server's ALPN choice: its first protocol that the client also offers.
int select_alpn(SSL* ssl, const unsigned char** out, unsigned char* out_length,
                const unsigned char* offered, unsigned int offered_length, void*) {
  auto* state = static_cast<context_state*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  const auto& ours = state->alpn_wire;
  for (std::size_t at = 0; at < ours.size(); at += 1 + static_cast<unsigned char>(ours[at])) {
    auto length = static_cast<unsigned char>(ours[at]);
    for (unsigned int i = 0; i < offered_length; i += 1 + offered[i]) {
      if (offered[i] == length && i + 1 + length <= offered_length &&
          ours.compare(at + 1, length, reinterpret_cast<const char*>(offered + i + 1), length) ==
              0) {
        *out = offered + i + 1;
        *out_length = length;
        return SSL_TLSEXT_ERR_OK;
      }
    }
  }
  return SSL_TLSEXT_ERR_NOACK;
}

// Client: keeps the newest session per server name for the next connection.
int remember_session(SSL* ssl, SSL_SESSION* session) {
  auto* state = static_cast<context_state*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  auto* flow = static_cast<detail::openssl_flow*>(SSL_get_app_data(ssl));
  if (state == nullptr || flow == nullptr) return 0;
  auto& slot = state->sessions[flow->peer_name()];
  if (slot != nullptr) SSL_SESSION_free(slot);
  slot = session;
  return 1;  // we keep the reference
}

// Server: switches to the certificate named by the client's SNI, when there is one.
int choose_certificate(SSL* ssl, int*, void*) {
  auto* state = static_cast<context_state*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (state == nullptr || name == nullptr) return SSL_TLSEXT_ERR_OK;
  auto found = state->by_server_name.find(name);
  if (found != state->by_server_name.end()) {
    SSL_set_SSL_CTX(ssl, context_access::of(found->second)->ctx);
  }
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

context::state::~state() {
  for (auto& [name, session] : sessions) SSL_SESSION_free(session);
  if (ctx != nullptr) SSL_CTX_free(ctx);
}

namespace {

using step = detailed<void>;

step set_versions(SSL_CTX* ctx, const config& c) {
  if (SSL_CTX_set_min_proto_version(ctx, static_cast<int>(c.min_version)) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, static_cast<int>(c.max_version)) != 1) {
    return unexpected(config_error("TLS versions"));
  }
  return {};
}

step set_ciphers(SSL_CTX* ctx, const config& c) {
  // Forward secrecy and AEAD only for TLS 1.2 (no static RSA key exchange, no CBC), as current
  // hardened profiles do (Mozilla "intermediate"); TLS 1.3 suites all qualify.
  const std::string ciphers = c.ciphers.empty() ? std::string(default_tls12_ciphers) : c.ciphers;
  if (SSL_CTX_set_cipher_list(ctx, ciphers.c_str()) != 1) {
    return unexpected(config_error("cipher list"));
  }
  if (!c.ciphersuites.empty() && SSL_CTX_set_ciphersuites(ctx, c.ciphersuites.c_str()) != 1) {
    return unexpected(config_error("TLS 1.3 cipher suites"));
  }
  if (!c.groups.empty() && SSL_CTX_set1_groups_list(ctx, c.groups.c_str()) != 1) {
    return unexpected(config_error("groups"));
  }
  return {};
}

step load_certificate(SSL_CTX* ctx, const config& c, role r) {
  if (!c.certificate_pem.empty() && !load_certificate_chain_pem(ctx, c.certificate_pem)) {
    return unexpected(config_error("certificate"));
  }
  if (!c.certificate_file.empty() &&
      SSL_CTX_use_certificate_chain_file(ctx, c.certificate_file.c_str()) != 1) {
    return unexpected(config_error("certificate file " + c.certificate_file));
  }
  if (!c.private_key_pem.empty() && !load_private_key_pem(ctx, c.private_key_pem)) {
    return unexpected(config_error("private key"));
  }
  if (!c.private_key_file.empty() &&
      SSL_CTX_use_PrivateKey_file(ctx, c.private_key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return unexpected(config_error("private key file " + c.private_key_file));
  }
  bool has_certificate = !c.certificate_pem.empty() || !c.certificate_file.empty();
  bool has_key = !c.private_key_pem.empty() || !c.private_key_file.empty();
  if (has_certificate != has_key || (has_key && SSL_CTX_check_private_key(ctx) != 1)) {
    return unexpected(config_error("certificate and private key do not match"));
  }
  if (r == role::server && !has_certificate) {
    return fail(tls_errc::invalid_config, "a TLS server needs a certificate and a private key");
  }
  return {};
}

step set_verification(SSL_CTX* ctx, const config& c, role r) {
  bool verifies = r == role::client ? c.verify_peer : c.client_certificates != client_auth::none;
  if (verifies) {
    if (!c.ca_pem.empty() && !load_ca_pem(ctx, c.ca_pem)) {
      return unexpected(config_error("CA certificates"));
    }
    if (!c.ca_file.empty() && SSL_CTX_load_verify_locations(ctx, c.ca_file.c_str(), nullptr) != 1) {
      return unexpected(config_error("CA file " + c.ca_file));
    }
    if (c.ca_pem.empty() && c.ca_file.empty()) SSL_CTX_set_default_verify_paths(ctx);
  }
  if (r == role::client) {
    SSL_CTX_set_verify(ctx, c.verify_peer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  } else {
    int mode = SSL_VERIFY_NONE;
    if (c.client_certificates == client_auth::request) mode = SSL_VERIFY_PEER;
    if (c.client_certificates == client_auth::require) {
      mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    }
    SSL_CTX_set_verify(ctx, mode, nullptr);
  }
  return {};
}

step set_alpn(context_state& s, const config& c, role r) {
  for (const auto& name : c.alpn) {
    if (name.empty() || name.size() > 255) {
      return fail(tls_errc::invalid_config, "an ALPN protocol name must be 1..255 bytes");
    }
    s.alpn_wire += static_cast<char>(name.size());
    s.alpn_wire += name;
  }
  if (s.alpn_wire.empty()) return {};
  if (r == role::client) {
    SSL_CTX_set_alpn_protos(s.ctx, reinterpret_cast<const unsigned char*>(s.alpn_wire.data()),
                            static_cast<unsigned int>(s.alpn_wire.size()));
  } else {
    SSL_CTX_set_alpn_select_cb(s.ctx, select_alpn, nullptr);
  }
  return {};
}

void set_sessions(SSL_CTX* ctx, const config& c, role r) {
  if (r == role::client) {
    if (c.session_resumption) {
      SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
      SSL_CTX_sess_set_new_cb(ctx, remember_session);
    } else {
      SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
      SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    }
    return;
  }
  static const unsigned char id_context[] = "flowstack";
  SSL_CTX_set_session_id_context(ctx, id_context, sizeof id_context - 1);
  if (!c.session_resumption) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(ctx, 0);
  }
}

// Server: a context per SNI certificate, all else as in `c`.
step add_sni_certificates(context_state& s, const config& c) {
  if (c.sni_certificates.empty()) return {};
  for (const auto& named : c.sni_certificates) {
    config other = c;
    other.sni_certificates.clear();
    other.certificate_pem = named.certificate_pem;
    other.certificate_file = named.certificate_file;
    other.private_key_pem = named.private_key_pem;
    other.private_key_file = named.private_key_file;
    auto made = context::make(other, role::server);
    if (!made) return unexpected(made.error());
    s.by_server_name.emplace(named.server_name, std::move(*made));
  }
  SSL_CTX_set_tlsext_servername_callback(s.ctx, choose_certificate);
  return {};
}

}  // namespace

detailed<context> context::make(const config& c, role r) {
  auto s = std::make_shared<state>();
  s->settings = c;
  s->side = r;
  s->ctx = SSL_CTX_new(r == role::client ? TLS_client_method() : TLS_server_method());
  if (s->ctx == nullptr) return unexpected(config_error("SSL_CTX_new"));
  SSL_CTX* ctx = s->ctx;
  SSL_CTX_set_app_data(ctx, s.get());
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  // Each step in turn; the first that fails says why.
  step done = set_versions(ctx, c);
  if (done) done = set_ciphers(ctx, c);
  if (done) done = load_certificate(ctx, c, r);
  if (done) done = set_verification(ctx, c, r);
  if (done) done = set_alpn(*s, c, r);
  if (done) set_sessions(ctx, c, r);
  if (done && r == role::server) done = add_sni_certificates(*s, c);
  if (!done) return unexpected(done.error());
  context made;
  made.state_ = std::move(s);
  return made;
}

const config& context::settings() const noexcept {
  return state_->settings;
}
role context::side() const noexcept {
  return state_->side;
}

}  // namespace flowstack::tls
