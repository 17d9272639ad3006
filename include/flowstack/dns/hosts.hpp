// Local names from a hosts(5) file: "ADDRESS NAME [ALIAS…]", '#' comments.
#pragma once

#include <flowstack/dns/name.hpp>

#include <asio/ip/address.hpp>

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
