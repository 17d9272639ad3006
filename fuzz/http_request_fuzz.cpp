// Fuzz target for the HTTP/1.1 request-head reader (include/flowstack/http/request.hpp) and the
// endpoint around it (http::serve in include/flowstack/http/server.hpp).
//
// Any input is a client's bytes. The parser must give a request or an error with a status and a
// sentence, never a crash or a hang, and a request it accepts must:
//   - have a token method, HTTP/1.0 or 1.1, a path that starts with '/' (or is "*");
//   - start plausibly (plausible_request_start never rejects what parse_request accepts);
//   - be within the limits (check_limits finds nothing wrong with it);
//   - parse again to the same request when written back out.
// The server, given the bytes and then the end of the stream over an in-memory flow pair, must
// finish, and send only whole HTTP/1.1 responses.
//
// With clang this is a libFuzzer target; with g++ it is linked with replay_main.cpp, which runs
// it over the files and directories named on the command line (the corpus).
#include <flowstack/core/memory_flow.hpp>
#include <flowstack/http/server.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using namespace flowstack;

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "http_request_fuzz: invariant broken: %s\n", what);
  std::abort();
}

void check_parser(std::string_view head) {
  auto r = http::parse_request(head);
  if (!r) {
    const int s = r.error().status;
    check(s == 400 || s == 414 || s == 431 || s == 501 || s == 505,
          "an error has a status the server sends");
    check(!r.error().what.empty(), "an error says what was wrong");
    return;
  }
  check(!r->method.empty(), "a request has a method");
  check(r->version_minor == 0 || r->version_minor == 1, "a request is HTTP/1.0 or 1.1");
  check(r->path == "*" || (!r->path.empty() && r->path.front() == '/'), "a path is absolute");
  check(http::plausible_request_start(head), "an accepted head starts plausibly");
  check(!http::check_limits(head), "an accepted head is within the limits");

  std::string again =
      r->method + " " + r->target + " HTTP/1." + std::to_string(r->version_minor) + "\r\n";
  for (const auto& [name, value] : r->fields) again += name + ": " + value + "\r\n";
  again += "\r\n";
  if (http::check_limits(again)) return;
  auto r2 = http::parse_request(again);
  check(r2.has_value(), "a request written back out parses");
  check(r2->method == r->method && r2->target == r->target && r2->path == r->path &&
            r2->version_minor == r->version_minor && r2->fields == r->fields &&
            r2->keep_alive == r->keep_alive && r2->content_length == r->content_length,
        "a request written back out parses to the same request");
}

asio::awaitable<void> serve_one(flow server) {
  http::page served{.path = "/metrics", .render = [] { return std::string("a_total 1\n"); }};
  co_await http::serve(std::move(server), std::move(served));
}

asio::awaitable<void> client(flow f, std::string input, std::string* out, bool* done) {
  auto written = co_await f.write(buffer::of_string(input));
  (void)written;  // the server may have closed early: that is allowed
  co_await f.shutdown(shutdown_mode::write);
  for (;;) {
    auto r = co_await f.read();
    if (!r || r->is_eof()) break;
    *out += r->data().as_string_view();
  }
  co_await f.close();
  *done = true;
}

void check_server(std::string_view input) {
  asio::io_context io;
  auto [c, s] = memory_pair(io.get_executor());
  std::string out;
  bool done = false;
  asio::co_spawn(io, serve_one(std::move(s)), asio::detached);
  asio::co_spawn(io, client(std::move(c), std::string(input), &out, &done), asio::detached);
  io.run();
  check(done, "the exchange finishes once the client has sent everything");
  // Every response is a status line, headers, and a body of Content-Length octets.
  std::string_view rest = out;
  while (!rest.empty()) {
    check(rest.starts_with("HTTP/1.1 "), "a response starts with a status line");
    auto end = rest.find("\r\n\r\n");
    check(end != std::string_view::npos, "a response head is complete");
    auto head = rest.substr(0, end + 4);
    auto at = head.find("\r\nContent-Length: ");
    check(at != std::string_view::npos, "a response says its length");
    std::size_t length = std::strtoul(std::string(head.substr(at + 18)).c_str(), nullptr, 10);
    rest.remove_prefix(head.size());
    // A HEAD answer has no body: the next response or the end follows at once.
    if (rest.empty() || rest.starts_with("HTTP/1.1 ")) continue;
    check(rest.size() >= length, "a body is complete");
    rest.remove_prefix(length);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)http::plausible_request_start(input);
  auto end = http::find_head_end(input);
  if (end != std::string_view::npos) check_parser(input.substr(0, end));
  check_parser(input);
  if (size <= 32 * 1024) check_server(input);
  return 0;
}
