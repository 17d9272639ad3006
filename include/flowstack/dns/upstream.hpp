// Asking one upstream server, over UDP or over TCP.
//
// Both kinds give every query a fresh id from a CSPRNG, never one already in flight to that
// server, and accept only an answer that matches the id *and* the question (name
// case-insensitively, type, class); anything else is dropped and the wait goes on (RFC 5452).
// The answer comes back with the caller's id restored and nothing else changed.
//
// A query has no deadline of its own: wrap it in with_timeout (core/combinators.hpp). Cancelling
// it frees its id and its socket at once.
//
// UDP: one datagram channel per query (a fresh random source port), the query resent every
// `resend_interval` until it is answered or cancelled.
// TCP: one connection carries every query in flight at once; answers may come in any order.
// The connection is opened on first use, closed after `idle_timeout` without queries, and
// reopened when needed; a failed write reconnects and retries once; when the connection ends,
// every query waiting on it fails at once.
//
// At most `max_in_flight` queries wait on one upstream; more wait for a turn (back-pressure),
// as long as their caller lets them.
//
// The resends and the idle timeout run on the clock given to make_upstream (a test's manual
// clock makes them happen when the test says).
//
// Lifetime: await close() before destroying an upstream; close() returns once every query()
// call has left and every connection task has ended. The transport must outlive the upstream,
// and the clock every connection task too (without close() they end on their own, later).
#pragma once

#include <flowstack/core/clock.hpp>
#include <flowstack/core/error.hpp>
#include <flowstack/dns/config.hpp>
#include <flowstack/dns/message.hpp>
#include <flowstack/dns/transport.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <memory>

namespace flowstack::dns {

enum class upstream_protocol { udp, tcp };

struct upstream_options {
  std::size_t max_in_flight = 1024;
  std::chrono::milliseconds resend_interval{1000};  // UDP only
  std::chrono::milliseconds idle_timeout{10'000};   // TCP only
};

class upstream {
 public:
  virtual ~upstream() = default;

  // Sends `query` (one question) and waits for its answer. Errors: the transport's, or
  // flow_errc::closed when close() was called or the TCP connection ended.
  // Also flow_errc::invalid_argument for a query without exactly one question, and
  // flow_errc::cancelled when the caller cancelled it (with_timeout turns that into timeout).
  virtual asio::awaitable<result<message>> query(const message& query) = 0;

  // Fails every waiting query with flow_errc::closed and closes the connection or sockets.
  virtual asio::awaitable<void> close() = 0;

  virtual const server_address& address() const noexcept = 0;
  virtual std::size_t in_flight() const noexcept = 0;
};

std::unique_ptr<upstream> make_upstream(asio::any_io_executor executor, upstream_protocol protocol,
                                        server_address server, upstream_transport& transport,
                                        upstream_options options = {},
                                        clock& time = clock::steady());

}  // namespace flowstack::dns
