#include <gtest/gtest.h>

#include <flowstack/dns/metrics.hpp>

#include "wire.hpp"

namespace flowstack::dns {
namespace {

using namespace std::chrono_literals;
using test::dname;

server_address upstream(const char* ip, std::uint16_t port = 53) {
  return server_address{asio::ip::make_address(ip), port};
}

// The lines of `text` that are samples of `family` (or start with it).
std::string samples_of(const std::string& text, std::string_view family) {
  std::string out;
  std::size_t at = 0;
  while (at < text.size()) {
    auto end = text.find('\n', at);
    auto line = std::string_view(text).substr(at, end - at);
    if (line.starts_with(family)) {
      out += line;
      out += '\n';
    }
    at = end + 1;
  }
  return out;
}

TEST(dns_metrics, prometheus_page_renders_every_counter) {
  metrics m;
  m.query_answered(client_protocol::udp, 0, 1500us);
  m.query_answered(client_protocol::udp, 0, 500us);
  m.query_answered(client_protocol::tcp, 3, 1000us);
  m.query_dropped(client_protocol::udp, "malformed");
  m.upstream_answered(upstream("10.0.0.2"), 1500us);
  m.upstream_answered(upstream("10.0.0.2"), 2s);
  m.upstream_timed_out(upstream("10.0.0.2"));
  m.upstream_failed(upstream("2001:db8::1", 5353));
  m.upstream_online(upstream("2001:db8::1", 5353), false);
  cache_stats cs{
      .hits = 7, .misses = 3, .insertions = 3, .evictions = 1, .entries = 2, .bytes = 180};

  EXPECT_EQ(m.prometheus(cs),
            "# HELP flowstack_dns_queries_total Queries answered to clients, by client transport "
            "and response code.\n"
            "# TYPE flowstack_dns_queries_total counter\n"
            "flowstack_dns_queries_total{transport=\"udp\",rcode=\"NOERROR\"} 2\n"
            "flowstack_dns_queries_total{transport=\"tcp\",rcode=\"NXDOMAIN\"} 1\n"
            "# HELP flowstack_dns_queries_dropped_total Client messages that got no answer, by "
            "client transport and reason.\n"
            "# TYPE flowstack_dns_queries_dropped_total counter\n"
            "flowstack_dns_queries_dropped_total{transport=\"udp\",reason=\"malformed\"} 1\n"
            "# HELP flowstack_dns_query_duration_seconds Time from a client's query to its "
            "answer.\n"
            "# TYPE flowstack_dns_query_duration_seconds summary\n"
            "flowstack_dns_query_duration_seconds_sum 0.003\n"
            "flowstack_dns_query_duration_seconds_count 3\n"
            "# HELP flowstack_dns_upstream_answers_total Answers from each upstream server.\n"
            "# TYPE flowstack_dns_upstream_answers_total counter\n"
            "flowstack_dns_upstream_answers_total{upstream=\"10.0.0.2#53\"} 2\n"
            "flowstack_dns_upstream_answers_total{upstream=\"2001:db8::1#5353\"} 0\n"
            "# HELP flowstack_dns_upstream_timeouts_total Queries to each upstream server that "
            "got no answer in time.\n"
            "# TYPE flowstack_dns_upstream_timeouts_total counter\n"
            "flowstack_dns_upstream_timeouts_total{upstream=\"10.0.0.2#53\"} 1\n"
            "flowstack_dns_upstream_timeouts_total{upstream=\"2001:db8::1#5353\"} 0\n"
            "# HELP flowstack_dns_upstream_failures_total Queries to each upstream server that "
            "failed in transport.\n"
            "# TYPE flowstack_dns_upstream_failures_total counter\n"
            "flowstack_dns_upstream_failures_total{upstream=\"10.0.0.2#53\"} 0\n"
            "flowstack_dns_upstream_failures_total{upstream=\"2001:db8::1#5353\"} 1\n"
            "# HELP flowstack_dns_upstream_latency_seconds Time each upstream server took to "
            "answer.\n"
            "# TYPE flowstack_dns_upstream_latency_seconds summary\n"
            "flowstack_dns_upstream_latency_seconds_sum{upstream=\"10.0.0.2#53\"} 2.0015\n"
            "flowstack_dns_upstream_latency_seconds_count{upstream=\"10.0.0.2#53\"} 2\n"
            "flowstack_dns_upstream_latency_seconds_sum{upstream=\"2001:db8::1#5353\"} 0\n"
            "flowstack_dns_upstream_latency_seconds_count{upstream=\"2001:db8::1#5353\"} 0\n"
            "# HELP flowstack_dns_upstream_up 1 while an upstream server is considered online, 0 "
            "while offline.\n"
            "# TYPE flowstack_dns_upstream_up gauge\n"
            "flowstack_dns_upstream_up{upstream=\"10.0.0.2#53\"} 1\n"
            "flowstack_dns_upstream_up{upstream=\"2001:db8::1#5353\"} 0\n"
            "# HELP flowstack_dns_cache_hits_total Queries answered from the cache.\n"
            "# TYPE flowstack_dns_cache_hits_total counter\n"
            "flowstack_dns_cache_hits_total 7\n"
            "# HELP flowstack_dns_cache_misses_total Cache lookups that found nothing usable.\n"
            "# TYPE flowstack_dns_cache_misses_total counter\n"
            "flowstack_dns_cache_misses_total 3\n"
            "# HELP flowstack_dns_cache_insertions_total Answers stored in the cache.\n"
            "# TYPE flowstack_dns_cache_insertions_total counter\n"
            "flowstack_dns_cache_insertions_total 3\n"
            "# HELP flowstack_dns_cache_evictions_total Cache entries dropped to stay within the "
            "cache's bounds.\n"
            "# TYPE flowstack_dns_cache_evictions_total counter\n"
            "flowstack_dns_cache_evictions_total 1\n"
            "# HELP flowstack_dns_cache_entries Answers in the cache.\n"
            "# TYPE flowstack_dns_cache_entries gauge\n"
            "flowstack_dns_cache_entries 2\n"
            "# HELP flowstack_dns_cache_bytes Octets the cached answers take on the wire.\n"
            "# TYPE flowstack_dns_cache_bytes gauge\n"
            "flowstack_dns_cache_bytes 180\n");
}

TEST(dns_metrics, empty_page_has_every_family_and_zero_totals) {
  metrics m;
  auto text = m.prometheus({});
  EXPECT_NE(text.find("# TYPE flowstack_dns_queries_total counter\n"), std::string::npos);
  EXPECT_EQ(samples_of(text, "flowstack_dns_queries_total"), "");
  EXPECT_EQ(samples_of(text, "flowstack_dns_query_duration_seconds_"),
            "flowstack_dns_query_duration_seconds_sum 0\n"
            "flowstack_dns_query_duration_seconds_count 0\n");
  EXPECT_EQ(samples_of(text, "flowstack_dns_cache_hits_total"),
            "flowstack_dns_cache_hits_total 0\n");
  EXPECT_EQ(text.back(), '\n');
}

TEST(dns_metrics, label_values_escape_backslash_quote_and_newline) {
  metrics m;
  m.query_dropped(client_protocol::tcp, "a\\b\"c\nd");
  EXPECT_EQ(
      samples_of(m.prometheus({}), "flowstack_dns_queries_dropped_total"),
      "flowstack_dns_queries_dropped_total{transport=\"tcp\",reason=\"a\\\\b\\\"c\\nd\"} 1\n");
}

TEST(dns_metrics, rcode_without_a_name_is_labelled_by_number) {
  metrics m;
  m.query_answered(client_protocol::udp, 2, 0us);
  m.query_answered(client_protocol::udp, 3841, 0us);
  EXPECT_EQ(samples_of(m.prometheus({}), "flowstack_dns_queries_total"),
            "flowstack_dns_queries_total{transport=\"udp\",rcode=\"SERVFAIL\"} 1\n"
            "flowstack_dns_queries_total{transport=\"udp\",rcode=\"RCODE3841\"} 1\n");
}

TEST(dns_metrics, upstream_marked_online_again_reports_up) {
  metrics m;
  m.upstream_online(upstream("192.0.2.1"), false);
  m.upstream_online(upstream("192.0.2.1"), true);
  EXPECT_EQ(samples_of(m.prometheus({}), "flowstack_dns_upstream_up"),
            "flowstack_dns_upstream_up{upstream=\"192.0.2.1#53\"} 1\n");
}

TEST(dns_metrics, protocol_names) {
  EXPECT_EQ(to_string(client_protocol::udp), "udp");
  EXPECT_EQ(to_string(client_protocol::tcp), "tcp");
}

query_record record_at(int second, std::string_view qname, std::uint16_t rcode = 0) {
  query_record r;
  // 2026-11-24T10:00:00Z
  r.when = std::chrono::system_clock::time_point(std::chrono::seconds(1795514400 + second)) + 123ms;
  r.client = "udp 127.0.0.1:40000";
  r.q = question{dname(qname), rr_type::a, rr_class::in};
  r.rcode = rcode;
  r.source = "10.0.0.2#53";
  r.latency = 1234us;
  return r;
}

TEST(dns_query_log, prints_one_line_per_query) {
  query_log log(4);
  log.record(record_at(0, "example.com"));
  auto nx = record_at(1, "nope.example.com", 3);
  nx.q.qtype = rr_type::aaaa;
  nx.client = "tcp [::1]:5300";
  nx.source = "cache";
  nx.latency = 42us;
  log.record(nx);
  auto chaos = record_at(2, "version.bind");
  chaos.q.qtype = rr_type::txt;
  chaos.q.qclass = rr_class::ch;
  chaos.source = "local";
  chaos.latency = 2s;
  log.record(chaos);
  EXPECT_EQ(log.to_string(),
            "2026-11-24T10:00:00.123Z udp 127.0.0.1:40000 example.com. A NOERROR 10.0.0.2#53 "
            "1.234ms\n"
            "2026-11-24T10:00:01.123Z tcp [::1]:5300 nope.example.com. AAAA NXDOMAIN cache "
            "0.042ms\n"
            "2026-11-24T10:00:02.123Z udp 127.0.0.1:40000 version.bind. CH TXT NOERROR local "
            "2000.000ms\n");
}

TEST(dns_query_log, keeps_the_last_capacity_queries_oldest_first) {
  query_log log(3);
  for (int i = 0; i < 7; ++i) log.record(record_at(i, "q" + std::to_string(i) + ".example"));
  auto entries = log.entries();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].q.qname, dname("q4.example"));
  EXPECT_EQ(entries[1].q.qname, dname("q5.example"));
  EXPECT_EQ(entries[2].q.qname, dname("q6.example"));
  auto text = log.to_string();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3);
  EXPECT_TRUE(text.starts_with("2026-11-24T10:00:04.123Z udp 127.0.0.1:40000 q4.example. A"));
}

TEST(dns_query_log, before_wrapping_keeps_everything) {
  query_log log(3);
  log.record(record_at(0, "a.example"));
  log.record(record_at(1, "b.example"));
  auto entries = log.entries();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].q.qname, dname("a.example"));
  EXPECT_EQ(entries[1].q.qname, dname("b.example"));
}

TEST(dns_query_log, wraps_exactly_at_capacity) {
  query_log log(2);
  log.record(record_at(0, "a.example"));
  log.record(record_at(1, "b.example"));
  log.record(record_at(2, "c.example"));
  log.record(record_at(3, "d.example"));
  auto entries = log.entries();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].q.qname, dname("c.example"));
  EXPECT_EQ(entries[1].q.qname, dname("d.example"));
}

TEST(dns_query_log, zero_capacity_keeps_nothing) {
  query_log log(0);
  log.record(record_at(0, "a.example"));
  EXPECT_TRUE(log.entries().empty());
  EXPECT_EQ(log.to_string(), "");
}

}  // namespace
}  // namespace flowstack::dns
