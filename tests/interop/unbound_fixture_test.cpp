// The unbound fixture (dns_servers.hpp) checked with kdig: it serves the test zone's records,
// truncates over UDP and gives everything over TCP, answers names that are not there with
// NXDOMAIN and the SOA, refuses names outside its zone, and is gone after the fixture is.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "interop/dns_servers.hpp"

namespace flowstack::test {
namespace {

// The answer-section lines of kdig's output ("NAME TTL IN TYPE DATA") of one type.
std::vector<std::string> answers_of_type(const std::string& output, const std::string& type) {
  std::vector<std::string> lines;
  std::istringstream in(output);
  std::string line;
  bool in_answer = false;
  while (std::getline(in, line)) {
    if (line.rfind(";; ", 0) == 0) {
      in_answer = line.find("ANSWER SECTION") != std::string::npos;
      continue;
    }
    if (in_answer && line.find("\tIN\t" + type + "\t") != std::string::npos) lines.push_back(line);
  }
  return lines;
}

class unbound_fixture : public ::testing::Test {
 protected:
  unbound_server upstream_;
};

TEST_F(unbound_fixture, answers_the_host_address_over_udp) {
  auto r = kdig(upstream_.port(), {zone::host, "A"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("status: NOERROR"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("(UDP)"), std::string::npos) << r.output;
  auto a = answers_of_type(r.output, "A");
  ASSERT_EQ(a.size(), 1u) << r.output;
  EXPECT_NE(a[0].find(zone::host_a), std::string::npos) << a[0];
}

TEST_F(unbound_fixture, answers_aaaa_txt_and_cname) {
  auto aaaa = kdig(upstream_.port(), {zone::host, "AAAA"});
  EXPECT_EQ(answers_of_type(aaaa.output, "AAAA").size(), 1u) << aaaa.output;
  EXPECT_NE(aaaa.output.find(zone::host_aaaa), std::string::npos) << aaaa.output;

  auto txt = kdig(upstream_.port(), {zone::host, "TXT"});
  EXPECT_EQ(answers_of_type(txt.output, "TXT").size(), 1u) << txt.output;
  EXPECT_NE(txt.output.find(zone::host_txt), std::string::npos) << txt.output;

  auto cname = kdig(upstream_.port(), {zone::alias, "A"});
  auto c = answers_of_type(cname.output, "CNAME");
  ASSERT_EQ(c.size(), 1u) << cname.output;
  EXPECT_NE(c[0].find(zone::host), std::string::npos) << c[0];
}

TEST_F(unbound_fixture, sixty_four_a_records_come_whole_over_tcp) {
  auto r = kdig(upstream_.port(), {"+tcp", zone::many, "A"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("(TCP)"), std::string::npos) << r.output;
  EXPECT_EQ(answers_of_type(r.output, "A").size(), static_cast<std::size_t>(zone::many_count))
      << r.output;
}

TEST_F(unbound_fixture, sixty_four_a_records_over_udp_without_edns_are_truncated) {
  // +ignore: keep the truncated UDP answer instead of retrying over TCP.
  auto r = kdig(upstream_.port(), {"+notcp", "+noedns", "+ignore", zone::many, "A"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Flags: qr aa tc"), std::string::npos) << r.output;
  EXPECT_LT(answers_of_type(r.output, "A").size(), static_cast<std::size_t>(zone::many_count));
}

TEST_F(unbound_fixture, a_missing_name_is_nxdomain_with_the_soa) {
  auto r = kdig(upstream_.port(), {zone::missing, "A"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("status: NXDOMAIN"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("AUTHORITY SECTION"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("\tIN\tSOA\tns.test.flowstack."), std::string::npos) << r.output;
}

TEST_F(unbound_fixture, a_missing_type_is_nodata_with_the_soa) {
  auto r = kdig(upstream_.port(), {zone::host, "MX"});
  EXPECT_NE(r.output.find("status: NOERROR"), std::string::npos) << r.output;
  EXPECT_TRUE(answers_of_type(r.output, "MX").empty()) << r.output;
  EXPECT_NE(r.output.find("\tIN\tSOA\t"), std::string::npos) << r.output;
}

TEST_F(unbound_fixture, names_outside_the_zone_are_refused_not_recursed) {
  auto r = kdig(upstream_.port(), {"example.com.", "A"});
  EXPECT_NE(r.output.find("status: REFUSED"), std::string::npos) << r.output;
}

TEST(unbound_fixture_lifetime, extra_records_are_served_and_the_server_is_gone_afterwards) {
  unsigned short port;
  std::string config;
  {
    unbound_options options;
    options.extra_records.push_back("extra.test.flowstack. 60 IN A 192.0.2.99");
    options.ipv6 = true;
    unbound_server upstream(options);
    port = upstream.port();
    config = upstream.config_file();
    auto r = kdig(port, {"extra.test.flowstack.", "A"});
    EXPECT_NE(r.output.find("192.0.2.99"), std::string::npos) << r.output;
    auto v6 = kdig(port, {zone::host, "A"}, "::1");
    EXPECT_NE(v6.output.find(zone::host_a), std::string::npos) << v6.output;
  }
  EXPECT_FALSE(std::filesystem::exists(config));
  EXPECT_FALSE(detail::udp_port_taken(port)) << "unbound still holds port " << port;
}

}  // namespace
}  // namespace flowstack::test
