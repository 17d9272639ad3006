#include <flowstack/core/wait_queue.hpp>
#include <flowstack/dns/framing.hpp>
#include <flowstack/dns/server.hpp>

#include "timers.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/this_coro.hpp>

#include <algorithm>
#include <list>
#include <optional>
#include <utility>

namespace flowstack::dns {

namespace {

// An answer made here rather than upstream: the query's header and question, and `code`.
// The largest UDP answer the client takes (RFC 6891 §6.2.3 and §6.2.5).
std::size_t udp_limit(const message& query, std::size_t configured) {
  constexpr std::size_t classic = 512;
  if (!query.edns) return classic;
  std::size_t advertised = std::max<std::size_t>(query.edns->udp_payload_size, classic);
  return std::max(classic, std::min(advertised, configured));
}

// One TCP client connection, shared by its reader, its answering tasks and its watchdog.
struct tcp_connection {
  tcp_connection(flow f, asio::any_io_executor executor, clock::duration idle_timeout,
                 clock::time_point now)
      : connection(std::move(f)),
        slot_freed(executor),
        drained(executor),
        idle(idle_timeout, now),
        idle_changed(executor) {}

  flow connection;
  std::size_t pending = 0;  // queries read and not yet answered
  bool ended = false;       // the reader is done
  wait_queue slot_freed;
  wait_queue drained;
  detail::idle_timer idle;  // busy while a query is pending
  wait_queue idle_changed;  // wakes the watchdog: idle or busy again, ended, or the server stopped
};

// The answering tasks of one serve_udp call: they send through its listener.
struct udp_tasks {
  explicit udp_tasks(asio::any_io_executor executor) : drained(std::move(executor)) {}
  std::size_t running = 0;
  wait_queue drained;
};

}  // namespace

struct server::state : std::enable_shared_from_this<server::state> {
  state(dns::resolver& r, server_options o, query_log* l, clock& t)
      : resolver(r), options(std::move(o)), log(l), time(t) {}

  dns::resolver& resolver;
  server_options options;
  query_log* log;
  clock& time;
  bool stopped = false;
  std::size_t in_flight = 0;
  std::size_t answering = 0;  // queries taken whose answer has not been handed over yet
  // Notified when `answering` falls to zero; made by the first drain().
  std::optional<wait_queue> answered_all;
  std::size_t tcp_connections = 0;
  std::list<std::weak_ptr<tcp_connection>> connections;

  dns::metrics& counters() { return resolver.metrics(); }

  // Counts one answering task for as long as it runs, however it ends.
  class answering_guard {
   public:
    explicit answering_guard(state& s) : s_(s) { ++s_.answering; }
    answering_guard(const answering_guard&) = delete;
    answering_guard& operator=(const answering_guard&) = delete;
    ~answering_guard() {
      if (--s_.answering == 0 && s_.answered_all) s_.answered_all->notify_all();
    }

   private:
    state& s_;
  };

  std::optional<buffer> finish(const message& response, const message& query, client_protocol via,
                               const std::string& peer, const std::string& source,
                               clock::time_point started) {
    std::size_t limit =
        via == client_protocol::udp ? udp_limit(query, options.max_udp_size) : std::size_t{65535};
    message sent = response;
    sent.header.id = query.header.id;
    // RFC 6891 §7: an OPT record in the answer exactly when the query had one.
    if (!query.edns) {
      sent.edns.reset();
    } else if (!sent.edns) {
      sent.edns = dns::edns{};
      sent.edns->udp_payload_size = static_cast<std::uint16_t>(options.max_udp_size);
    }
    auto wire = encode(sent, encode_options{limit});
    if (!wire) {
      counters().query_dropped(via, "unencodable");
      return std::nullopt;
    }
    auto latency = std::chrono::duration_cast<std::chrono::microseconds>(time.now() - started);
    counters().query_answered(via, sent.full_rcode(), latency);
    if (log && !query.questions.empty()) {
      log->record(query_record{std::chrono::system_clock::now(),
                               std::string(to_string(via)) + " " + peer, query.questions.front(),
                               sent.full_rcode(), source, latency});
    }
    return buffer::copy_of(std::as_bytes(std::span(*wire)));
  }

  // RFC 1035 §4.1.1: FORMERR for a query that cannot be read, when its header can.
  std::optional<buffer> format_error(const buffer& wire, client_protocol via) {
    if (wire.size() < 12 || (wire.get_u8(2) & 0x80) != 0) {
      counters().query_dropped(via, "malformed");
      return std::nullopt;
    }
    message m;
    m.header.id = wire.get_be16(0);
    m.header.qr = true;
    m.header.op = static_cast<opcode>((wire.get_u8(2) >> 3) & 0x0f);
    m.header.rd = (wire.get_u8(2) & 0x01) != 0;
    m.set_rcode(static_cast<std::uint16_t>(rcode::formerr));
    auto encoded = encode(m);
    counters().query_answered(via, m.full_rcode(), std::chrono::microseconds{0});
    return buffer::copy_of(std::as_bytes(std::span(*encoded)));
  }

  static asio::awaitable<std::optional<buffer>> answer(std::shared_ptr<state> self, buffer wire,
                                                       client_protocol via, std::string peer) {
    auto started = self->time.now();
    auto decoded = decode(wire);
    if (!decoded) co_return self->format_error(wire, via);
    const message& query = *decoded;
    if (query.header.qr) {
      self->counters().query_dropped(via, "not_a_query");
      co_return std::nullopt;
    }
    if (query.header.op != opcode::query) {
      co_return self->finish(response_to(query, rcode::notimp), query, via, peer, "local", started);
    }
    if (query.questions.size() != 1) {
      co_return self->finish(response_to(query, rcode::formerr), query, via, peer, "local",
                             started);
    }
    if (self->stopped || self->in_flight >= self->options.max_in_flight) {
      co_return self->finish(response_to(query, rcode::refused), query, via, peer, "overload",
                             started);
    }

    ++self->in_flight;
    std::string source = "none";
    // No deadline here: the resolver gives up after its servers' timeouts.
    auto resolved = co_await self->resolver.resolve(query, via, &source);
    --self->in_flight;
    if (resolved) co_return self->finish(*resolved, query, via, peer, source, started);
    if (!self->options.servfail_on_failure) {
      self->counters().query_dropped(via, "no_upstream");
      co_return std::nullopt;
    }
    co_return self->finish(response_to(query, rcode::servfail), query, via, peer, "none", started);
  }

  static asio::awaitable<void> answer_datagram(std::shared_ptr<state> self,
                                               datagram_listener& listener,
                                               std::shared_ptr<udp_tasks> tasks,
                                               client_datagram datagram) {
    answering_guard busy(*self);
    std::string peer =
        datagram.from.address().to_string() + ":" + std::to_string(datagram.from.port());
    auto out = co_await answer(self, std::move(datagram.data), client_protocol::udp, peer);
    if (out) co_await listener.send_to(std::move(*out), datagram.from);
    if (--tasks->running == 0) tasks->drained.notify_all();
  }

  static asio::awaitable<void> answer_stream(std::shared_ptr<state> self,
                                             std::shared_ptr<tcp_connection> c, buffer wire,
                                             std::string peer) {
    answering_guard busy(*self);
    auto out = co_await answer(self, std::move(wire), client_protocol::tcp, peer);
    if (out) co_await write_tcp_message(c->connection, std::move(*out));
    --c->pending;
    c->slot_freed.notify_all();
    c->drained.notify_all();
    // The idle time counts from the last answer.
    if (c->pending == 0) {
      c->idle.idle(self->time.now());
      c->idle_changed.notify_all();
    }
  }

  // RFC 7766 §6.2.3: a connection with no query pending is closed after the idle timeout, and at
  // once when the server stops.
  static asio::awaitable<void> watch_idle(std::shared_ptr<state> self,
                                          std::shared_ptr<tcp_connection> c) {
    using namespace asio::experimental::awaitable_operators;
    while (!c->ended) {
      if (c->idle.is_idle() && (self->stopped || c->idle.expired(self->time.now()))) {
        co_await c->connection.close();
        co_return;
      }
      if (auto deadline = c->idle.deadline()) {
        co_await (self->time.wait_until(*deadline) || c->idle_changed.wait());
      } else {
        co_await c->idle_changed.wait();
      }
    }
  }
};

server::server(dns::resolver& resolver, server_options options, query_log* log, clock& time)
    : state_(std::make_shared<state>(resolver, std::move(options), log, time)) {}

server::~server() = default;

asio::awaitable<std::optional<buffer>> server::answer(buffer query, client_protocol via,
                                                      std::string peer) {
  return state::answer(state_, std::move(query), via, std::move(peer));
}

asio::awaitable<void> server::serve_udp(datagram_listener& listener) {
  auto self = state_;
  auto executor = co_await asio::this_coro::executor;
  auto tasks = std::make_shared<udp_tasks>(executor);
  while (!self->stopped) {
    auto datagram = co_await listener.receive_from();
    if (!datagram) {
      // A closed listener ends the loop; anything else (an ICMP error reported on the socket)
      // concerns one datagram only.
      if (datagram.error() == asio::error::operation_aborted ||
          datagram.error() == make_error_code(flow_errc::closed) ||
          datagram.error() == asio::error::bad_descriptor) {
        break;
      }
      continue;
    }
    ++tasks->running;
    asio::co_spawn(executor, state::answer_datagram(self, listener, tasks, std::move(*datagram)),
                   asio::detached);
  }
  // The answering tasks use the listener: it must outlive them.
  while (tasks->running > 0) co_await tasks->drained.wait();
}

asio::awaitable<void> server::serve_tcp(flow connection, std::string peer) {
  auto self = state_;
  auto executor = co_await asio::this_coro::executor;
  if (self->stopped || self->tcp_connections >= self->options.max_tcp_connections) {
    self->counters().query_dropped(client_protocol::tcp, "connection_limit");
    co_await connection.close();
    co_return;
  }
  ++self->tcp_connections;
  auto c = std::make_shared<tcp_connection>(std::move(connection), executor,
                                            self->options.tcp_idle_timeout, self->time.now());
  self->connections.push_back(c);
  auto registered = std::prev(self->connections.end());
  asio::co_spawn(executor, state::watch_idle(self, c), asio::detached);

  while (true) {
    if (c->pending >= self->options.max_queries_per_connection) {
      co_await c->slot_freed.wait();
      continue;
    }
    auto message = co_await read_tcp_message(c->connection);
    if (!message || !*message) break;  // eof, an error, or closed by the watchdog
    ++c->pending;
    if (c->idle.is_idle()) {
      c->idle.busy();
      c->idle_changed.notify_all();
    }
    asio::co_spawn(executor, state::answer_stream(self, c, std::move(**message), peer),
                   asio::detached);
  }
  // No more queries; the ones read are still answered (RFC 7766 §6.2.4).
  while (c->pending > 0) co_await c->drained.wait();
  c->ended = true;
  c->idle_changed.notify_all();
  co_await c->connection.close();
  self->connections.erase(registered);
  --self->tcp_connections;
}

bool server::accepts_tcp() const noexcept {
  return !state_->stopped && state_->tcp_connections < state_->options.max_tcp_connections;
}

void server::stop() {
  state_->stopped = true;
  for (auto& weak : state_->connections) {
    if (auto c = weak.lock()) c->idle_changed.notify_all();
  }
}

asio::awaitable<void> server::drain() {
  auto self = state_;
  if (!self->answered_all) self->answered_all.emplace(co_await asio::this_coro::executor);
  while (self->answering > 0) {
    bool woken = co_await self->answered_all->wait();
    if (!woken) co_return;
  }
}

std::size_t server::in_flight() const noexcept {
  return state_->in_flight;
}

}  // namespace flowstack::dns
