// The forwarder's counters as a Prometheus text page, and the query log.
#include <flowstack/dns/metrics.hpp>
#include <flowstack/dns/print.hpp>

#include <algorithm>
#include <ctime>

namespace flowstack::dns {

std::string_view to_string(client_protocol p) noexcept {
  switch (p) {
    case client_protocol::udp:
      return "udp";
    case client_protocol::tcp:
      return "tcp";
  }
  return "unknown";
}

// ---- counters ----------------------------------------------------------------------------------

void metrics::query_answered(client_protocol p, std::uint16_t rcode,
                             std::chrono::microseconds latency) {
  ++answered_[{p, rcode}];
  latency_us_sum_ += static_cast<std::uint64_t>(std::max<std::int64_t>(latency.count(), 0));
  ++latency_count_;
}

void metrics::query_dropped(client_protocol p, std::string_view reason) {
  auto key = std::pair{p, std::string(reason)};
  ++dropped_[std::move(key)];
}

void metrics::upstream_answered(const server_address& s, std::chrono::microseconds latency) {
  auto& u = upstreams_[s];
  ++u.answers;
  u.latency_us_sum += static_cast<std::uint64_t>(std::max<std::int64_t>(latency.count(), 0));
}

void metrics::upstream_timed_out(const server_address& s) {
  ++upstreams_[s].timeouts;
}

void metrics::upstream_failed(const server_address& s) {
  ++upstreams_[s].failures;
}

void metrics::upstream_online(const server_address& s, bool online) {
  upstreams_[s].online = online;
}

namespace {

// Label values escape backslash, double quote and line feed (text format 0.0.4).
std::string escape_label(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// Seconds from microseconds, exactly: "0.0015", "12", "3.000001".
std::string seconds_of(std::uint64_t us) {
  std::string out = std::to_string(us / 1'000'000);
  std::uint64_t frac = us % 1'000'000;
  if (frac == 0) return out;
  std::string digits = std::to_string(frac);
  digits.insert(0, 6 - digits.size(), '0');
  while (digits.back() == '0') digits.pop_back();
  return out + "." + digits;
}

class page {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;  // constant text here, with no backslash or line feed to escape
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }

  // `labels` alternate name, value.
  void sample(std::string_view name, std::initializer_list<std::string_view> labels,
              std::string_view value) {
    out_ += name;
    if (labels.size() != 0) {
      out_ += '{';
      bool first = true;
      for (auto it = labels.begin(); it != labels.end(); it += 2) {
        if (!first) out_ += ',';
        first = false;
        out_ += *it;
        out_ += "=\"";
        out_ += escape_label(*(it + 1));
        out_ += '"';
      }
      out_ += '}';
    }
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }
  void sample(std::string_view name, std::initializer_list<std::string_view> labels,
              std::uint64_t value) {
    sample(name, labels, std::to_string(value));
  }

  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace

http::page metrics_page(std::function<std::string()> render) {
  return {.path = "/metrics",
          .content_type = "text/plain; version=0.0.4; charset=utf-8",
          .render = std::move(render)};
}

std::string metrics::prometheus(const cache_stats& cache) const {
  page p;
  p.family("flowstack_dns_queries_total", "counter",
           "Queries answered to clients, by client transport and response code.");
  for (const auto& [key, n] : answered_) {
    std::string rc = rcode_to_string(key.second);
    p.sample("flowstack_dns_queries_total", {"transport", to_string(key.first), "rcode", rc}, n);
  }

  p.family("flowstack_dns_queries_dropped_total", "counter",
           "Client messages that got no answer, by client transport and reason.");
  for (const auto& [key, n] : dropped_) {
    p.sample("flowstack_dns_queries_dropped_total",
             {"transport", to_string(key.first), "reason", key.second}, n);
  }

  p.family("flowstack_dns_query_duration_seconds", "summary",
           "Time from a client's query to its answer.");
  p.sample("flowstack_dns_query_duration_seconds_sum", {}, seconds_of(latency_us_sum_));
  p.sample("flowstack_dns_query_duration_seconds_count", {}, latency_count_);

  std::vector<std::pair<std::string, const upstream_counters*>> ups;
  ups.reserve(upstreams_.size());
  for (const auto& [address, counters] : upstreams_)
    ups.emplace_back(address.to_string(), &counters);

  p.family("flowstack_dns_upstream_answers_total", "counter", "Answers from each upstream server.");
  for (const auto& [name, u] : ups)
    p.sample("flowstack_dns_upstream_answers_total", {"upstream", name}, u->answers);
  p.family("flowstack_dns_upstream_timeouts_total", "counter",
           "Queries to each upstream server that got no answer in time.");
  for (const auto& [name, u] : ups)
    p.sample("flowstack_dns_upstream_timeouts_total", {"upstream", name}, u->timeouts);
  p.family("flowstack_dns_upstream_failures_total", "counter",
           "Queries to each upstream server that failed in transport.");
  for (const auto& [name, u] : ups)
    p.sample("flowstack_dns_upstream_failures_total", {"upstream", name}, u->failures);
  p.family("flowstack_dns_upstream_latency_seconds", "summary",
           "Time each upstream server took to answer.");
  for (const auto& [name, u] : ups) {
    p.sample("flowstack_dns_upstream_latency_seconds_sum", {"upstream", name},
             seconds_of(u->latency_us_sum));
    p.sample("flowstack_dns_upstream_latency_seconds_count", {"upstream", name}, u->answers);
  }
  p.family("flowstack_dns_upstream_up", "gauge",
           "1 while an upstream server is considered online, 0 while offline.");
  for (const auto& [name, u] : ups)
    p.sample("flowstack_dns_upstream_up", {"upstream", name}, u->online ? 1u : 0u);

  p.family("flowstack_dns_cache_hits_total", "counter", "Queries answered from the cache.");
  p.sample("flowstack_dns_cache_hits_total", {}, cache.hits);
  p.family("flowstack_dns_cache_misses_total", "counter",
           "Cache lookups that found nothing usable.");
  p.sample("flowstack_dns_cache_misses_total", {}, cache.misses);
  p.family("flowstack_dns_cache_insertions_total", "counter", "Answers stored in the cache.");
  p.sample("flowstack_dns_cache_insertions_total", {}, cache.insertions);
  p.family("flowstack_dns_cache_evictions_total", "counter",
           "Cache entries dropped to stay within the cache's bounds.");
  p.sample("flowstack_dns_cache_evictions_total", {}, cache.evictions);
  p.family("flowstack_dns_cache_entries", "gauge", "Answers in the cache.");
  p.sample("flowstack_dns_cache_entries", {}, cache.entries);
  p.family("flowstack_dns_cache_bytes", "gauge", "Octets the cached answers take on the wire.");
  p.sample("flowstack_dns_cache_bytes", {}, cache.bytes);
  return p.take();
}

// ---- query log ---------------------------------------------------------------------------------

query_log::query_log(std::size_t capacity) : capacity_(capacity) {
  ring_.reserve(std::min<std::size_t>(capacity, 4096));
}

void query_log::record(query_record r) {
  if (capacity_ == 0) return;
  if (ring_.size() < capacity_) {
    ring_.push_back(std::move(r));
    next_ = ring_.size() % capacity_;
    return;
  }
  ring_[next_] = std::move(r);
  next_ = (next_ + 1) % capacity_;
}

std::vector<query_record> query_log::entries() const {
  if (ring_.size() < capacity_) return ring_;
  std::vector<query_record> out;
  out.reserve(ring_.size());
  out.insert(out.end(), ring_.begin() + static_cast<std::ptrdiff_t>(next_), ring_.end());
  out.insert(out.end(), ring_.begin(), ring_.begin() + static_cast<std::ptrdiff_t>(next_));
  return out;
}

namespace {

// "2026-11-24T10:00:00.123Z" (RFC 3339, UTC, milliseconds).
std::string timestamp(std::chrono::system_clock::time_point when) {
  auto ms = std::chrono::floor<std::chrono::milliseconds>(when.time_since_epoch()).count();
  auto secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  auto milli = static_cast<int>(ms - static_cast<std::int64_t>(secs) * 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char text[40];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", text, milli);
  return out;
}

// "1.234ms"
std::string milliseconds_of(std::chrono::microseconds latency) {
  auto us = std::max<std::int64_t>(latency.count(), 0);
  char out[32];
  std::snprintf(out, sizeof out, "%lld.%03lldms", static_cast<long long>(us / 1000),
                static_cast<long long>(us % 1000));
  return out;
}

}  // namespace

std::string query_log::to_string() const {
  std::string out;
  for (const auto& r : entries()) {
    out += timestamp(r.when);
    out += ' ';
    out += r.client;
    out += ' ';
    out += r.q.qname.to_string();
    out += ' ';
    if (r.q.qclass != rr_class::in) {
      out += class_to_string(r.q.qclass);
      out += ' ';
    }
    out += type_to_string(r.q.qtype);
    out += ' ';
    out += rcode_to_string(r.rcode);
    out += ' ';
    out += r.source;
    out += ' ';
    out += milliseconds_of(r.latency);
    out += '\n';
  }
  return out;
}

}  // namespace flowstack::dns
