#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <flowstack/tls/error.hpp>

#include <string>

namespace flowstack::tls {
namespace {

constexpr int alert_base = 1000;
constexpr int verify_base = 2000;

// RFC 8446 §6 and the TLS Alert registry (RFC 5246 §7.2, RFC 7507 §2, RFC 7301 §3.2); OpenSSL's own
// table stops at TLS 1.2 and prints the newer ones as "unknown".
struct alert_name {
  int code;
  const char* name;
};
constexpr alert_name alert_names[] = {
    {0, "close_notify"},
    {10, "unexpected_message"},
    {20, "bad_record_mac"},
    {21, "decryption_failed"},
    {22, "record_overflow"},
    {30, "decompression_failure"},
    {40, "handshake_failure"},
    {41, "no_certificate"},
    {42, "bad_certificate"},
    {43, "unsupported_certificate"},
    {44, "certificate_revoked"},
    {45, "certificate_expired"},
    {46, "certificate_unknown"},
    {47, "illegal_parameter"},
    {48, "unknown_ca"},
    {49, "access_denied"},
    {50, "decode_error"},
    {51, "decrypt_error"},
    {60, "export_restriction"},
    {70, "protocol_version"},
    {71, "insufficient_security"},
    {80, "internal_error"},
    {86, "inappropriate_fallback"},
    {90, "user_canceled"},
    {100, "no_renegotiation"},
    {109, "missing_extension"},
    {110, "unsupported_extension"},
    {111, "certificate_unobtainable"},
    {112, "unrecognized_name"},
    {113, "bad_certificate_status_response"},
    {114, "bad_certificate_hash_value"},
    {115, "unknown_psk_identity"},
    {116, "certificate_required"},
    {120, "no_application_protocol"},
};

std::string name_of_alert(int alert) {
  for (const auto& entry : alert_names) {
    if (entry.code == alert) return entry.name;
  }
  return "unassigned alert";
}

class tls_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tls"; }
  std::string message(int code) const override {
    if (code >= alert_base && code < alert_base + 256) {
      int alert = code - alert_base;
      return "the peer sent a TLS alert: " + name_of_alert(alert) + " (alert " +
             std::to_string(alert) + ")";
    }
    if (code >= verify_base) {
      return std::string("certificate verification failed: ") +
             X509_verify_cert_error_string(code - verify_base);
    }
    switch (static_cast<tls_errc>(code)) {
      case tls_errc::alert_received:
        return "the peer sent a TLS alert";
      case tls_errc::verify_failed:
        return "certificate verification failed";
      case tls_errc::handshake_failed:
        return "TLS handshake failed";
      case tls_errc::bad_record:
        return "bad TLS record: the peer sent data that does not decode or authenticate";
      case tls_errc::truncated:
        return "TLS stream truncated: the connection ended without close_notify";
      case tls_errc::closed:
        return "the peer closed the connection during the TLS handshake";
      case tls_errc::invalid_config:
        return "invalid TLS configuration (certificate, key or setting)";
      case tls_errc::handshake_timeout:
        return "the TLS handshake did not finish in time";
    }
    return "unknown TLS error " + std::to_string(code);
  }

  std::error_condition default_error_condition(int code) const noexcept override {
    if (code == static_cast<int>(tls_errc::handshake_timeout)) return flow_condition::timeout;
    return {code, *this};
  }
};

}  // namespace

const std::error_category& tls_category() noexcept {
  static const tls_category_impl category;
  return category;
}

std::error_code alert_error(int alert) noexcept {
  return {alert_base + (alert & 0xff), tls_category()};
}

std::error_code verify_error(long x509_error) noexcept {
  return {verify_base + static_cast<int>(x509_error), tls_category()};
}

tls_errc kind_of(std::error_code ec) noexcept {
  if (ec.category() != tls_category()) return tls_errc{};
  if (ec.value() >= verify_base) return tls_errc::verify_failed;
  if (ec.value() >= alert_base) return tls_errc::alert_received;
  return static_cast<tls_errc>(ec.value());
}

int alert_of(std::error_code ec) noexcept {
  if (ec.category() != tls_category()) return -1;
  if (ec.value() >= alert_base && ec.value() < alert_base + 256) return ec.value() - alert_base;
  return -1;
}

}  // namespace flowstack::tls
