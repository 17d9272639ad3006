// DNS messages (RFC 1035 §4) and their wire codec.
//
//   decode(bytes)         -> result<message>; never reads out of bounds, never loops: names are
//                            checked as they are read (compression pointers must point strictly
//                            backwards to where a name was read before, at most 64 jumps per name,
//                            names <= 255 octets). On failure the error_code says which rule was
//                            broken, and no sentence is made: the server and the upstream readers
//                            drop what does not decode, and garbage from the network should not
//                            cost a string per datagram. Octets after the last record are ignored.
//   decode_detailed(bytes) -> detailed<message>; the same decoder, and on failure the same code
//                            with a sentence that has the numbers and the offset in it: "record
//                            count says 5 answers but the message ends after 2 (at offset 40)".
//                            For logs, tests and tools, where a person reads the error.
//   encode(message, opts) -> result<std::vector<std::uint8_t>>; compresses names (owners,
//                            questions, and the names inside CNAME, NS, PTR, MX and SOA rdata;
//                            never in SRV or SVCB rdata, RFC 2782 and RFC 9460). With a size
//                            limit, records that do not fit are left out from the first one that
//                            does not fit on (at a record boundary), the counts say what was
//                            written, TC is set when an answer or authority record was left out
//                            (RFC 2181 §9), and the OPT record is kept when it fits at all.
//
// Record data is decoded into a structure for the common types; every other type, and records of
// class NONE or ANY with empty rdata (dynamic update, RFC 2136), keep their rdata as opaque octets
// (RFC 3597). The OPT pseudo-record is not a record here: it becomes message::edns.
#pragma once

#include <flowstack/core/buffer.hpp>
#include <flowstack/core/error.hpp>
#include <flowstack/dns/error.hpp>
#include <flowstack/dns/name.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace flowstack::dns {

// Record types (RFC 1035 §3.2.2 and later). Any 16-bit value is a valid rr_type.
enum class rr_type : std::uint16_t {
  a = 1,
  ns = 2,
  cname = 5,
  soa = 6,
  ptr = 12,
  mx = 15,
  txt = 16,
  aaaa = 28,
  srv = 33,
  opt = 41,
  svcb = 64,
  https = 65,
  ixfr = 251,
  axfr = 252,
  any = 255,
  caa = 257,
};

enum class rr_class : std::uint16_t { in = 1, ch = 3, hs = 4, none = 254, any = 255 };

enum class opcode : std::uint8_t { query = 0, iquery = 1, status = 2, notify = 4, update = 5 };

// Response codes; values above 15 need EDNS (the high 8 bits travel in the OPT record).
enum class rcode : std::uint16_t {
  noerror = 0,
  formerr = 1,
  servfail = 2,
  nxdomain = 3,
  notimp = 4,
  refused = 5,
  yxdomain = 6,
  yxrrset = 7,
  nxrrset = 8,
  notauth = 9,
  notzone = 10,
  badvers = 16,
  badcookie = 23,
};

struct header {
  std::uint16_t id = 0;
  bool qr = false;  // a response
  opcode op = opcode::query;
  bool aa = false;         // authoritative answer
  bool tc = false;         // truncated
  bool rd = false;         // recursion desired
  bool ra = false;         // recursion available
  bool z = false;          // the reserved bit (must be zero; kept as read)
  bool ad = false;         // authentic data (RFC 4035)
  bool cd = false;         // checking disabled (RFC 4035)
  std::uint8_t rcode = 0;  // the low 4 bits of the response code

  friend bool operator==(const header&, const header&) = default;
};

struct question {
  name qname;
  rr_type qtype = rr_type::a;
  rr_class qclass = rr_class::in;

  friend bool operator==(const question&, const question&) = default;
};

// ---- record data -------------------------------------------------------------------------------

struct rdata_a {
  std::array<std::uint8_t, 4> address{};
  friend bool operator==(const rdata_a&, const rdata_a&) = default;
};
struct rdata_aaaa {
  std::array<std::uint8_t, 16> address{};
  friend bool operator==(const rdata_aaaa&, const rdata_aaaa&) = default;
};
// CNAME, NS and PTR: one name.
struct rdata_name {
  name target;
  friend bool operator==(const rdata_name&, const rdata_name&) = default;
};
struct rdata_mx {
  std::uint16_t preference = 0;
  name exchange;
  friend bool operator==(const rdata_mx&, const rdata_mx&) = default;
};
struct rdata_txt {
  std::vector<std::string> strings;  // each at most 255 octets
  friend bool operator==(const rdata_txt&, const rdata_txt&) = default;
};
struct rdata_soa {
  name mname;
  name rname;
  std::uint32_t serial = 0;
  std::uint32_t refresh = 0;
  std::uint32_t retry = 0;
  std::uint32_t expire = 0;
  std::uint32_t minimum = 0;
  friend bool operator==(const rdata_soa&, const rdata_soa&) = default;
};
struct rdata_srv {
  std::uint16_t priority = 0;
  std::uint16_t weight = 0;
  std::uint16_t port = 0;
  name target;
  friend bool operator==(const rdata_srv&, const rdata_srv&) = default;
};
struct rdata_caa {
  std::uint8_t flags = 0;
  std::string tag;  // at most 255 octets
  std::string value;
  friend bool operator==(const rdata_caa&, const rdata_caa&) = default;
};
// SVCB and HTTPS (RFC 9460): parameters kept as key + value octets, in wire order.
struct svc_param {
  std::uint16_t key = 0;
  std::vector<std::uint8_t> value;
  friend bool operator==(const svc_param&, const svc_param&) = default;
};
struct rdata_svcb {
  std::uint16_t priority = 0;
  name target;
  std::vector<svc_param> params;
  friend bool operator==(const rdata_svcb&, const rdata_svcb&) = default;
};
// Any other type (RFC 3597), or rdata kept as it came.
struct rdata_opaque {
  std::vector<std::uint8_t> data;
  friend bool operator==(const rdata_opaque&, const rdata_opaque&) = default;
};

using rdata = std::variant<rdata_opaque, rdata_a, rdata_aaaa, rdata_name, rdata_mx, rdata_txt,
                           rdata_soa, rdata_srv, rdata_caa, rdata_svcb>;

struct record {
  name owner;
  rr_type type = rr_type::a;
  rr_class rclass = rr_class::in;
  std::uint32_t ttl = 0;
  rdata data;

  friend bool operator==(const record&, const record&) = default;
};

// ---- EDNS (RFC 6891) ---------------------------------------------------------------------------

struct edns_option {
  std::uint16_t code = 0;
  std::vector<std::uint8_t> data;
  friend bool operator==(const edns_option&, const edns_option&) = default;
};

struct edns {
  std::uint16_t udp_payload_size = 1232;
  std::uint8_t extended_rcode = 0;  // the high 8 bits of the response code
  std::uint8_t version = 0;
  bool dnssec_ok = false;  // DO
  std::uint16_t z = 0;     // the other 15 flag bits (must be zero; kept as read)
  std::vector<edns_option> options;

  // Octets the OPT record takes on the wire.
  std::size_t wire_length() const noexcept;
  friend bool operator==(const edns&, const edns&) = default;
};

// ---- messages ----------------------------------------------------------------------------------

struct message {
  dns::header header;
  std::vector<question> questions;
  std::vector<record> answers;
  std::vector<record> authority;
  std::vector<record> additional;  // without the OPT record
  std::optional<dns::edns> edns;

  // The full response code: header.rcode plus EDNS's extended bits.
  std::uint16_t full_rcode() const noexcept;
  // Sets header.rcode and, for codes above 15, edns's extended bits (adding EDNS if needed).
  void set_rcode(std::uint16_t code);

  friend bool operator==(const message&, const message&) = default;
};

// The start of an answer made here rather than by an upstream: the query's id, opcode, RD, CD and
// question, QR and RA set, AA, AD and TC clear, `code` as the response code, and an empty OPT
// record when the query had one (RFC 6891 §7). AD is clear because nothing made here was
// validated (RFC 4035 §3.2.3).
message response_to(const message& query, rcode code = rcode::noerror);

struct encode_options {
  // The largest message to produce: 512 for UDP without EDNS, the client's payload size with
  // it, 65535 over TCP.
  std::size_t max_size = 65535;
};

result<message> decode(std::span<const std::uint8_t> wire);
result<message> decode(const buffer& wire);
detailed<message> decode_detailed(std::span<const std::uint8_t> wire);

result<std::vector<std::uint8_t>> encode(const message& m, const encode_options& options = {});

// True when `type`'s rdata has the shape of `data` (or `data` is opaque).
bool rdata_matches_type(const rdata& data, rr_type type) noexcept;

}  // namespace flowstack::dns
