#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <flowstack/tls/error.hpp>

#include <string>

#include "detail.hpp"

namespace flowstack::tls {
namespace {

constexpr int alert_base = 1000;
constexpr int verify_base = 2000;

class tls_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tls"; }
  std::string message(int code) const override {
    if (code >= alert_base && code < alert_base + 256) {
      int alert = code - alert_base;
      return std::string("the peer sent a TLS alert: ") + SSL_alert_desc_string_long(alert) +
             " (alert " + std::to_string(alert) + ")";
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
    }
    return "unknown TLS error " + std::to_string(code);
  }
};

thread_local std::string last_detail;

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

std::string last_error_detail() {
  return last_detail;
}

namespace detail {

void set_last_error_detail(std::string text) {
  last_detail = std::move(text);
}

}  // namespace detail
}  // namespace flowstack::tls
