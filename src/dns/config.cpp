#include <flowstack/dns/config.hpp>

#include <flowstack/dns/error.hpp>

#include "config_text.hpp"

#include <algorithm>
#include <array>
#include <limits>
#include <map>
#include <span>
#include <tuple>

namespace flowstack::dns {
namespace {

using config_text::config_failure;
using config_text::quote;

constexpr long long max_timeout_ms = 86'400'000;  // a day: anything longer is a typo

std::string port_error(std::string_view port) {
  return "the port must be a number from 1 to 65535, got " + quote(port);
}

detailed<server_address> with_port(std::string_view host, std::string_view port_text) {
  long long port = 0;
  if (!config_text::parse_number(port_text, 1, 65535, port))
    return config_failure(port_error(port_text));
  auto ip = config_text::parse_ip(host);
  if (!ip) return unexpected(std::move(ip).error());
  return server_address{*ip, static_cast<std::uint16_t>(port)};
}

}  // namespace

detailed<server_address> parse_server_address(std::string_view text) {
  if (text.empty()) return config_failure("the address is empty");
  if (text.front() == '[') {
    // "[2001:db8::1]", "[2001:db8::1]:53" (RFC 3986 §3.2.2), "[2001:db8::1]#53"
    auto close = text.find(']');
    if (close == std::string_view::npos)
      return config_failure(quote(text) + " opens '[' but has no ']'");
    auto inner = text.substr(1, close - 1);
    auto rest = text.substr(close + 1);
    auto ip = config_text::parse_ip(inner);
    if (!ip) return unexpected(std::move(ip).error());
    if (!ip->is_v6()) {
      return config_failure(quote(text) + ": brackets are for IPv6 addresses; write " +
                            quote(inner) + " or " + quote(std::string(inner) + ":PORT"));
    }
    if (rest.empty()) return server_address{*ip, 53};
    if (rest.front() != ':' && rest.front() != '#')
      return config_failure(quote(text) + ": expected ':PORT' or '#PORT' after ']', got " +
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
      return config_failure(quote(text) +
                            " is not ADDRESS:PORT with an IPv4 address, nor an IPv6 address");
    }
    return with_port(host, text.substr(colon + 1));
  }
  auto ip = config_text::parse_ip(text);
  if (!ip) return unexpected(std::move(ip).error());
  return server_address{*ip, 53};
}

namespace {

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
detailed<std::vector<name>> parse_names(std::span<const std::string_view> words) {
  std::vector<name> out;
  for (auto w : words) {
    auto n = name::parse(w);
    if (!n && n.error() == dns_errc::bad_name)
      return config_failure(quote(w) + " is not a domain name (an empty label or a bad escape)");
    if (!n) return config_failure(quote(w) + " is not a domain name: " + n.error().message());
    out.push_back(std::move(*n));
  }
  return out;
}

void add_unique(std::vector<name>& names, const name& n) {
  if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
}

// The failure of a parse at `line` (counted from 1): "line 3: timeout must be ...".
unexpected<failure> line_failure(std::size_t line, const std::string& what) {
  return config_failure("line " + std::to_string(line) + ": " + what);
}

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

// parse_config's reader: one method per keyword, in the table below. Each returns false after
// recording the line's error.
class config_reader {
 public:
  using args = std::span<const std::string_view>;
  using handler = bool (config_reader::*)(std::size_t line, std::string_view keyword, args);
  struct keyword {
    std::string_view name;
    handler read;
  };
  static const std::array<keyword, 6> keywords;

  bool read_line(std::size_t line, std::string_view text) {
    auto w = config_text::words(text, "#");
    if (w.empty()) return true;
    args rest(w.data() + 1, w.size() - 1);
    for (const auto& k : keywords) {
      if (k.name == w[0]) return (this->*k.read)(line, w[0], rest);
    }
    std::string names;
    for (std::size_t i = 0; i < keywords.size(); ++i) {
      if (i > 0) names += i + 1 < keywords.size() ? ", " : " and ";
      names += keywords[i].name;
    }
    return failed(line, "unknown keyword " + quote(w[0]) + "; the keywords are " + names);
  }

  detailed<config> finish() {
    if (failure_) return std::move(*failure_);
    return std::move(c_);
  }

 private:
  bool nameserver(std::size_t line, std::string_view keyword, args a) {
    if (!one_value(line, keyword, a)) return false;
    auto address = parse_server_address(a[0]);
    if (!address) return failed(line, "bad nameserver address: " + address.error().detail);
    auto [it, fresh] = address_line_.emplace(*address, line);
    if (!fresh) {
      return failed(line, "nameserver " + address->to_string() + " is already listed on line " +
                              std::to_string(it->second));
    }
    c_.servers.push_back(server_config{.address = *address});
    lines_of_.push_back({});
    return true;
  }

  bool zone(std::size_t line, std::string_view keyword, args a) {
    server_config* s = current(line, keyword);
    if (!s) return false;
    if (a.empty()) return failed(line, "'zone' needs at least one domain name");
    auto names = parse_names(a);
    if (!names) return failed(line, "bad zone: " + names.error().detail);
    for (const auto& n : *names) add_unique(s->zones, n);
    return true;
  }

  bool timeout(std::size_t line, std::string_view keyword, args a) {
    server_config* s = current(line, keyword);
    if (!s || !one_value(line, keyword, a)) return false;
    if (!first_time(line, "the timeout of nameserver " + s->address.to_string(),
                    lines_of_.back().timeout))
      return false;
    long long ms = 0;
    if (!config_text::parse_number(a[0], 1, max_timeout_ms, ms)) {
      return failed(line, "timeout must be a whole number of milliseconds from 1 to " +
                              std::to_string(max_timeout_ms) + ", got " + quote(a[0]));
    }
    s->timeout = std::chrono::milliseconds(ms);
    return true;
  }

  bool order(std::size_t line, std::string_view keyword, args a) {
    server_config* s = current(line, keyword);
    if (!s || !one_value(line, keyword, a)) return false;
    if (!first_time(line, "the order of nameserver " + s->address.to_string(),
                    lines_of_.back().order))
      return false;
    long long order = 0;
    constexpr long long lo = std::numeric_limits<int>::min(), hi = std::numeric_limits<int>::max();
    if (!config_text::parse_number(a[0], lo, hi, order)) {
      return failed(line, "order must be a whole number from " + std::to_string(lo) + " to " +
                              std::to_string(hi) + ", got " + quote(a[0]));
    }
    s->order = static_cast<int>(order);
    return true;
  }

  bool search(std::size_t line, std::string_view, args a) {
    if (!first_time(line, "'search'", search_line_)) return false;
    if (a.empty()) return failed(line, "'search' needs at least one domain name");
    auto names = parse_names(a);
    if (!names) return failed(line, "bad search domain: " + names.error().detail);
    c_.search = std::move(*names);
    return true;
  }

  bool assume_offline_after(std::size_t line, std::string_view keyword, args a) {
    if (!one_value(line, keyword, a)) return false;
    if (!first_time(line, "'assume-offline-after'", offline_line_)) return false;
    long long n = 0;
    constexpr long long hi = std::numeric_limits<unsigned>::max();
    if (!config_text::parse_number(a[0], 1, hi, n)) {
      return failed(line,
                    "assume-offline-after must be a whole number of missed answers from 1 to " +
                        std::to_string(hi) + ", got " + quote(a[0]));
    }
    c_.assume_offline_after = static_cast<unsigned>(n);
    return true;
  }

  bool failed(std::size_t line, const std::string& what) {
    failure_ = line_failure(line, what);
    return false;
  }

  bool one_value(std::size_t line, std::string_view keyword, args a) {
    if (a.size() == 1) return true;
    return failed(line, a.empty() ? quote(keyword) + " needs a value"
                                  : quote(keyword) + " takes one value, got " +
                                        std::to_string(a.size()) + " words");
  }

  // Records that `what` is given on `line`, or fails when it was given before.
  bool first_time(std::size_t line, const std::string& what, std::size_t& seen_on) {
    if (seen_on) {
      return failed(line, what + " is given twice (first on line " + std::to_string(seen_on) + ")");
    }
    seen_on = line;
    return true;
  }

  // zone, timeout and order belong to the nameserver line above them.
  server_config* current(std::size_t line, std::string_view keyword) {
    if (!c_.servers.empty()) return &c_.servers.back();
    failed(line, quote(keyword) +
                     " comes before any 'nameserver' line; zone, timeout and order apply to the "
                     "nameserver above them");
    return nullptr;
  }

  // Where each server's settings were given, for "given twice" errors.
  struct server_lines {
    std::size_t timeout = 0, order = 0;
  };

  config c_;
  std::vector<server_lines> lines_of_;
  std::map<server_address, std::size_t> address_line_;
  std::size_t search_line_ = 0, offline_line_ = 0;
  std::optional<unexpected<failure>> failure_;
};

const std::array<config_reader::keyword, 6> config_reader::keywords{{
    {"nameserver", &config_reader::nameserver},
    {"zone", &config_reader::zone},
    {"timeout", &config_reader::timeout},
    {"order", &config_reader::order},
    {"search", &config_reader::search},
    {"assume-offline-after", &config_reader::assume_offline_after},
}};

}  // namespace

std::string server_address::to_string() const {
  return config_text::ip_to_string(ip) + "#" + std::to_string(port);
}

bool operator==(const config& a, const config& b) {
  return a.assume_offline_after == b.assume_offline_after && a.search == b.search &&
         server_set(a.servers) == server_set(b.servers);
}

detailed<config> parse_config(std::string_view text) {
  config_reader reader;
  for_each_line(text, [&](std::size_t line, std::string_view text_line) {
    return reader.read_line(line, text_line);
  });
  return reader.finish();
}

std::string to_string(const config& c) {
  std::string out;
  auto names = [](const std::vector<name>& ns) {
    std::string s;
    for (const auto& n : ns) {
      s += ' ';
      s += name_text(n);
    }
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

detailed<config> parse_resolv_conf(std::string_view text) {
  config c;
  std::optional<unexpected<failure>> failed;

  for_each_line(text, [&](std::size_t line, std::string_view text_line) {
    // resolv.conf(5): '#' or ';' starts a comment.
    auto w = config_text::words(text_line, "#;");
    if (w.empty()) return true;
    std::string_view keyword = w[0];
    std::span<const std::string_view> args(w.data() + 1, w.size() - 1);

    if (keyword == "nameserver") {
      // The C library reads the first word and ignores the rest of the line.
      if (args.empty()) {
        failed = line_failure(line, "'nameserver' needs an address");
        return false;
      }
      auto a = parse_server_address(args[0]);
      if (!a) {
        failed = line_failure(line, "bad nameserver address: " + a.error().detail);
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
        failed =
            line_failure(line, "bad '" + std::string(keyword) + "' line: " + names.error().detail);
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
  if (failed) return std::move(*failed);
  return c;
}

}  // namespace flowstack::dns
