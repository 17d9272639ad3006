// The forwarder's counters as a Prometheus text page, the query log, and the HTTP endpoint that
// serves the page.
#include <flowstack/core/combinators.hpp>
#include <flowstack/dns/metrics.hpp>
#include <flowstack/dns/print.hpp>

#include "http.hpp"

#include <algorithm>
#include <ctime>

namespace flowstack::dns {

using namespace std::chrono_literals;

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

// ---- HTTP endpoint -----------------------------------------------------------------------------

namespace {

struct response {
  int status = 200;
  std::string_view reason;
  std::string body;
  bool close = false;
  bool head_only = false;
  bool keep_alive_1_0 = false;  // an HTTP/1.0 client must be told the connection stays open
  std::string_view content_type = "text/plain; charset=utf-8";
  std::string_view extra;  // more header lines, each ending in CRLF
};

std::string serialize(const response& r) {
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " ";
  out += r.reason;
  out += "\r\nContent-Type: ";
  out += r.content_type;
  out += "\r\nContent-Length: " + std::to_string(r.body.size()) + "\r\n";
  out += r.extra;
  if (r.close) out += "Connection: close\r\n";
  if (!r.close && r.keep_alive_1_0) out += "Connection: keep-alive\r\n";
  out += "\r\n";
  if (!r.head_only) out += r.body;
  return out;
}

response error_response(int status) {
  const std::string_view plain = "text/plain; charset=utf-8";
  switch (status) {
    case 404:
      return {.status = 404, .reason = "Not Found", .body = "not found: try /metrics\n"};
    case 405:
      return {.status = 405,
              .reason = "Method Not Allowed",
              .body = "only GET and HEAD are served\n",
              .content_type = plain,
              .extra = "Allow: GET, HEAD\r\n"};
    case 501:
      return {.status = 501,
              .reason = "Not Implemented",
              .body = "request bodies are not supported\n",
              .close = true};
    case 505:
      return {.status = 505,
              .reason = "HTTP Version Not Supported",
              .body = "only HTTP/1.0 and HTTP/1.1 are served\n",
              .close = true};
    default:
      return {.status = 400, .reason = "Bad Request", .body = "bad request\n", .close = true};
  }
}

response answer(const http::request& req, const std::function<std::string()>& render) {
  const bool get = req.method == "GET";
  const bool head = req.method == "HEAD";
  response r;
  if (req.path != "/metrics") {
    r = error_response(404);
  } else if (!get && !head) {
    r = error_response(405);
  } else {
    r.status = 200;
    r.reason = "OK";
    r.body = render();
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  }
  r.head_only = head;
  // A request with a body: rather than read and skip it, answer and close (RFC 9112 §9.6).
  r.close = r.close || !req.keep_alive || req.content_length != 0;
  r.keep_alive_1_0 = req.version_minor == 0;
  return r;
}

asio::awaitable<bool> send(flow& connection, const response& r, clock::duration timeout,
                           clock& time) {
  auto op = connection.write(buffer::of_string(serialize(r)));
  auto written = co_await with_timeout(std::move(op), timeout, time);
  co_return written.has_value();
}

// Ends the connection after an error: stop sending, then read and drop what the client still
// sends for a moment, so that the kernel does not reset the connection (and lose the response)
// over unread input.
asio::awaitable<void> linger_and_close(flow& connection, clock& time) {
  co_await connection.shutdown(shutdown_mode::write);
  std::size_t drained = 0;
  const auto deadline = time.now() + 1s;
  while (drained < 64 * 1024) {
    auto left = deadline - time.now();
    if (left <= clock::duration::zero()) break;
    auto op = connection.read();
    auto r = co_await with_timeout(std::move(op), left, time);
    if (!r || r->is_eof()) break;
    drained += r->data().size();
  }
  co_await connection.close();
}

}  // namespace

asio::awaitable<void> serve_metrics_http(flow connection, std::function<std::string()> render) {
  metrics_http_options defaults;
  co_await serve_metrics_http(std::move(connection), std::move(render), defaults);
}

asio::awaitable<void> serve_metrics_http(flow connection, std::function<std::string()> render,
                                         metrics_http_options options, clock& time) {
  std::string pending;  // bytes read and not yet parsed: the start of the next request
  for (;;) {
    // Read one request head, within the size limit and the deadline.
    const auto deadline = time.now() + options.read_timeout;
    std::size_t end = http::find_head_end(pending);
    bool hopeless = false;
    bool gone = false;
    while (end == std::string::npos) {
      if (pending.size() > http::max_head_length || !http::plausible_request_start(pending)) {
        hopeless = true;
        break;
      }
      auto left = deadline - time.now();
      if (left <= clock::duration::zero()) {
        gone = true;
        break;
      }
      auto op = connection.read();
      auto r = co_await with_timeout(std::move(op), left, time);
      if (!r || r->is_eof()) {
        gone = true;  // timed out, failed, or the client is done: nothing to answer
        break;
      }
      // Search only the new bytes (and three before them, for a blank line cut in two).
      const std::size_t from = pending.size() < 3 ? 0 : pending.size() - 3;
      pending += r->data().as_string_view();
      auto found = http::find_head_end(std::string_view(pending).substr(from));
      if (found != std::string::npos) end = from + found;
    }
    if (end != std::string::npos && end > http::max_head_length) hopeless = true;
    if (gone) {
      co_await connection.close();
      co_return;
    }
    if (hopeless) {
      const response bad = error_response(400);
      co_await send(connection, bad, options.write_timeout, time);  // closing either way
      co_await linger_and_close(connection, time);
      co_return;
    }

    auto req = http::parse_request(std::string_view(pending).substr(0, end));
    pending.erase(0, end);
    if (!req) {
      const response bad = error_response(req.error().status);
      co_await send(connection, bad, options.write_timeout, time);  // closing either way
      co_await linger_and_close(connection, time);
      co_return;
    }
    response r = answer(*req, render);
    bool sent = co_await send(connection, r, options.write_timeout, time);
    if (!sent) {
      co_await connection.close();
      co_return;
    }
    if (r.close) {
      co_await linger_and_close(connection, time);
      co_return;
    }
  }
}

}  // namespace flowstack::dns
