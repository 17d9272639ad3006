// Local names from a hosts(5) file: "ADDRESS NAME [ALIAS…]", '#' comments.
//
// Addresses are IPv4 or IPv6, link-local IPv6 with a scope as in config.hpp ("fe80::1%eth0").
// A line counts whole or not at all: a bad address, no name, or any name that is not a domain
// name skips it. A name on several lines collects every address, each once.
#pragma once

#include <flowstack/dns/name.hpp>

#include <asio/ip/address.hpp>

#include <cstddef>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace flowstack::dns {

class hosts {
 public:
  // Lines that do not parse are skipped, as the C library does; `skipped` counts them.
  static hosts parse(std::string_view text, std::size_t* skipped = nullptr);

  // Every address for `n` (case-insensitive), IPv4 and IPv6, in file order.
  const std::vector<asio::ip::address>& lookup(const name& n) const;

  std::size_t size() const noexcept { return by_name_.size(); }

 private:
  std::unordered_map<name, std::vector<asio::ip::address>> by_name_;
};

}  // namespace flowstack::dns
