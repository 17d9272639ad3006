#include <gtest/gtest.h>

#include <flowstack/dns/cache.hpp>

#include "wire.hpp"

namespace flowstack::dns {
namespace {

using namespace std::chrono_literals;
using test::dname;
using test::ipv4;
using test::make_record;

const cache::clock::time_point t0 = cache::clock::time_point() + 1000h;

message query_for(std::string_view qname, rr_type type = rr_type::a, bool dnssec_ok = false) {
  message q;
  q.header.id = 0x1234;
  q.header.rd = true;
  q.questions.push_back({dname(qname), type, rr_class::in});
  if (dnssec_ok) {
    q.edns.emplace();
    q.edns->dnssec_ok = true;
  }
  return q;
}

message answer_to(const message& q) {
  message a;
  a.header.id = q.header.id;
  a.header.qr = true;
  a.header.rd = q.header.rd;
  a.header.ra = true;
  a.questions = q.questions;
  a.edns = q.edns;
  return a;
}

message positive(const message& q, std::uint32_t ttl, std::uint8_t last_octet = 1) {
  message a = answer_to(q);
  a.answers.push_back(
      record{q.questions[0].qname, rr_type::a, rr_class::in, ttl, ipv4(192, 0, 2, last_octet)});
  return a;
}

record soa_record(std::uint32_t ttl, std::uint32_t minimum) {
  return make_record("example.com", rr_type::soa, ttl,
                     rdata_soa{dname("ns.example.com"), dname("hostmaster.example.com"), 1, 7200,
                               900, 1209600, minimum});
}

message negative(const message& q, rcode code, std::optional<record> soa) {
  message a = answer_to(q);
  a.set_rcode(static_cast<std::uint16_t>(code));
  if (soa) a.authority.push_back(*soa);
  return a;
}

std::vector<std::uint32_t> ttls_of(const message& m) {
  std::vector<std::uint32_t> out;
  for (const auto* section : {&m.answers, &m.authority, &m.additional})
    for (const auto& r : *section) out.push_back(r.ttl);
  return out;
}

TEST(dns_cache, miss_then_hit_after_insert) {
  cache c;
  auto q = query_for("www.example.com");
  EXPECT_FALSE(c.lookup(q, t0));
  c.insert(q, positive(q, 300), t0);
  auto hit = c.lookup(q, t0);
  ASSERT_TRUE(hit);
  ASSERT_EQ(hit->answers.size(), 1u);
  EXPECT_EQ(hit->answers[0].data, rdata(ipv4(192, 0, 2, 1)));
  EXPECT_EQ(hit->answers[0].ttl, 300u);
}

TEST(dns_cache, hit_takes_the_query_id_and_question_spelling) {
  cache c;
  auto q = query_for("www.example.com");
  c.insert(q, positive(q, 300), t0);

  auto again = query_for("wWw.ExAmple.COM");
  again.header.id = 0xbeef;
  auto hit = c.lookup(again, t0);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->header.id, 0xbeef);
  EXPECT_TRUE(hit->header.rd);
  ASSERT_EQ(hit->questions.size(), 1u);
  EXPECT_TRUE(hit->questions[0].qname.identical(dname("wWw.ExAmple.COM")));
  EXPECT_TRUE(hit->answers[0].owner.identical(dname("wWw.ExAmple.COM")));
}

TEST(dns_cache, query_without_rd_does_not_get_a_recursive_answer) {
  cache c;
  auto recursive = query_for("www.example.com");
  c.insert(recursive, positive(recursive, 300, 1), t0);

  auto iterative = query_for("www.example.com");
  iterative.header.rd = false;
  EXPECT_FALSE(c.lookup(iterative, t0));

  c.insert(iterative, positive(iterative, 300, 2), t0);
  auto hit = c.lookup(iterative, t0);
  ASSERT_TRUE(hit);
  EXPECT_FALSE(hit->header.rd);
  EXPECT_EQ(hit->answers[0].data, rdata(ipv4(192, 0, 2, 2)));
  EXPECT_EQ(c.lookup(recursive, t0)->answers[0].data, rdata(ipv4(192, 0, 2, 1)));
}

TEST(dns_cache, checking_disabled_answer_is_not_served_to_a_validating_client) {
  cache c;
  auto unchecked = query_for("bogus.example.com", rr_type::a, true);
  unchecked.header.cd = true;
  c.insert(unchecked, positive(unchecked, 300), t0);

  auto validating = query_for("bogus.example.com", rr_type::a, true);
  EXPECT_FALSE(c.lookup(validating, t0));
  EXPECT_TRUE(c.lookup(unchecked, t0));
}

TEST(dns_cache, cd_bit_of_the_query_is_copied_into_the_cached_answer) {
  cache c;
  auto q = query_for("www.example.com", rr_type::a, true);
  q.header.cd = true;
  auto a = positive(q, 300);
  a.header.cd = false;  // an upstream that forgot to copy it
  c.insert(q, a, t0);
  auto hit = c.lookup(q, t0);
  ASSERT_TRUE(hit);
  EXPECT_TRUE(hit->header.cd);
}

TEST(dns_cache, key_ignores_name_case) {
  cache c;
  auto upper = query_for("WWW.EXAMPLE.COM");
  c.insert(upper, positive(upper, 300), t0);
  EXPECT_TRUE(c.lookup(query_for("www.example.com"), t0));
  EXPECT_EQ(c.stats().entries, 1u);
}

TEST(dns_cache, type_separates_entries) {
  cache c;
  auto q = query_for("www.example.com");
  c.insert(q, positive(q, 300), t0);
  EXPECT_FALSE(c.lookup(query_for("www.example.com", rr_type::aaaa), t0));
}

TEST(dns_cache, ttls_count_down_with_time_spent) {
  cache c;
  auto q = query_for("www.example.com");
  auto a = positive(q, 300);
  a.additional.push_back(make_record("ns.example.com", rr_type::a, 600, ipv4(192, 0, 2, 53)));
  c.insert(q, a, t0);

  auto hit = c.lookup(q, t0 + 100s + 999ms);  // floor: 100 s spent
  ASSERT_TRUE(hit);
  EXPECT_EQ(ttls_of(*hit), (std::vector<std::uint32_t>{200, 500}));
}

TEST(dns_cache, entry_expires_at_its_smallest_ttl) {
  cache c;
  auto q = query_for("www.example.com");
  auto a = positive(q, 600);
  a.authority.push_back(
      make_record("example.com", rr_type::ns, 60, rdata_name{dname("ns.example.com")}));
  c.insert(q, a, t0);

  auto last = c.lookup(q, t0 + 59s);
  ASSERT_TRUE(last);
  EXPECT_EQ(ttls_of(*last), (std::vector<std::uint32_t>{541, 1}));
  EXPECT_FALSE(c.lookup(q, t0 + 60s));
  EXPECT_EQ(c.stats().entries, 0u);
  EXPECT_EQ(c.stats().bytes, 0u);
  EXPECT_EQ(c.stats().expirations, 1u);
  // Gone, not just hidden: a later lookup is a plain miss.
  EXPECT_FALSE(c.lookup(q, t0 + 1s));
}

TEST(dns_cache, zero_ttl_answer_is_not_cached) {
  cache c;
  auto q = query_for("www.example.com");
  c.insert(q, positive(q, 0), t0);
  EXPECT_FALSE(c.lookup(q, t0));
  EXPECT_EQ(c.stats().insertions, 0u);
}

TEST(dns_cache, nxdomain_lives_for_soa_ttl_capped_by_minimum) {
  cache c;
  auto q = query_for("nope.example.com");
  c.insert(q, negative(q, rcode::nxdomain, soa_record(3600, 300)), t0);

  auto hit = c.lookup(q, t0 + 10s);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->full_rcode(), static_cast<std::uint16_t>(rcode::nxdomain));
  EXPECT_EQ(ttls_of(*hit), std::vector<std::uint32_t>{290});
  EXPECT_TRUE(c.lookup(q, t0 + 299s));
  EXPECT_FALSE(c.lookup(q, t0 + 300s));
}

TEST(dns_cache, nxdomain_soa_ttl_below_minimum_wins) {
  cache c;
  auto q = query_for("nope.example.com");
  c.insert(q, negative(q, rcode::nxdomain, soa_record(30, 300)), t0);
  EXPECT_TRUE(c.lookup(q, t0 + 29s));
  EXPECT_FALSE(c.lookup(q, t0 + 30s));
}

TEST(dns_cache, nodata_is_cached_via_soa) {
  cache c;
  auto q = query_for("www.example.com", rr_type::aaaa);
  c.insert(q, negative(q, rcode::noerror, soa_record(900, 120)), t0);

  auto hit = c.lookup(q, t0);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->full_rcode(), 0);
  EXPECT_TRUE(hit->answers.empty());
  EXPECT_EQ(ttls_of(*hit), std::vector<std::uint32_t>{120});
  EXPECT_FALSE(c.lookup(q, t0 + 120s));
}

TEST(dns_cache, negative_answer_without_soa_is_not_cached) {
  cache c;
  auto nx = query_for("nope.example.com");
  c.insert(nx, negative(nx, rcode::nxdomain, std::nullopt), t0);
  auto nodata = query_for("www.example.com", rr_type::aaaa);
  c.insert(nodata, negative(nodata, rcode::noerror, std::nullopt), t0);
  EXPECT_FALSE(c.lookup(nx, t0));
  EXPECT_FALSE(c.lookup(nodata, t0));
  EXPECT_EQ(c.stats().insertions, 0u);
}

TEST(dns_cache, servfail_refused_formerr_are_not_cached) {
  cache c;
  auto q = query_for("www.example.com");
  for (auto code : {rcode::servfail, rcode::refused, rcode::formerr}) {
    c.insert(q, negative(q, code, soa_record(300, 300)), t0);
    EXPECT_FALSE(c.lookup(q, t0));
  }
  EXPECT_EQ(c.stats().insertions, 0u);
}

TEST(dns_cache, truncated_answer_is_not_cached) {
  cache c;
  auto q = query_for("www.example.com");
  auto a = positive(q, 300);
  a.header.tc = true;
  c.insert(q, a, t0);
  EXPECT_FALSE(c.lookup(q, t0));
}

TEST(dns_cache, min_ttl_raises_short_ttls) {
  cache c({.min_ttl = 60s});
  auto q = query_for("www.example.com");
  c.insert(q, positive(q, 5), t0);
  auto hit = c.lookup(q, t0 + 30s);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->answers[0].ttl, 30u);
  EXPECT_FALSE(c.lookup(q, t0 + 60s));
}

TEST(dns_cache, max_ttl_caps_long_ttls) {
  cache c({.max_ttl = 100s});
  auto q = query_for("www.example.com");
  c.insert(q, positive(q, 86400), t0);
  auto hit = c.lookup(q, t0);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->answers[0].ttl, 100u);
  EXPECT_FALSE(c.lookup(q, t0 + 100s));
}

TEST(dns_cache, max_negative_ttl_caps_negative_answers) {
  cache c({.max_negative_ttl = 60s});
  auto q = query_for("nope.example.com");
  c.insert(q, negative(q, rcode::nxdomain, soa_record(3600, 3600)), t0);
  auto hit = c.lookup(q, t0);
  ASSERT_TRUE(hit);
  EXPECT_EQ(ttls_of(*hit), std::vector<std::uint32_t>{60});
  EXPECT_FALSE(c.lookup(q, t0 + 60s));
}

TEST(dns_cache, do_bit_separates_entries) {
  cache c;
  auto plain = query_for("www.example.com");
  auto secure = query_for("www.example.com", rr_type::a, true);
  c.insert(plain, positive(plain, 300, 1), t0);
  EXPECT_FALSE(c.lookup(secure, t0));
  c.insert(secure, positive(secure, 300, 2), t0);

  auto a = c.lookup(plain, t0);
  auto b = c.lookup(secure, t0);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->answers[0].data, rdata(ipv4(192, 0, 2, 1)));
  EXPECT_EQ(b->answers[0].data, rdata(ipv4(192, 0, 2, 2)));
  EXPECT_EQ(c.stats().entries, 2u);
}

TEST(dns_cache, answer_to_query_without_edns_has_no_opt) {
  cache c;
  auto with = query_for("www.example.com");
  with.edns.emplace();
  c.insert(with, positive(with, 300), t0);
  auto hit = c.lookup(query_for("www.example.com"), t0);
  ASSERT_TRUE(hit);
  EXPECT_FALSE(hit->edns);
}

TEST(dns_cache, transaction_options_are_not_replayed_extended_errors_are) {
  cache c;
  auto q = query_for("www.example.com");
  q.edns.emplace();
  auto a = positive(q, 300);
  a.edns->options.push_back({3, {'n', 's'}});                      // NSID
  a.edns->options.push_back({10, {1, 2, 3, 4, 5, 6, 7, 8}});       // COOKIE
  a.edns->options.push_back({11, {0, 100}});                       // TCP keepalive
  a.edns->options.push_back({12, std::vector<std::uint8_t>(64)});  // PADDING
  a.edns->options.push_back({15, {0, 18}});                        // EDE "prohibited"
  c.insert(q, a, t0);
  auto hit = c.lookup(q, t0);
  ASSERT_TRUE(hit && hit->edns);
  ASSERT_EQ(hit->edns->options.size(), 1u);
  EXPECT_EQ(hit->edns->options[0].code, 15);
}

TEST(dns_cache, insert_replaces_older_entry) {
  cache c;
  auto q = query_for("www.example.com");
  c.insert(q, positive(q, 300, 1), t0);
  c.insert(q, positive(q, 50, 2), t0 + 10s);
  auto hit = c.lookup(q, t0 + 20s);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->answers[0].data, rdata(ipv4(192, 0, 2, 2)));
  EXPECT_EQ(hit->answers[0].ttl, 40u);
  EXPECT_EQ(c.stats().entries, 1u);
  EXPECT_EQ(c.stats().insertions, 2u);
  EXPECT_EQ(c.stats().evictions, 0u);
}

TEST(dns_cache, least_recently_used_goes_first_when_entries_are_full) {
  cache c({.max_entries = 2});
  auto a = query_for("a.example.com");
  auto b = query_for("b.example.com");
  auto d = query_for("d.example.com");
  c.insert(a, positive(a, 300), t0);
  c.insert(b, positive(b, 300), t0);
  EXPECT_TRUE(c.lookup(a, t0));  // a is now the most recently used
  c.insert(d, positive(d, 300), t0);

  EXPECT_TRUE(c.lookup(a, t0));
  EXPECT_FALSE(c.lookup(b, t0));
  EXPECT_TRUE(c.lookup(d, t0));
  EXPECT_EQ(c.stats().entries, 2u);
  EXPECT_EQ(c.stats().evictions, 1u);
}

TEST(dns_cache, least_recently_used_goes_first_when_bytes_are_full) {
  // Every entry below has the same size: learn it from a cache with room to spare.
  std::size_t one = 0;
  {
    cache probe;
    auto a = query_for("a.example.com");
    probe.insert(a, positive(a, 300), t0);
    one = probe.stats().bytes;
  }
  ASSERT_GT(one, 12u);

  cache c({.max_bytes = 2 * one + one / 2});
  auto a = query_for("a.example.com");
  auto b = query_for("b.example.com");
  auto d = query_for("d.example.com");
  c.insert(a, positive(a, 300), t0);
  c.insert(b, positive(b, 300), t0);
  EXPECT_EQ(c.stats().bytes, 2 * one);
  EXPECT_TRUE(c.lookup(a, t0));
  c.insert(d, positive(d, 300), t0);

  EXPECT_TRUE(c.lookup(a, t0));
  EXPECT_FALSE(c.lookup(b, t0));
  EXPECT_TRUE(c.lookup(d, t0));
  EXPECT_EQ(c.stats().bytes, 2 * one);
  EXPECT_EQ(c.stats().evictions, 1u);
}

TEST(dns_cache, answer_larger_than_max_bytes_is_not_cached) {
  cache c({.max_bytes = 64});
  auto q = query_for("www.example.com", rr_type::txt);
  auto a = answer_to(q);
  a.answers.push_back(
      make_record("www.example.com", rr_type::txt, 300, rdata_txt{{std::string(100, 'x')}}));
  c.insert(q, a, t0);
  EXPECT_FALSE(c.lookup(q, t0));
  EXPECT_EQ(c.stats().entries, 0u);
}

TEST(dns_cache, stats_count_hits_misses_insertions_and_size) {
  cache c;
  auto q = query_for("www.example.com");
  EXPECT_FALSE(c.lookup(q, t0));
  c.insert(q, positive(q, 300), t0);
  EXPECT_TRUE(c.lookup(q, t0));
  EXPECT_TRUE(c.lookup(q, t0 + 1s));

  auto s = c.stats();
  EXPECT_EQ(s.hits, 2u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.insertions, 1u);
  EXPECT_EQ(s.evictions, 0u);
  EXPECT_EQ(s.entries, 1u);
  auto wire = encode(positive(q, 300));
  ASSERT_TRUE(wire);
  // The answer's octets plus the key: the name (17 octets) and type, class, DO.
  EXPECT_EQ(s.bytes, wire->size() + 17 + 5);

  c.clear();
  EXPECT_EQ(c.stats().entries, 0u);
  EXPECT_EQ(c.stats().bytes, 0u);
  EXPECT_FALSE(c.lookup(q, t0));
}

TEST(dns_cache, query_without_question_is_a_miss) {
  cache c;
  message empty;
  c.insert(empty, message{}, t0);
  EXPECT_FALSE(c.lookup(empty, t0));
  EXPECT_EQ(c.stats().entries, 0u);
}

}  // namespace
}  // namespace flowstack::dns
