// The forwarder's configuration, in ocaml-dns-forward's line format:
//
//   # comments: a word that starts with '#' starts one, to the end of the line
//   nameserver 10.0.0.2            # UDP/TCP port 53
//   nameserver 2001:db8::1#5353    # also [2001:db8::1]:5353
//   zone example.com corp.local    # names this server is asked about (default: every name)
//   timeout 2000                   # milliseconds (default 5000)
//   order 1                        # lower orders are asked first (default 0)
//   search example.com             # global
//   assume-offline-after 3         # global: N missed answers in a row mark a server offline
//
// `zone`, `timeout` and `order` apply to the nameserver line above them. Two configs compare
// equal when they mean the same: servers and zones are sets, names compare case-insensitively.
//
// The parser is stricter than ocaml-dns-forward's, which skips lines it does not know: an unknown
// keyword (keywords are lowercase), a zone/timeout/order line before any nameserver, a
// nameserver listed twice, a timeout, order, search or assume-offline-after given twice, or a
// value out of range (timeout 1..86400000 ms, order an int, assume-offline-after >= 1, port
// 1..65535) is an error naming the line. Several `zone` lines for one server add up.
//
// The parsers fail with dns_errc::bad_config and a sentence that starts with the line it is
// about: "line 3: timeout must be a whole number of milliseconds from 1 to 86400000, got 'abc'".
#pragma once

#include <flowstack/core/error.hpp>
#include <flowstack/dns/name.hpp>

#include <asio/ip/address.hpp>

#include <chrono>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flowstack::dns {

// An upstream server: an IPv4 or IPv6 address and a port.
struct server_address {
  asio::ip::address ip;
  std::uint16_t port = 53;

  // "10.0.0.2#53", "2001:db8::1#53": the form the config format prints.
  std::string to_string() const;

  friend bool operator==(const server_address&, const server_address&) = default;
  // asio's addresses have < and == but no <=>: the return type must be spelled out for the
  // defaulted comparison to use them (with `auto` it would be deleted).
  friend std::strong_ordering operator<=>(const server_address&, const server_address&) = default;
};

// Accepts "10.0.0.2", "10.0.0.2#53", "10.0.0.2:53", "2001:db8::1", "2001:db8::1#53", "::1",
// "[2001:db8::1]" and "[2001:db8::1]:53". A bare IPv6 address never takes a ':PORT' suffix.
// Link-local IPv6 addresses may carry a scope (RFC 4007 §11): "fe80::1%2" or "fe80::1%eth0",
// where the interface must exist when the text is parsed; to_string prints the scope as a
// number. A scope on any other address is an error: it would be ignored. Fails with bad_config
// and what is wrong with the text ("'10.0.0.256' is not an IPv4 address").
detailed<server_address> parse_server_address(std::string_view text);

struct server_config {
  server_address address;
  std::vector<name> zones;  // empty: any name
  std::chrono::milliseconds timeout{5000};
  int order = 0;
};

struct config {
  std::vector<server_config> servers;
  std::vector<name> search;
  std::optional<unsigned> assume_offline_after;  // none: servers never go offline

  // Same meaning: the same servers (as a set, zones as sets), the same search list, the same
  // assume_offline_after.
  friend bool operator==(const config& a, const config& b);
};

detailed<config> parse_config(std::string_view text);

// The config in the line format; parse_config(to_string(c)) == c for every config
// parse_config or parse_resolv_conf can return (and any other whose servers have distinct
// addresses and whose values are in the ranges above). Defaults are left out.
std::string to_string(const config& c);

// The servers (port 53, default timeout, order 0) and `search`/`domain` lines of a
// resolv.conf(5) file. Unknown options are ignored, as the C library does; '#' and ';' start
// comments; the last `search` or `domain` line wins and "search ." (systemd-resolved) means no
// search domain. Unlike the C library, a nameserver or domain that does not parse is an error
// naming the line rather than a silently missing server; a server listed twice counts once; all
// nameservers are kept (no limit of 3); no nameserver gives no servers (no 127.0.0.1 fallback,
// which would make a forwarder ask itself). Nameservers take the same forms as
// parse_server_address, scoped link-local addresses included.
detailed<config> parse_resolv_conf(std::string_view text);

}  // namespace flowstack::dns
