// dig's presentation format (BIND's dig, +nomultiline).
#include <flowstack/dns/print.hpp>

#include <arpa/inet.h>

#include <cstdio>

namespace flowstack::dns {
namespace {

std::string decimal_escape(unsigned char c) {
  char text[5];
  std::snprintf(text, sizeof text, "\\%03u", static_cast<unsigned>(c));
  return text;
}

// A <character-string> in double quotes: " and \ escaped, octets outside printable ASCII as
// \DDD; spaces stay as they are.
std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c >= 0x7f) {
      out += decimal_escape(c);
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::string hex(const std::vector<std::uint8_t>& data) {
  static const char digits[] = "0123456789ABCDEF";
  std::string out;
  for (auto b : data) {
    out += digits[b >> 4];
    out += digits[b & 0xf];
  }
  return out;
}

std::string ipv4(const std::uint8_t* p) {
  char text[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, p, text, sizeof text);
  return text;
}

std::string ipv6(const std::uint8_t* p) {
  char text[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, p, text, sizeof text);
  return text;
}

// RFC 9460 §7: the presentation of the parameters whose value format this printer knows;
// nullopt when the value is malformed for its key, which then prints in the generic form.
std::optional<std::string> svc_value(const svc_param& p) {
  const auto& v = p.value;
  std::string out;
  switch (p.key) {
    case 0: {  // mandatory: a list of keys
      if (v.empty() || v.size() % 2) return std::nullopt;
      for (std::size_t i = 0; i < v.size(); i += 2) {
        if (i) out += ',';
        out += "key" + std::to_string(v[i] << 8 | v[i + 1]);
      }
      return out;
    }
    case 1: {  // alpn: length-prefixed ids
      std::size_t i = 0;
      while (i < v.size()) {
        std::size_t len = v[i];
        if (len == 0 || i + 1 + len > v.size()) return std::nullopt;
        if (i) out += ',';
        for (std::size_t j = i + 1; j < i + 1 + len; ++j) {
          auto c = static_cast<unsigned char>(v[j]);
          if (c == ',' || c == '\\') out += "\\\\";
          if (c < 0x21 || c >= 0x7f || c == '"')
            out += decimal_escape(c);
          else
            out += static_cast<char>(c);
        }
        i += 1 + len;
      }
      if (out.empty()) return std::nullopt;
      return "\"" + out + "\"";
    }
    case 3:  // port
      if (v.size() != 2) return std::nullopt;
      return std::to_string(v[0] << 8 | v[1]);
    case 4:  // ipv4hint
      if (v.empty() || v.size() % 4) return std::nullopt;
      for (std::size_t i = 0; i < v.size(); i += 4) {
        if (i) out += ',';
        out += ipv4(&v[i]);
      }
      return out;
    case 6:  // ipv6hint
      if (v.empty() || v.size() % 16) return std::nullopt;
      for (std::size_t i = 0; i < v.size(); i += 16) {
        if (i) out += ',';
        out += ipv6(&v[i]);
      }
      return out;
    default:
      return std::nullopt;
  }
}

std::string svc_param_to_string(const svc_param& p) {
  static const char* const names[] = {"mandatory", "alpn", "no-default-alpn", "port",
                                      "ipv4hint",  "ech",  "ipv6hint"};
  std::string key = p.key < 7 ? names[p.key] : "key" + std::to_string(p.key);
  if (p.key == 2 && p.value.empty()) return key;
  if (auto known = svc_value(p)) return key + "=" + *known;
  if (p.value.empty()) return key;
  return key + "=" +
         quoted(std::string_view(reinterpret_cast<const char*>(p.value.data()), p.value.size()));
}

struct rdata_printer {
  std::string operator()(const rdata_opaque& d) const {
    // RFC 3597 §5
    std::string out = "\\# " + std::to_string(d.data.size());
    if (!d.data.empty()) out += " " + hex(d.data);
    return out;
  }
  std::string operator()(const rdata_a& d) const { return ipv4(d.address.data()); }
  std::string operator()(const rdata_aaaa& d) const { return ipv6(d.address.data()); }
  std::string operator()(const rdata_name& d) const { return d.target.to_string(); }
  std::string operator()(const rdata_mx& d) const {
    return std::to_string(d.preference) + " " + d.exchange.to_string();
  }
  std::string operator()(const rdata_txt& d) const {
    std::string out;
    for (const auto& s : d.strings) {
      if (!out.empty()) out += ' ';
      out += quoted(s);
    }
    return out;
  }
  std::string operator()(const rdata_soa& d) const {
    return d.mname.to_string() + " " + d.rname.to_string() + " " + std::to_string(d.serial) + " " +
           std::to_string(d.refresh) + " " + std::to_string(d.retry) + " " +
           std::to_string(d.expire) + " " + std::to_string(d.minimum);
  }
  std::string operator()(const rdata_srv& d) const {
    return std::to_string(d.priority) + " " + std::to_string(d.weight) + " " +
           std::to_string(d.port) + " " + d.target.to_string();
  }
  std::string operator()(const rdata_caa& d) const {
    std::string tag;
    for (char c : d.tag) tag += c;
    return std::to_string(d.flags) + " " + tag + " " + quoted(d.value);
  }
  std::string operator()(const rdata_svcb& d) const {
    std::string out = std::to_string(d.priority) + " " + d.target.to_string();
    for (const auto& p : d.params) {
      out += ' ';
      out += svc_param_to_string(p);
    }
    return out;
  }
};

// Pads `line` with tabs to `column` (tab stops every 8), at least one tab.
void tab_to(std::string& line, std::size_t start, std::size_t column) {
  std::size_t at = line.size() - start;
  do {
    line += '\t';
    at = (at / 8 + 1) * 8;
  } while (at < column);
}

std::string edns_option_to_string(const edns_option& o) {
  switch (o.code) {
    case 3: {  // NSID
      std::string text;
      for (auto b : o.data) text += (b >= 0x20 && b < 0x7f) ? static_cast<char>(b) : '.';
      return "; NSID: " + hex(o.data) + " (\"" + text + "\")";
    }
    case 8:
      return "; CLIENT-SUBNET: " + hex(o.data);
    case 10:
      return "; COOKIE: " + hex(o.data);
    case 12:
      return "; PADDING: " + std::to_string(o.data.size()) + " octets";
    case 15:
      return "; EDE: " + hex(o.data);
    default:
      return "; OPT=" + std::to_string(o.code) + ": " + hex(o.data);
  }
}

}  // namespace

std::string type_to_string(rr_type type) {
  switch (type) {
    case rr_type::a:
      return "A";
    case rr_type::ns:
      return "NS";
    case rr_type::cname:
      return "CNAME";
    case rr_type::soa:
      return "SOA";
    case rr_type::ptr:
      return "PTR";
    case rr_type::mx:
      return "MX";
    case rr_type::txt:
      return "TXT";
    case rr_type::aaaa:
      return "AAAA";
    case rr_type::srv:
      return "SRV";
    case rr_type::opt:
      return "OPT";
    case rr_type::svcb:
      return "SVCB";
    case rr_type::https:
      return "HTTPS";
    case rr_type::ixfr:
      return "IXFR";
    case rr_type::axfr:
      return "AXFR";
    case rr_type::any:
      return "ANY";
    case rr_type::caa:
      return "CAA";
  }
  return "TYPE" + std::to_string(static_cast<unsigned>(type));
}

std::string class_to_string(rr_class c) {
  switch (c) {
    case rr_class::in:
      return "IN";
    case rr_class::ch:
      return "CH";
    case rr_class::hs:
      return "HS";
    case rr_class::none:
      return "NONE";
    case rr_class::any:
      return "ANY";
  }
  return "CLASS" + std::to_string(static_cast<unsigned>(c));
}

std::string rcode_to_string(std::uint16_t code) {
  static const char* const names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                                      "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
                                      "NXRRSET", "NOTAUTH", "NOTZONE"};
  if (code < 11) return names[code];
  switch (code) {
    case 16:
      return "BADVERS";
    case 23:
      return "BADCOOKIE";
  }
  return "RCODE" + std::to_string(code);
}

std::string opcode_to_string(opcode op) {
  switch (op) {
    case opcode::query:
      return "QUERY";
    case opcode::iquery:
      return "IQUERY";
    case opcode::status:
      return "STATUS";
    case opcode::notify:
      return "NOTIFY";
    case opcode::update:
      return "UPDATE";
  }
  return "RESERVED" + std::to_string(static_cast<unsigned>(op));
}

std::string rdata_to_string(const rdata& data) {
  return std::visit(rdata_printer{}, data);
}

std::string record_to_string(const record& r) {
  std::string line = r.owner.to_string();
  tab_to(line, 0, 24);
  line += std::to_string(r.ttl) + "\t" + class_to_string(r.rclass) + "\t" + type_to_string(r.type) +
          "\t" + rdata_to_string(r.data);
  return line;
}

std::string question_to_string(const question& q) {
  std::string line = ";";
  line += q.qname.to_string();
  tab_to(line, 0, 24);
  line += '\t';
  line += class_to_string(q.qclass);
  line += '\t';
  line += type_to_string(q.qtype);
  return line;
}

std::string to_string(const message& m) {
  const header& h = m.header;
  std::string out = ";; ->>HEADER<<- opcode: " + opcode_to_string(h.op) +
                    ", status: " + rcode_to_string(m.full_rcode()) +
                    ", id: " + std::to_string(h.id) + "\n";
  out += ";; flags:";
  const std::pair<bool, const char*> flags[] = {{h.qr, "qr"}, {h.aa, "aa"}, {h.tc, "tc"},
                                                {h.rd, "rd"}, {h.ra, "ra"}, {h.ad, "ad"},
                                                {h.cd, "cd"}};
  for (const auto& [set, flag] : flags)
    if (set) out += std::string(" ") + flag;
  out += "; QUERY: " + std::to_string(m.questions.size()) +
         ", ANSWER: " + std::to_string(m.answers.size()) +
         ", AUTHORITY: " + std::to_string(m.authority.size()) +
         ", ADDITIONAL: " + std::to_string(m.additional.size() + (m.edns ? 1 : 0)) + "\n";
  if (h.z) out += ";; WARNING: the reserved header bit (MBZ) is set\n";
  if (m.edns) {
    const edns& e = *m.edns;
    out += "\n;; OPT PSEUDOSECTION:\n; EDNS: version: " + std::to_string(e.version) + ", flags:";
    if (e.dnssec_ok) out += " do";
    if (e.z) {
      char text[16];
      std::snprintf(text, sizeof text, " MBZ: 0x%04x", static_cast<unsigned>(e.z));
      out += text;
    }
    out += "; udp: " + std::to_string(e.udp_payload_size) + "\n";
    for (const auto& o : e.options) out += edns_option_to_string(o) + "\n";
  }
  if (!m.questions.empty()) {
    out += "\n;; QUESTION SECTION:\n";
    for (const auto& q : m.questions) out += question_to_string(q) + "\n";
  }
  const std::pair<const char*, const std::vector<record>*> sections[] = {
      {"ANSWER", &m.answers}, {"AUTHORITY", &m.authority}, {"ADDITIONAL", &m.additional}};
  for (const auto& [title, records] : sections) {
    if (records->empty()) continue;
    out += std::string("\n;; ") + title + " SECTION:\n";
    for (const auto& r : *records) out += record_to_string(r) + "\n";
  }
  return out;
}

}  // namespace flowstack::dns
