#include <gtest/gtest.h>

#include <flowstack/dns/hosts.hpp>

#include <net/if.h>

namespace flowstack::dns {
namespace {

name n(std::string_view text) {
  return name::parse(text).value();
}

asio::ip::address ip(const char* text) {
  return asio::ip::make_address(text);
}

using addresses = std::vector<asio::ip::address>;

TEST(dns_hosts, debian_default_file) {
  std::size_t skipped = 99;
  auto h = hosts::parse(
      "127.0.0.1\tlocalhost\n"
      "127.0.1.1\tbuild-box.example.org\tbuild-box\n"
      "\n"
      "# The following lines are desirable for IPv6 capable hosts\n"
      "::1     localhost ip6-localhost ip6-loopback\n"
      "ff02::1 ip6-allnodes\n"
      "ff02::2 ip6-allrouters\n",
      &skipped);
  EXPECT_EQ(skipped, 0u);
  EXPECT_EQ(h.lookup(n("localhost")), (addresses{ip("127.0.0.1"), ip("::1")}));
  EXPECT_EQ(h.lookup(n("build-box")), addresses{ip("127.0.1.1")});
  EXPECT_EQ(h.lookup(n("build-box.example.org")), addresses{ip("127.0.1.1")});
  EXPECT_EQ(h.lookup(n("ip6-loopback")), addresses{ip("::1")});
  EXPECT_EQ(h.lookup(n("ip6-allrouters")), addresses{ip("ff02::2")});
  EXPECT_EQ(h.size(), 7u);
}

TEST(dns_hosts, names_compare_case_insensitively) {
  auto h = hosts::parse("10.0.0.5 Printer.Office.EXAMPLE printer\n");
  EXPECT_EQ(h.lookup(n("printer.office.example")), addresses{ip("10.0.0.5")});
  EXPECT_EQ(h.lookup(n("PRINTER")), addresses{ip("10.0.0.5")});
  EXPECT_EQ(h.lookup(n("printer.office.example.")), addresses{ip("10.0.0.5")});
}

TEST(dns_hosts, addresses_of_a_name_collect_in_file_order_without_repeats) {
  auto h = hosts::parse(
      "10.0.0.2 db\n"
      "2001:db8::2 db\n"
      "10.0.0.1 db DB\n"
      "10.0.0.2 db\n");
  EXPECT_EQ(h.lookup(n("db")), (addresses{ip("10.0.0.2"), ip("2001:db8::2"), ip("10.0.0.1")}));
  EXPECT_EQ(h.size(), 1u);
}

TEST(dns_hosts, comments_start_anywhere) {
  std::size_t skipped = 99;
  auto h = hosts::parse("  # whole line\n10.0.0.1 a#not-a-name b\n10.0.0.2 c # d\n#10.0.0.3 e\n",
                        &skipped);
  EXPECT_EQ(skipped, 0u);
  EXPECT_EQ(h.lookup(n("a")), addresses{ip("10.0.0.1")});
  EXPECT_TRUE(h.lookup(n("b")).empty());
  EXPECT_EQ(h.lookup(n("c")), addresses{ip("10.0.0.2")});
  EXPECT_TRUE(h.lookup(n("d")).empty());
  EXPECT_TRUE(h.lookup(n("e")).empty());
}

TEST(dns_hosts, bad_lines_are_skipped_and_counted) {
  std::size_t skipped = 0;
  auto h = hosts::parse(
      "10.0.0.256 bad-address\n"
      "10.0.0.1\n"                 // no name
      "example.com 10.0.0.2\n"     // the fields the wrong way round
      "10.0.0.3 good bad..name\n"  // one bad name spoils the line
      "10.0.0.4 " +
          std::string(64, 'x') +
          "\n"
          "2001:db8::1%3 scoped-global\n"
          "10.0.0.5 fine\n",
      &skipped);
  EXPECT_EQ(skipped, 6u);
  EXPECT_EQ(h.size(), 1u);
  EXPECT_EQ(h.lookup(n("fine")), addresses{ip("10.0.0.5")});
  EXPECT_TRUE(h.lookup(n("good")).empty());
}

TEST(dns_hosts, crlf_tabs_and_no_final_newline) {
  auto h = hosts::parse("10.0.0.1\t\tone\r\n10.0.0.2 two");
  EXPECT_EQ(h.lookup(n("one")), addresses{ip("10.0.0.1")});
  EXPECT_EQ(h.lookup(n("two")), addresses{ip("10.0.0.2")});
}

TEST(dns_hosts, scoped_link_local_address) {
  auto h = hosts::parse("fe80::1%4 router\n");
  ASSERT_EQ(h.lookup(n("router")).size(), 1u);
  EXPECT_EQ(h.lookup(n("router"))[0].to_v6().scope_id(), 4u);
  unsigned lo = ::if_nametoindex("lo");
  ASSERT_NE(lo, 0u) << "Linux always has the loopback interface lo";
  auto named = hosts::parse("fe80::2%lo router\n");
  EXPECT_EQ(named.lookup(n("router")).at(0).to_v6().scope_id(), lo);
}

TEST(dns_hosts, unknown_names_and_empty_files_give_nothing) {
  EXPECT_TRUE(hosts::parse("10.0.0.1 a\n").lookup(n("b")).empty());
  std::size_t skipped = 99;
  auto h = hosts::parse("", &skipped);
  EXPECT_EQ(h.size(), 0u);
  EXPECT_EQ(skipped, 0u);
  EXPECT_TRUE(h.lookup(n("localhost")).empty());
}

}  // namespace
}  // namespace flowstack::dns
