#include <flowstack/core/combinators.hpp>
#include <flowstack/core/wait_queue.hpp>
#include <flowstack/dns/resolver.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>

#include <algorithm>
#include <map>
#include <utility>

namespace flowstack::dns {

namespace {

// One upstream server: its settings, its two upstreams and whether it answers.
struct server_state {
  explicit server_state(asio::any_io_executor executor) : asks_done(std::move(executor)) {}

  server_config settings;
  std::unique_ptr<upstream> udp;
  std::unique_ptr<upstream> tcp;
  unsigned missed = 0;  // answers missed in a row
  bool online = true;
  std::size_t asking = 0;  // queries the resolver has out to this server
  wait_queue asks_done;    // notified when `asking` falls to zero
};

using server_ptr = std::shared_ptr<server_state>;

// How good an answer is, best last: a group's wait ends at `success`, and a group whose best is
// at least `nodata` decides the query.
enum class rank { failed, other_rcode, nodata, nxdomain, success };

rank rank_of(const message& m) {
  switch (static_cast<rcode>(m.full_rcode())) {
    case rcode::noerror:
      return m.answers.empty() ? rank::nodata : rank::success;
    case rcode::nxdomain:
      return rank::nxdomain;
    default:
      return rank::other_rcode;
  }
}

// Counts one query out to a server for as long as it is out, however it ends.
class asking_guard {
 public:
  explicit asking_guard(server_state& s) : s_(s) { ++s_.asking; }
  asking_guard(const asking_guard&) = delete;
  asking_guard& operator=(const asking_guard&) = delete;
  ~asking_guard() {
    if (--s_.asking == 0) s_.asks_done.notify_all();
  }

 private:
  server_state& s_;
};

// What the servers of one group said about one query, filled in by one task per server.
struct group_wait {
  explicit group_wait(asio::any_io_executor executor) : changed(std::move(executor)) {}

  wait_queue changed;
  std::size_t waiting_for = 0;  // servers (online ones) still to report
  std::optional<message> best;
  std::string best_source;
  rank best_rank = rank::failed;

  void report(result<message> answer, const server_state& server, bool waited_for) {
    if (answer) {
      rank r = rank_of(*answer);
      if (!best || r > best_rank) {
        best_rank = r;
        best = std::move(*answer);
        best_source = server.settings.address.to_string();
      }
    }
    if (waited_for && waiting_for > 0) --waiting_for;
    changed.notify_all();
  }
  bool decided() const noexcept { return best_rank == rank::success || waiting_for == 0; }
};

}  // namespace

struct resolver::state : std::enable_shared_from_this<resolver::state> {
  state(asio::any_io_executor executor, upstream_transport& transport, resolver_options options,
        dns::hosts hosts, clock& time)
      : executor(std::move(executor)),
        transport(transport),
        time(time),
        options(std::move(options)),
        answers(this->options.cache),
        hosts(std::move(hosts)) {}

  asio::any_io_executor executor;
  upstream_transport& transport;
  clock& time;
  resolver_options options;
  dns::cache answers;
  dns::metrics counters;
  dns::hosts hosts;
  config settings;
  std::vector<server_ptr> servers;

  void hook(message_direction d, const message& m, const server_address* s = nullptr) const {
    if (options.hook) options.hook(d, m, s);
  }

  server_ptr make_server(const server_config& settings) {
    auto s = std::make_shared<server_state>(executor);
    s->settings = settings;
    s->udp = make_upstream(executor, upstream_protocol::udp, settings.address, transport,
                           options.upstream, time);
    s->tcp = make_upstream(executor, upstream_protocol::tcp, settings.address, transport,
                           options.upstream, time);
    return s;
  }

  void apply(config c) {
    std::vector<server_ptr> next;
    for (const auto& settings : c.servers) {
      auto kept = std::find_if(servers.begin(), servers.end(), [&](const server_ptr& s) {
        return s && s->settings.address == settings.address;
      });
      if (kept != servers.end()) {
        (*kept)->settings = settings;
        next.push_back(std::move(*kept));
      } else {
        next.push_back(make_server(settings));
      }
    }
    for (auto& gone : servers) {
      if (gone) asio::co_spawn(executor, retire(std::move(gone)), asio::detached);
    }
    servers = std::move(next);
    settings = std::move(c);
  }

  // A server dropped by reconfigure: its queries in flight finish (each within the server's
  // timeout), then it closes.
  static asio::awaitable<void> retire(server_ptr server) {
    while (server->asking > 0) {
      bool woken = co_await server->asks_done.wait();
      if (!woken) break;
    }
    co_await server->udp->close();
    co_await server->tcp->close();
  }

  // The servers to ask about `n`: those whose zones contain it, else those without zones, else
  // all — sorted by order.
  std::vector<server_ptr> servers_for(const name& n) const {
    std::vector<server_ptr> chosen;
    for (const auto& s : servers) {
      const auto& zones = s->settings.zones;
      if (std::any_of(zones.begin(), zones.end(),
                      [&](const name& zone) { return n.is_subdomain_of(zone); })) {
        chosen.push_back(s);
      }
    }
    if (chosen.empty()) {
      for (const auto& s : servers) {
        if (s->settings.zones.empty()) chosen.push_back(s);
      }
    }
    if (chosen.empty()) chosen = servers;
    std::stable_sort(chosen.begin(), chosen.end(), [](const server_ptr& a, const server_ptr& b) {
      return a->settings.order < b->settings.order;
    });
    return chosen;
  }

  std::optional<message> local_answer(const message& query) const {
    const question& q = query.questions.front();
    bool address_type = q.qtype == rr_type::a || q.qtype == rr_type::aaaa;
    const auto& addresses = hosts.lookup(q.qname);
    if (!addresses.empty() && q.qclass == rr_class::in) {
      message m = response_to(query);
      m.header.aa = true;  // the hosts file is the authority for its names
      for (const auto& a : addresses) {
        record r{q.qname, q.qtype, rr_class::in,
                 static_cast<std::uint32_t>(options.local_ttl.count()), rdata_opaque{}};
        if (q.qtype == rr_type::a && a.is_v4()) {
          r.data = rdata_a{a.to_v4().to_bytes()};
        } else if (q.qtype == rr_type::aaaa && a.is_v6()) {
          r.data = rdata_aaaa{a.to_v6().to_bytes()};
        } else {
          continue;
        }
        m.answers.push_back(std::move(r));
      }
      // A name the hosts file knows has no other records: NODATA for the other types.
      if (address_type || m.answers.empty()) return m;
    }
    if (options.local) return options.local(query);
    return std::nullopt;
  }

  void note_answer(server_state& server) {
    server.missed = 0;
    if (!server.online) {
      server.online = true;
      counters.upstream_online(server.settings.address, true);
    }
  }

  void note_miss(server_state& server) {
    ++server.missed;
    auto limit = settings.assume_offline_after;
    if (server.online && limit && server.missed >= *limit) {
      server.online = false;
      counters.upstream_online(server.settings.address, false);
    }
  }

  // Asks one server, over TCP when the client came over TCP or the UDP answer was truncated.
  static asio::awaitable<result<message>> ask(std::shared_ptr<state> self, server_ptr server,
                                              message query, client_protocol via) {
    self->hook(message_direction::to_upstream, query, &server->settings.address);
    upstream& first = via == client_protocol::tcp ? *server->tcp : *server->udp;
    auto answer = co_await first.query(query);
    if (answer && answer->header.tc && via == client_protocol::udp) {
      answer = co_await server->tcp->query(query);
    }
    co_return answer;
  }

  // Asks one server within its timeout and keeps the books: online state, counters, the hook,
  // the cache.
  static asio::awaitable<result<message>> ask_and_note(std::shared_ptr<state> self,
                                                       server_ptr server, const message& query,
                                                       client_protocol via) {
    asking_guard out(*server);
    auto started = self->time.now();
    auto asked = ask(self, server, query, via);
    auto answer = co_await with_timeout(std::move(asked), server->settings.timeout, self->time);
    auto latency =
        std::chrono::duration_cast<std::chrono::microseconds>(self->time.now() - started);
    const auto& address = server->settings.address;
    if (answer) {
      self->note_answer(*server);
      self->counters.upstream_answered(address, latency);
      self->hook(message_direction::from_upstream, *answer, &address);
      if (self->options.cache_enabled) self->answers.insert(query, *answer, self->time.now());
    } else {
      self->note_miss(*server);
      if (answer.error() == make_error_code(flow_errc::timeout)) {
        self->counters.upstream_timed_out(address);
      } else {
        self->counters.upstream_failed(address);
      }
    }
    co_return answer;
  }

  // One server's part in a group of several, run beside the others.
  static asio::awaitable<void> ask_for_group(std::shared_ptr<state> self, server_ptr server,
                                             std::shared_ptr<const message> query,
                                             client_protocol via, std::shared_ptr<group_wait> group,
                                             bool waited_for) {
    auto answer = co_await ask_and_note(self, server, *query, via);
    group->report(std::move(answer), *server, waited_for);
  }

  // Asks one group of servers (one order) at once; returns when the group has decided.
  static asio::awaitable<std::shared_ptr<group_wait>> ask_group(
      std::shared_ptr<state> self, const std::vector<server_ptr>& group, const message& query,
      client_protocol via) {
    auto wait = std::make_shared<group_wait>(self->executor);
    if (group.size() == 1) {
      // The common case needs no task of its own: ask and wait right here.
      auto answer = co_await ask_and_note(self, group.front(), query, via);
      wait->report(std::move(answer), *group.front(), true);
      co_return wait;
    }
    auto shared_query = std::make_shared<const message>(query);
    bool any_online =
        std::any_of(group.begin(), group.end(), [](const server_ptr& s) { return s->online; });
    for (const auto& server : group) {
      // Offline servers are asked too, so live traffic finds out when they return; nobody waits
      // for them unless every server of the group is offline.
      bool waited_for = server->online || !any_online;
      if (waited_for) ++wait->waiting_for;
      asio::co_spawn(self->executor,
                     ask_for_group(self, server, shared_query, via, wait, waited_for),
                     asio::detached);
    }
    while (!wait->decided()) co_await wait->changed.wait();
    co_return wait;
  }
};

resolver::resolver(asio::any_io_executor executor, config c, upstream_transport& transport,
                   resolver_options options, dns::hosts hosts, clock& time)
    : state_(std::make_shared<state>(std::move(executor), transport, std::move(options),
                                     std::move(hosts), time)) {
  state_->apply(std::move(c));
}

resolver::~resolver() = default;

asio::awaitable<result<message>> resolver::resolve(const message& query, client_protocol via,
                                                   std::string* source) {
  auto self = state_;
  if (query.questions.size() != 1) co_return fail(dns_errc::not_a_query);
  self->hook(message_direction::from_client, query);

  auto local = self->local_answer(query);
  if (local) {
    if (source) *source = "local";
    self->hook(message_direction::to_client, *local);
    co_return std::move(*local);
  }
  if (self->options.cache_enabled) {
    auto cached = self->answers.lookup(query, self->time.now());
    if (cached) {
      if (source) *source = "cache";
      self->hook(message_direction::to_client, *cached);
      co_return std::move(*cached);
    }
  }

  auto servers = self->servers_for(query.questions.front().qname);
  std::shared_ptr<group_wait> fallback;
  for (auto begin = servers.begin(); begin != servers.end();) {
    auto end = std::find_if(begin, servers.end(), [&](const server_ptr& s) {
      return s->settings.order != (*begin)->settings.order;
    });
    std::vector<server_ptr> group(begin, end);
    begin = end;
    auto decided = co_await state::ask_group(self, group, query, via);
    if (decided->best_rank >= rank::nodata) {
      fallback = std::move(decided);
      break;
    }
    if (decided->best && (!fallback || decided->best_rank > fallback->best_rank)) {
      fallback = std::move(decided);
    }
  }
  if (!fallback || !fallback->best) co_return fail(dns_errc::no_answer);
  if (source) *source = fallback->best_source;
  self->hook(message_direction::to_client, *fallback->best);
  co_return std::move(*fallback->best);
}

void resolver::reconfigure(config c, std::optional<dns::hosts> hosts) {
  if (hosts) state_->hosts = std::move(*hosts);
  state_->apply(std::move(c));
}

asio::awaitable<void> resolver::close() {
  auto self = state_;
  auto servers = std::move(self->servers);
  self->servers.clear();
  for (auto& s : servers) {
    co_await s->udp->close();
    co_await s->tcp->close();
  }
}

const config& resolver::current_config() const noexcept {
  return state_->settings;
}
dns::cache& resolver::cache() noexcept {
  return state_->answers;
}
dns::metrics& resolver::metrics() noexcept {
  return state_->counters;
}

bool resolver::is_online(const server_address& address) const {
  for (const auto& s : state_->servers) {
    if (s->settings.address == address) return s->online;
  }
  return false;
}

}  // namespace flowstack::dns
