#include <flowstack/dns/hosts.hpp>

#include "config_text.hpp"

#include <algorithm>

namespace flowstack::dns {

hosts hosts::parse(std::string_view text, std::size_t* skipped) {
  hosts h;
  std::size_t bad = 0;
  while (true) {
    auto end = text.find('\n');
    // hosts(5): text from '#' to the end of the line is a comment, wherever it starts.
    auto line = text.substr(0, end);
    line = line.substr(0, line.find('#'));
    auto words = config_text::words(line, "");
    if (!words.empty()) {
      // A line counts whole or not at all: a bad address or any bad name skips it.
      auto ip = config_text::parse_ip(words[0]);
      std::vector<name> names;
      bool ok = ip.has_value() && words.size() >= 2;
      for (std::size_t i = 1; ok && i < words.size(); ++i) {
        auto n = name::parse(words[i]);
        ok = n.has_value() && !n->is_root();
        if (ok) names.push_back(std::move(*n));
      }
      if (ok) {
        for (const auto& n : names) {
          auto& addresses = h.by_name_[n];
          if (std::find(addresses.begin(), addresses.end(), *ip) == addresses.end())
            addresses.push_back(*ip);
        }
      } else {
        ++bad;
      }
    }
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  if (skipped) *skipped = bad;
  return h;
}

const std::vector<asio::ip::address>& hosts::lookup(const name& n) const {
  static const std::vector<asio::ip::address> none;
  auto it = by_name_.find(n);
  return it == by_name_.end() ? none : it->second;
}

}  // namespace flowstack::dns
