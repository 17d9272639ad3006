// The endpoint over an in-memory flow pair: what it answers, and when it gives up on a client.
#include <gtest/gtest.h>

#include <flowstack/core/memory_flow.hpp>
#include <flowstack/http/server.hpp>
#include <flowstack/socket/stack.hpp>

#include "support/async.hpp"
#include "support/run.hpp"
#include "support/virtual_time.hpp"

namespace flowstack::http {
namespace {

using namespace std::chrono_literals;

const std::string body = "flowstack_dns_cache_hits_total 7\n";

page metrics() {
  return {.path = "/metrics",
          .content_type = "text/plain; version=0.0.4; charset=utf-8",
          .render = [] { return body; }};
}

std::string ok_response(bool close, bool with_body = true, std::string_view connection = "") {
  std::string text =
      "HTTP/1.1 200 OK\r\n"
      "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n";
  if (close) text += "Connection: close\r\n";
  if (!connection.empty()) text += "Connection: " + std::string(connection) + "\r\n";
  text += "\r\n";
  if (with_body) text += body;
  return text;
}

const std::string not_found =
    "HTTP/1.1 404 Not Found\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 24\r\n"
    "\r\n"
    "not found: try /metrics\n";

const std::string bad_request =
    "HTTP/1.1 400 Bad Request\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 12\r\n"
    "Connection: close\r\n"
    "\r\n"
    "bad request\n";

asio::awaitable<bool> serve_metrics(flow connection, server_options options, clock& time) {
  co_await serve(std::move(connection), metrics(), options, time);
  co_return true;
}

struct exchange_options {
  std::vector<std::string> pieces;  // written one after another
  bool one_byte_reads = false;      // the server reads one octet at a time
  bool half_close = false;          // shutdown(write) after the pieces
  server_options server;
};

// Writes the pieces, then reads everything the server sends until it closes the connection.
asio::awaitable<std::string> exchange(asio::any_io_executor ex, exchange_options o, clock& time) {
  auto ends = memory_pair(ex);
  flow client = std::move(ends.first);
  flow server = std::move(ends.second);
  if (o.one_byte_reads) server.as<memory_flow>()->cut_reads(1);
  test::background<bool> served(ex, serve_metrics(std::move(server), o.server, time));
  for (const auto& piece : o.pieces) {
    auto written = co_await test::write_string(client, piece);
    if (!written) break;  // the server closed early: what it sent says why
  }
  if (o.half_close) co_await client.shutdown(shutdown_mode::write);
  auto text = co_await test::read_all(client);
  co_await client.close();
  bool done = co_await served.get();
  EXPECT_TRUE(done);
  if (!text) co_return "<error: " + text.error().message() + ">";
  co_return *text;
}

std::string exchange_of(std::vector<std::string> pieces) {
  return test::run_on_manual_clock([pieces](asio::any_io_executor ex, manual_clock& time) {
    exchange_options o;
    o.pieces = pieces;
    return exchange(ex, o, time);
  });
}

TEST(http_server, get_metrics_answers_the_page) {
  EXPECT_EQ(exchange_of({"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"}),
            ok_response(true));
}

TEST(http_server, head_answers_the_headers_without_the_body) {
  EXPECT_EQ(exchange_of({"HEAD /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"}),
            ok_response(true, false));
}

TEST(http_server, query_string_and_absolute_form_reach_the_page) {
  EXPECT_EQ(exchange_of({"GET http://localhost:9153/metrics?x=1 HTTP/1.1\r\nHost: "
                         "localhost\r\nConnection: close\r\n\r\n"}),
            ok_response(true));
}

TEST(http_server, other_path_is_404) {
  EXPECT_EQ(exchange_of({"GET /stats HTTP/1.1\r\nHost: h\r\n\r\n",
                         "GET /metrics HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"}),
            not_found + ok_response(true));
}

TEST(http_server, other_method_is_405_with_allow) {
  EXPECT_EQ(exchange_of({"DELETE /metrics HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"}),
            "HTTP/1.1 405 Method Not Allowed\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 29\r\n"
            "Allow: GET, HEAD\r\n"
            "Connection: close\r\n"
            "\r\n"
            "only GET and HEAD are served\n");
}

TEST(http_server, request_with_a_body_is_answered_then_closed) {
  auto text = exchange_of({"POST /metrics HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"});
  EXPECT_TRUE(text.starts_with("HTTP/1.1 405 Method Not Allowed\r\n")) << text;
  EXPECT_NE(text.find("Connection: close\r\n"), std::string::npos);
}

TEST(http_server, garbage_is_400_and_closed) {
  EXPECT_EQ(exchange_of({"hello there\r\n\r\n"}), bad_request);
}

TEST(http_server, binary_garbage_is_400_at_once) {
  // A TLS ClientHello's first octets: no blank line will ever come, and none is waited for.
  EXPECT_EQ(exchange_of({std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11)}),
            bad_request);
}

TEST(http_server, bare_lf_line_ends_are_400) {
  EXPECT_EQ(exchange_of({"GET /metrics HTTP/1.1\nHost: h\n\n"}), bad_request);
}

TEST(http_server, http_1_1_without_host_is_400) {
  EXPECT_EQ(exchange_of({"GET /metrics HTTP/1.1\r\n\r\n"}), bad_request);
}

TEST(http_server, unsupported_version_is_505) {
  auto text = exchange_of({"GET /metrics HTTP/2.0\r\nHost: h\r\n\r\n"});
  EXPECT_TRUE(text.starts_with("HTTP/1.1 505 HTTP Version Not Supported\r\n")) << text;
}

// A request head of exactly `size` octets.
std::string head_of_size(std::size_t size) {
  std::string start = "GET /metrics HTTP/1.1\r\nHost: h\r\nConnection: close\r\nX-Pad: ";
  std::string end = "\r\n\r\n";
  return start + std::string(size - start.size() - end.size(), 'a') + end;
}

TEST(http_server, head_of_8_kib_is_served) {
  EXPECT_EQ(exchange_of({head_of_size(8192)}), ok_response(true));
}

std::string refusal(int status, std::string_view reason, std::string_view body) {
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
         "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + std::string(body);
}

const std::string head_too_large =
    refusal(431, "Request Header Fields Too Large", "the request head is too large\n");
const std::string line_too_long = refusal(414, "URI Too Long", "the request line is too long\n");

TEST(http_server, head_over_8_kib_is_431_and_closed) {
  EXPECT_EQ(exchange_of({head_of_size(8193)}), head_too_large);
}

TEST(http_server, endless_header_is_431_before_its_end) {
  std::string start = "GET /metrics HTTP/1.1\r\nHost: h\r\nX-Pad: ";
  // 16 KiB of one header line, never ended: the server answers once 8 KiB are in.
  EXPECT_EQ(exchange_of({start, std::string(16 * 1024, 'a')}), head_too_large);
}

TEST(http_server, request_line_of_4_kib_is_served) {
  std::string target = "/metrics?" + std::string(4096 - 9 - 13, 'q');  // "GET " and " HTTP/1.1"
  EXPECT_EQ(exchange_of({"GET " + target + " HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"}),
            ok_response(true));
}

TEST(http_server, request_line_over_4_kib_is_414_before_its_end) {
  // The line never ends; the server answers once it is longer than it will read.
  EXPECT_EQ(exchange_of({"GET /metrics?" + std::string(8 * 1024, 'q')}), line_too_long);
}

std::string fields(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += "X-" + std::to_string(i) + ": v\r\n";
  return out;
}

TEST(http_server, hundred_header_fields_are_served) {
  EXPECT_EQ(exchange_of({"GET /metrics HTTP/1.1\r\nHost: h\r\nConnection: close\r\n" + fields(98) +
                         "\r\n"}),
            ok_response(true));
}

TEST(http_server, too_many_header_fields_is_431) {
  EXPECT_EQ(exchange_of({"GET /metrics HTTP/1.1\r\nHost: h\r\n" + fields(100) + "\r\n"}),
            head_too_large);
}

TEST(http_server, too_many_header_fields_is_431_before_the_head_ends) {
  // No blank line comes: the 101st field line is enough to answer.
  EXPECT_EQ(exchange_of({"GET /metrics HTTP/1.1\r\nHost: h\r\n" + fields(100)}), head_too_large);
}

TEST(http_server, request_split_in_one_byte_pieces) {
  std::string request = "GET /metrics HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  auto text = test::run_on_manual_clock([request](asio::any_io_executor ex, manual_clock& time) {
    exchange_options o;
    for (char c : request) o.pieces.emplace_back(1, c);
    o.one_byte_reads = true;
    return exchange(ex, o, time);
  });
  EXPECT_EQ(text, ok_response(true));
}

TEST(http_server, two_pipelined_requests_on_one_connection) {
  EXPECT_EQ(exchange_of({"GET /nope HTTP/1.1\r\nHost: h\r\n\r\n"
                         "GET /metrics HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"}),
            not_found + ok_response(true));
}

TEST(http_server, pipelined_requests_read_one_byte_at_a_time) {
  auto text = test::run_on_manual_clock([](asio::any_io_executor ex, manual_clock& time) {
    exchange_options o;
    o.pieces = {
        "GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n"
        "HEAD /metrics HTTP/1.1\r\nHost: h\r\n\r\n"
        "GET /metrics HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"};
    o.one_byte_reads = true;
    return exchange(ex, o, time);
  });
  EXPECT_EQ(text, ok_response(false) + ok_response(false, false) + ok_response(true));
}

TEST(http_server, keep_alive_connection_serves_requests_one_after_another) {
  auto ok = test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<bool> {
        auto ends = memory_pair(ex);
        flow client = std::move(ends.first);
        server_options options;
        test::background<bool> served(ex, serve_metrics(std::move(ends.second), options, time));
        for (int i = 0; i < 3; ++i) {
          auto w = co_await test::write_string(client, "GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n");
          EXPECT_TRUE(w);
          const std::string expected = ok_response(false);
          auto got = co_await test::read_string(client, expected.size());
          EXPECT_EQ(got.value_or("<error>"), expected);
        }
        co_await client.close();  // the client leaves: the server ends without a word
        bool done = co_await served.get();
        co_return done;
      });
  EXPECT_TRUE(ok);
}

TEST(http_server, http_1_0_closes_after_the_answer) {
  EXPECT_EQ(exchange_of({"GET /metrics HTTP/1.0\r\n\r\n"}), ok_response(true));
}

TEST(http_server, http_1_0_keep_alive_stays_open) {
  EXPECT_EQ(exchange_of({"GET /metrics HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                         "GET /metrics HTTP/1.0\r\n\r\n"}),
            ok_response(false, true, "keep-alive") + ok_response(true));
}

TEST(http_server, idle_client_is_disconnected_after_the_read_timeout) {
  auto text = test::run_on_manual_clock([](asio::any_io_executor ex, manual_clock& time) {
    exchange_options o;
    o.server.read_timeout = 50ms;
    return exchange(ex, o, time);
  });
  EXPECT_EQ(text, "");
}

TEST(http_server, request_that_arrives_just_before_the_read_timeout_is_served) {
  auto text = test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<std::string> {
        auto ends = memory_pair(ex);
        flow client = std::move(ends.first);
        server_options options;
        options.read_timeout = 50ms;
        test::background<bool> served(ex, serve_metrics(std::move(ends.second), options, time));
        co_await time.wait_for(50ms - 1ns);
        auto w = co_await test::write_string(
            client, "GET /metrics HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
        EXPECT_TRUE(w);
        auto got = co_await test::read_all(client);
        co_await client.close();
        bool done = co_await served.get();
        EXPECT_TRUE(done);
        co_return got.value_or("<error>");
      });
  EXPECT_EQ(text, ok_response(true));
}

// What a client that sends `piece` every 10 ms, and never ends its head, gets from a server with
// a 100 ms read timeout, and when the server cut it (after the client's first piece).
struct trickled {
  std::string text;
  clock::duration cut_after{};
};

// Serves one connection and says when it ended.
asio::awaitable<clock::time_point> serve_then_tell_when(flow connection, server_options options,
                                                        clock& time) {
  co_await serve(std::move(connection), metrics(), options, time);
  co_return time.now();
}

trickled trickle(std::string first, std::string piece) {
  return test::run_on_manual_clock(
      [first, piece](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<trickled> {
        auto ends = memory_pair(ex);
        flow client = std::move(ends.first);
        server_options options;
        options.read_timeout = 100ms;
        const auto start = time.now();
        test::background<clock::time_point> served(
            ex, serve_then_tell_when(std::move(ends.second), options, time));
        auto w = co_await test::write_string(client, first);
        EXPECT_TRUE(w);
        for (int i = 0; i < 100 && !served.ready(); ++i) {
          co_await time.wait_for(10ms);
          w = co_await test::write_string(client, piece);
          if (!w) break;
        }
        const auto cut = co_await served.get();
        trickled out{.cut_after = cut - start};
        auto rest = co_await test::read_all(client);
        co_await client.close();
        out.text = rest.value_or("<error>");
        co_return out;
      });
}

TEST(http_server, slow_client_is_disconnected_midway) {
  // The deadline covers the whole head, not each read: trickling octets does not extend it.
  auto got = trickle("G", "E");
  EXPECT_EQ(got.text, "");
  EXPECT_EQ(got.cut_after, 100ms);
}

TEST(http_server, slowloris_sending_header_fields_forever_is_cut_at_the_read_timeout) {
  // Each piece is a valid field line, and few enough stay within every limit.
  auto got = trickle("GET /metrics HTTP/1.1\r\nHost: h\r\n", "X-A: b\r\n");
  EXPECT_EQ(got.text, "");
  EXPECT_EQ(got.cut_after, 100ms);
}

TEST(http_server, request_line_without_crlf_is_cut_at_the_read_timeout) {
  // A whole request line and more, but no line end: nothing to answer, and nothing to wait for.
  auto got = trickle("GET /metrics HTTP/1.1", "x");
  EXPECT_EQ(got.text, "");
  EXPECT_EQ(got.cut_after, 100ms);
}

TEST(http_server, client_that_leaves_without_a_request_ends_the_server) {
  auto text = test::run_on_manual_clock([](asio::any_io_executor ex, manual_clock& time) {
    exchange_options o;
    o.half_close = true;
    return exchange(ex, o, time);
  });
  EXPECT_EQ(text, "");
}

TEST(http_server, client_that_leaves_midway_gets_no_answer) {
  auto text = test::run_on_manual_clock([](asio::any_io_executor ex, manual_clock& time) {
    exchange_options o;
    o.pieces = {"GET /metrics HTTP/1.1\r\nHost: h\r\n"};
    o.half_close = true;
    return exchange(ex, o, time);
  });
  EXPECT_EQ(text, "");
}

TEST(http_server, answers_after_the_client_half_closes) {
  // A client may send its request and shutdown(write) at once (RFC 9112 §9.6 allows it).
  auto text = test::run_on_manual_clock([](asio::any_io_executor ex, manual_clock& time) {
    exchange_options o;
    o.pieces = {"GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n"};
    o.half_close = true;
    return exchange(ex, o, time);
  });
  EXPECT_EQ(text, ok_response(false));
}

TEST(http_server, listens_on_a_stack_and_serves_each_connection) {
  auto text = test::run([](asio::any_io_executor ex) -> asio::awaitable<std::string> {
    socket::stack kernel(ex);
    const net::tcp_endpoint any_port{asio::ip::address_v4::loopback(), 0};
    auto listening = http::listen(kernel, any_port, metrics());
    if (!listening) co_return "<listen: " + listening.error().message() + ">";
    const net::tcp_endpoint to{asio::ip::address_v4::loopback(), listening->local_port()};
    std::string out;
    for (int i = 0; i < 2; ++i) {
      const net::connect_options options;
      auto client = co_await kernel.connect(to, options);
      if (!client) co_return "<connect: " + client.error().message() + ">";
      auto w = co_await test::write_string(
          *client, "GET /metrics HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
      EXPECT_TRUE(w);
      auto got = co_await test::read_all(*client);
      co_await client->close();
      out += got.value_or("<error>");
    }
    listening->unlisten();
    co_return out;
  });
  EXPECT_EQ(text, ok_response(true) + ok_response(true));
}

}  // namespace
}  // namespace flowstack::http
