// Errors of TLS flows (category "tls"). Each says what happened: an alert the peer sent (which
// one, in the message), a certificate that failed verification (with OpenSSL's reason), a
// handshake or record failure, a stream cut without close_notify.
#pragma once

#include <flowstack/core/error.hpp>

#include <string>

namespace flowstack::tls {

enum class tls_errc {
  alert_received = 1,  // the peer sent a fatal alert (a specific one: see alert_error)
  verify_failed,       // the peer's certificate failed verification (see verify_error)
  handshake_failed,    // the handshake could not agree (versions, ciphers, protocol errors)
  bad_record,          // a record that does not decode or authenticate
  truncated,           // the inner flow ended without close_notify
  closed,              // the peer went away during the handshake
  invalid_config,      // a certificate, key or setting that OpenSSL does not accept
  handshake_timeout,   // the handshake did not finish within config::handshake_timeout
};

const std::error_category& tls_category() noexcept;

inline std::error_code make_error_code(tls_errc e) noexcept {
  return {static_cast<int>(e), tls_category()};
}

// A received alert, with its number (RFC 8446 §6) in the code and the message.
std::error_code alert_error(int alert) noexcept;
// A failed verification, with OpenSSL's X509_V_ERR_* reason in the code and the message.
std::error_code verify_error(long x509_error) noexcept;

// The broad kind of a tls error (alert codes give alert_received, verification codes
// verify_failed); a code of another category gives tls_errc{}.
tls_errc kind_of(std::error_code ec) noexcept;
// The alert number of an alert_error code, or -1.
int alert_of(std::error_code ec) noexcept;

}  // namespace flowstack::tls

template <>
struct std::is_error_code_enum<flowstack::tls::tls_errc> : std::true_type {};
