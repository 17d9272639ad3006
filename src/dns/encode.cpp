// The encoder, with name compression and truncation to a size limit.
#include <flowstack/dns/message.hpp>

#include <string>
#include <unordered_map>

namespace flowstack::dns {

std::size_t edns::wire_length() const noexcept {
  std::size_t total = 11;  // root name, type, class, TTL, rdlength
  for (const auto& o : options) total += 4 + o.data.size();
  return total;
}

std::uint16_t message::full_rcode() const noexcept {
  std::uint16_t high = edns ? edns->extended_rcode : 0;
  return static_cast<std::uint16_t>(high << 4 | header.rcode);
}

void message::set_rcode(std::uint16_t code) {
  header.rcode = code & 0xf;
  if (code > 0xf && !edns) edns.emplace();
  if (edns) edns->extended_rcode = static_cast<std::uint8_t>(code >> 4);
}

message response_to(const message& query, rcode code) {
  message m;
  m.header = query.header;
  m.header.qr = true;
  m.header.ra = true;
  m.header.aa = false;
  m.header.ad = false;
  m.header.tc = false;
  m.questions = query.questions;
  if (query.edns) m.edns = dns::edns{};
  m.set_rcode(static_cast<std::uint16_t>(code));
  return m;
}

bool rdata_matches_type(const rdata& data, rr_type type) noexcept {
  switch (data.index()) {
    case 0:
      return type != rr_type::opt;
    case 1:
      return type == rr_type::a;
    case 2:
      return type == rr_type::aaaa;
    case 3:
      return type == rr_type::cname || type == rr_type::ns || type == rr_type::ptr;
    case 4:
      return type == rr_type::mx;
    case 5:
      return type == rr_type::txt;
    case 6:
      return type == rr_type::soa;
    case 7:
      return type == rr_type::srv;
    case 8:
      return type == rr_type::caa;
    case 9:
      return type == rr_type::svcb || type == rr_type::https;
  }
  return false;
}

namespace {

class encoder {
 public:
  std::vector<std::uint8_t> out;

  void put8(std::uint8_t v) { out.push_back(v); }
  void put16(std::uint16_t v) {
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v));
  }
  void put32(std::uint32_t v) {
    put16(static_cast<std::uint16_t>(v >> 16));
    put16(static_cast<std::uint16_t>(v));
  }
  void put_bytes(const void* data, std::size_t size) {
    auto p = static_cast<const std::uint8_t*>(data);
    out.insert(out.end(), p, p + size);
  }
  void set16(std::size_t at, std::uint16_t v) {
    out[at] = static_cast<std::uint8_t>(v >> 8);
    out[at + 1] = static_cast<std::uint8_t>(v);
  }

  // Writes `n`; with `compress`, points at an earlier copy of its longest known suffix and
  // remembers its own suffixes for later names. Suffixes match exactly, case included, so a
  // decoded message reads back with the case it was given.
  void put_name(const name& n, bool compress) {
    const auto& labels = n.labels();
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (compress) {
        std::string key = suffix_key(labels, i);
        auto found = suffixes_.find(key);
        if (found != suffixes_.end()) {
          put16(static_cast<std::uint16_t>(0xc000 | found->second));
          return;
        }
        // Pointers have 14 bits of offset.
        if (out.size() <= 0x3fff) {
          suffixes_.emplace(key, static_cast<std::uint16_t>(out.size()));
          added_.push_back({std::move(key), out.size()});
        }
      }
      put8(static_cast<std::uint8_t>(labels[i].size()));
      put_bytes(labels[i].data(), labels[i].size());
    }
    put8(0);
  }

  // Drops everything written from `mark` on, and the suffixes that pointed there.
  void rollback(std::size_t mark) {
    out.resize(mark);
    while (!added_.empty() && added_.back().second >= mark) {
      suffixes_.erase(added_.back().first);
      added_.pop_back();
    }
  }

  void put_question(const question& q) {
    put_name(q.qname, true);
    put16(static_cast<std::uint16_t>(q.qtype));
    put16(static_cast<std::uint16_t>(q.qclass));
  }

  result<void> put_record(const record& r) {
    if (!rdata_matches_type(r.data, r.type))
      return fail(make_error_code(dns_errc::rdata_type_mismatch));
    put_name(r.owner, true);
    put16(static_cast<std::uint16_t>(r.type));
    put16(static_cast<std::uint16_t>(r.rclass));
    put32(r.ttl);
    std::size_t length_at = out.size();
    put16(0);
    auto ok = std::visit([this](const auto& d) { return put_rdata(d); }, r.data);
    if (!ok) return ok;
    std::size_t length = out.size() - length_at - 2;
    if (length > 0xffff) return fail(make_error_code(dns_errc::rdata_too_long));
    set16(length_at, static_cast<std::uint16_t>(length));
    return {};
  }

  void put_opt(const edns& e) {
    put8(0);
    put16(static_cast<std::uint16_t>(rr_type::opt));
    put16(e.udp_payload_size);
    put32(std::uint32_t(e.extended_rcode) << 24 | std::uint32_t(e.version) << 16 |
          (e.dnssec_ok ? 0x8000u : 0u) | (e.z & 0x7fffu));
    std::size_t length_at = out.size();
    put16(0);
    for (const auto& o : e.options) {
      put16(o.code);
      put16(static_cast<std::uint16_t>(o.data.size()));
      put_bytes(o.data.data(), o.data.size());
    }
    set16(length_at, static_cast<std::uint16_t>(out.size() - length_at - 2));
  }

 private:
  static std::string suffix_key(const std::vector<std::string>& labels, std::size_t from) {
    std::string key;
    for (std::size_t i = from; i < labels.size(); ++i) {
      key += static_cast<char>(labels[i].size());
      key += labels[i];
    }
    return key;
  }

  result<void> put_rdata(const rdata_opaque& d) {
    put_bytes(d.data.data(), d.data.size());
    return {};
  }
  result<void> put_rdata(const rdata_a& d) {
    put_bytes(d.address.data(), d.address.size());
    return {};
  }
  result<void> put_rdata(const rdata_aaaa& d) {
    put_bytes(d.address.data(), d.address.size());
    return {};
  }
  result<void> put_rdata(const rdata_name& d) {
    put_name(d.target, true);
    return {};
  }
  result<void> put_rdata(const rdata_mx& d) {
    put16(d.preference);
    put_name(d.exchange, true);
    return {};
  }
  result<void> put_rdata(const rdata_txt& d) {
    for (const auto& s : d.strings) {
      if (s.size() > 255) return fail(make_error_code(dns_errc::malformed_rdata));
      put8(static_cast<std::uint8_t>(s.size()));
      put_bytes(s.data(), s.size());
    }
    return {};
  }
  result<void> put_rdata(const rdata_soa& d) {
    put_name(d.mname, true);
    put_name(d.rname, true);
    put32(d.serial);
    put32(d.refresh);
    put32(d.retry);
    put32(d.expire);
    put32(d.minimum);
    return {};
  }
  result<void> put_rdata(const rdata_srv& d) {
    put16(d.priority);
    put16(d.weight);
    put16(d.port);
    put_name(d.target, false);  // RFC 2782: no compression
    return {};
  }
  result<void> put_rdata(const rdata_caa& d) {
    if (d.tag.size() > 255) return fail(make_error_code(dns_errc::malformed_rdata));
    put8(d.flags);
    put8(static_cast<std::uint8_t>(d.tag.size()));
    put_bytes(d.tag.data(), d.tag.size());
    put_bytes(d.value.data(), d.value.size());
    return {};
  }
  result<void> put_rdata(const rdata_svcb& d) {
    put16(d.priority);
    put_name(d.target, false);  // RFC 9460 §2.2: no compression
    for (const auto& p : d.params) {
      if (p.value.size() > 0xffff) return fail(make_error_code(dns_errc::rdata_too_long));
      put16(p.key);
      put16(static_cast<std::uint16_t>(p.value.size()));
      put_bytes(p.value.data(), p.value.size());
    }
    return {};
  }

  std::unordered_map<std::string, std::uint16_t> suffixes_;
  std::vector<std::pair<std::string, std::size_t>> added_;  // in the order written
};

}  // namespace

result<std::vector<std::uint8_t>> encode(const message& m, const encode_options& options) {
  std::size_t limit = std::min<std::size_t>(options.max_size, 0xffff);
  if (limit < 12) return fail(make_error_code(dns_errc::size_limit_too_small));
  // Room for the OPT record is kept back from the start, so that a truncated answer still
  // tells the client the sizes it may use.
  std::size_t opt_length = m.edns ? m.edns->wire_length() : 0;
  bool opt_fits = m.edns && 12 + opt_length <= limit;
  std::size_t records_limit = opt_fits ? limit - opt_length : limit;

  encoder e;
  e.out.reserve(512);
  e.out.resize(12);
  bool truncated = false;
  bool tc = m.header.tc;
  std::uint16_t counts[4] = {0, 0, 0, 0};
  for (const auto& q : m.questions) {
    std::size_t mark = e.out.size();
    e.put_question(q);
    if (e.out.size() > records_limit) {
      e.rollback(mark);
      truncated = tc = true;
      break;
    }
    ++counts[0];
  }
  const std::vector<record>* sections[3] = {&m.answers, &m.authority, &m.additional};
  for (int s = 0; s < 3 && !truncated; ++s) {
    for (const auto& r : *sections[s]) {
      std::size_t mark = e.out.size();
      auto ok = e.put_record(r);
      if (!ok) return fail(ok.error());
      if (e.out.size() > records_limit) {
        e.rollback(mark);
        truncated = true;
        // RFC 2181 §9: leaving out additional data does not make an answer truncated.
        if (s < 2) tc = true;
        break;
      }
      ++counts[s + 1];
    }
  }
  if (opt_fits) {
    e.put_opt(*m.edns);
    ++counts[3];
  }
  const header& h = m.header;
  std::uint16_t flags = static_cast<std::uint16_t>(
      (h.qr ? 0x8000 : 0) | (static_cast<unsigned>(h.op) & 0xf) << 11 | (h.aa ? 0x0400 : 0) |
      (tc ? 0x0200 : 0) | (h.rd ? 0x0100 : 0) | (h.ra ? 0x0080 : 0) | (h.z ? 0x0040 : 0) |
      (h.ad ? 0x0020 : 0) | (h.cd ? 0x0010 : 0) | (h.rcode & 0xf));
  e.set16(0, h.id);
  e.set16(2, flags);
  for (int i = 0; i < 4; ++i) e.set16(4 + 2 * i, counts[i]);
  return std::move(e.out);
}

}  // namespace flowstack::dns
