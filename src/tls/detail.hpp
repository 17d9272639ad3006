// Pieces shared by the files of the tls module.
#pragma once

#include <openssl/ssl.h>

#include <flowstack/tls/tls.hpp>
#include <map>
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

}  // namespace flowstack::tls
