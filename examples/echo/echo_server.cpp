// A TCP echo server on flowstack: every byte a client sends comes back, half-close included.
// Usage: echo_server PORT            (listens on 127.0.0.1:PORT; `echo_server --self-test` checks
// itself)
#include <flowstack/core/combinators.hpp>
#include <flowstack/socket/tcp.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace fs = flowstack;

// Echo: copy the flow into itself, then end our side once the client has ended its own.
asio::awaitable<void> echo(fs::flow& client) {
  co_await fs::copy(client, client);
  co_await client.shutdown(fs::shutdown_mode::write);
}

// Connects to the server, sends a line, half-closes, and checks the whole line comes back.
asio::awaitable<void> self_test(unsigned short port, int& status) {
  auto f =
      co_await fs::socket::connect(fs::net::tcp_endpoint(asio::ip::address_v4::loopback(), port));
  if (!f) co_return;
  auto w = co_await f->write(fs::buffer::of_string("hello, flowstack\n"));
  if (!w) co_return;
  co_await f->shutdown(fs::shutdown_mode::write);
  std::string answer;
  for (;;) {
    auto r = co_await f->read();
    if (!r || r->is_eof()) break;
    answer += r->data().to_string();
  }
  co_await f->close();
  status = answer == "hello, flowstack\n" ? 0 : 1;
}

int main(int argc, char** argv) {
  bool testing = argc > 1 && std::string_view(argv[1]) == "--self-test";
  unsigned short port = testing || argc < 2 ? 0 : static_cast<unsigned short>(std::atoi(argv[1]));
  asio::io_context io;
  auto server = fs::socket::listen(
      io.get_executor(), fs::net::tcp_endpoint(asio::ip::address_v4::loopback(), port), echo);
  if (!server) {
    std::fprintf(stderr, "listen: %s\n", server.error().message().c_str());
    return 1;
  }
  std::printf("echoing on %s\n", server->local_address().c_str());
  int status = 1;
  if (testing) {
    asio::co_spawn(io, self_test(server->local_port(), status), [&](std::exception_ptr) {
      server->unlisten();
      io.stop();
    });
  }
  io.run();
  return testing ? status : 0;
}
