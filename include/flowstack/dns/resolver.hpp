// The forwarder's resolver: one question in, one answer out.
//
// For each query, in turn:
//  1. local names: the hosts file (A and AAAA, class IN; a name it knows with no address of the
//     asked type is NODATA), then the `local` callback;
//  2. the cache;
//  3. the upstream servers. The servers whose zones contain the name are asked, and only those;
//     when no zone matches, the servers without zones (all of them when every server has zones).
//     They are asked group by group in ascending `order`; in a group, every server at once. UDP
//     queries are resent every second until the server's timeout; a UDP answer with TC set is
//     asked again over TCP; a query that came over TCP goes upstream over TCP.
//     A group's answer: the first success (NOERROR with answers) ends the wait at once;
//     otherwise, when every online server of the group has answered or timed out, the best of
//     NXDOMAIN, then NODATA. Without one of those, the next group is asked; after the last,
//     the best other answer (SERVFAIL, REFUSED, …) is returned, or the error no_answer when no
//     server answered at all.
//  A server that misses `assume_offline_after` answers in a row is offline: it is still sent
//  every query (live traffic probes it) but nobody waits for it, and its first answer brings it
//  back.
//
// The answer is the upstream's message as received — authority, additional and OPT sections
// kept — with only the id restored.
//
// Every timeout and resend, the latencies counted and the cache's TTLs run on the clock given
// to the constructor (the steady clock unless a test gives its manual one); it must outlive the
// resolver and the closing of the servers that reconfigure() removed.
#pragma once

#include <flowstack/core/clock.hpp>
#include <flowstack/core/error.hpp>
#include <flowstack/dns/cache.hpp>
#include <flowstack/dns/config.hpp>
#include <flowstack/dns/hosts.hpp>
#include <flowstack/dns/message.hpp>
#include <flowstack/dns/metrics.hpp>
#include <flowstack/dns/transport.hpp>
#include <flowstack/dns/upstream.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace flowstack::dns {

// Which way a message went past the resolver, for the hook.
enum class message_direction {
  from_client,    // a query as the client sent it
  to_upstream,    // a query as sent to `server`
  from_upstream,  // an answer as `server` sent it (id already restored)
  to_client,      // the answer given to the client
};

struct resolver_options {
  bool cache_enabled = true;
  cache_options cache;
  upstream_options upstream;
  std::chrono::seconds local_ttl{0};  // the TTL of answers made from the hosts file
  // Answers a query locally, before the cache and the upstreams; nothing passes it on.
  std::function<std::optional<message>(const message& query)> local;
  // Sees every message; `server` is set for the upstream directions.
  std::function<void(message_direction, const message&, const server_address* server)> hook;
};

class resolver {
 public:
  resolver(asio::any_io_executor executor, config c, upstream_transport& transport,
           resolver_options options = {}, dns::hosts hosts = {}, clock& time = clock::steady());
  ~resolver();
  resolver(const resolver&) = delete;
  resolver& operator=(const resolver&) = delete;

  // The answer to `query` (exactly one question), or the error `no_answer` when every server
  // failed. Where the answer came from goes to `source` ("cache", "local", "10.0.0.2#53").
  asio::awaitable<result<message>> resolve(const message& query, client_protocol via,
                                           std::string* source = nullptr);

  // Takes a new configuration: servers kept by address keep their connections and their state;
  // queries in flight finish with the servers they started with.
  void reconfigure(config c, std::optional<dns::hosts> hosts = std::nullopt);

  // Closes every upstream; queries still waiting fail.
  asio::awaitable<void> close();

  const config& current_config() const noexcept;
  dns::cache& cache() noexcept;
  dns::metrics& metrics() noexcept;
  // Whether the server at `address` is online (false for an unknown address).
  bool is_online(const server_address& address) const;

 private:
  struct state;
  std::shared_ptr<state> state_;
};

}  // namespace flowstack::dns
