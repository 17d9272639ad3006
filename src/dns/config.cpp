#include <flowstack/dns/config.hpp>

#include <flowstack/dns/error.hpp>

#include "config_text.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <span>
#include <tuple>

namespace flowstack::dns {
namespace {

using config_text::quote;

constexpr long long max_timeout_ms = 86'400'000;  // a day: anything longer is a typo

using parsed_address = expected<server_address, std::string>;

std::string port_error(std::string_view port) {
  return "the port must be a number from 1 to 65535, got " + quote(port);
}

parsed_address with_port(std::string_view host, std::string_view port_text) {
  long long port = 0;
  if (!config_text::parse_number(port_text, 1, 65535, port))
    return unexpected(port_error(port_text));
  auto ip = config_text::parse_ip(host);
  if (!ip) return unexpected(ip.error());
  return server_address{*ip, static_cast<std::uint16_t>(port)};
}

parsed_address parse_address(std::string_view text) {
  if (text.empty()) return unexpected(std::string("the address is empty"));
  if (text.front() == '[') {
    // "[2001:db8::1]", "[2001:db8::1]:53" (RFC 3986 §3.2.2), "[2001:db8::1]#53"
    auto close = text.find(']');
    if (close == std::string_view::npos)
      return unexpected(quote(text) + " opens '[' but has no ']'");
    auto inner = text.substr(1, close - 1);
    auto rest = text.substr(close + 1);
    auto ip = config_text::parse_ip(inner);
    if (!ip) return unexpected(ip.error());
    if (!ip->is_v6()) {
      return unexpected(quote(text) + ": brackets are for IPv6 addresses; write " + quote(inner) +
                        " or " + quote(std::string(inner) + ":PORT"));
    }
    if (rest.empty()) return server_address{*ip, 53};
    if (rest.front() != ':' && rest.front() != '#')
      return unexpected(quote(text) + ": expected ':PORT' or '#PORT' after ']', got " +
                        quote(rest));
    return with_port(inner, rest.substr(1));
  }
  if (auto hash = text.rfind('#'); hash != std::string_view::npos)
    return with_port(text.substr(0, hash), text.substr(hash + 1));
  if (std::count(text.begin(), text.end(), ':') == 1) {
    // Only an IPv4 address takes ":PORT": in "2001:db8::1:53" the 53 is part of the address.
    auto colon = text.find(':');
    auto host = text.substr(0, colon);
    auto ip = config_text::parse_ip(host);
    if (!ip) {
      return unexpected(quote(text) +
                        " is not ADDRESS:PORT with an IPv4 address, nor an IPv6 address");
    }
    return with_port(host, text.substr(colon + 1));
  }
  auto ip = config_text::parse_ip(text);
  if (!ip) return unexpected(ip.error());
  return server_address{*ip, 53};
}

// Names print without the trailing dot, as people write them in this format. A name whose
// first label starts with '#' gets an escape so the word does not read as a comment.
std::string name_text(const name& n) {
  if (n.is_root()) return ".";
  std::string s = n.to_string();
  s.pop_back();
  if (s.front() == '#') s.insert(s.begin(), '\\');
  return s;
}

// A name as the zone/search lines hold it: canonical (lowercase) labels.
using name_key = std::vector<std::string>;

name_key key_of(const name& n) {
  return n.lowercased().labels();
}

struct server_key {
  server_address address;
  std::vector<name_key> zones;  // sorted, unique
  long long timeout_ms;
  int order;

  friend bool operator<(const server_key& a, const server_key& b) {
    return std::tie(a.address, a.zones, a.timeout_ms, a.order) <
           std::tie(b.address, b.zones, b.timeout_ms, b.order);
  }
  friend bool operator==(const server_key& a, const server_key& b) {
    return std::tie(a.address, a.zones, a.timeout_ms, a.order) ==
           std::tie(b.address, b.zones, b.timeout_ms, b.order);
  }
};

std::vector<server_key> server_set(const std::vector<server_config>& servers) {
  std::vector<server_key> out;
  out.reserve(servers.size());
  for (const auto& s : servers) {
    server_key k{s.address, {}, s.timeout.count(), s.order};
    for (const auto& z : s.zones) k.zones.push_back(key_of(z));
    std::sort(k.zones.begin(), k.zones.end());
    k.zones.erase(std::unique(k.zones.begin(), k.zones.end()), k.zones.end());
    out.push_back(std::move(k));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// Parses the words after a keyword as names; on failure says which word and why.
expected<std::vector<name>, std::string> parse_names(std::span<const std::string_view> words) {
  std::vector<name> out;
  for (auto w : words) {
    auto n = name::parse(w);
    if (!n && n.error() == dns_errc::bad_name)
      return unexpected(quote(w) + " is not a domain name (an empty label or a bad escape)");
    if (!n) return unexpected(quote(w) + " is not a domain name: " + n.error().message());
    out.push_back(std::move(*n));
  }
  return out;
}

void add_unique(std::vector<name>& names, const name& n) {
  if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
}

// Collects the first error of a parse with its line.
class failure {
 public:
  explicit failure(config_error* detail) : detail_(detail) {}

  unexpected<std::error_code> operator()(std::size_t line, std::string what) const {
    if (detail_) *detail_ = config_error{line, std::move(what)};
    return fail(make_error_code(dns_errc::bad_config));
  }

 private:
  config_error* detail_;
};

template <typename F>
void for_each_line(std::string_view text, F&& f) {
  std::size_t number = 0;
  while (true) {
    ++number;
    auto end = text.find('\n');
    if (!f(number, text.substr(0, end))) return;
    if (end == std::string_view::npos) return;
    text.remove_prefix(end + 1);
  }
}

constexpr std::string_view keywords =
    "the keywords are nameserver, zone, timeout, order, search and assume-offline-after";

}  // namespace

std::string server_address::to_string() const {
  return config_text::ip_to_string(ip) + "#" + std::to_string(port);
}

result<server_address> parse_server_address(std::string_view text) {
  auto a = parse_address(text);
  if (!a) return fail(make_error_code(dns_errc::bad_config));
  return *a;
}

std::string config_error::to_string() const {
  if (line == 0) return what;
  return "line " + std::to_string(line) + ": " + what;
}

bool operator==(const config& a, const config& b) {
  return a.assume_offline_after == b.assume_offline_after && a.search == b.search &&
         server_set(a.servers) == server_set(b.servers);
}

result<config> parse_config(std::string_view text, config_error* detail) {
  failure error(detail);
  config c;
  // Where each setting was given, for "given twice" errors.
  struct server_lines {
    std::size_t nameserver = 0, timeout = 0, order = 0;
  };
  std::vector<server_lines> lines_of;
  std::map<server_address, std::size_t> address_line;
  std::size_t search_line = 0, offline_line = 0;
  std::optional<unexpected<std::error_code>> failed;

  auto one_value = [&](std::size_t line, std::string_view keyword,
                       const std::vector<std::string_view>& w) -> bool {
    if (w.size() == 2) return true;
    failed = error(line, w.size() < 2 ? quote(keyword) + " needs a value"
                                      : quote(keyword) + " takes one value, got " +
                                            std::to_string(w.size() - 1) + " words");
    return false;
  };
  // zone, timeout and order belong to the nameserver line above them.
  auto current = [&](std::size_t line, std::string_view keyword) -> server_config* {
    if (!c.servers.empty()) return &c.servers.back();
    failed = error(line, quote(keyword) +
                             " comes before any 'nameserver' line; zone, timeout and order apply "
                             "to the nameserver above them");
    return nullptr;
  };
  auto twice = [&](std::size_t line, std::string_view what, std::size_t first) {
    failed = error(
        line, std::string(what) + " is given twice (first on line " + std::to_string(first) + ")");
  };

  for_each_line(text, [&](std::size_t line, std::string_view text_line) {
    auto w = config_text::words(text_line, "#");
    if (w.empty()) return true;
    std::string_view keyword = w[0];
    std::span<const std::string_view> args(w.data() + 1, w.size() - 1);

    if (keyword == "nameserver") {
      if (!one_value(line, keyword, w)) return false;
      auto a = parse_address(args[0]);
      if (!a) {
        failed = error(line, "bad nameserver address: " + a.error());
        return false;
      }
      auto [it, fresh] = address_line.emplace(*a, line);
      if (!fresh) {
        failed = error(line, "nameserver " + a->to_string() + " is already listed on line " +
                                 std::to_string(it->second));
        return false;
      }
      c.servers.push_back(server_config{.address = *a});
      lines_of.push_back({.nameserver = line});
    } else if (keyword == "zone") {
      server_config* s = current(line, keyword);
      if (!s) return false;
      if (args.empty()) {
        failed = error(line, "'zone' needs at least one domain name");
        return false;
      }
      auto names = parse_names(args);
      if (!names) {
        failed = error(line, "bad zone: " + names.error());
        return false;
      }
      for (const auto& n : *names) add_unique(s->zones, n);
    } else if (keyword == "timeout") {
      server_config* s = current(line, keyword);
      if (!s || !one_value(line, keyword, w)) return false;
      auto& seen = lines_of.back().timeout;
      if (seen) {
        twice(line, "the timeout of nameserver " + s->address.to_string(), seen);
        return false;
      }
      long long ms = 0;
      if (!config_text::parse_number(args[0], 1, max_timeout_ms, ms)) {
        failed = error(line, "timeout must be a whole number of milliseconds from 1 to " +
                                 std::to_string(max_timeout_ms) + ", got " + quote(args[0]));
        return false;
      }
      s->timeout = std::chrono::milliseconds(ms);
      seen = line;
    } else if (keyword == "order") {
      server_config* s = current(line, keyword);
      if (!s || !one_value(line, keyword, w)) return false;
      auto& seen = lines_of.back().order;
      if (seen) {
        twice(line, "the order of nameserver " + s->address.to_string(), seen);
        return false;
      }
      long long order = 0;
      constexpr long long lo = std::numeric_limits<int>::min(),
                          hi = std::numeric_limits<int>::max();
      if (!config_text::parse_number(args[0], lo, hi, order)) {
        failed = error(line, "order must be a whole number from " + std::to_string(lo) + " to " +
                                 std::to_string(hi) + ", got " + quote(args[0]));
        return false;
      }
      s->order = static_cast<int>(order);
      seen = line;
    } else if (keyword == "search") {
      if (search_line) {
        twice(line, "'search'", search_line);
        return false;
      }
      if (args.empty()) {
        failed = error(line, "'search' needs at least one domain name");
        return false;
      }
      auto names = parse_names(args);
      if (!names) {
        failed = error(line, "bad search domain: " + names.error());
        return false;
      }
      c.search = std::move(*names);
      search_line = line;
    } else if (keyword == "assume-offline-after") {
      if (!one_value(line, keyword, w)) return false;
      if (offline_line) {
        twice(line, "'assume-offline-after'", offline_line);
        return false;
      }
      long long n = 0;
      constexpr long long hi = std::numeric_limits<unsigned>::max();
      if (!config_text::parse_number(args[0], 1, hi, n)) {
        failed =
            error(line, "assume-offline-after must be a whole number of missed answers from 1 to " +
                            std::to_string(hi) + ", got " + quote(args[0]));
        return false;
      }
      c.assume_offline_after = static_cast<unsigned>(n);
      offline_line = line;
    } else {
      failed = error(line, "unknown keyword " + quote(keyword) + "; " + std::string(keywords));
      return false;
    }
    return true;
  });
  if (failed) return *failed;
  return c;
}

std::string to_string(const config& c) {
  std::string out;
  auto names = [](const std::vector<name>& ns) {
    std::string s;
    for (const auto& n : ns) s += " " + name_text(n);
    return s;
  };
  for (const auto& s : c.servers) {
    out += "nameserver " + s.address.to_string() + "\n";
    if (!s.zones.empty()) {
      // A set: a zone given twice prints once, so the text is what parse_config gives back.
      std::vector<name> zones;
      for (const auto& z : s.zones) add_unique(zones, z);
      out += "zone" + names(zones) + "\n";
    }
    if (s.timeout != server_config{}.timeout)
      out += "timeout " + std::to_string(s.timeout.count()) + "\n";
    if (s.order != 0) out += "order " + std::to_string(s.order) + "\n";
  }
  if (!c.search.empty()) out += "search" + names(c.search) + "\n";
  if (c.assume_offline_after)
    out += "assume-offline-after " + std::to_string(*c.assume_offline_after) + "\n";
  return out;
}

result<config> parse_resolv_conf(std::string_view text, config_error* detail) {
  failure error(detail);
  config c;
  std::optional<unexpected<std::error_code>> failed;

  for_each_line(text, [&](std::size_t line, std::string_view text_line) {
    // resolv.conf(5): '#' or ';' starts a comment.
    auto w = config_text::words(text_line, "#;");
    if (w.empty()) return true;
    std::string_view keyword = w[0];
    std::span<const std::string_view> args(w.data() + 1, w.size() - 1);

    if (keyword == "nameserver") {
      // The C library reads the first word and ignores the rest of the line.
      if (args.empty()) {
        failed = error(line, "'nameserver' needs an address");
        return false;
      }
      auto a = parse_address(args[0]);
      if (!a) {
        failed = error(line, "bad nameserver address: " + a.error());
        return false;
      }
      bool listed = std::any_of(c.servers.begin(), c.servers.end(),
                                [&](const server_config& s) { return s.address == *a; });
      if (!listed) c.servers.push_back(server_config{.address = *a});
    } else if (keyword == "search" || keyword == "domain") {
      // resolv.conf(5): the last search or domain line wins; a domain line is a one-name search
      // list.
      auto names = parse_names(
          keyword == "domain" ? args.first(std::min<std::size_t>(1, args.size())) : args);
      if (!names) {
        failed = error(line, "bad '" + std::string(keyword) + "' line: " + names.error());
        return false;
      }
      // systemd-resolved writes "search ." to say there is no search domain.
      std::erase_if(*names, [](const name& n) { return n.is_root(); });
      c.search.clear();
      for (const auto& n : *names) add_unique(c.search, n);
    }
    // options, sortlist and anything else: not the forwarder's business, ignored.
    return true;
  });
  if (failed) return *failed;
  return c;
}

}  // namespace flowstack::dns
