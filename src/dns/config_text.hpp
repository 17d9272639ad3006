// Line-oriented text helpers shared by the forwarder config, resolv.conf and hosts parsers.
#pragma once

#include <flowstack/core/error.hpp>
#include <flowstack/dns/error.hpp>

#include <asio/ip/address.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace flowstack::dns::config_text {

// Space, tab and the carriage return of CRLF files.
bool is_blank(char c) noexcept;

// The words of one line, up to the first word that starts with one of `comment_starts`.
std::vector<std::string_view> words(std::string_view line, std::string_view comment_starts);

// A failure of these texts: dns_errc::bad_config with the sentence that says why.
inline unexpected<failure> config_failure(std::string what) {
  return fail(make_error_code(dns_errc::bad_config), std::move(what));
}

// `text` in single quotes for an error message: non-printable octets as \xNN, long text cut.
std::string quote(std::string_view text);

// An IPv4 address, or an IPv6 address with an optional scope: "fe80::1%2" or "fe80::1%eth0"
// (the interface must exist on this machine). A scope is only accepted on link-local
// addresses, where it means something (RFC 4007 §6). Fails with bad_config.
detailed<asio::ip::address> parse_ip(std::string_view text);

// The address as parse_ip reads it back; scopes print as numbers, so the text does not depend
// on the interface names of the machine that prints it.
std::string ip_to_string(const asio::ip::address& ip);

// A decimal number in [min, max], digits only (an optional '-' when min < 0).
bool parse_number(std::string_view text, long long min, long long max, long long& out) noexcept;

}  // namespace flowstack::dns::config_text
