#include "address.hpp"

#include <flowstack/core/text.hpp>
#include <flowstack/net/error.hpp>

#include <algorithm>
#include <asio/ip/address_v6.hpp>
#include <charconv>
#include <limits>
#include <sstream>

namespace flowstack::cli {
namespace {

// An address that does not parse, and why.
unexpected<failure> parse_error(std::string why) {
  return fail(net::net_errc::invalid_address, std::move(why));
}

std::string quoted(std::string_view s) {
  return "'" + std::string(s) + "'";
}

bool is_special(char c) {
  return c == ',' || c == '|' || c == '\\';
}

// One piece between separators: its unescaped text and where it was in the address.
struct piece {
  std::string text;
  std::size_t begin = 0;  // raw offsets into the address
  std::size_t end = 0;
};

detailed<element> make_element(std::string_view address, const std::vector<piece>& pieces) {
  const piece& head = pieces.front();
  element e;
  e.text = std::string(address.substr(head.begin, head.end - head.begin));
  if (head.text.empty()) {
    if (pieces.size() > 1)
      return parse_error("missing kind before ',' at position " + std::to_string(head.begin + 1) +
                         ", expected KIND[:ARGS][,OPTION[=VALUE]]...");
    return parse_error("empty element at position " + std::to_string(head.begin + 1) +
                       ", expected KIND[:ARGS] between '|' separators");
  }
  auto colon = head.text.find(':');
  e.kind = head.text.substr(0, colon);
  if (colon != std::string::npos) e.args = head.text.substr(colon + 1);
  if (e.kind.empty())
    return parse_error(e.text + ": missing kind before ':', expected KIND[:ARGS]");
  for (std::size_t i = 1; i < pieces.size(); ++i) {
    const std::string& p = pieces[i].text;
    if (p.empty())
      return parse_error(e.text + ": empty option at position " +
                         std::to_string(pieces[i].begin + 1) + ", expected OPTION[=VALUE]");
    auto eq = p.find('=');
    option o{p.substr(0, eq), std::nullopt};
    if (eq != std::string::npos) o.value = p.substr(eq + 1);
    if (o.name.empty())
      return parse_error(e.text + ": option " + quoted(p) +
                         " has no name, expected OPTION[=VALUE]");
    e.options.push_back(std::move(o));
  }
  return e;
}

// Decimal digits only; bytes may end in k, m or g (powers of 1024).
std::optional<std::uint64_t> parse_number(std::string_view s, bool size_suffix) {
  std::uint64_t scale = 1;
  if (size_suffix && !s.empty()) {
    switch (s.back()) {
      case 'k':
      case 'K':
        scale = 1ull << 10;
        break;
      case 'm':
      case 'M':
        scale = 1ull << 20;
        break;
      case 'g':
      case 'G':
        scale = 1ull << 30;
        break;
      default:
        break;
    }
    if (scale != 1) s.remove_suffix(1);
  }
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  if (v > std::numeric_limits<std::uint64_t>::max() / scale) return std::nullopt;
  return v * scale;
}

bool is_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

detailed<std::uint16_t> parse_port(std::string_view s, bool for_listen) {
  if (s.empty()) return parse_error("missing port");
  auto v = parse_number(s, false);
  if (!v) return parse_error("port " + quoted(s) + " is not a number");
  std::uint64_t low = for_listen ? 0 : 1;
  if (*v < low || *v > 65535)
    return parse_error("port " + std::string(s) + " is out of range " + std::to_string(low) +
                       "-65535");
  return static_cast<std::uint16_t>(*v);
}

detailed<endpoint> check_element(const element& e, const kind& k) {
  endpoint ep;
  ep.kind = &k;
  ep.text = e.text;
  auto wrong = [&](const std::string& what) {
    return parse_error(e.text + ": " + what + ", expected " + k.usage);
  };

  switch (k.args) {
    case arg_shape::none:
      if (e.args) return wrong(quoted(k.name) + " takes no arguments");
      break;
    case arg_shape::host_port:
    case arg_shape::optional_host_port: {
      bool listen = k.args == arg_shape::optional_host_port;
      if (!e.args || e.args->empty()) return wrong(listen ? "missing PORT" : "missing HOST:PORT");
      auto hp = parse_host_port(*e.args, listen);
      if (!hp) return wrong(hp.error().detail);
      ep.host = hp->host;
      ep.port = hp->port;
      break;
    }
    case arg_shape::path:
      if (!e.args || e.args->empty()) return wrong("missing PATH");
      ep.path = *e.args;
      break;
    case arg_shape::text:
      ep.path = e.args.value_or("");
      break;
  }

  for (const option& o : e.options) {
    auto spec = std::find_if(k.options.begin(), k.options.end(),
                             [&](const option_spec& s) { return s.name == o.name; });
    if (spec == k.options.end()) {
      if (k.options.empty())
        return parse_error(e.text + ": unknown option " + quoted(o.name) + ", " + quoted(k.name) +
                           " takes no options");
      std::string expected_options;
      for (const auto& s : k.options)
        expected_options += (expected_options.empty() ? "" : ", ") + option_usage(s);
      return parse_error(e.text + ": unknown option " + quoted(o.name) + ", expected one of " +
                         expected_options);
    }
    if (ep.has(o.name)) return parse_error(e.text + ": option " + quoted(o.name) + " given twice");
    auto option_wrong = [&](const std::string& what) {
      return parse_error(e.text + ": " + what + ", expected " + option_usage(*spec));
    };
    if (spec->type == option_type::flag) {
      if (o.value) return option_wrong("option " + quoted(o.name) + " takes no value");
      ep.options[o.name] = 1;
      continue;
    }
    if (!o.value || o.value->empty())
      return option_wrong("option " + quoted(o.name) + " needs a value");
    if (spec->type == option_type::text) {
      ep.texts[o.name] = *o.value;
      continue;
    }
    auto v = parse_number(*o.value, spec->type == option_type::bytes);
    if (!v) return option_wrong(o.name + " value " + quoted(*o.value) + " is not a number");
    if (*v < spec->min)
      return option_wrong(o.name + " must be at least " + std::to_string(spec->min));
    ep.options[o.name] = *v;
  }

  if (k.check) {
    if (auto what = k.check(ep)) return wrong(*what);
  }
  return ep;
}

}  // namespace

std::string option_usage(const option_spec& o) {
  switch (o.type) {
    case option_type::flag:
      return o.name;
    case option_type::count:
      return o.name + "=N";
    case option_type::milliseconds:
      return o.name + "=MS";
    case option_type::bytes:
      return o.name + "=BYTES";
    case option_type::text:
      return o.name + "=VALUE";
  }
  return o.name;
}

std::string_view role_title(kind_role role) {
  switch (role) {
    case kind_role::connector:
      return "Transports that connect";
    case kind_role::listener:
      return "Transports that listen";
    case kind_role::layer:
      return "Layers (flow over flow)";
  }
  return "";
}

const syntax_text& address_syntax() {
  static const syntax_text syntax{
      {{"ADDRESS := [LAYER|]...TRANSPORT", "layers outermost first, e.g. tls|tcp:HOST:443"},
       {"element := KIND[:ARGS][,OPTION[=VALUE]]...", ""}},
      {"A backslash escapes ',', '|' and '\\' in ARGS and values (unix:/tmp/a\\,b).",
       "IPv6 hosts are written in brackets: tcp:[::1]:80.",
       "unix:@NAME is a socket in Linux's abstract namespace, with no file; ./@x is a file @x."}};
  return syntax;
}

detailed<std::vector<element>> split_address(std::string_view text) {
  if (text.empty()) return parse_error("empty address, expected KIND[:ARGS], e.g. tcp:HOST:PORT");
  std::vector<element> elements;
  std::vector<piece> pieces(1);
  auto finish_element = [&]() -> detailed<void> {
    auto e = make_element(text, pieces);
    if (!e) return unexpected(std::move(e).error());
    elements.push_back(std::move(*e));
    return {};
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\\') {
      if (i + 1 == text.size())
        return parse_error("address ends with a lone '\\', expected \\, \\| or \\\\ to escape");
      char next = text[i + 1];
      if (!is_special(next))
        return parse_error("'\\" + std::string(1, next) + "' at position " + std::to_string(i + 1) +
                           " is not an escape, expected \\, \\| or \\\\ (write \\\\ for a "
                           "backslash)");
      pieces.back().text += next;
      ++i;
      pieces.back().end = i + 1;
    } else if (c == ',' || c == '|') {
      pieces.back().end = i;
      if (c == '|') {
        auto ok = finish_element();
        if (!ok) return unexpected(std::move(ok).error());
        pieces.clear();
      }
      pieces.push_back(piece{{}, i + 1, i + 1});
    } else {
      pieces.back().text += c;
      pieces.back().end = i + 1;
    }
  }
  auto ok = finish_element();
  if (!ok) return unexpected(std::move(ok).error());
  return elements;
}

detailed<host_and_port> parse_host_port(std::string_view text, bool for_listen) {
  host_and_port hp;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return parse_error("unterminated '[' in IPv6 host");
    hp.host = std::string(text.substr(1, close - 1));
    std::error_code ec;
    asio::ip::make_address_v6(hp.host, ec);
    if (ec) return parse_error(quoted(text.substr(0, close + 1)) + " is not an IPv6 address");
    auto rest = text.substr(close + 1);
    if (rest.empty()) return parse_error("missing port");
    if (rest.front() != ':') return parse_error("expected ':' after ']'");
    port_text = rest.substr(1);
  } else {
    auto colon = text.find(':');
    if (colon == std::string_view::npos) {
      if (!for_listen) {
        bool numeric = !text.empty() && std::all_of(text.begin(), text.end(),
                                                    [](char c) { return c >= '0' && c <= '9'; });
        return parse_error(numeric ? "missing host" : "missing port");
      }
      port_text = text;
    } else {
      if (text.find(':', colon + 1) != std::string_view::npos)
        return parse_error("IPv6 host must be written in brackets, e.g. [::1]:PORT");
      hp.host = std::string(text.substr(0, colon));
      port_text = text.substr(colon + 1);
      if (hp.host.empty()) return parse_error("missing host before ':'");
      if (!std::all_of(hp.host.begin(), hp.host.end(), is_host_char))
        return parse_error(quoted(hp.host) + " is not a host name or address");
    }
  }
  auto port = parse_port(port_text, for_listen);
  if (!port) return unexpected(std::move(port).error());
  hp.port = *port;
  return hp;
}

void kind_registry::add(kind k) {
  auto same = std::find_if(kinds_.begin(), kinds_.end(),
                           [&](const auto& existing) { return existing->name == k.name; });
  if (same != kinds_.end()) {
    **same = std::move(k);
    return;
  }
  kinds_.push_back(std::make_unique<kind>(std::move(k)));
}

const kind* kind_registry::find(std::string_view name) const {
  for (const auto& k : kinds_)
    if (k->name == name) return k.get();
  return nullptr;
}

std::string kind_registry::names() const {
  std::string out;
  for (const auto& k : kinds_) out += (out.empty() ? "" : ", ") + k->name;
  return out;
}

std::vector<const kind*> kind_registry::of_role(kind_role role) const {
  std::vector<const kind*> out;
  for (const auto& k : kinds_)
    if (k->role == role) out.push_back(k.get());
  return out;
}

std::string kind_registry::describe() const {
  auto column = [](std::string text) {
    if (text.size() < 28) text.resize(28, ' ');
    return text;
  };
  std::ostringstream out;
  out << "Addresses:\n";
  for (const auto& form : address_syntax().forms) {
    std::string line = "  " + form.term;
    if (!form.text.empty()) line.resize(std::max<std::size_t>(line.size() + 2, 41), ' ');
    out << line << form.text << "\n";
  }
  for (const auto& note : address_syntax().notes) out << "  " << note << "\n";
  for (kind_role role : {kind_role::connector, kind_role::listener, kind_role::layer}) {
    auto kinds = of_role(role);
    if (kinds.empty()) {
      if (role == kind_role::layer) out << "\n" << role_title(role) << ": none in this build.\n";
      continue;
    }
    out << "\n" << role_title(role) << ":\n";
    for (const kind* k : kinds) {
      out << column("  " + k->usage) << " " << k->help << "\n";
      for (const auto& o : k->options)
        out << column("      ," + option_usage(o)) << " " << o.help << "\n";
    }
  }
  return out.str();
}

namespace {

detailed<address> parse_address_as_written(std::string_view text, const kind_registry& kinds);

}  // namespace

detailed<address> parse_address(std::string_view text, const kind_registry& kinds) {
  auto a = parse_address_as_written(text, kinds);
  if (!a) return fail(a.error().code, escape_controls(a.error().detail));
  return a;
}

namespace {

detailed<address> parse_address_as_written(std::string_view text, const kind_registry& kinds) {
  auto written = split_address(text);
  if (!written) return unexpected(std::move(written).error());

  // Shorthands stand for several elements; they may not expand into themselves forever.
  std::vector<std::pair<element, const kind*>> elements;
  std::vector<std::pair<element, int>> todo;
  for (auto it = written->rbegin(); it != written->rend(); ++it) todo.emplace_back(*it, 0);
  while (!todo.empty()) {
    auto [e, depth] = std::move(todo.back());
    todo.pop_back();
    const kind* k = kinds.find(e.kind);
    if (!k)
      return parse_error("unknown kind " + quoted(e.kind) + " in " + quoted(e.text) +
                         ", expected one of " + kinds.names());
    if (k->expand) {
      if (depth >= 8) return parse_error(e.text + ": shorthand expands too deeply");
      auto parts = k->expand(e);
      if (!parts.empty()) {
        for (auto part = parts.rbegin(); part != parts.rend(); ++part)
          todo.emplace_back(std::move(*part), depth + 1);
        continue;
      }
    }
    elements.emplace_back(std::move(e), k);
  }

  address a;
  a.text = std::string(text);
  for (std::size_t i = 0; i < elements.size(); ++i) {
    const auto& [e, k] = elements[i];
    bool last = i + 1 == elements.size();
    if (last && k->role == kind_role::layer)
      return parse_error(quoted(e.text) + " is a layer and needs a transport after it, expected " +
                         e.kind + "|TRANSPORT, e.g. " + e.kind + "|tcp:HOST:PORT");
    if (!last && k->role != kind_role::layer)
      return parse_error(quoted(e.text) +
                         " is a transport, so it must be the last element, expected "
                         "LAYER|...|TRANSPORT");
    auto ep = check_element(e, *k);
    if (!ep) return unexpected(std::move(ep).error());
    if (last)
      a.transport = std::move(*ep);
    else
      a.layers.push_back(std::move(*ep));
  }
  for (const auto& layer : a.layers) {
    if (!layer.kind->check_part) continue;
    if (auto what = layer.kind->check_part(layer, a.is_listener()))
      return parse_error(layer.text + ": " + *what + ", expected " + layer.kind->usage);
  }
  return a;
}

}  // namespace

}  // namespace flowstack::cli
