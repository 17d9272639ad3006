// The forwarder's configuration, in ocaml-dns-forward's line format:
//
//   # whole-line comments
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
#pragma once

#include <flowstack/core/error.hpp>
#include <flowstack/dns/name.hpp>

#include <asio/ip/address.hpp>

#include <chrono>
#include <cstddef>
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
  friend auto operator<=>(const server_address&, const server_address&) = default;
};

// Accepts "10.0.0.2", "10.0.0.2#53", "10.0.0.2:53", "2001:db8::1", "2001:db8::1#53", "::1",
// "[2001:db8::1]" and "[2001:db8::1]:53". A bare IPv6 address never takes a ':PORT' suffix.
result<server_address> parse_server_address(std::string_view text);

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

  // Same meaning: the same servers (as a set, zones as sets), the same search list.
  friend bool operator==(const config& a, const config& b);
};

// Where and why a config does not parse. `line` counts from 1.
struct config_error {
  std::size_t line = 0;
  std::string what;

  // "line 3: timeout must be a whole number of milliseconds, got 'abc'"
  std::string to_string() const;
};

// Fails with dns_errc::bad_config; `detail` (if given) says which line and why.
result<config> parse_config(std::string_view text, config_error* detail = nullptr);

// The config in the line format; parse_config(to_string(c)) == c.
std::string to_string(const config& c);

// The servers (port 53, default timeout, order 0) and `search`/`domain` lines of a
// resolv.conf(5) file. Unknown options are ignored, as the C library does.
result<config> parse_resolv_conf(std::string_view text, config_error* detail = nullptr);

}  // namespace flowstack::dns
