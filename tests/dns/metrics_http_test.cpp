// The metrics endpoint over an in-memory flow pair, and its request-head parser on its own.
#include <gtest/gtest.h>

#include <flowstack/core/memory_flow.hpp>
#include <flowstack/dns/metrics.hpp>

#include "http.hpp"
#include "support/async.hpp"
#include "support/run.hpp"
#include "support/virtual_time.hpp"

namespace flowstack::dns {
namespace {

using namespace std::chrono_literals;

const std::string page = "flowstack_dns_cache_hits_total 7\n";

std::string render_page() {
  return page;
}

std::string ok_response(bool close, bool with_body = true, std::string_view connection = "") {
  std::string text =
      "HTTP/1.1 200 OK\r\n"
      "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
      "Content-Length: " +
      std::to_string(page.size()) + "\r\n";
  if (close) text += "Connection: close\r\n";
  if (!connection.empty()) text += "Connection: " + std::string(connection) + "\r\n";
  text += "\r\n";
  if (with_body) text += page;
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

asio::awaitable<bool> serve(flow connection, metrics_http_options options, clock& time) {
  co_await serve_metrics_http(std::move(connection), render_page, options, time);
  co_return true;
}

struct exchange_options {
  std::vector<std::string> pieces;  // written one after another
  bool one_byte_reads = false;      // the server reads one octet at a time
  bool half_close = false;          // shutdown(write) after the pieces
  metrics_http_options server;
};

// Writes the pieces, then reads everything the server sends until it closes the connection.
asio::awaitable<std::string> exchange(asio::any_io_executor ex, exchange_options o, clock& time) {
  auto ends = memory_pair(ex);
  flow client = std::move(ends.first);
  flow server = std::move(ends.second);
  if (o.one_byte_reads) server.as<memory_flow>()->cut_reads(1);
  test::background<bool> served(ex, serve(std::move(server), o.server, time));
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

TEST(dns_metrics_http, get_metrics_answers_the_page) {
  EXPECT_EQ(exchange_of({"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"}),
            ok_response(true));
}

TEST(dns_metrics_http, head_answers_the_headers_without_the_body) {
  EXPECT_EQ(exchange_of({"HEAD /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"}),
            ok_response(true, false));
}

TEST(dns_metrics_http, query_string_and_absolute_form_reach_the_page) {
  EXPECT_EQ(exchange_of({"GET http://localhost:9153/metrics?x=1 HTTP/1.1\r\nHost: "
                         "localhost\r\nConnection: close\r\n\r\n"}),
            ok_response(true));
}

TEST(dns_metrics_http, other_path_is_404) {
  EXPECT_EQ(exchange_of({"GET /stats HTTP/1.1\r\nHost: h\r\n\r\n",
                         "GET /metrics HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"}),
            not_found + ok_response(true));
}

TEST(dns_metrics_http, other_method_is_405_with_allow) {
  EXPECT_EQ(exchange_of({"DELETE /metrics HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"}),
            "HTTP/1.1 405 Method Not Allowed\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 29\r\n"
            "Allow: GET, HEAD\r\n"
            "Connection: close\r\n"
            "\r\n"
            "only GET and HEAD are served\n");
}

TEST(dns_metrics_http, request_with_a_body_is_answered_then_closed) {
  auto text = exchange_of({"POST /metrics HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"});
  EXPECT_TRUE(text.starts_with("HTTP/1.1 405 Method Not Allowed\r\n")) << text;
  EXPECT_NE(text.find("Connection: close\r\n"), std::string::npos);
}

TEST(dns_metrics_http, garbage_is_400_and_closed) {
  EXPECT_EQ(exchange_of({"hello there\r\n\r\n"}), bad_request);
}

TEST(dns_metrics_http, binary_garbage_is_400_at_once) {
  // A TLS ClientHello's first octets: no blank line will ever come, and none is waited for.
  EXPECT_EQ(exchange_of({std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11)}),
            bad_request);
}

TEST(dns_metrics_http, bare_lf_line_ends_are_400) {
  EXPECT_EQ(exchange_of({"GET /metrics HTTP/1.1\nHost: h\n\n"}), bad_request);
}

TEST(dns_metrics_http, http_1_1_without_host_is_400) {
  EXPECT_EQ(exchange_of({"GET /metrics HTTP/1.1\r\n\r\n"}), bad_request);
}

TEST(dns_metrics_http, unsupported_version_is_505) {
  auto text = exchange_of({"GET /metrics HTTP/2.0\r\nHost: h\r\n\r\n"});
  EXPECT_TRUE(text.starts_with("HTTP/1.1 505 HTTP Version Not Supported\r\n")) << text;
}

// A request head of exactly `size` octets.
std::string head_of_size(std::size_t size) {
  std::string start = "GET /metrics HTTP/1.1\r\nHost: h\r\nConnection: close\r\nX-Pad: ";
  std::string end = "\r\n\r\n";
  return start + std::string(size - start.size() - end.size(), 'a') + end;
}

TEST(dns_metrics_http, head_of_8_kib_is_served) {
  EXPECT_EQ(exchange_of({head_of_size(8192)}), ok_response(true));
}

TEST(dns_metrics_http, head_over_8_kib_is_400_and_closed) {
  EXPECT_EQ(exchange_of({head_of_size(8193)}), bad_request);
}

TEST(dns_metrics_http, endless_header_is_400_before_its_end) {
  std::string start = "GET /metrics HTTP/1.1\r\nHost: h\r\nX-Pad: ";
  // 16 KiB of one header line, never ended: the server answers once 8 KiB are in.
  EXPECT_EQ(exchange_of({start, std::string(16 * 1024, 'a')}), bad_request);
}

TEST(dns_metrics_http, request_split_in_one_byte_pieces) {
  std::string request = "GET /metrics HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  auto text = test::run_on_manual_clock([request](asio::any_io_executor ex, manual_clock& time) {
    exchange_options o;
    for (char c : request) o.pieces.emplace_back(1, c);
    o.one_byte_reads = true;
    return exchange(ex, o, time);
  });
  EXPECT_EQ(text, ok_response(true));
}

TEST(dns_metrics_http, two_pipelined_requests_on_one_connection) {
  EXPECT_EQ(exchange_of({"GET /nope HTTP/1.1\r\nHost: h\r\n\r\n"
                         "GET /metrics HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"}),
            not_found + ok_response(true));
}

TEST(dns_metrics_http, pipelined_requests_read_one_byte_at_a_time) {
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

TEST(dns_metrics_http, keep_alive_connection_serves_requests_one_after_another) {
  auto ok = test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<bool> {
        auto ends = memory_pair(ex);
        flow client = std::move(ends.first);
        metrics_http_options options;
        test::background<bool> served(ex, serve(std::move(ends.second), options, time));
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

TEST(dns_metrics_http, http_1_0_closes_after_the_answer) {
  EXPECT_EQ(exchange_of({"GET /metrics HTTP/1.0\r\n\r\n"}), ok_response(true));
}

TEST(dns_metrics_http, http_1_0_keep_alive_stays_open) {
  EXPECT_EQ(exchange_of({"GET /metrics HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                         "GET /metrics HTTP/1.0\r\n\r\n"}),
            ok_response(false, true, "keep-alive") + ok_response(true));
}

TEST(dns_metrics_http, idle_client_is_disconnected_after_the_read_timeout) {
  auto text = test::run_on_manual_clock([](asio::any_io_executor ex, manual_clock& time) {
    exchange_options o;
    o.server.read_timeout = 50ms;
    return exchange(ex, o, time);
  });
  EXPECT_EQ(text, "");
}

TEST(dns_metrics_http, request_that_arrives_just_before_the_read_timeout_is_served) {
  auto text = test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<std::string> {
        auto ends = memory_pair(ex);
        flow client = std::move(ends.first);
        metrics_http_options options;
        options.read_timeout = 50ms;
        test::background<bool> served(ex, serve(std::move(ends.second), options, time));
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

TEST(dns_metrics_http, slow_client_is_disconnected_midway) {
  // The deadline covers the whole head, not each read: trickling octets does not extend it.
  auto text = test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<std::string> {
        auto ends = memory_pair(ex);
        flow client = std::move(ends.first);
        metrics_http_options options;
        options.read_timeout = 100ms;
        test::background<bool> served(ex, serve(std::move(ends.second), options, time));
        for (int i = 0; i < 100 && !served.ready(); ++i) {
          auto w = co_await test::write_string(client, "G");
          if (!w) break;
          co_await time.wait_for(10ms);
        }
        auto rest = co_await test::read_all(client);
        co_await client.close();
        bool done = co_await served.get();
        EXPECT_TRUE(done);
        co_return rest.value_or("<error>");
      });
  EXPECT_EQ(text, "");
}

TEST(dns_metrics_http, client_that_leaves_without_a_request_ends_the_server) {
  auto text = test::run_on_manual_clock([](asio::any_io_executor ex, manual_clock& time) {
    exchange_options o;
    o.half_close = true;
    return exchange(ex, o, time);
  });
  EXPECT_EQ(text, "");
}

TEST(dns_metrics_http, client_that_leaves_midway_gets_no_answer) {
  auto text = test::run_on_manual_clock([](asio::any_io_executor ex, manual_clock& time) {
    exchange_options o;
    o.pieces = {"GET /metrics HTTP/1.1\r\nHost: h\r\n"};
    o.half_close = true;
    return exchange(ex, o, time);
  });
  EXPECT_EQ(text, "");
}

TEST(dns_metrics_http, answers_after_the_client_half_closes) {
  // A client may send its request and shutdown(write) at once (RFC 9112 §9.6 allows it).
  auto text = test::run_on_manual_clock([](asio::any_io_executor ex, manual_clock& time) {
    exchange_options o;
    o.pieces = {"GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n"};
    o.half_close = true;
    return exchange(ex, o, time);
  });
  EXPECT_EQ(text, ok_response(false));
}

// ---- the parser on its own ---------------------------------------------------------------------

TEST(dns_http_parser, reads_method_target_version_and_fields) {
  auto r = http::parse_request(
      "GET /metrics?a=b HTTP/1.1\r\nHost: example\r\nAccept:  text/plain \t\r\n\r\n");
  ASSERT_TRUE(r) << r.error().what;
  EXPECT_EQ(r->method, "GET");
  EXPECT_EQ(r->target, "/metrics?a=b");
  EXPECT_EQ(r->path, "/metrics");
  EXPECT_EQ(r->version_minor, 1);
  ASSERT_EQ(r->fields.size(), 2u);
  EXPECT_EQ(r->field("accept"), "text/plain");
  EXPECT_EQ(r->field("HOST"), "example");
  EXPECT_TRUE(r->keep_alive);
  EXPECT_EQ(r->content_length, 0u);
}

TEST(dns_http_parser, connection_close_among_other_options_closes) {
  auto r =
      http::parse_request("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Close\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->keep_alive);
}

TEST(dns_http_parser, equal_content_lengths_are_one) {
  auto r = http::parse_request(
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\nContent-Length: 12\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->content_length, 12u);
}

TEST(dns_http_parser, rejects_malformed_heads) {
  const char* bad[] = {
      "GET /metrics HTTP/1.1\r\nHost: h\r\n",                     // no blank line
      "\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",                    // empty request line
      "GET  /metrics HTTP/1.1\r\nHost: h\r\n\r\n",                // two spaces
      "GET /metrics\r\nHost: h\r\n\r\n",                          // HTTP/0.9 form
      "GET /metrics HTTP/1.1 x\r\nHost: h\r\n\r\n",               // four parts
      "G(T /metrics HTTP/1.1\r\nHost: h\r\n\r\n",                 // method not a token
      "GET metrics HTTP/1.1\r\nHost: h\r\n\r\n",                  // relative target
      "GET /m\x01 HTTP/1.1\r\nHost: h\r\n\r\n",                   // control in target
      "GET / http/1.1\r\nHost: h\r\n\r\n",                        // version is case-sensitive
      "GET / HTTP/1.1\r\nHost : h\r\n\r\n",                       // space before the colon
      "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n",          // obsolete folding
      "GET / HTTP/1.1\r\nHost: h\r\nNo colon\r\n\r\n",            // no colon
      "GET / HTTP/1.1\r\nHost: h\r\nX: a\x7f\r\n\r\n",            // DEL in a value
      "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n",             // bare CR
      "GET / HTTP/1.1\r\nHost: h\nX: a\r\n\r\n",                  // bare LF
      "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",             // two Hosts
      "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",             // two Hosts in 1.0 too
      "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\n",  // not a number
      "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",  // negative
      "GET / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n",     // empty
      "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n",  // too big
      "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
  };
  for (const char* head : bad) {
    auto r = http::parse_request(head);
    EXPECT_FALSE(r) << head;
    if (!r) {
      EXPECT_EQ(r.error().status, 400) << head;
      EXPECT_FALSE(r.error().what.empty());
    }
  }
}

TEST(dns_http_parser, transfer_encoding_is_501) {
  auto r = http::parse_request("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().status, 501);
}

TEST(dns_http_parser, other_http_versions_are_505) {
  auto r = http::parse_request("GET / HTTP/3.0\r\nHost: h\r\n\r\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().status, 505);
}

TEST(dns_http_parser, head_end_is_after_the_blank_line) {
  EXPECT_EQ(http::find_head_end("GET / HTTP/1.1\r\n\r\nGET"), 18u);
  EXPECT_EQ(http::find_head_end("GET / HTTP/1.1\r\n\r"), std::string_view::npos);
}

TEST(dns_http_parser, plausible_starts) {
  EXPECT_TRUE(http::plausible_request_start(""));
  EXPECT_TRUE(http::plausible_request_start("GET /metr"));
  EXPECT_TRUE(http::plausible_request_start("GET / HTTP/1.1\r"));
  EXPECT_TRUE(http::plausible_request_start("GET / HTTP/1.1\r\n\x01"));  // past the first line
  EXPECT_FALSE(http::plausible_request_start("GET / HTTP/1.1\n"));
  EXPECT_FALSE(http::plausible_request_start("GET / HTTP/1.1\rX"));
  EXPECT_FALSE(http::plausible_request_start("\x16\x03"));
  EXPECT_FALSE(http::plausible_request_start("a b c d"));
}

}  // namespace
}  // namespace flowstack::dns
