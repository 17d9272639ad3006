#include "dns_forward.hpp"

#include <flowstack/core/clock.hpp>
#include <flowstack/core/combinators.hpp>
#include <flowstack/dns/config.hpp>
#include <flowstack/dns/error.hpp>
#include <flowstack/dns/hosts.hpp>
#include <flowstack/dns/metrics.hpp>
#include <flowstack/dns/resolver.hpp>
#include <flowstack/dns/server.hpp>
#include <flowstack/http/server.hpp>
#include <flowstack/socket/address.hpp>
#include <flowstack/socket/stack.hpp>
#include <flowstack/socket/tcp.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/signal_set.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <condition_variable>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include "cat.hpp"

namespace flowstack::cli {

namespace {

log_level current_level = log_level::info;

void log(log_level level, const char* format, ...) __attribute__((format(printf, 2, 3)));
void log(log_level level, const char* format, ...) {
  if (level > current_level) return;
  static const char* const names[] = {"error", "warn", "info", "debug"};
  std::fprintf(stderr, "flowstack dns-forward: %s: ", names[static_cast<int>(level)]);
  va_list args;
  va_start(args, format);
  std::vfprintf(stderr, format, args);
  va_end(args);
  std::fputc('\n', stderr);
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The metrics page as the DNS thread last rendered it, for the metrics thread to serve. The
// counters and the cache belong to the DNS thread; the only thing the two threads share is this
// immutable text, handed over under a mutex, and a count of the pages published.
class metrics_snapshot {
 public:
  void publish(std::string text) {
    auto next = std::make_shared<const std::string>(std::move(text));
    {
      std::lock_guard lock(mutex_);
      text_ = std::move(next);
      ++published_;
    }
    changed_.notify_all();
  }

  // Asks `dns` (the DNS thread) for a fresh page and waits for it at most `patience`; when the
  // DNS thread is too busy to render in time, the page it published last.
  std::string fresh(asio::io_context& dns, std::function<void()> render,
                    std::chrono::milliseconds patience) {
    std::unique_lock lock(mutex_);
    const std::uint64_t before = published_;
    lock.unlock();
    asio::post(dns, std::move(render));
    lock.lock();
    changed_.wait_for(lock, patience, [&] { return published_ != before; });
    return *text_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::shared_ptr<const std::string> text_ = std::make_shared<const std::string>();
  std::uint64_t published_ = 0;
};

// What the config files say, or why not.
struct loaded {
  dns::config servers;
  dns::hosts hosts;
};

std::optional<loaded> load(const dns_forward_options& options) {
  loaded out;
  const std::string& path = options.config_file ? *options.config_file : options.resolv_conf;
  auto text = read_file(path);
  if (!text) {
    log(log_level::error, "cannot read %s", path.c_str());
    return std::nullopt;
  }
  auto parsed = options.config_file ? dns::parse_config(*text) : dns::parse_resolv_conf(*text);
  if (!parsed) {
    log(log_level::error, "%s: %s", path.c_str(), parsed.error().detail.c_str());
    return std::nullopt;
  }
  out.servers = std::move(*parsed);
  // Where the servers came from, so that a surprising upstream can be traced to its file.
  const std::string origin = options.config_file ? "--config " + path : path;
  if (out.servers.servers.empty()) {
    log(log_level::warn, "%s names no server (from %s)", path.c_str(), origin.c_str());
  } else {
    std::string names;
    for (const auto& s : out.servers.servers) {
      if (!names.empty()) names += ", ";
      names += s.address.to_string();
    }
    log(log_level::info, "upstreams %s (from %s)", names.c_str(), origin.c_str());
  }
  for (const auto& s : out.servers.servers) {
    log(log_level::info, "upstream %s (order %d, timeout %lld ms, %zu zones, from %s)",
        s.address.to_string().c_str(), s.order, static_cast<long long>(s.timeout.count()),
        s.zones.size(), origin.c_str());
  }
  if (auto hosts_text = read_file(options.hosts_file)) {
    std::size_t skipped = 0;
    out.hosts = dns::hosts::parse(*hosts_text, &skipped);
    log(log_level::info, "%zu local names from %s (%zu lines skipped)", out.hosts.size(),
        options.hosts_file.c_str(), skipped);
  } else {
    log(log_level::warn, "cannot read %s: no local names", options.hosts_file.c_str());
  }
  return out;
}

// The running daemon: its listeners, and what a signal does to them.
class daemon {
 public:
  daemon(asio::io_context& io, const dns_forward_options& options, loaded initial)
      : io_(io),
        options_(options),
        network_(io.get_executor()),
        resolver_(io.get_executor(), std::move(initial.servers), network_,
                  resolver_options(options), std::move(initial.hosts), time_),
        log_(options.query_log_size),
        server_(resolver_, server_options(options), &log_, time_),
        metrics_work_(metrics_io_.get_executor()),
        stop_signals_(io, SIGINT, SIGTERM),
        reload_signals_(io, SIGHUP),
        dump_signals_(io, SIGUSR1) {}

  bool start() {
    std::vector<std::string> addresses = options_.listen;
    if (addresses.empty()) addresses.push_back("127.0.0.1:1053");
    for (const auto& text : addresses) {
      auto endpoint = net::parse_tcp_endpoint(text);
      if (!endpoint) {
        log(log_level::error, "--listen %s: %s", text.c_str(), endpoint.error().detail.c_str());
        return false;
      }
      const net::udp_endpoint udp_at(endpoint->address(), endpoint->port());
      auto udp = network_.udp_bind(udp_at, {.receive_buffer = options_.udp_receive_buffer});
      if (!udp) {
        log(log_level::error, "cannot listen on udp %s: %s", text.c_str(),
            udp.error().message().c_str());
        return false;
      }
      if (options_.udp_receive_buffer > 0) {
        const std::size_t obtained = (*udp)->receive_buffer_size();
        const bool capped = obtained < options_.udp_receive_buffer;
        log(capped ? log_level::warn : log_level::info,
            "udp %s: receive buffer %zu bytes (asked %zu%s)", net::to_string(udp_at).c_str(),
            obtained, options_.udp_receive_buffer, capped ? "; capped by net.core.rmem_max" : "");
      }
      // Port 0 asks for any free port: TCP takes the one UDP got.
      net::tcp_endpoint tcp_at(endpoint->address(), (*udp)->local_endpoint().port());
      auto tcp = network_.listen(tcp_at, tcp_handler(), listen_options());
      if (!tcp) {
        log(log_level::error, "cannot listen on tcp %s: %s", text.c_str(),
            tcp.error().message().c_str());
        return false;
      }
      log(log_level::info, "listening on %s over UDP and TCP", net::to_string(tcp_at).c_str());
      udp_.push_back(std::move(*udp));
      tcp_.push_back(std::move(*tcp));
    }
    if (options_.metrics) {
      auto endpoint = net::parse_tcp_endpoint(*options_.metrics);
      if (!endpoint) {
        log(log_level::error, "--metrics %s: %s", options_.metrics->c_str(),
            endpoint.error().detail.c_str());
        return false;
      }
      // Scrapes are served by a thread of their own, so that they do not queue behind DNS work.
      auto metrics = socket::listen(metrics_io_.get_executor(), *endpoint, metrics_handler());
      if (!metrics) {
        log(log_level::error, "cannot serve metrics on %s: %s", options_.metrics->c_str(),
            metrics.error().message().c_str());
        return false;
      }
      log(log_level::info, "metrics on http://%s/metrics", options_.metrics->c_str());
      metrics_listener_.emplace(std::move(*metrics));
      publish_metrics();
      metrics_thread_ = std::thread([this] { metrics_io_.run(); });
    }
    for (auto& listener : udp_) {
      asio::co_spawn(io_, server_.serve_udp(*listener), asio::detached);
    }
    asio::co_spawn(io_, watch_stop(this), asio::detached);
    asio::co_spawn(io_, watch_reload(this), asio::detached);
    asio::co_spawn(io_, watch_dump(this), asio::detached);
    return true;
  }

 private:
  static dns::resolver_options resolver_options(const dns_forward_options& o) {
    dns::resolver_options r;
    r.cache_enabled = o.cache_entries > 0;
    r.cache.max_entries = o.cache_entries;
    if (current_level >= log_level::debug) {
      r.hook = [](dns::message_direction d, const dns::message& m, const dns::server_address* s) {
        static const char* const names[] = {"from client", "to upstream", "from upstream",
                                            "to client"};
        std::string question =
            m.questions.empty() ? "(no question)" : m.questions.front().qname.to_string();
        std::string server = s ? " " + s->to_string() : "";
        log(log_level::debug, "%s%s: id %u %s", names[static_cast<int>(d)], server.c_str(),
            m.header.id, question.c_str());
      };
    }
    return r;
  }

  static dns::server_options server_options(const dns_forward_options& o) {
    dns::server_options s;
    s.max_udp_size = o.max_udp_size;
    s.servfail_on_failure = o.servfail_on_failure;
    return s;
  }

  static net::listen_options listen_options() {
    net::listen_options l;
    l.flow.nodelay = true;
    l.flow.read_buffer_size = 16 * 1024;
    l.max_connections = 1024;
    return l;
  }

  net::flow_handler tcp_handler() {
    dns::server* s = &server_;
    return [s](flow& connection) { return serve_connection(s, connection); };
  }

  static asio::awaitable<void> serve_connection(dns::server* s, flow& connection) {
    co_await s->serve_tcp(std::move(connection));
  }

  net::flow_handler metrics_handler() {
    return [this](flow& connection) { return serve_metrics(this, connection); };
  }

  // A scrape waits this long at most for the DNS thread to render a fresh page; a saturated
  // DNS thread then gives a page that lags instead of a scrape that waits behind DNS work.
  static constexpr std::chrono::milliseconds metrics_patience{100};

  // On the metrics thread.
  static asio::awaitable<void> serve_metrics(daemon* self, flow& connection) {
    auto render = [self] {
      return self->metrics_.fresh(
          self->io_, [self] { self->publish_metrics(); }, metrics_patience);
    };
    const http::server_options http_options;
    co_await http::serve(std::move(connection), dns::metrics_page(render), http_options,
                         self->time_);
  }

  // On the DNS thread: the page is rendered where the counters live.
  void publish_metrics() {
    metrics_.publish(resolver_.metrics().prometheus(resolver_.cache().stats()));
  }

  // Stops the metrics thread: its listener is closed on its own thread, then the thread ends.
  void stop_metrics() {
    if (!metrics_thread_.joinable()) return;
    asio::post(metrics_io_, [this] {
      if (metrics_listener_) metrics_listener_->unlisten();
      metrics_work_.reset();
      metrics_io_.stop();
    });
    metrics_thread_.join();
  }

 public:
  ~daemon() { stop_metrics(); }

 private:
  // How long a stop waits for the answers in flight.
  static constexpr std::chrono::seconds drain_patience{5};

  static asio::awaitable<void> watch_stop(daemon* self) {
    auto [ec, number] =
        co_await self->stop_signals_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    log(log_level::info, "signal %d: stopping once the queries in flight are answered", number);
    self->server_.stop();
    for (auto& listener : self->tcp_) listener.unlisten();
    // The UDP sockets stay open until the answers in flight have gone out through them, for a
    // bounded time: a TCP client that stops reading must not hold the daemon up.
    co_await with_timeout(self->server_.drain(), drain_patience, self->time_);
    for (auto& listener : self->udp_) listener->close();
    co_await self->resolver_.close();
    self->reload_signals_.cancel();
    self->dump_signals_.cancel();
    self->stop_metrics();
    self->io_.stop();
  }

  static asio::awaitable<void> watch_reload(daemon* self) {
    while (true) {
      auto [ec, number] = co_await self->reload_signals_.async_wait(
          asio::experimental::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      log(log_level::info, "SIGHUP: reloading");
      auto next = load(self->options_);
      if (!next) {
        log(log_level::error, "reload failed: keeping the configuration in use");
        continue;
      }
      self->resolver_.reconfigure(std::move(next->servers), std::move(next->hosts));
      self->resolver_.cache().clear();
    }
  }

  static asio::awaitable<void> watch_dump(daemon* self) {
    while (true) {
      auto [ec, number] = co_await self->dump_signals_.async_wait(
          asio::experimental::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      std::string text = self->log_.to_string();
      std::fprintf(stderr, "flowstack dns-forward: the last %zu queries:\n%s",
                   self->log_.entries().size(), text.c_str());
    }
  }

  asio::io_context& io_;
  const dns_forward_options& options_;
  clock& time_ = clock::steady();
  socket::stack network_;  // the kernel's: the forwarder runs on any net::stack
  dns::resolver resolver_;
  dns::query_log log_;
  dns::server server_;
  std::vector<std::unique_ptr<net::datagram_socket>> udp_;
  std::vector<net::listener> tcp_;
  metrics_snapshot metrics_;
  asio::io_context metrics_io_;
  asio::executor_work_guard<asio::io_context::executor_type> metrics_work_;
  std::optional<net::listener> metrics_listener_;
  std::thread metrics_thread_;
  asio::signal_set stop_signals_;
  asio::signal_set reload_signals_;
  asio::signal_set dump_signals_;
};

}  // namespace

std::optional<log_level> parse_log_level(const std::string& text) {
  if (text == "error") return log_level::error;
  if (text == "warn") return log_level::warn;
  if (text == "info") return log_level::info;
  if (text == "debug") return log_level::debug;
  return std::nullopt;
}

int run_dns_forward(const dns_forward_options& options) {
  current_level = options.level;
  std::signal(SIGPIPE, SIG_IGN);
  auto initial = load(options);
  if (!initial) return exit_failure;
  asio::io_context io;
  daemon d(io, options, std::move(*initial));
  if (!d.start()) return exit_failure;
  io.run();
  log(log_level::info, "stopped");
  return exit_ok;
}

}  // namespace flowstack::cli
