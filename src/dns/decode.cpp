// The decoder. Every read is bounds-checked against the message (or the current record's rdata);
// names remember where they started so that compression pointers can be checked against the
// names read before them.
#include <flowstack/dns/message.hpp>
#include <flowstack/dns/print.hpp>

#include <algorithm>
#include <array>
#include <string>
#include <type_traits>

namespace flowstack::dns {
namespace {

constexpr int max_pointer_jumps = 64;

class decoder {
 public:
  // With `explain`, a failure also leaves its sentence in why().
  decoder(std::span<const std::uint8_t> wire, bool explain)
      : wire_(wire), explain_(explain), name_starts_(wire.size(), false) {}

  result<message> run();
  const std::string& why() const noexcept { return why_; }

 private:
  // `what` is a sentence, or a function that makes one: it is only called when explaining, so
  // that a failure costs no string unless the caller asked for it.
  template <typename Sentence>
  unexpected<std::error_code> error(dns_errc code, std::size_t offset, Sentence&& what) {
    if (explain_) {
      if constexpr (std::is_invocable_v<Sentence>)
        why_ = what();
      else
        why_ = what;
      why_ += " (at offset " + std::to_string(offset) + ")";
    }
    return fail(make_error_code(code));
  }

  std::uint16_t be16(std::size_t at) const {
    return static_cast<std::uint16_t>(wire_[at] << 8 | wire_[at + 1]);
  }
  std::uint32_t be32(std::size_t at) const {
    return std::uint32_t(wire_[at]) << 24 | std::uint32_t(wire_[at + 1]) << 16 |
           std::uint32_t(wire_[at + 2]) << 8 | std::uint32_t(wire_[at + 3]);
  }

  result<name> read_name(std::size_t& pos, std::size_t end);
  result<question> read_question(std::size_t& pos);
  // Reads one record; an OPT record in the additional section goes to `m.edns`.
  result<void> read_record(std::size_t& pos, message& m, std::vector<record>& section,
                           bool additional);
  // The rdata of a record of `type`, at [start, end): one reader per type it knows, the rest
  // opaque.
  result<rdata> read_rdata(rr_type type, rr_class rclass, std::size_t start, std::size_t end);
  struct rdata_span;
  unexpected<std::error_code> mismatch(const rdata_span& r);
  rdata read_opaque(const rdata_span& r);
  template <std::size_t N>
  result<std::array<std::uint8_t, N>> read_address(const rdata_span& r);
  result<name> read_last_name(rdata_span& r);
  result<rdata> read_mx(rdata_span& r);
  result<rdata> read_txt(rdata_span& r);
  result<rdata> read_soa(rdata_span& r);
  result<rdata> read_srv(rdata_span& r);
  result<rdata> read_caa(rdata_span& r);
  result<rdata> read_svcb(rdata_span& r);
  result<dns::edns> read_opt(std::size_t start, std::size_t end, std::uint16_t rclass,
                             std::uint32_t ttl);

  std::span<const std::uint8_t> wire_;
  bool explain_;
  std::string why_;
  std::vector<bool> name_starts_;  // offsets where a label or pointer of a decoded name begins
};

result<name> decoder::read_name(std::size_t& pos, std::size_t end) {
  std::vector<std::string> labels;
  std::vector<std::size_t> here;  // the offsets this name has visited
  std::size_t cur = pos;
  std::size_t limit = end;
  std::size_t length = 1;
  std::size_t after = 0;
  bool jumped = false;
  int jumps = 0;
  for (;;) {
    if (cur >= limit)
      return error(dns_errc::truncated_name, cur,
                   limit == wire_.size() ? "name runs past the end of the message"
                                         : "name runs past the end of the record rdata");
    std::uint8_t len = wire_[cur];
    here.push_back(cur);
    if ((len & 0xc0) == 0xc0) {
      if (cur + 1 >= limit)
        return error(dns_errc::truncated_name, cur, "compression pointer cut off by the end");
      std::size_t target = std::size_t(len & 0x3f) << 8 | wire_[cur + 1];
      if (!jumped) after = cur + 2;
      if (std::find(here.begin(), here.end(), target) != here.end())
        return error(dns_errc::pointer_loop, cur, [&] {
          return "compression pointer loop: offset " + std::to_string(target) +
                 " is part of the name being read";
        });
      if (target > cur)
        return error(dns_errc::pointer_forward, cur, [&] {
          return "compression pointer points forward, to offset " + std::to_string(target);
        });
      if (!name_starts_[target])
        return error(dns_errc::pointer_bad_target, cur, [&] {
          return "compression pointer to offset " + std::to_string(target) +
                 ", where no earlier name has a label";
        });
      if (++jumps > max_pointer_jumps)
        return error(dns_errc::pointer_loop, cur, [] {
          return "compression pointer loop: more than " + std::to_string(max_pointer_jumps) +
                 " jumps in one name";
        });
      jumped = true;
      cur = target;
      // The target was read as part of an earlier name, so its labels lie inside the message.
      limit = wire_.size();
      continue;
    }
    if (len > name::max_label_length)
      return error(dns_errc::label_too_long, cur, [&] {
        return "label longer than 63 octets (length octet " + std::to_string(len) + ")";
      });
    if (len == 0) {
      if (!jumped) after = cur + 1;
      break;
    }
    length += len + 1u;
    if (length > name::max_wire_length)
      return error(dns_errc::name_too_long, cur, "name longer than 255 octets");
    if (cur + 1 + len > limit)
      return error(dns_errc::truncated_name, cur,
                   limit == wire_.size() ? "label runs past the end of the message"
                                         : "label runs past the end of the record rdata");
    labels.emplace_back(reinterpret_cast<const char*>(wire_.data() + cur + 1), len);
    cur += 1u + len;
  }
  for (auto at : here) name_starts_[at] = true;
  pos = after;
  auto n = name::from_labels(std::move(labels));
  if (!n) return error(dns_errc::bad_name, pos, "not a domain name");
  return n;
}

result<question> decoder::read_question(std::size_t& pos) {
  auto qname = read_name(pos, wire_.size());
  if (!qname) return fail(qname.error());
  if (pos + 4 > wire_.size())
    return error(dns_errc::truncated_question, pos,
                 "truncated question: no room for type and class");
  question q{std::move(*qname), static_cast<rr_type>(be16(pos)),
             static_cast<rr_class>(be16(pos + 2))};
  pos += 4;
  return q;
}

result<dns::edns> decoder::read_opt(std::size_t start, std::size_t end, std::uint16_t rclass,
                                    std::uint32_t ttl) {
  dns::edns e;
  e.udp_payload_size = rclass;
  e.extended_rcode = static_cast<std::uint8_t>(ttl >> 24);
  e.version = static_cast<std::uint8_t>(ttl >> 16);
  e.dnssec_ok = (ttl & 0x8000) != 0;
  e.z = static_cast<std::uint16_t>(ttl & 0x7fff);
  std::size_t p = start;
  while (p < end) {
    if (p + 4 > end) return error(dns_errc::malformed_rdata, p, "truncated EDNS option header");
    std::uint16_t code = be16(p);
    std::size_t len = be16(p + 2);
    p += 4;
    if (p + len > end)
      return error(dns_errc::malformed_rdata, p, [&] {
        return "EDNS option " + std::to_string(code) + " runs past the OPT rdata";
      });
    e.options.push_back(
        {code, std::vector<std::uint8_t>(wire_.begin() + p, wire_.begin() + p + len)});
    p += len;
  }
  return e;
}

// The rdata of one record type: [start, end) of the message; `at` moves as it is read.
struct decoder::rdata_span {
  rr_type type;
  std::size_t start, end, at;
  std::size_t size() const noexcept { return end - start; }
};

unexpected<std::error_code> decoder::mismatch(const rdata_span& r) {
  return error(dns_errc::rdata_length_mismatch, r.start, [&] {
    return "rdata length does not match record type " + type_to_string(r.type) + " (" +
           std::to_string(r.size()) + " octets)";
  });
}

rdata decoder::read_opaque(const rdata_span& r) {
  return rdata_opaque{std::vector<std::uint8_t>(wire_.begin() + r.start, wire_.begin() + r.end)};
}

template <std::size_t N>
result<std::array<std::uint8_t, N>> decoder::read_address(const rdata_span& r) {
  if (r.size() != N) return mismatch(r);
  std::array<std::uint8_t, N> address;
  std::copy_n(wire_.begin() + r.start, N, address.begin());
  return address;
}

// A name that fills the rest of the rdata exactly.
result<name> decoder::read_last_name(rdata_span& r) {
  auto n = read_name(r.at, r.end);
  if (!n) return n;
  if (r.at != r.end) return mismatch(r);
  return n;
}

result<rdata> decoder::read_mx(rdata_span& r) {
  if (r.size() < 3) return mismatch(r);
  rdata_mx mx;
  mx.preference = be16(r.at);
  r.at += 2;
  auto n = read_last_name(r);
  if (!n) return fail(n.error());
  mx.exchange = std::move(*n);
  return mx;
}

result<rdata> decoder::read_txt(rdata_span& r) {
  rdata_txt txt;
  while (r.at < r.end) {
    std::size_t len = wire_[r.at];
    if (r.at + 1 + len > r.end)
      return error(dns_errc::malformed_rdata, r.at, "TXT character-string runs past the rdata");
    txt.strings.emplace_back(reinterpret_cast<const char*>(wire_.data() + r.at + 1), len);
    r.at += 1 + len;
  }
  return txt;
}

result<rdata> decoder::read_soa(rdata_span& r) {
  rdata_soa soa;
  auto m = read_name(r.at, r.end);
  if (!m) return fail(m.error());
  auto rn = read_name(r.at, r.end);
  if (!rn) return fail(rn.error());
  if (r.end - r.at != 20) return mismatch(r);
  soa.mname = std::move(*m);
  soa.rname = std::move(*rn);
  soa.serial = be32(r.at);
  soa.refresh = be32(r.at + 4);
  soa.retry = be32(r.at + 8);
  soa.expire = be32(r.at + 12);
  soa.minimum = be32(r.at + 16);
  return soa;
}

result<rdata> decoder::read_srv(rdata_span& r) {
  if (r.size() < 7) return mismatch(r);
  rdata_srv srv;
  srv.priority = be16(r.at);
  srv.weight = be16(r.at + 2);
  srv.port = be16(r.at + 4);
  r.at += 6;
  auto n = read_last_name(r);
  if (!n) return fail(n.error());
  srv.target = std::move(*n);
  return srv;
}

result<rdata> decoder::read_caa(rdata_span& r) {
  if (r.size() < 2) return mismatch(r);
  rdata_caa caa;
  caa.flags = wire_[r.at];
  std::size_t tag_len = wire_[r.at + 1];
  r.at += 2;
  if (r.at + tag_len > r.end)
    return error(dns_errc::malformed_rdata, r.at, "CAA tag runs past the rdata");
  caa.tag.assign(reinterpret_cast<const char*>(wire_.data() + r.at), tag_len);
  r.at += tag_len;
  caa.value.assign(reinterpret_cast<const char*>(wire_.data() + r.at), r.end - r.at);
  return caa;
}

result<rdata> decoder::read_svcb(rdata_span& r) {
  if (r.size() < 3) return mismatch(r);
  rdata_svcb svcb;
  svcb.priority = be16(r.at);
  r.at += 2;
  auto n = read_name(r.at, r.end);
  if (!n) return fail(n.error());
  svcb.target = std::move(*n);
  while (r.at < r.end) {
    if (r.at + 4 > r.end)
      return error(dns_errc::malformed_rdata, r.at, "truncated SVCB parameter header");
    std::uint16_t key = be16(r.at);
    std::size_t len = be16(r.at + 2);
    r.at += 4;
    if (r.at + len > r.end)
      return error(dns_errc::malformed_rdata, r.at, [&] {
        return "SVCB parameter key" + std::to_string(key) + " runs past the rdata";
      });
    svcb.params.push_back(
        {key, std::vector<std::uint8_t>(wire_.begin() + r.at, wire_.begin() + r.at + len)});
    r.at += len;
  }
  return svcb;
}

result<rdata> decoder::read_rdata(rr_type type, rr_class rclass, std::size_t start,
                                  std::size_t end) {
  rdata_span r{type, start, end, start};
  // Dynamic update's "delete" records (RFC 2136 §2.5) have no rdata whatever their type.
  if (r.size() == 0 && (rclass == rr_class::none || rclass == rr_class::any)) return read_opaque(r);
  switch (type) {
    case rr_type::a: {
      auto address = read_address<4>(r);
      if (!address) return fail(address.error());
      return rdata_a{*address};
    }
    case rr_type::aaaa: {
      auto address = read_address<16>(r);
      if (!address) return fail(address.error());
      return rdata_aaaa{*address};
    }
    case rr_type::cname:
    case rr_type::ns:
    case rr_type::ptr: {
      auto n = read_last_name(r);
      if (!n) return fail(n.error());
      return rdata_name{std::move(*n)};
    }
    case rr_type::mx:
      return read_mx(r);
    case rr_type::txt:
      return read_txt(r);
    case rr_type::soa:
      return read_soa(r);
    case rr_type::srv:
      return read_srv(r);
    case rr_type::caa:
      return read_caa(r);
    case rr_type::svcb:
    case rr_type::https:
      return read_svcb(r);
    default:
      return read_opaque(r);
  }
}

result<void> decoder::read_record(std::size_t& pos, message& m, std::vector<record>& section,
                                  bool additional) {
  std::size_t start = pos;
  auto owner = read_name(pos, wire_.size());
  if (!owner) return fail(owner.error());
  if (pos + 10 > wire_.size())
    return error(dns_errc::truncated_record, pos,
                 "truncated record: the message ends inside its type, class, TTL or length");
  auto type = static_cast<rr_type>(be16(pos));
  std::uint16_t rclass = be16(pos + 2);
  std::uint32_t ttl = be32(pos + 4);
  std::size_t rdlength = be16(pos + 8);
  pos += 10;
  if (pos + rdlength > wire_.size())
    return error(dns_errc::truncated_rdata, pos, [&] {
      return "truncated record rdata: rdlength " + std::to_string(rdlength) + " but " +
             std::to_string(wire_.size() - pos) + " octets left";
    });
  std::size_t rdata_start = pos;
  pos += rdlength;
  if (type == rr_type::opt) {
    if (!additional)
      return error(dns_errc::misplaced_opt, start, "OPT record outside the additional section");
    if (!owner->is_root())
      return error(dns_errc::misplaced_opt, start,
                   "OPT record owned by a name other than the root");
    if (m.edns) return error(dns_errc::duplicate_opt, start, "more than one OPT record");
    auto e = read_opt(rdata_start, pos, rclass, ttl);
    if (!e) return fail(e.error());
    m.edns = std::move(*e);
    return {};
  }
  auto data = read_rdata(type, static_cast<rr_class>(rclass), rdata_start, pos);
  if (!data) return fail(data.error());
  section.push_back(
      record{std::move(*owner), type, static_cast<rr_class>(rclass), ttl, std::move(*data)});
  return {};
}

result<message> decoder::run() {
  if (wire_.size() < 12)
    return error(dns_errc::truncated_header, 0, [&] {
      return "message of " + std::to_string(wire_.size()) +
             " octets is shorter than the 12-octet DNS header";
    });
  message m;
  std::uint16_t flags = be16(2);
  m.header.id = be16(0);
  m.header.qr = flags & 0x8000;
  m.header.op = static_cast<opcode>((flags >> 11) & 0xf);
  m.header.aa = flags & 0x0400;
  m.header.tc = flags & 0x0200;
  m.header.rd = flags & 0x0100;
  m.header.ra = flags & 0x0080;
  m.header.z = flags & 0x0040;
  m.header.ad = flags & 0x0020;
  m.header.cd = flags & 0x0010;
  m.header.rcode = flags & 0xf;
  std::size_t counts[4] = {be16(4), be16(6), be16(8), be16(10)};
  static const char* const section_names[4] = {"questions", "answers", "authority records",
                                               "additional records"};
  std::size_t pos = 12;
  auto lie = [&](int section, std::size_t got) {
    return error(dns_errc::count_mismatch, pos, [&] {
      return "record count says " + std::to_string(counts[section]) + " " + section_names[section] +
             " but the message ends after " + std::to_string(got);
    });
  };
  for (std::size_t i = 0; i < counts[0]; ++i) {
    if (pos >= wire_.size()) return lie(0, i);
    auto q = read_question(pos);
    if (!q) return fail(q.error());
    m.questions.push_back(std::move(*q));
  }
  std::vector<record>* sections[3] = {&m.answers, &m.authority, &m.additional};
  for (int s = 0; s < 3; ++s) {
    for (std::size_t i = 0; i < counts[s + 1]; ++i) {
      if (pos >= wire_.size()) return lie(s + 1, i);
      auto r = read_record(pos, m, *sections[s], s == 2);
      if (!r) return fail(r.error());
    }
  }
  return m;
}

}  // namespace

result<message> decode(std::span<const std::uint8_t> wire) {
  return decoder(wire, false).run();
}

result<message> decode(const buffer& wire) {
  return decode(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(wire.data()),
                                              wire.size()));
}

detailed<message> decode_detailed(std::span<const std::uint8_t> wire) {
  decoder d(wire, true);
  auto m = d.run();
  if (!m) return fail(m.error(), d.why());
  return std::move(*m);
}

}  // namespace flowstack::dns
