#include <gtest/gtest.h>

#include <flowstack/dns/print.hpp>

#include "wire.hpp"

namespace flowstack::dns {
namespace {

using test::dname;
using test::ipv4;
using test::make_record;

std::string line_of(record r) {
  return record_to_string(r);
}

TEST(dns_print, whole_message_as_dig_prints_it) {
  message m;
  m.header.id = 41020;
  m.header.qr = m.header.rd = m.header.ra = true;
  m.questions.push_back({dname("www.example.com"), rr_type::a, rr_class::in});
  m.answers.push_back(
      make_record("www.example.com", rr_type::cname, 300, rdata_name{dname("example.com")}));
  m.answers.push_back(make_record("example.com", rr_type::a, 86400, ipv4(93, 184, 216, 34)));
  m.authority.push_back(
      make_record("example.com", rr_type::ns, 86400, rdata_name{dname("a.iana-servers.net")}));
  m.edns.emplace();
  m.edns->udp_payload_size = 1232;
  m.edns->dnssec_ok = true;
  m.edns->options.push_back({10, {0x01, 0x02, 0xab}});
  EXPECT_EQ(to_string(m),
            ";; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 41020\n"
            ";; flags: qr rd ra; QUERY: 1, ANSWER: 2, AUTHORITY: 1, ADDITIONAL: 1\n"
            "\n"
            ";; OPT PSEUDOSECTION:\n"
            "; EDNS: version: 0, flags: do; udp: 1232\n"
            "; COOKIE: 0102AB\n"
            "\n"
            ";; QUESTION SECTION:\n"
            ";www.example.com.\t\tIN\tA\n"
            "\n"
            ";; ANSWER SECTION:\n"
            "www.example.com.\t300\tIN\tCNAME\texample.com.\n"
            "example.com.\t\t86400\tIN\tA\t93.184.216.34\n"
            "\n"
            ";; AUTHORITY SECTION:\n"
            "example.com.\t\t86400\tIN\tNS\ta.iana-servers.net.\n");
}

TEST(dns_print, status_uses_the_extended_rcode) {
  message m;
  m.set_rcode(16);
  EXPECT_NE(to_string(m).find("status: BADVERS"), std::string::npos);
  m = message{};
  m.header.rcode = 3;
  m.header.op = opcode::notify;
  EXPECT_NE(to_string(m).find("opcode: NOTIFY, status: NXDOMAIN"), std::string::npos);
}

TEST(dns_print, rdata_of_every_type) {
  rdata_aaaa v6{};
  v6.address = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  EXPECT_EQ(rdata_to_string(v6), "2001:db8::1");
  EXPECT_EQ(rdata_to_string(rdata_mx{10, dname("mail.example.com")}), "10 mail.example.com.");
  EXPECT_EQ(rdata_to_string(rdata_soa{dname("ns1.example.com"), dname("hostmaster.example.com"),
                                      2024010101, 7200, 900, 1209600, 300}),
            "ns1.example.com. hostmaster.example.com. 2024010101 7200 900 1209600 300");
  EXPECT_EQ(rdata_to_string(rdata_srv{10, 60, 5060, dname("sip.example.com")}),
            "10 60 5060 sip.example.com.");
  EXPECT_EQ(rdata_to_string(rdata_caa{0, "issue", "letsencrypt.org"}),
            "0 issue \"letsencrypt.org\"");
  EXPECT_EQ(rdata_to_string(rdata_svcb{
                1,
                dname("."),
                {{1, {2, 'h', '2', 2, 'h', '3'}}, {3, {0x01, 0xbb}}, {4, {192, 0, 2, 1}}}}),
            "1 . alpn=\"h2,h3\" port=443 ipv4hint=192.0.2.1");
  EXPECT_EQ(rdata_to_string(rdata_opaque{{0xde, 0xad}}), "\\# 2 DEAD");
  EXPECT_EQ(rdata_to_string(rdata_opaque{}), "\\# 0");
}

TEST(dns_print, txt_strings_are_quoted_with_escapes) {
  EXPECT_EQ(rdata_to_string(rdata_txt{{"v=spf1 -all", std::string("a\"b\\c\x01", 6), ""}}),
            "\"v=spf1 -all\" \"a\\\"b\\\\c\\001\" \"\"");
}

TEST(dns_print, unknown_types_and_classes_print_as_rfc3597) {
  record r{dname("example.com"), static_cast<rr_type>(65280), static_cast<rr_class>(32), 60,
           rdata_opaque{{1}}};
  EXPECT_EQ(line_of(r), "example.com.\t\t60\tCLASS32\tTYPE65280\t\\# 1 01");
}

TEST(dns_print, long_owner_names_get_one_tab) {
  auto r = make_record("a-rather-long-host-name.example.com", rr_type::a, 5, ipv4(192, 0, 2, 1));
  EXPECT_EQ(line_of(r), "a-rather-long-host-name.example.com.\t5\tIN\tA\t192.0.2.1");
}

}  // namespace
}  // namespace flowstack::dns
