#include <gtest/gtest.h>

#include <flowstack/dns/name.hpp>

#include <unordered_set>

namespace flowstack::dns {
namespace {

name n(std::string_view text) {
  return name::parse(text).value();
}

TEST(dns_name, parses_with_or_without_trailing_dot) {
  EXPECT_EQ(n("www.example.com").labels(), (std::vector<std::string>{"www", "example", "com"}));
  EXPECT_TRUE(n("www.example.com.").identical(n("www.example.com")));
  EXPECT_TRUE(n(".").is_root());
  EXPECT_EQ(n(".").to_string(), ".");
}

TEST(dns_name, comparison_ignores_ascii_case_only) {
  EXPECT_EQ(n("WWW.Example.COM"), n("www.example.com"));
  EXPECT_FALSE(n("WWW.Example.COM").identical(n("www.example.com")));
  EXPECT_NE(n("www.example.com"), n("www.example.org"));
  // \196 (0xc4) and \228 (0xe4) differ by 0x20 but are not ASCII letters
  EXPECT_NE(n("\\196"), n("\\228"));
  EXPECT_NE(n("a.b"), n("ab"));
}

TEST(dns_name, hash_ignores_case) {
  std::unordered_set<name> names{n("Example.COM")};
  EXPECT_EQ(names.count(n("example.com")), 1u);
  EXPECT_EQ(std::hash<name>{}(n("A.B")), std::hash<name>{}(n("a.b")));
}

TEST(dns_name, lowercased_changes_ascii_letters) {
  EXPECT_TRUE(n("WwW.ExAmPlE.CoM").lowercased().identical(n("www.example.com")));
}

TEST(dns_name, subdomain_includes_the_zone_itself) {
  EXPECT_TRUE(n("www.Example.com").is_subdomain_of(n("example.COM")));
  EXPECT_TRUE(n("example.com").is_subdomain_of(n("example.com")));
  EXPECT_TRUE(n("example.com").is_subdomain_of(n(".")));
  EXPECT_FALSE(n("badexample.com").is_subdomain_of(n("example.com")));
  EXPECT_FALSE(n("com").is_subdomain_of(n("example.com")));
}

TEST(dns_name, prints_special_characters_escaped_as_dig_does) {
  auto special = name::from_labels({std::string("a.b\\c\"d ;e@$()\x01\x7f", 16), "x"}).value();
  EXPECT_EQ(special.to_string(), "a\\.b\\\\c\\\"d\\032\\;e\\@\\$\\(\\)\\001\\127.x.");
  EXPECT_TRUE(name::parse(special.to_string()).value().identical(special));
}

TEST(dns_name, rejects_empty_labels_and_bad_escapes) {
  EXPECT_EQ(name::parse("").error(), dns_errc::bad_name);
  EXPECT_EQ(name::parse("a..b").error(), dns_errc::bad_name);
  EXPECT_EQ(name::parse(".a").error(), dns_errc::bad_name);
  EXPECT_EQ(name::parse("a\\").error(), dns_errc::bad_name);
  EXPECT_EQ(name::parse("a\\25").error(), dns_errc::bad_name);
  EXPECT_EQ(name::parse("a\\256").error(), dns_errc::bad_name);
}

TEST(dns_name, rejects_labels_over_63_and_names_over_255_octets) {
  EXPECT_TRUE(name::parse(std::string(63, 'x')));
  EXPECT_EQ(name::parse(std::string(64, 'x')).error(), dns_errc::label_too_long);
  std::string long_name;
  for (int i = 0; i < 4; ++i) long_name += std::string(63, 'x') + ".";
  EXPECT_EQ(name::parse(long_name).error(), dns_errc::name_too_long);
  // 3 * 64 + 62 + 1 = 255: the longest name
  std::string longest = std::string(63, 'x') + "." + std::string(63, 'x') + "." +
                        std::string(63, 'x') + "." + std::string(61, 'x');
  auto ok = name::parse(longest);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->wire_length(), 255u);
}

}  // namespace
}  // namespace flowstack::dns
