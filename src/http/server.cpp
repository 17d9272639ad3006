// The HTTP/1.1 endpoint of http/server.hpp: read a head, answer it, until the connection ends.
#include <flowstack/core/combinators.hpp>
#include <flowstack/http/server.hpp>

#include <string_view>
#include <utility>

namespace flowstack::http {

using namespace std::chrono_literals;

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

// The answer to a request the server will not read to its end; the connection closes after it.
response refusal(int status) {
  switch (status) {
    case 414:
      return {.status = 414,
              .reason = "URI Too Long",
              .body = "the request line is too long\n",
              .close = true};
    case 431:
      return {.status = 431,
              .reason = "Request Header Fields Too Large",
              .body = "the request head is too large\n",
              .close = true};
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

response answer(const request& req, const page& served) {
  const bool get = req.method == "GET";
  const bool head = req.method == "HEAD";
  response r;
  if (req.path != served.path) {
    r = {.status = 404, .reason = "Not Found", .body = "not found: try " + served.path + "\n"};
  } else if (!get && !head) {
    r = {.status = 405,
         .reason = "Method Not Allowed",
         .body = "only GET and HEAD are served\n",
         .extra = "Allow: GET, HEAD\r\n"};
  } else {
    r.status = 200;
    r.reason = "OK";
    r.body = served.render();
    r.content_type = served.content_type;
  }
  r.head_only = head;
  // A request with a body: rather than read and skip it, answer and close (RFC 9112 §9.6).
  r.close = !req.keep_alive || req.content_length != 0;
  r.keep_alive_1_0 = req.version_minor == 0;
  return r;
}

asio::awaitable<bool> send(flow& connection, const response& r, clock::duration timeout,
                           clock& time) {
  auto op = connection.write(buffer::of_string(serialize(r)));
  auto written = co_await with_timeout(std::move(op), timeout, time);
  co_return written.has_value();
}

// Ends the connection after an answer that closes it: stop sending, then read and drop what the
// client still sends for a moment, so that the kernel does not reset the connection (and lose
// the response) over unread input.
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

// What reading one request head gave: its length in `pending`, a refusal to send, or nothing
// (the client left, failed or ran out of time).
struct head_read {
  std::size_t length = 0;
  std::optional<parse_error> refused;
  bool gone = false;
};

// Reads into `pending` until it holds a whole head, breaks a limit, can no longer become a
// request, or the deadline passes.
asio::awaitable<head_read> read_head(flow& connection, std::string& pending,
                                     const server_options& options, clock& time) {
  const auto deadline = time.now() + options.read_timeout;
  std::size_t end = find_head_end(pending);
  while (end == std::string::npos) {
    if (auto broken = check_limits(pending, options.limits)) co_return head_read{.refused = broken};
    if (!plausible_request_start(pending))
      co_return head_read{.refused = parse_error{400, "not the start of an HTTP request"}};
    auto left = deadline - time.now();
    if (left <= clock::duration::zero()) co_return head_read{.gone = true};
    auto op = connection.read();
    auto r = co_await with_timeout(std::move(op), left, time);
    // Timed out, failed, or the client is done: nothing to answer.
    if (!r || r->is_eof()) co_return head_read{.gone = true};
    // Search only the new bytes (and three before them, for a blank line cut in two).
    const std::size_t from = pending.size() < 3 ? 0 : pending.size() - 3;
    pending += r->data().as_string_view();
    auto found = find_head_end(std::string_view(pending).substr(from));
    if (found != std::string::npos) end = from + found;
  }
  co_return head_read{.length = end};
}

asio::awaitable<void> serve_accepted(page served, server_options options, clock* time,
                                     flow& connection) {
  co_await serve(std::move(connection), std::move(served), options, *time);
}

}  // namespace

asio::awaitable<void> serve(flow connection, page served, server_options options, clock& time) {
  std::string pending;  // bytes read and not yet parsed: the start of the next request
  for (;;) {
    head_read head = co_await read_head(connection, pending, options, time);
    if (head.gone) {
      co_await connection.close();
      co_return;
    }
    if (!head.refused) {
      auto req = parse_request(std::string_view(pending).substr(0, head.length), options.limits);
      pending.erase(0, head.length);
      if (!req) head.refused = std::move(req.error());
      if (req) {
        const response r = answer(*req, served);
        bool sent = co_await send(connection, r, options.write_timeout, time);
        if (!sent) {
          co_await connection.close();
          co_return;
        }
        if (r.close) {
          co_await linger_and_close(connection, time);
          co_return;
        }
        continue;
      }
    }
    const response bad = refusal(head.refused->status);
    co_await send(connection, bad, options.write_timeout, time);  // closing either way
    co_await linger_and_close(connection, time);
    co_return;
  }
}

net::flow_handler handler(page served, server_options options, clock& time) {
  clock* t = &time;
  return [served = std::move(served), options, t](flow& connection) {
    return serve_accepted(served, options, t, connection);
  };
}

result<net::listener> listen(net::stack& on, net::tcp_endpoint local, page served,
                             server_options options, clock& time, net::listen_options listening) {
  return on.listen(local, handler(std::move(served), options, time), std::move(listening));
}

}  // namespace flowstack::http
