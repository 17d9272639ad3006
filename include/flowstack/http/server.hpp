// An HTTP/1.1 endpoint that serves one page (a metrics scrape, a status text) over any flow, any
// listener and any network stack.
#pragma once

#include <flowstack/core/clock.hpp>
#include <flowstack/core/flow.hpp>
#include <flowstack/http/request.hpp>
#include <flowstack/net/address.hpp>
#include <flowstack/net/listener.hpp>
#include <flowstack/net/options.hpp>
#include <flowstack/net/stack.hpp>

#include <asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <string>

namespace flowstack::http {

// What the endpoint serves: GET and HEAD of `path` answer `render()`, rendered afresh for each
// request, as `content_type`.
struct page {
  std::string path;
  std::string content_type = "text/plain; charset=utf-8";
  std::function<std::string()> render;
};

struct server_options {
  clock::duration read_timeout = std::chrono::seconds(10);   // per request head, all of it
  clock::duration write_timeout = std::chrono::seconds(10);  // per response
  http::limits limits;
};

// Answers HTTP/1.1 requests on `connection` until the client closes it or sends garbage: the
// page's path gets the page, other paths 404, other methods 405, a malformed request 400, 414,
// 431, 501 or 505 (http/request.hpp) and the connection closed after it.
// Keep-alive as HTTP/1.1 says (RFC 9112 §9.3), `Connection: close` honoured, pipelined requests
// answered in order. A request head must arrive within the limits and within `read_timeout` on
// `time`, counted from when the server starts waiting for it: a client that trickles octets, or
// never ends its head, is disconnected then without an answer.
// After an answer that closes, the server stops sending and drops what the client still sends
// for a second at most, so that the kernel does not reset the connection over unread input.
asio::awaitable<void> serve(flow connection, page served, server_options options = {},
                            clock& time = clock::steady());

// serve() as a handler for any listener (net::serve, a stack's listen). `time` must outlive the
// handler and the connections it serves.
net::flow_handler handler(page served, server_options options = {}, clock& time = clock::steady());

// Listens on `local` of `on` and serves `served` on every connection it accepts.
result<net::listener> listen(net::stack& on, net::tcp_endpoint local, page served,
                             server_options options = {}, clock& time = clock::steady(),
                             net::listen_options listening = {});

}  // namespace flowstack::http
