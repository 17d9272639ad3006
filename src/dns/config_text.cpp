#include "config_text.hpp"

#include <net/if.h>

#include <cstdio>
#include <limits>

namespace flowstack::dns::config_text {
namespace {

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

bool is_hex_digit(char c) noexcept {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// RFC 4291 §2.5.6 (fe80::/10) and §2.7 (multicast scope 2): the addresses whose meaning
// depends on the link, so a scope picks the interface.
bool is_link_local(const asio::ip::address_v6& a) noexcept {
  return a.is_link_local() || a.is_multicast_link_local();
}

}  // namespace

bool is_blank(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

std::vector<std::string_view> words(std::string_view line, std::string_view comment_starts) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_blank(line[i])) ++i;
    if (i == line.size()) break;
    if (comment_starts.find(line[i]) != std::string_view::npos) break;
    std::size_t start = i;
    while (i < line.size() && !is_blank(line[i])) ++i;
    out.push_back(line.substr(start, i - start));
  }
  return out;
}

std::string quote(std::string_view text) {
  constexpr std::size_t max_shown = 64;
  std::string out = "'";
  for (std::size_t i = 0; i < text.size() && i < max_shown; ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c >= 0x7f) {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > max_shown) out += "...";
  out += "'";
  return out;
}

detailed<asio::ip::address> parse_ip(std::string_view text) {
  if (text.empty()) return config_failure("an address is missing");
  std::string_view scope;
  std::string_view host = text;
  if (auto percent = text.find('%'); percent != std::string_view::npos) {
    host = text.substr(0, percent);
    scope = text.substr(percent + 1);
  }
  // inet_pton reads a C string: check the characters first so that an embedded NUL cannot cut
  // the text short and let trailing junk through.
  bool v6 = host.find(':') != std::string_view::npos;
  constexpr std::size_t longest = 45;  // "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"
  bool ok = !host.empty() && host.size() <= longest;
  for (char c : host)
    ok = ok && (v6 ? (is_hex_digit(c) || c == ':' || c == '.') : (is_digit(c) || c == '.'));
  if (!ok) return config_failure(quote(text) + " is not an IPv4 or IPv6 address");
  asio::error_code ec;
  if (!v6) {
    if (!scope.empty() || text.size() != host.size())
      return config_failure(quote(text) + ": only IPv6 link-local addresses take a %scope");
    auto a = asio::ip::make_address_v4(std::string(host), ec);
    if (ec) return config_failure(quote(text) + " is not an IPv4 address");
    return asio::ip::address(a);
  }
  auto a = asio::ip::make_address_v6(std::string(host), ec);
  if (ec) return config_failure(quote(host) + " is not an IPv6 address");
  if (text.size() == host.size()) return asio::ip::address(a);

  if (!is_link_local(a)) {
    return config_failure(quote(text) +
                          ": a %scope only applies to link-local addresses (fe80::/10)");
  }
  if (scope.empty()) return config_failure(quote(text) + ": the scope after '%' is empty");
  long long id = 0;
  if (is_digit(scope[0])) {
    if (!parse_number(scope, 0, std::numeric_limits<std::uint32_t>::max(), id))
      return config_failure(quote(text) + ": the scope must be an interface name or a number");
  } else {
    std::string ifname(scope);
    if (ifname.size() < IF_NAMESIZE && ifname.find('\0') == std::string::npos)
      id = ::if_nametoindex(ifname.c_str());
    if (id == 0) {
      return config_failure(quote(text) + ": this machine has no network interface named " +
                            quote(scope));
    }
  }
  a.scope_id(static_cast<asio::ip::scope_id_type>(id));
  return asio::ip::address(a);
}

std::string ip_to_string(const asio::ip::address& ip) {
  if (ip.is_v4()) return ip.to_v4().to_string();
  auto a = ip.to_v6();
  auto scope = a.scope_id();
  if (scope == 0) return a.to_string();
  a.scope_id(0);
  return a.to_string() + "%" + std::to_string(scope);
}

bool parse_number(std::string_view text, long long min, long long max, long long& out) noexcept {
  bool negative = false;
  if (!text.empty() && text[0] == '-' && min < 0) {
    negative = true;
    text.remove_prefix(1);
  }
  if (text.empty()) return false;
  unsigned long long value = 0;
  for (char c : text) {
    if (!is_digit(c)) return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
    if (value > (1ull << 40)) return false;  // far beyond every range used here
  }
  long long v = negative ? -static_cast<long long>(value) : static_cast<long long>(value);
  if (v < min || v > max) return false;
  out = v;
  return true;
}

}  // namespace flowstack::dns::config_text
