// What a tls::context holds: the SSL_CTX and what the module keeps beside it. Private to the
// tls module, so that the public header names no OpenSSL type.
#pragma once

#include <openssl/ssl.h>

#include <flowstack/tls/tls.hpp>
#include <map>
#include <memory>
#include <string>

namespace flowstack::tls {

struct context::state {
  ~state();
  SSL_CTX* ctx = nullptr;
  config settings;
  role side = role::client;
  std::string alpn_wire;                          // length-prefixed protocol names
  std::map<std::string, SSL_SESSION*> sessions;   // client: the last session per server name
  std::map<std::string, context> by_server_name;  // server: contexts of sni_certificates
};

// The module's way in to a context's state (a friend of context).
struct context_access {
  using state = context::state;
  static const std::shared_ptr<state>& of(const context& c) noexcept { return c.state_; }
  static void set(context& c, std::shared_ptr<state> s) noexcept { c.state_ = std::move(s); }
};

using context_state = context_access::state;

}  // namespace flowstack::tls
