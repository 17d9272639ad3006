// g++ 12 at -O3 warns about std::string concatenation inside libstdc++'s char_traits (false
// positives of -Warray-bounds, -Wrestrict and -Wstringop-overflow, GCC bug 105329).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wrestrict"
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif

#include <gtest/gtest.h>

#include <flowstack/dns/config.hpp>
#include <flowstack/dns/error.hpp>

#include <net/if.h>

#include <algorithm>
#include <random>

namespace flowstack::dns {
namespace {

using namespace std::chrono_literals;

name n(std::string_view text) {
  return name::parse(text).value();
}

server_address addr(std::string_view text) {
  auto a = parse_server_address(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(server_address{});
}

server_config server(std::string_view address, std::vector<name> zones = {},
                     std::chrono::milliseconds timeout = 5000ms, int order = 0) {
  return {addr(address), std::move(zones), timeout, order};
}

config parse(std::string_view text) {
  auto c = parse_config(text);
  EXPECT_TRUE(c.has_value()) << (c ? "" : c.error().detail) << "\nin:\n" << text;
  return c.value_or(config{});
}

// The error a config gives, as "line N: what".
std::string error_of(std::string_view text) {
  auto c = parse_config(text);
  EXPECT_FALSE(c.has_value()) << text;
  if (c) return "";
  EXPECT_EQ(c.error().code, dns_errc::bad_config);
  return c.error().detail;
}

std::string resolv_error_of(std::string_view text) {
  auto c = parse_resolv_conf(text);
  EXPECT_FALSE(c.has_value()) << text;
  if (c) return "";
  EXPECT_EQ(c.error().code, dns_errc::bad_config);
  return c.error().detail;
}

void expect_round_trip(const config& c) {
  std::string text = to_string(c);
  auto again = parse_config(text);
  ASSERT_TRUE(again.has_value()) << (again ? "" : again.error().detail) << "\nin:\n" << text;
  EXPECT_EQ(*again, c) << text;
  EXPECT_EQ(to_string(*again), text);
}

// The three examples of ocaml-dns-forward's config tests.

TEST(dns_config, two_servers_one_with_a_port_and_a_search_list) {
  config expected{.servers = {server("10.0.0.2"), server("1.2.3.4#54")},
                  .search = {n("a"), n("b"), n("c")}};
  config c = parse("nameserver 10.0.0.2\nnameserver 1.2.3.4#54\nsearch a b c");
  EXPECT_EQ(c, expected);
  ASSERT_EQ(c.servers.size(), 2u);
  EXPECT_EQ(c.servers[1].address.port, 54);
  EXPECT_EQ(c.servers[0].timeout, 5000ms);
  EXPECT_FALSE(c.assume_offline_after);
}

TEST(dns_config, single_server_with_trailing_newline) {
  EXPECT_EQ(parse("nameserver 10.0.0.2\n"), (config{.servers = {server("10.0.0.2")}}));
}

TEST(dns_config, vpn_zone_server_with_timeout_and_order_then_a_default_server) {
  config c = parse(
      "# a pretend VPN zone with a private nameserver\n"
      "nameserver 1.2.3.4\n"
      "zone mirage.io foo.com\n"
      "timeout 5000\n"
      "order 1\n"
      "\n"
      "# a default nameserver\n"
      "nameserver 8.8.8.8\n");
  config expected{
      .servers = {server("8.8.8.8"), server("1.2.3.4", {n("mirage.io"), n("foo.com")}, 5000ms, 1)}};
  EXPECT_EQ(c, expected);
  ASSERT_EQ(c.servers.size(), 2u);
  EXPECT_EQ(c.servers[0].order, 1);
  EXPECT_EQ(c.servers[1].zones.size(), 0u);
}

TEST(dns_config, the_three_examples_print_and_parse_back_equal) {
  for (std::string_view text : {
           "nameserver 10.0.0.2\nnameserver 1.2.3.4#54\nsearch a b c",
           "nameserver 10.0.0.2\n",
           "nameserver 1.2.3.4\nzone mirage.io foo.com\ntimeout 5000\norder 1\n\n"
           "nameserver 8.8.8.8\n",
       }) {
    expect_round_trip(parse(text));
  }
}

TEST(dns_config, prints_the_line_format) {
  config c{.servers = {server("1.2.3.4", {n("mirage.io"), n("foo.com")}, 2000ms, 1),
                       server("2001:db8::1#5353")},
           .search = {n("example.com")},
           .assume_offline_after = 3};
  EXPECT_EQ(to_string(c),
            "nameserver 1.2.3.4#53\n"
            "zone mirage.io foo.com\n"
            "timeout 2000\n"
            "order 1\n"
            "nameserver 2001:db8::1#5353\n"
            "search example.com\n"
            "assume-offline-after 3\n");
  EXPECT_EQ(to_string(config{}), "");
}

TEST(dns_config, equality_ignores_the_order_of_servers_and_zones) {
  config a = parse("nameserver 1.2.3.4\nzone a.com b.com\nnameserver 8.8.8.8\n");
  config b = parse("nameserver 8.8.8.8\nnameserver 1.2.3.4\nzone b.com\nzone a.com\n");
  EXPECT_EQ(a, b);
}

TEST(dns_config, equality_ignores_the_case_of_names) {
  EXPECT_EQ(parse("nameserver 1.2.3.4\nzone Mirage.IO\nsearch Example.COM\n"),
            parse("nameserver 1.2.3.4\nzone mirage.io\nsearch example.com\n"));
}

TEST(dns_config, equality_keeps_the_order_of_the_search_list) {
  EXPECT_NE(parse("search a b\n"), parse("search b a\n"));
}

TEST(dns_config, any_difference_in_meaning_makes_configs_unequal) {
  config base = parse("nameserver 1.2.3.4\nzone a.com\ntimeout 100\norder 1\n");
  EXPECT_NE(base, parse("nameserver 1.2.3.4#54\nzone a.com\ntimeout 100\norder 1\n"));
  EXPECT_NE(base, parse("nameserver 1.2.3.4\nzone b.com\ntimeout 100\norder 1\n"));
  EXPECT_NE(base, parse("nameserver 1.2.3.4\nzone a.com\ntimeout 101\norder 1\n"));
  EXPECT_NE(base, parse("nameserver 1.2.3.4\nzone a.com\ntimeout 100\norder 2\n"));
  EXPECT_NE(base, parse("nameserver 1.2.3.4\nzone a.com\ntimeout 100\norder 1\nsearch a\n"));
  EXPECT_NE(base,
            parse("nameserver 1.2.3.4\nzone a.com\ntimeout 100\norder 1\nassume-offline-after 2"));
  EXPECT_NE(base, parse("nameserver 1.2.3.4\nzone a.com\ntimeout 100\norder 1\nnameserver ::1"));
}

TEST(dns_config, identical_servers_count_once_in_a_comparison) {
  config twice{.servers = {server("1.2.3.4"), server("1.2.3.4")}};
  config once{.servers = {server("1.2.3.4")}};
  EXPECT_EQ(twice, once);
}

// Addresses

TEST(dns_server_address, ipv4_with_and_without_port) {
  EXPECT_EQ(addr("10.0.0.2"), (server_address{asio::ip::make_address("10.0.0.2"), 53}));
  EXPECT_EQ(addr("10.0.0.2#5353").port, 5353);
  EXPECT_EQ(addr("10.0.0.2:5353").port, 5353);
  EXPECT_EQ(addr("10.0.0.2:5353").ip, asio::ip::make_address("10.0.0.2"));
}

TEST(dns_server_address, every_ipv6_form) {
  auto db8 = asio::ip::make_address("2001:db8::1");
  auto loopback = asio::ip::make_address("::1");
  EXPECT_EQ(addr("2001:db8::1"), (server_address{db8, 53}));
  EXPECT_EQ(addr("[2001:db8::1]"), (server_address{db8, 53}));
  EXPECT_EQ(addr("[2001:db8::1]:53"), (server_address{db8, 53}));
  EXPECT_EQ(addr("[2001:db8::1]:5353"), (server_address{db8, 5353}));
  EXPECT_EQ(addr("[2001:db8::1]#5353"), (server_address{db8, 5353}));
  EXPECT_EQ(addr("2001:db8::1#5353"), (server_address{db8, 5353}));
  EXPECT_EQ(addr("::1"), (server_address{loopback, 53}));
  EXPECT_EQ(addr("[::1]"), (server_address{loopback, 53}));
  EXPECT_EQ(addr("::1#54"), (server_address{loopback, 54}));
  EXPECT_EQ(addr("2001:0db8:0000:0000:0000:0000:0000:0001"), (server_address{db8, 53}));
  EXPECT_EQ(addr("::ffff:192.0.2.1").ip, asio::ip::make_address("::ffff:192.0.2.1"));
}

TEST(dns_server_address, bare_ipv6_never_takes_a_colon_port) {
  // The last group is part of the address, not a port.
  auto a = addr("2001:db8::1:53");
  EXPECT_EQ(a.ip, asio::ip::make_address("2001:db8::1:53"));
  EXPECT_EQ(a.port, 53);
}

TEST(dns_server_address, scoped_link_local_addresses_take_a_numeric_or_named_scope) {
  auto a = addr("fe80::1%7");
  EXPECT_EQ(a.ip.to_v6().scope_id(), 7u);
  EXPECT_EQ(a.to_string(), "fe80::1%7#53");
  EXPECT_EQ(addr("[fe80::1%7]:54").port, 54);
  EXPECT_EQ(addr("fe80::1%7#54").ip, a.ip);
  EXPECT_NE(addr("fe80::1").ip, a.ip);

  unsigned lo = ::if_nametoindex("lo");
  ASSERT_NE(lo, 0u) << "Linux always has the loopback interface lo";
  auto named = addr("fe80::1%lo");
  EXPECT_EQ(named.ip.to_v6().scope_id(), lo);
  // Scopes print as numbers, so the text reads back on any machine.
  EXPECT_EQ(named.to_string(), "fe80::1%" + std::to_string(lo) + "#53");
}

TEST(dns_server_address, prints_with_a_hash_port) {
  EXPECT_EQ(addr("10.0.0.2").to_string(), "10.0.0.2#53");
  EXPECT_EQ(addr("[2001:DB8:0::1]:5353").to_string(), "2001:db8::1#5353");
  EXPECT_EQ(addr("::1").to_string(), "::1#53");
}

TEST(dns_server_address, rejects_what_is_not_an_address_and_a_port) {
  for (std::string_view bad : std::initializer_list<std::string_view>{
           "",
           "10.0.0.256",
           "10.0.0",
           "10.0.0.2:",
           "10.0.0.2#",
           "10.0.0.2#0",
           "10.0.0.2#65536",
           "10.0.0.2#53x",
           "10.0.0.2#-1",
           "10.0.0.2#+53",
           "example.com",
           "[2001:db8::1",
           "[2001:db8::1]x",
           "[2001:db8::1]:",
           "[10.0.0.2]:53",
           "2001:db8::1#",
           "2001:db8:::1",
           "2001:db8::1%2",  // a scope on a global address means nothing
           "fe80::1%",
           "fe80::1%no-such-interface",
           "fe80::1%99999999999",
           "10.0.0.2%1",
           "%1",
           std::string_view("10.0.0.2\0junk", 13),
       }) {
    auto a = parse_server_address(bad);
    ASSERT_FALSE(a.has_value()) << bad;
    EXPECT_EQ(a.error().code, dns_errc::bad_config) << bad;
    EXPECT_FALSE(a.error().detail.empty()) << bad;
  }
}

TEST(dns_config, nameserver_lines_take_every_ipv6_form_and_round_trip) {
  config c = parse(
      "nameserver 2001:db8::1\n"
      "nameserver [2001:db8::2]:53\n"
      "nameserver 2001:db8::3#5353\n"
      "nameserver ::1\n"
      "nameserver [::2]\n"
      "nameserver fe80::1%3\n");
  ASSERT_EQ(c.servers.size(), 6u);
  EXPECT_EQ(c.servers[2].address.port, 5353);
  EXPECT_EQ(c.servers[5].address.ip.to_v6().scope_id(), 3u);
  expect_round_trip(c);
}

// Comments, blanks, accumulation

TEST(dns_config, comments_blank_lines_tabs_and_crlf_are_ignored) {
  config c = parse(
      "  # indented comment\r\n"
      "\r\n"
      "\tnameserver\t10.0.0.2   # trailing comment\r\n"
      "   \t \r\n"
      "zone example.com # another\r\n");
  EXPECT_EQ(c, (config{.servers = {server("10.0.0.2", {n("example.com")})}}));
}

TEST(dns_config, a_hash_inside_a_word_is_a_port_not_a_comment) {
  EXPECT_EQ(parse("nameserver 10.0.0.2#54\n").servers.at(0).address.port, 54);
  EXPECT_EQ(parse("nameserver 10.0.0.2 #54\n").servers.at(0).address.port, 53);
}

TEST(dns_config, zone_lines_add_up_and_repeats_count_once) {
  config c = parse("nameserver 10.0.0.2\nzone a.com b.com\nzone B.COM c.com\n");
  EXPECT_EQ(c.servers.at(0).zones.size(), 3u);
}

TEST(dns_config, settings_apply_to_the_nameserver_above_even_after_a_search_line) {
  config c = parse("nameserver 10.0.0.2\nnameserver 10.0.0.3\nsearch x\norder 4\n");
  EXPECT_EQ(c.servers.at(0).order, 0);
  EXPECT_EQ(c.servers.at(1).order, 4);
}

TEST(dns_config, negative_orders_and_the_root_zone_are_accepted) {
  config c = parse("nameserver 10.0.0.2\norder -3\nzone .\n");
  EXPECT_EQ(c.servers.at(0).order, -3);
  EXPECT_TRUE(c.servers.at(0).zones.at(0).is_root());
  expect_round_trip(c);
}

TEST(dns_config, names_with_special_characters_round_trip) {
  auto odd = name::from_labels({"#hash", "sp ace", "dot.ted", "back\\slash", "semi;"}).value();
  config c{.servers = {server("10.0.0.2", {odd, n("xn--bcher-kva.example")})}, .search = {odd}};
  expect_round_trip(c);
}

TEST(dns_config, empty_text_is_an_empty_config) {
  EXPECT_EQ(parse(""), config{});
  EXPECT_EQ(parse("# nothing\n\n"), config{});
}

// Errors: each names the line and what was wrong.

TEST(dns_config_error, zone_timeout_and_order_before_any_nameserver) {
  EXPECT_EQ(error_of("# x\nzone example.com\nnameserver 10.0.0.2\n"),
            "line 2: 'zone' comes before any 'nameserver' line; zone, timeout and order apply to "
            "the nameserver above them");
  EXPECT_EQ(error_of("timeout 100\n").substr(0, 17), "line 1: 'timeout'");
  EXPECT_EQ(error_of("search a\norder 1\n").substr(0, 15), "line 2: 'order'");
}

TEST(dns_config_error, bad_address) {
  EXPECT_EQ(error_of("nameserver 10.0.0.2\nnameserver 10.0.0.256\n"),
            "line 2: bad nameserver address: '10.0.0.256' is not an IPv4 address");
  EXPECT_EQ(error_of("nameserver 2001:db8:::1\n"),
            "line 1: bad nameserver address: '2001:db8:::1' is not an IPv6 address");
  EXPECT_EQ(error_of("nameserver dns.example.com\n"),
            "line 1: bad nameserver address: 'dns.example.com' is not an IPv4 or IPv6 address");
  EXPECT_EQ(error_of("nameserver [10.0.0.2]:53\n"),
            "line 1: bad nameserver address: '[10.0.0.2]:53': brackets are for IPv6 addresses; "
            "write '10.0.0.2' or '10.0.0.2:PORT'");
  EXPECT_EQ(error_of("nameserver [::1\n"),
            "line 1: bad nameserver address: '[::1' opens '[' but has no ']'");
  EXPECT_EQ(error_of("nameserver 2001:db8::1%eth0\n"),
            "line 1: bad nameserver address: '2001:db8::1%eth0': a %scope only applies to "
            "link-local addresses (fe80::/10)");
  EXPECT_EQ(error_of("nameserver fe80::1%no-such-if\n"),
            "line 1: bad nameserver address: 'fe80::1%no-such-if': this machine has no network "
            "interface named 'no-such-if'");
}

TEST(dns_config_error, bad_port) {
  EXPECT_EQ(error_of("nameserver 10.0.0.2#65536\n"),
            "line 1: bad nameserver address: the port must be a number from 1 to 65535, got "
            "'65536'");
  EXPECT_EQ(error_of("nameserver [::1]:0\n"),
            "line 1: bad nameserver address: the port must be a number from 1 to 65535, got '0'");
}

TEST(dns_config_error, bad_numbers) {
  EXPECT_EQ(error_of("nameserver 10.0.0.2\ntimeout abc\n"),
            "line 2: timeout must be a whole number of milliseconds from 1 to 86400000, got "
            "'abc'");
  EXPECT_NE(error_of("nameserver 10.0.0.2\ntimeout 0\n"), "");
  EXPECT_NE(error_of("nameserver 10.0.0.2\ntimeout 1.5\n"), "");
  EXPECT_NE(error_of("nameserver 10.0.0.2\ntimeout -1\n"), "");
  EXPECT_NE(error_of("nameserver 10.0.0.2\ntimeout 86400001\n"), "");
  EXPECT_EQ(error_of("nameserver 10.0.0.2\norder 2147483648\n"),
            "line 2: order must be a whole number from -2147483648 to 2147483647, got "
            "'2147483648'");
  EXPECT_NE(error_of("nameserver 10.0.0.2\norder 99999999999999999999999\n"), "");
  EXPECT_EQ(error_of("assume-offline-after 0\n"),
            "line 1: assume-offline-after must be a whole number of missed answers from 1 to "
            "4294967295, got '0'");
  EXPECT_NE(error_of("assume-offline-after 4294967296\n"), "");
}

TEST(dns_config_error, unknown_keyword) {
  EXPECT_EQ(error_of("nameserver 10.0.0.2\n\nnameservers 10.0.0.3\n"),
            "line 3: unknown keyword 'nameservers'; the keywords are nameserver, zone, timeout, "
            "order, search and assume-offline-after");
  // Keywords are lowercase, as ocaml-dns-forward reads them.
  EXPECT_NE(error_of("Nameserver 10.0.0.2\n"), "");
  EXPECT_NE(error_of("domain example.com\n"), "");
}

TEST(dns_config_error, settings_given_twice) {
  EXPECT_EQ(error_of("nameserver 10.0.0.2\ntimeout 100\ntimeout 200\n"),
            "line 3: the timeout of nameserver 10.0.0.2#53 is given twice (first on line 2)");
  EXPECT_EQ(error_of("nameserver 10.0.0.2\norder 1\n\norder 1\n"),
            "line 4: the order of nameserver 10.0.0.2#53 is given twice (first on line 2)");
  EXPECT_EQ(error_of("search a\nsearch b\n"), "line 2: 'search' is given twice (first on line 1)");
  EXPECT_EQ(error_of("assume-offline-after 1\nassume-offline-after 2\n"),
            "line 2: 'assume-offline-after' is given twice (first on line 1)");
  // A second nameserver line starts afresh.
  EXPECT_NE(parse("nameserver 10.0.0.2\ntimeout 1\nnameserver 10.0.0.3\ntimeout 2\n"), config{});
}

TEST(dns_config_error, the_same_nameserver_twice) {
  EXPECT_EQ(error_of("nameserver 10.0.0.2\nnameserver 10.0.0.2#53\n"),
            "line 2: nameserver 10.0.0.2#53 is already listed on line 1");
  EXPECT_EQ(error_of("nameserver [::1]:53\nnameserver ::1\n"),
            "line 2: nameserver ::1#53 is already listed on line 1");
  // The same address on another port is another server.
  EXPECT_EQ(parse("nameserver 10.0.0.2\nnameserver 10.0.0.2#54\n").servers.size(), 2u);
}

TEST(dns_config_error, wrong_number_of_values) {
  EXPECT_EQ(error_of("nameserver\n"), "line 1: 'nameserver' needs a value");
  EXPECT_EQ(error_of("nameserver 10.0.0.2 10.0.0.3\n"),
            "line 1: 'nameserver' takes one value, got 2 words");
  EXPECT_EQ(error_of("nameserver 10.0.0.2\ntimeout 1 2\n"),
            "line 2: 'timeout' takes one value, got 2 words");
  EXPECT_EQ(error_of("nameserver 10.0.0.2\nzone\n"),
            "line 2: 'zone' needs at least one domain name");
  EXPECT_EQ(error_of("search   # nothing\n"), "line 1: 'search' needs at least one domain name");
}

TEST(dns_config_error, bad_domain_names) {
  EXPECT_EQ(error_of("nameserver 10.0.0.2\nzone good.com bad..com\n"),
            "line 2: bad zone: 'bad..com' is not a domain name (an empty label or a bad escape)");
  EXPECT_EQ(error_of("search " + std::string(64, 'a') + ".com\n"),
            "line 1: bad search domain: '" + std::string(64, 'a') +
                "...' is not a domain name: label longer than 63 octets");
}

TEST(dns_config_error, unprintable_octets_are_shown_escaped) {
  EXPECT_EQ(error_of(std::string_view("nameserver 10.0.0.2\n\x01\xff\n", 23)),
            "line 2: unknown keyword '\\x01\\xff'; the keywords are nameserver, zone, timeout, "
            "order, search and assume-offline-after");
}

TEST(dns_config_error, the_code_alone_says_the_config_does_not_parse) {
  auto c = parse_config("bogus\n");
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().code, dns_errc::bad_config);
  EXPECT_EQ(c.error().code.message(), "DNS forwarder configuration does not parse");
}

TEST(dns_config_error, a_server_address_says_what_is_wrong_without_a_line) {
  auto a = parse_server_address("10.0.0.256");
  ASSERT_FALSE(a.has_value());
  EXPECT_EQ(a.error().code, dns_errc::bad_config);
  EXPECT_EQ(a.error().detail, "'10.0.0.256' is not an IPv4 address");
}

// Round trip over generated configs

std::string random_label(std::mt19937& rng) {
  // Mostly letters, sometimes octets that need escapes in the text form.
  static constexpr std::string_view alphabet = "abcXYZ019-_#;.\\ \"$@()";
  std::uniform_int_distribution<int> len(1, 8), pick(0, alphabet.size() - 1), odd(0, 20);
  std::string s;
  for (int i = len(rng); i > 0; --i) {
    int o = odd(rng);
    if (o == 0)
      s += static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
    else
      s += alphabet[pick(rng)];
  }
  return s;
}

name random_name(std::mt19937& rng) {
  std::vector<std::string> labels;
  for (int i = std::uniform_int_distribution<int>(0, 4)(rng); i > 0; --i)
    labels.push_back(random_label(rng));
  return name::from_labels(std::move(labels)).value();
}

server_address random_address(std::mt19937& rng) {
  std::uniform_int_distribution<int> kind(0, 3), octet(0, 255);
  std::uniform_int_distribution<unsigned> port(1, 65535);
  server_address a;
  a.port =
      std::uniform_int_distribution<int>(0, 1)(rng) ? 53 : static_cast<std::uint16_t>(port(rng));
  int k = kind(rng);
  if (k == 0) {
    a.ip = asio::ip::address_v4(asio::ip::address_v4::bytes_type{
        static_cast<unsigned char>(octet(rng)), static_cast<unsigned char>(octet(rng)),
        static_cast<unsigned char>(octet(rng)), static_cast<unsigned char>(octet(rng))});
  } else {
    asio::ip::address_v6::bytes_type b{};
    for (auto& x : b) x = static_cast<unsigned char>(k == 1 && octet(rng) < 200 ? 0 : octet(rng));
    if (k == 3) {
      b[0] = 0xfe;
      b[1] = 0x80;
    }
    a.ip =
        asio::ip::address_v6(b, k == 3 ? std::uniform_int_distribution<unsigned>(1, 1000)(rng) : 0);
  }
  return a;
}

config random_config(std::mt19937& rng) {
  std::uniform_int_distribution<int> few(0, 4);
  config c;
  for (int i = few(rng); i > 0; --i) {
    server_config s;
    s.address = random_address(rng);
    bool taken = std::any_of(c.servers.begin(), c.servers.end(),
                             [&](const server_config& o) { return o.address == s.address; });
    if (taken) continue;
    for (int z = few(rng) - 2; z > 0; --z) s.zones.push_back(random_name(rng));
    if (few(rng) == 0)
      s.timeout = std::chrono::milliseconds(std::uniform_int_distribution<int>(1, 86'400'000)(rng));
    if (few(rng) == 0) s.order = std::uniform_int_distribution<int>(INT32_MIN, INT32_MAX)(rng);
    c.servers.push_back(std::move(s));
  }
  for (int i = few(rng) - 2; i > 0; --i) c.search.push_back(random_name(rng));
  if (few(rng) == 0)
    c.assume_offline_after = std::uniform_int_distribution<unsigned>(1, UINT32_MAX)(rng);
  return c;
}

TEST(dns_config, generated_configs_print_and_parse_back_equal) {
  std::mt19937 rng(20261124);
  for (int i = 0; i < 500; ++i) {
    config c = random_config(rng);
    expect_round_trip(c);
    // Shuffled servers mean the same.
    config shuffled = c;
    std::shuffle(shuffled.servers.begin(), shuffled.servers.end(), rng);
    for (auto& s : shuffled.servers) std::shuffle(s.zones.begin(), s.zones.end(), rng);
    EXPECT_EQ(shuffled, c);
    if (HasFailure()) break;
  }
}

// resolv.conf

TEST(dns_resolv_conf, debian_style_file_with_domain_search_and_options) {
  auto c = parse_resolv_conf(
      "# written by the DHCP client for eth0\n"
      "domain corp.example\n"
      "search corp.example lab.example\n"
      "nameserver 192.0.2.53\n"
      "nameserver 2001:db8::53\n"
      "nameserver 198.51.100.7 # backup\n"
      "options timeout:2 attempts:3 rotate\n"
      "options edns0\n");
  ASSERT_TRUE(c.has_value());
  config expected{.servers = {server("192.0.2.53"), server("2001:db8::53"), server("198.51.100.7")},
                  .search = {n("corp.example"), n("lab.example")}};
  EXPECT_EQ(*c, expected);
  expect_round_trip(*c);
}

TEST(dns_resolv_conf, systemd_resolved_stub_file) {
  auto c = parse_resolv_conf(
      "# Managed by systemd-resolved: the local stub resolver.\n"
      "# Do not edit.\n"
      "#\n"
      "\n"
      "nameserver 127.0.0.53\n"
      "options edns0 trust-ad\n"
      "search .\n");
  ASSERT_TRUE(c.has_value());
  // "search ." says there is no search domain.
  EXPECT_EQ(*c, (config{.servers = {server("127.0.0.53")}}));
}

TEST(dns_resolv_conf, the_last_search_or_domain_line_wins) {
  EXPECT_EQ(parse_resolv_conf("search a b\ndomain c\n")->search, std::vector<name>{n("c")});
  EXPECT_EQ(parse_resolv_conf("domain c\nsearch a b\n")->search,
            (std::vector<name>{n("a"), n("b")}));
  EXPECT_EQ(parse_resolv_conf("domain c\nsearch\n")->search, std::vector<name>{});
}

TEST(dns_resolv_conf, semicolon_and_hash_comments) {
  auto c = parse_resolv_conf("; a comment\n# another\nnameserver 10.0.0.1 ; why\n");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(*c, (config{.servers = {server("10.0.0.1")}}));
}

TEST(dns_resolv_conf, scoped_link_local_nameserver) {
  unsigned lo = ::if_nametoindex("lo");
  ASSERT_NE(lo, 0u) << "Linux always has the loopback interface lo";
  auto c = parse_resolv_conf("nameserver fe80::1%lo\nnameserver fe80::2%2\n");
  ASSERT_TRUE(c.has_value());
  ASSERT_EQ(c->servers.size(), 2u);
  EXPECT_EQ(c->servers[0].address.ip.to_v6().scope_id(), lo);
  EXPECT_EQ(c->servers[1].address.ip.to_v6().scope_id(), 2u);
  expect_round_trip(*c);
}

TEST(dns_resolv_conf, unknown_keywords_are_ignored_and_repeated_servers_count_once) {
  auto c = parse_resolv_conf(
      "sortlist 130.155.160.0/255.255.240.0\nlookup file bind\nnameserver 10.0.0.1\n"
      "nameserver 10.0.0.1\nNAMESERVER 10.0.0.2\n");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->servers.size(), 1u);
}

TEST(dns_resolv_conf, bad_nameserver_or_domain_names_the_line) {
  EXPECT_EQ(resolv_error_of("search a\nnameserver 10.0.0.300\n"),
            "line 2: bad nameserver address: '10.0.0.300' is not an IPv4 address");
  EXPECT_EQ(resolv_error_of("nameserver\n"), "line 1: 'nameserver' needs an address");
  EXPECT_EQ(
      resolv_error_of("domain a..b\n"),
      "line 1: bad 'domain' line: 'a..b' is not a domain name (an empty label or a bad escape)");
}

TEST(dns_resolv_conf, no_nameserver_lines_give_no_servers) {
  // The C library would fall back to 127.0.0.1; a forwarder on that address would ask itself.
  auto c = parse_resolv_conf("options ndots:2\n");
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->servers.empty());
}

}  // namespace
}  // namespace flowstack::dns
