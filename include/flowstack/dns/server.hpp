// The forwarder's client side: queries over UDP and TCP, each handled concurrently.
//
// UDP: one datagram a query. An answer larger than the client can take — 512 octets without
// EDNS, else its advertised payload size (at least 512), capped by `max_udp_size` — is cut at a
// record boundary with TC set, and the client asks again over TCP (RFC 1035 §4.2.1, RFC 6891
// §6.2.5).
// TCP (RFC 7766): many queries on one connection, answered as they complete, so out of order
// (§6.2.1.1); a connection idle for `tcp_idle_timeout` is closed (§6.2.3); at most
// `max_tcp_connections` connections and `max_queries_per_connection` queries waiting on one.
//
// A message that is not a query is dropped; a query that does not decode but has a header gets
// FORMERR; zero or several questions get FORMERR; an opcode other than QUERY gets NOTIMP. More
// than `max_in_flight` queries at once are answered REFUSED at once, not queued. When every
// upstream fails the client gets SERVFAIL, or nothing when `servfail_on_failure` is false.
#pragma once

#include <flowstack/core/clock.hpp>
#include <flowstack/core/flow.hpp>
#include <flowstack/dns/message.hpp>
#include <flowstack/dns/metrics.hpp>
#include <flowstack/dns/resolver.hpp>
#include <flowstack/dns/transport.hpp>

#include <asio/awaitable.hpp>
#include <asio/ip/udp.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace flowstack::dns {

struct server_options {
  std::size_t max_udp_size = 1232;  // RFC 9715's default: no IP fragmentation
  std::size_t max_in_flight = 10'000;
  std::size_t max_tcp_connections = 1'000;
  std::size_t max_queries_per_connection = 100;
  std::chrono::milliseconds tcp_idle_timeout{10'000};
  bool servfail_on_failure = true;
};

class server {
 public:
  // The idle timeouts and the latencies counted run on `time`, which must outlive the server.
  server(dns::resolver& resolver, server_options options = {}, query_log* log = nullptr,
         clock& time = clock::steady());
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Serves datagrams from `listener` until it is closed (after stop(), new queries get REFUSED),
  // then waits for the answers still being sent through it.
  asio::awaitable<void> serve_udp(datagram_listener& listener);

  // Serves one TCP connection until the client closes it, it idles out, or stop() is called.
  // `peer` names the client in the query log.
  asio::awaitable<void> serve_tcp(flow connection, std::string peer);

  // Whether another TCP connection may be served now (max_tcp_connections).
  bool accepts_tcp() const noexcept;

  // Stops taking queries; queries in flight still get their answers.
  void stop();

  // Waits until every query taken has its answer handed to its listener or connection (or
  // given up), e.g. after stop() before closing the listeners. Cancellable (with_timeout).
  asio::awaitable<void> drain();

  std::size_t in_flight() const noexcept;

  // The answer to one client message, as the server would send it; nothing for a message that
  // gets no answer. Exposed for tests and for transports other than UDP and TCP.
  asio::awaitable<std::optional<buffer>> answer(buffer query, client_protocol via,
                                                std::string peer);

 private:
  struct state;
  std::shared_ptr<state> state_;
};

}  // namespace flowstack::dns
