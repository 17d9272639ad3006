#include <gtest/gtest.h>

#include <flowstack/net/address.hpp>
#include <flowstack/net/error.hpp>

namespace flowstack::net {
namespace {

TEST(parse_host_port, accepts_ipv4_host_and_port) {
  auto r = parse_host_port("127.0.0.1:80");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->host, "127.0.0.1");
  EXPECT_EQ(r->port, 80);
}

TEST(parse_host_port, accepts_bracketed_ipv6) {
  auto r = parse_host_port("[::1]:5353");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->host, "::1");
  EXPECT_EQ(r->port, 5353);
}

TEST(parse_host_port, accepts_host_names_and_port_zero) {
  auto r = parse_host_port("localhost:0");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->host, "localhost");
  EXPECT_EQ(r->port, 0);
}

TEST(parse_host_port, accepts_the_highest_port) {
  auto r = parse_host_port("example-host.test:65535");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->port, 65535);
}

// Every bad input gives invalid_address with a sentence that says what is wrong.
struct bad_input {
  const char* text;
  const char* says;
};

void PrintTo(const bad_input& input, std::ostream* out) {
  *out << '"' << input.text << '"';
}

class parse_host_port_rejects : public ::testing::TestWithParam<bad_input> {};

TEST_P(parse_host_port_rejects, with_invalid_address_and_a_clear_message) {
  auto r = parse_host_port(GetParam().text);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, net_errc::invalid_address);
  const std::string& problem = r.error().detail;
  EXPECT_NE(problem.find(GetParam().says), std::string::npos) << problem;
}

INSTANTIATE_TEST_SUITE_P(
    bad_inputs, parse_host_port_rejects,
    ::testing::Values(
        bad_input{"", "empty address"}, bad_input{"127.0.0.1", "missing port"},
        bad_input{"127.0.0.1:", "missing port after ':'"}, bad_input{":80", "missing host"},
        bad_input{"127.0.0.1:65536", "out of range"},
        bad_input{"127.0.0.1:99999999999999999999", "out of range"},
        bad_input{"127.0.0.1:http", "is not a number"},
        bad_input{"127.0.0.1:-1", "is not a number"}, bad_input{"[::1:80", "unterminated '['"},
        bad_input{"[::1]", "missing port after ']'"},
        bad_input{"[::1]80", "expected ':' after ']'"},
        bad_input{"[]:80", "missing host inside '[]'"},
        bad_input{"[localhost]:80", "is not an IPv6 address"},
        bad_input{"::1:80", "needs brackets"}, bad_input{"host name:80", "has a character ' '"}));

TEST(parse_tcp_endpoint, gives_numeric_endpoints) {
  auto v4 = parse_tcp_endpoint("127.0.0.1:53");
  ASSERT_TRUE(v4);
  EXPECT_EQ(*v4, tcp_endpoint(asio::ip::make_address("127.0.0.1"), 53));
  auto v6 = parse_tcp_endpoint("[::1]:53");
  ASSERT_TRUE(v6);
  EXPECT_EQ(*v6, tcp_endpoint(asio::ip::make_address("::1"), 53));
}

TEST(parse_tcp_endpoint, rejects_host_names_with_a_clear_message) {
  auto r = parse_tcp_endpoint("localhost:53");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, net_errc::invalid_address);
  EXPECT_EQ(r.error().detail,
            "\"localhost:53\": \"localhost\" is not a numeric IP address (host names need "
            "resolving)");
}

TEST(parse_tcp_endpoint, says_why_a_text_is_not_host_and_port) {
  auto r = parse_tcp_endpoint("127.0.0.1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, net_errc::invalid_address);
  EXPECT_EQ(r.error().detail,
            "\"127.0.0.1\": missing port (expected HOST:PORT, e.g. 127.0.0.1:80 or [::1]:80)");
}

TEST(to_string, writes_ipv6_in_brackets_and_ipv4_plain) {
  EXPECT_EQ(to_string(tcp_endpoint(asio::ip::make_address("::1"), 80)), "[::1]:80");
  EXPECT_EQ(to_string(tcp_endpoint(asio::ip::make_address("127.0.0.1"), 80)), "127.0.0.1:80");
  EXPECT_EQ(to_string(udp_endpoint(asio::ip::make_address("::1"), 53)), "[::1]:53");
}

}  // namespace
}  // namespace flowstack::net
