// The request-head parser on its own: what it accepts, what it refuses and with which status.
#include <gtest/gtest.h>

#include <flowstack/http/request.hpp>

namespace flowstack::http {
namespace {

TEST(http_request, reads_method_target_version_and_fields) {
  auto r =
      parse_request("GET /metrics?a=b HTTP/1.1\r\nHost: example\r\nAccept:  text/plain \t\r\n\r\n");
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

TEST(http_request, connection_close_among_other_options_closes) {
  auto r = parse_request("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Close\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->keep_alive);
}

TEST(http_request, equal_content_lengths_are_one) {
  auto r = parse_request(
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\nContent-Length: 12\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->content_length, 12u);
}

TEST(http_request, rejects_malformed_heads) {
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
    auto r = parse_request(head);
    EXPECT_FALSE(r) << head;
    if (!r) {
      EXPECT_EQ(r.error().status, 400) << head;
      EXPECT_FALSE(r.error().what.empty());
    }
  }
}

TEST(http_request, transfer_encoding_is_501) {
  auto r = parse_request("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().status, 501);
}

TEST(http_request, other_http_versions_are_505) {
  auto r = parse_request("GET / HTTP/3.0\r\nHost: h\r\n\r\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().status, 505);
}

TEST(http_request, head_end_is_after_the_blank_line) {
  EXPECT_EQ(find_head_end("GET / HTTP/1.1\r\n\r\nGET"), 18u);
  EXPECT_EQ(find_head_end("GET / HTTP/1.1\r\n\r"), std::string_view::npos);
}

TEST(http_request, plausible_starts) {
  EXPECT_TRUE(plausible_request_start(""));
  EXPECT_TRUE(plausible_request_start("GET /metr"));
  EXPECT_TRUE(plausible_request_start("GET / HTTP/1.1\r"));
  EXPECT_TRUE(plausible_request_start("GET / HTTP/1.1\r\n\x01"));  // past the first line
  EXPECT_FALSE(plausible_request_start("GET / HTTP/1.1\n"));
  EXPECT_FALSE(plausible_request_start("GET / HTTP/1.1\rX"));
  EXPECT_FALSE(plausible_request_start("\x16\x03"));
  EXPECT_FALSE(plausible_request_start("a b c d"));
}

TEST(http_request, request_line_alone_gives_method_target_path_and_version) {
  request r;
  auto ok = parse_request_line("HEAD http://h:9153/metrics?x HTTP/1.0", r);
  ASSERT_TRUE(ok) << ok.error().what;
  EXPECT_EQ(r.method, "HEAD");
  EXPECT_EQ(r.target, "http://h:9153/metrics?x");
  EXPECT_EQ(r.path, "/metrics");
  EXPECT_EQ(r.version_minor, 0);
}

TEST(http_request, fields_alone_decide_keep_alive_and_length) {
  request r;
  r.version_minor = 0;
  auto ok = parse_fields({"Connection: keep-alive", "Content-Length: 3"}, r);
  ASSERT_TRUE(ok) << ok.error().what;
  EXPECT_TRUE(r.keep_alive);  // HTTP/1.0 with keep-alive, and no Host needed
  EXPECT_EQ(r.content_length, 3u);
  EXPECT_EQ(r.field("content-length"), "3");
}

TEST(http_request, limits_hold_for_heads_complete_or_not) {
  const std::string line = "GET /" + std::string(4096 - 14, 'a') + " HTTP/1.1";
  ASSERT_EQ(line.size(), 4096u);
  EXPECT_FALSE(check_limits(line));
  EXPECT_FALSE(check_limits(line + "\r\nHost: h\r\n\r\n"));
  EXPECT_EQ(check_limits(line + "a").value_or(parse_error{}).status, 414);
  EXPECT_EQ(check_limits(line + "a\r\nHost: h\r\n\r\n").value_or(parse_error{}).status, 414);

  std::string head = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 100; ++i) head += "X: v\r\n";
  EXPECT_FALSE(check_limits(head));
  EXPECT_FALSE(check_limits(head + "\r\n"));
  EXPECT_EQ(check_limits(head + "X: v\r\n").value_or(parse_error{}).status, 431);
  EXPECT_EQ(check_limits(std::string(8193, 'a'), {.max_request_line = 9000})
                .value_or(parse_error{})
                .status,
            431);
}

TEST(http_request, parse_request_keeps_the_limits_it_is_given) {
  const std::string head = "GET / HTTP/1.1\r\nHost: h\r\nX: v\r\n\r\n";
  EXPECT_TRUE(parse_request(head));
  auto r = parse_request(head, {.max_fields = 1});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().status, 431);
}

}  // namespace
}  // namespace flowstack::http
