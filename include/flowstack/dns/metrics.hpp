// What the forwarder counts, in the Prometheus text exposition format (version 0.0.4), the page
// that serves it over HTTP, and a ring buffer of the last queries. Single-threaded, like the
// forwarder: no locks.
#pragma once

#include <flowstack/dns/cache.hpp>
#include <flowstack/dns/config.hpp>
#include <flowstack/dns/message.hpp>
#include <flowstack/http/server.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace flowstack::dns {

enum class client_protocol { udp, tcp };
std::string_view to_string(client_protocol p) noexcept;

class metrics {
 public:
  // A query answered to a client (from upstream, cache or local names).
  void query_answered(client_protocol p, std::uint16_t rcode, std::chrono::microseconds latency);
  // A client message that got no answer: "malformed", "overload", "no_upstream", ….
  void query_dropped(client_protocol p, std::string_view reason);

  void upstream_answered(const server_address& s, std::chrono::microseconds latency);
  void upstream_timed_out(const server_address& s);
  void upstream_failed(const server_address& s);  // a transport error
  void upstream_online(const server_address& s, bool online);

  // Every counter, plus the cache's stats, as a Prometheus text page.
  std::string prometheus(const cache_stats& cache) const;

 private:
  struct upstream_counters {
    std::uint64_t answers = 0;
    std::uint64_t timeouts = 0;
    std::uint64_t failures = 0;
    std::uint64_t latency_us_sum = 0;
    bool online = true;
  };
  std::map<std::pair<client_protocol, std::uint16_t>, std::uint64_t> answered_;
  std::map<std::pair<client_protocol, std::string>, std::uint64_t, std::less<>> dropped_;
  std::map<server_address, upstream_counters> upstreams_;
  std::uint64_t latency_us_sum_ = 0;
  std::uint64_t latency_count_ = 0;
};

// The last `capacity` queries, oldest first.
struct query_record {
  std::chrono::system_clock::time_point when;
  std::string client;  // "udp 127.0.0.1:40000"
  question q;
  std::uint16_t rcode = 0;
  std::string source;  // "cache", "local", "10.0.0.2#53", "none"
  std::chrono::microseconds latency{0};
};

class query_log {
 public:
  explicit query_log(std::size_t capacity = 1024);
  void record(query_record r);
  std::vector<query_record> entries() const;  // oldest first
  // One line per query: "2026-11-24T10:00:00.123Z udp 127.0.0.1:40000 example.com. A NOERROR
  // 10.0.0.2#53 1.234ms"
  std::string to_string() const;

 private:
  std::vector<query_record> ring_;
  std::size_t next_ = 0;
  std::size_t capacity_;
};

// The page the http module's endpoint serves for Prometheus: `render()` (a prometheus() page) at
// /metrics, in the text exposition format 0.0.4.
http::page metrics_page(std::function<std::string()> render);

}  // namespace flowstack::dns
