#include <gtest/gtest.h>

#include <flowstack/dns/message.hpp>
#include <flowstack/dns/print.hpp>

#include "wire.hpp"

namespace flowstack::dns {
namespace {

using test::bytes;
using test::dname;
using test::ipv4;
using test::make_record;
using test::wire_builder;

message decoded(const bytes& wire) {
  auto m = decode_detailed(wire);
  EXPECT_TRUE(m) << (m ? "" : m.error().detail);
  return m ? *m : message{};
}

bytes encoded(const message& m, encode_options options = {}) {
  auto wire = encode(m, options);
  EXPECT_TRUE(wire) << wire.error().message();
  return wire ? *wire : bytes{};
}

message response_for(std::string_view qname, rr_type qtype = rr_type::a) {
  message m;
  m.header.id = 0xbeef;
  m.header.qr = m.header.rd = m.header.ra = true;
  m.questions.push_back({dname(qname), qtype, rr_class::in});
  return m;
}

// dig 9.18 `dig example.com A`: RD and AD set, EDNS with a payload of 1232 and a client cookie.
bytes dig_query() {
  wire_builder w;
  w.header(0x8c1f, 0x0120, 1, 0, 0, 1).name("example.com").u16(1).u16(1);
  w.u8(0).u16(41).u16(1232).u32(0).u16(12);
  w.u16(10).u16(8).raw({0x3a, 0x9c, 0x11, 0x52, 0x07, 0xe4, 0xd1, 0x6b});
  return w.out;
}

// www.example.com CNAME cdn.example.net, cdn.example.net CNAME edge.cdn.example.net,
// edge.cdn.example.net A 192.0.2.10, compressed as a server writes it.
bytes cname_chain_answer() {
  wire_builder w;
  w.header(0x4242, 0x8180, 1, 3, 0, 0);
  w.name("www.example.com").u16(1).u16(1);  // qname at 12
  std::size_t cdn = 0;
  w.pointer(12).u16(5).u16(1).u32(300).u16(17);
  cdn = w.size();
  w.u8(3).text("cdn").u8(7).text("example").u8(3).text("net").u8(0);
  w.pointer(static_cast<std::uint16_t>(cdn)).u16(5).u16(1).u32(300).u16(7);
  std::size_t edge = w.size();
  w.u8(4).text("edge").pointer(static_cast<std::uint16_t>(cdn));
  w.pointer(static_cast<std::uint16_t>(edge)).u16(1).u16(1).u32(60).u16(4).raw({192, 0, 2, 10});
  return w.out;
}

// An NXDOMAIN for nothere.example.com with the zone's SOA in the authority section.
bytes nxdomain_answer() {
  wire_builder w;
  w.header(0x0102, 0x8183, 1, 0, 1, 0);
  w.name("nothere.example.com").u16(1).u16(1);  // "example" at 12 + 8 = 20
  w.pointer(20).u16(6).u16(1).u32(3600);
  std::size_t rdlength_at = w.size();
  w.u16(0);
  std::size_t rdata_start = w.size();
  w.u8(3).text("ns1").pointer(20);
  w.u8(10).text("hostmaster").pointer(20);
  w.u32(2024010101).u32(7200).u32(900).u32(1209600).u32(300);
  std::size_t len = w.size() - rdata_start;
  w.out[rdlength_at] = static_cast<std::uint8_t>(len >> 8);
  w.out[rdlength_at + 1] = static_cast<std::uint8_t>(len);
  return w.out;
}

// ---- real messages ---------------------------------------------------------------------------

TEST(dns_codec, decodes_dig_query_with_edns_cookie) {
  auto m = decoded(dig_query());
  EXPECT_EQ(m.header.id, 0x8c1f);
  EXPECT_FALSE(m.header.qr);
  EXPECT_TRUE(m.header.rd);
  EXPECT_TRUE(m.header.ad);
  EXPECT_EQ(m.header.op, opcode::query);
  ASSERT_EQ(m.questions.size(), 1u);
  EXPECT_EQ(m.questions[0].qname, dname("example.com"));
  EXPECT_EQ(m.questions[0].qtype, rr_type::a);
  EXPECT_TRUE(m.additional.empty());
  ASSERT_TRUE(m.edns);
  EXPECT_EQ(m.edns->udp_payload_size, 1232);
  EXPECT_FALSE(m.edns->dnssec_ok);
  ASSERT_EQ(m.edns->options.size(), 1u);
  EXPECT_EQ(m.edns->options[0].code, 10);
  EXPECT_EQ(m.edns->options[0].data.size(), 8u);
}

TEST(dns_codec, reencodes_dig_query_to_the_same_octets) {
  EXPECT_EQ(encoded(decoded(dig_query())), dig_query());
}

TEST(dns_codec, decodes_cname_chain_with_names_decompressed) {
  auto m = decoded(cname_chain_answer());
  ASSERT_EQ(m.answers.size(), 3u);
  EXPECT_EQ(m.answers[0].owner, dname("www.example.com"));
  EXPECT_EQ(std::get<rdata_name>(m.answers[0].data).target, dname("cdn.example.net"));
  EXPECT_EQ(m.answers[1].owner, dname("cdn.example.net"));
  EXPECT_EQ(std::get<rdata_name>(m.answers[1].data).target, dname("edge.cdn.example.net"));
  EXPECT_EQ(m.answers[2].owner, dname("edge.cdn.example.net"));
  EXPECT_EQ(std::get<rdata_a>(m.answers[2].data), ipv4(192, 0, 2, 10));
}

TEST(dns_codec, reencodes_cname_chain_as_compactly_as_the_server) {
  auto wire = cname_chain_answer();
  auto again = encoded(decoded(wire));
  EXPECT_EQ(again.size(), wire.size());
  EXPECT_EQ(decoded(again), decoded(wire));
}

TEST(dns_codec, decodes_nxdomain_with_soa_in_authority) {
  auto m = decoded(nxdomain_answer());
  EXPECT_EQ(m.full_rcode(), static_cast<std::uint16_t>(rcode::nxdomain));
  EXPECT_TRUE(m.answers.empty());
  ASSERT_EQ(m.authority.size(), 1u);
  EXPECT_EQ(m.authority[0].owner, dname("example.com"));
  EXPECT_EQ(m.authority[0].type, rr_type::soa);
  auto soa = std::get<rdata_soa>(m.authority[0].data);
  EXPECT_EQ(soa.mname, dname("ns1.example.com"));
  EXPECT_EQ(soa.rname, dname("hostmaster.example.com"));
  EXPECT_EQ(soa.serial, 2024010101u);
  EXPECT_EQ(soa.minimum, 300u);
  auto again = encoded(m);
  EXPECT_EQ(again.size(), nxdomain_answer().size());
  EXPECT_EQ(decoded(again), m);
}

// ---- round trips -----------------------------------------------------------------------------

struct round_trip_case {
  const char* label;
  record r;
};

std::vector<round_trip_case> every_type() {
  rdata_aaaa v6{};
  v6.address = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return {
      {"a", make_record("host.example.com", rr_type::a, 300, ipv4(192, 0, 2, 1))},
      {"aaaa", make_record("host.example.com", rr_type::aaaa, 300, v6)},
      {"cname",
       make_record("alias.example.com", rr_type::cname, 60, rdata_name{dname("host.example.com")})},
      {"ns", make_record("example.com", rr_type::ns, 86400, rdata_name{dname("ns1.example.com")})},
      {"ptr", make_record("1.2.0.192.in-addr.arpa", rr_type::ptr, 3600,
                          rdata_name{dname("host.example.com")})},
      {"mx",
       make_record("example.com", rr_type::mx, 3600, rdata_mx{10, dname("mail.example.com")})},
      {"txt", make_record("example.com", rr_type::txt, 60,
                          rdata_txt{{"v=spf1 -all", "", std::string("\0\x7f\"\\", 4)}})},
      {"soa", make_record("example.com", rr_type::soa, 3600,
                          rdata_soa{dname("ns1.example.com"), dname("hostmaster.example.com"), 1,
                                    7200, 900, 1209600, 300})},
      {"srv", make_record("_sip._tcp.example.com", rr_type::srv, 60,
                          rdata_srv{10, 60, 5060, dname("sip.example.com")})},
      {"caa", make_record("example.com", rr_type::caa, 60, rdata_caa{128, "issue", "ca.example"})},
      {"https", make_record("example.com", rr_type::https, 60,
                            rdata_svcb{1, dname("."), {{1, {2, 'h', '2'}}, {3, {0x01, 0xbb}}}})},
      {"svcb", make_record("_dns.example.com", rr_type::svcb, 60,
                           rdata_svcb{1, dname("dns.example.com"), {{4, {192, 0, 2, 53}}}})},
      {"unknown_type", make_record("example.com", static_cast<rr_type>(65280), 60,
                                   rdata_opaque{{1, 2, 3, 0xc0, 0x0c}})},
      {"ds_kept_opaque", make_record("example.com", static_cast<rr_type>(43), 60,
                                     rdata_opaque{{0x12, 0x34, 8, 2, 0xaa, 0xbb}})},
  };
}

TEST(dns_codec, every_record_type_round_trips) {
  for (const auto& c : every_type()) {
    SCOPED_TRACE(c.label);
    auto m = response_for("example.com");
    m.answers.push_back(c.r);
    m.authority.push_back(c.r);
    m.additional.push_back(c.r);
    auto back = decoded(encoded(m));
    EXPECT_EQ(back, m);
    ASSERT_EQ(back.answers.size(), 1u);
    EXPECT_TRUE(back.answers[0].owner.identical(c.r.owner));
    EXPECT_EQ(back.answers[0].data.index(), c.r.data.index());
  }
}

TEST(dns_codec, header_flags_round_trip_one_by_one) {
  bool header::*flags[] = {&header::qr, &header::aa, &header::tc, &header::rd,
                           &header::ra, &header::z,  &header::ad, &header::cd};
  for (auto flag : flags) {
    message m;
    m.header.*flag = true;
    auto back = decoded(encoded(m));
    EXPECT_EQ(back.header, m.header);
  }
  message m;
  m.header.op = opcode::update;
  m.header.rcode = 5;
  EXPECT_EQ(decoded(encoded(m)).header, m.header);
}

TEST(dns_codec, flag_bits_sit_where_rfc1035_puts_them) {
  message m;
  m.header.qr = m.header.rd = m.header.ra = true;
  m.header.rcode = 3;
  auto wire = encoded(m);
  EXPECT_EQ(wire[2], 0x81);
  EXPECT_EQ(wire[3], 0x83);
}

TEST(dns_codec, edns_fields_round_trip) {
  message m = response_for("example.com");
  m.edns.emplace();
  m.edns->udp_payload_size = 4096;
  m.edns->version = 0;
  m.edns->dnssec_ok = true;
  m.edns->options = {{10, {1, 2, 3, 4, 5, 6, 7, 8}}, {12, {}}, {65001, {0xff}}};
  m.set_rcode(static_cast<std::uint16_t>(rcode::badvers));
  auto wire = encoded(m);
  auto back = decoded(wire);
  EXPECT_EQ(back, m);
  EXPECT_EQ(back.full_rcode(), 16);
  EXPECT_EQ(back.header.rcode, 0);
  EXPECT_EQ(back.edns->extended_rcode, 1);
}

TEST(dns_codec, class_none_record_without_rdata_stays_opaque) {
  message m;
  m.header.op = opcode::update;
  m.authority.push_back(
      record{dname("host.example.com"), rr_type::a, rr_class::none, 0, rdata_opaque{}});
  EXPECT_EQ(decoded(encoded(m)), m);
}

// ---- compression -----------------------------------------------------------------------------

TEST(dns_codec, owner_names_compress_to_pointers) {
  auto m = response_for("www.example.com");
  for (std::uint8_t i = 0; i < 10; ++i)
    m.answers.push_back(make_record("www.example.com", rr_type::a, 60, ipv4(192, 0, 2, i)));
  // header 12, question 17 + 4, each answer a 2-octet pointer + 10 + 4
  auto wire = encoded(m);
  EXPECT_EQ(wire.size(), 12u + 21u + 10u * 16u);
  EXPECT_EQ(decoded(wire), m);
}

TEST(dns_codec, names_in_rdata_share_suffixes_with_earlier_names) {
  auto m = response_for("example.com", rr_type::mx);
  m.answers.push_back(
      make_record("example.com", rr_type::mx, 60, rdata_mx{10, dname("mx.example.com")}));
  // answer: pointer(2) + 10 + preference 2 + "mx" label 3 + pointer 2
  auto wire = encoded(m);
  EXPECT_EQ(wire.size(), 12u + 17u + 12u + 2u + 3u + 2u);
  EXPECT_EQ(decoded(wire), m);
}

TEST(dns_codec, srv_target_is_never_compressed) {
  auto m = response_for("_sip._tcp.example.com", rr_type::srv);
  m.answers.push_back(make_record("_sip._tcp.example.com", rr_type::srv, 60,
                                  rdata_srv{0, 0, 5060, dname("example.com")}));
  auto wire = encoded(m);
  // the target is written in full (13 octets) although "example.com" came before
  EXPECT_EQ(wire.size(), 12u + 27u + 12u + 6u + 13u);
  EXPECT_EQ(decoded(wire), m);
}

TEST(dns_codec, compression_keeps_the_case_of_each_name) {
  auto m = response_for("Example.COM");
  m.answers.push_back(make_record("example.com", rr_type::a, 60, ipv4(192, 0, 2, 1)));
  auto back = decoded(encoded(m));
  EXPECT_TRUE(back.questions[0].qname.identical(dname("Example.COM")));
  EXPECT_TRUE(back.answers[0].owner.identical(dname("example.com")));
}

// ---- truncation ------------------------------------------------------------------------------

message many_a_records(std::size_t n) {
  auto m = response_for("www.example.com");
  for (std::size_t i = 0; i < n; ++i)
    m.answers.push_back(make_record("www.example.com", rr_type::a, 60,
                                    ipv4(10, 0, std::uint8_t(i >> 8), std::uint8_t(i))));
  return m;
}

TEST(dns_codec, truncates_to_512_at_a_record_boundary_and_sets_tc) {
  auto m = many_a_records(64);
  auto wire = encoded(m, {.max_size = 512});
  EXPECT_LE(wire.size(), 512u);
  auto back = decoded(wire);
  EXPECT_TRUE(back.header.tc);
  // 12 + 21 + 29 * 16 = 497; a 30th answer would make 513
  EXPECT_EQ(back.answers.size(), 29u);
  EXPECT_EQ(back.answers[28], m.answers[28]);
}

TEST(dns_codec, truncates_to_edns_size_and_keeps_the_opt_record) {
  auto m = many_a_records(100);
  m.edns.emplace();
  m.edns->udp_payload_size = 1232;
  auto wire = encoded(m, {.max_size = 1232});
  EXPECT_LE(wire.size(), 1232u);
  auto back = decoded(wire);
  EXPECT_TRUE(back.header.tc);
  ASSERT_TRUE(back.edns);
  EXPECT_EQ(back.edns->udp_payload_size, 1232);
  // (1232 - 11 - 33) / 16 = 74
  EXPECT_EQ(back.answers.size(), 74u);
}

TEST(dns_codec, message_that_fits_is_not_truncated) {
  auto m = many_a_records(29);
  auto wire = encoded(m, {.max_size = 512});
  auto back = decoded(wire);
  EXPECT_FALSE(back.header.tc);
  EXPECT_EQ(back, m);
}

TEST(dns_codec, leaving_out_additional_records_does_not_set_tc) {
  auto m = many_a_records(20);
  for (std::uint8_t i = 0; i < 20; ++i)
    m.additional.push_back(make_record("ns.example.com", rr_type::a, 60, ipv4(192, 0, 2, i)));
  auto back = decoded(encoded(m, {.max_size = 512}));
  EXPECT_FALSE(back.header.tc);
  EXPECT_EQ(back.answers.size(), 20u);
  EXPECT_LT(back.additional.size(), 20u);
}

TEST(dns_codec, question_that_does_not_fit_is_left_out_with_tc) {
  auto m = response_for("a-long-question-name.example.com");
  auto back = decoded(encoded(m, {.max_size = 20}));
  EXPECT_TRUE(back.header.tc);
  EXPECT_TRUE(back.questions.empty());
}

TEST(dns_codec, opt_record_that_cannot_fit_is_left_out) {
  auto m = response_for("example.com");
  m.edns.emplace();
  m.edns->options.push_back({12, std::vector<std::uint8_t>(600, 0)});
  auto back = decoded(encoded(m, {.max_size = 512}));
  EXPECT_FALSE(back.edns);
  EXPECT_EQ(back.questions, m.questions);
}

TEST(dns_codec, size_limit_below_a_header_is_an_error) {
  auto wire = encode(message{}, {.max_size = 11});
  ASSERT_FALSE(wire);
  EXPECT_EQ(wire.error(), dns_errc::size_limit_too_small);
}

TEST(dns_codec, record_whose_rdata_does_not_fit_its_type_does_not_encode) {
  auto m = response_for("example.com");
  m.answers.push_back(make_record("example.com", rr_type::mx, 60, ipv4(192, 0, 2, 1)));
  auto wire = encode(m);
  ASSERT_FALSE(wire);
  EXPECT_EQ(wire.error(), dns_errc::rdata_type_mismatch);
  EXPECT_EQ(wire.error().message(), "record data does not have the shape of the record type");
}

}  // namespace
}  // namespace flowstack::dns
