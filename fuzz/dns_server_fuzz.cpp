// Fuzz target for the forwarder's client side (include/flowstack/dns/server.hpp): arbitrary
// octets as a client message over UDP and over TCP, with a resolver whose upstream (the
// in-memory fake of tests/dns/fake_upstream.hpp) answers every query.
//
// For any input: no crash, no hang; when the server answers, the answer decodes, is a response
// (QR set), carries the input's id, and over UDP fits what the client can take (RFC 6891 §6.2.5:
// 512 octets without EDNS, else its payload size between 512 and max_udp_size).
//
// With clang this is a libFuzzer target; with g++ it is linked with replay_main.cpp, which runs
// it over the files and directories named on the command line (the corpus).
#include "fake_upstream.hpp"

#include <flowstack/dns/resolver.hpp>
#include <flowstack/dns/server.hpp>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <span>

namespace {

using namespace flowstack;
using namespace flowstack::dns;
using namespace std::chrono_literals;

constexpr std::size_t max_udp_size = 1232;

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "dns_server_fuzz: invariant broken: %s\n", what);
  std::abort();
}

void check_answer(const std::optional<buffer>& out, std::span<const std::uint8_t> input,
                  client_protocol via) {
  if (!out) return;
  check(input.size() >= 12, "a message without a header gets no answer");
  auto answer = decode(*out);
  check(answer.has_value(), "the answer decodes");
  check(answer->header.qr, "the answer is a response");
  std::uint16_t id = static_cast<std::uint16_t>(input[0] << 8 | input[1]);
  check(answer->header.id == id, "the answer has the query's id");
  if (via == client_protocol::udp) {
    std::size_t limit = 512;
    auto query = decode(input);
    if (query && query->edns) {
      limit = std::clamp<std::size_t>(query->edns->udp_payload_size, 512, max_udp_size);
    }
    check(out->size() <= limit, "a UDP answer fits the client's limit");
  }
}

asio::awaitable<void> serve_one(asio::any_io_executor ex, std::span<const std::uint8_t> input) {
  test::fake_upstream fake(ex);
  config c;
  c.servers.push_back(server_config{fake.address(), {}, 200ms, 0});
  resolver r(ex, std::move(c), fake);
  server_options options;
  options.max_udp_size = max_udp_size;
  server s(r, options);
  for (auto via : {client_protocol::udp, client_protocol::tcp}) {
    auto wire = buffer::copy_of(std::as_bytes(input));
    auto out = co_await s.answer(std::move(wire), via, "192.0.2.1:53000");
    check_answer(out, input, via);
  }
  check(s.in_flight() == 0, "no query is left in flight");
  co_await r.close();
  check(fake.open_flows() == 0 && fake.open_channels() == 0, "nothing is left open upstream");
  co_await fake.shutdown();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  asio::io_context io;
  bool finished = false;
  std::span<const std::uint8_t> input(data, size);
  asio::co_spawn(io, serve_one(io.get_executor(), input), [&finished](std::exception_ptr e) {
    check(!e, "no exception escapes");
    finished = true;
  });
  io.run_for(10s);
  check(finished, "the server answers within its query timeout");
  return 0;
}
