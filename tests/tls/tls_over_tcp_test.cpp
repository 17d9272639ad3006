// TLS over the kernel's TCP on loopback: what the close of a TLS flow does to the socket below.
#include <gtest/gtest.h>

#include <flowstack/core/function_flow.hpp>
#include <flowstack/core/wait_queue.hpp>
#include <flowstack/socket/tcp.hpp>
#include <flowstack/tls/tls.hpp>
#include <memory>
#include <string>
#include <utility>

#include "support/async.hpp"
#include "support/run.hpp"
#include "tls/test_certs.hpp"

namespace flowstack::tls {
namespace {

using test::background;
using test::certificates;
using test::error_of;
using test::read_all;
using test::write_string;

std::string pattern(std::size_t n) {
  std::string text(n, '\0');
  for (std::size_t i = 0; i < n; ++i) text[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return text;
}

// The listener closes the flow its handler was given: the handler leaves a placeholder there
// and hands the accepted flow to the test.
struct accepted_slot {
  explicit accepted_slot(asio::any_io_executor ex) : arrived(std::move(ex)) {}
  flow accepted;
  wait_queue arrived;
};

asio::awaitable<void> hand_over(std::shared_ptr<accepted_slot> slot, flow& f) {
  slot->accepted = std::exchange(f, string_flow(f.get_executor(), ""));
  slot->arrived.notify_all();
  co_return;
}

asio::awaitable<flow> wait_for_accepted(std::shared_ptr<accepted_slot> slot) {
  while (!slot->accepted) co_await slot->arrived.wait();
  co_return std::move(slot->accepted);
}

TEST(tls_over_tcp, a_write_only_tls_1_3_client_closes_with_fin_and_the_server_reads_every_byte) {
  test::run(
      [](asio::any_io_executor ex) -> asio::awaitable<void> {
        auto address = asio::ip::make_address("127.0.0.1");
        auto slot = std::make_shared<accepted_slot>(ex);
        net::flow_handler handler = [slot](flow& f) { return hand_over(slot, f); };
        auto listening = socket::listen(ex, net::tcp_endpoint(address, 0), handler);
        CO_ASSERT_TRUE(listening);
        auto tcp = co_await socket::connect(net::tcp_endpoint(address, listening->local_port()));
        CO_ASSERT_TRUE(tcp);
        flow accepted = co_await wait_for_accepted(slot);

        config server_c;
        server_c.certificate_pem = certificates().server_cert_pem;
        server_c.private_key_pem = certificates().server_key_pem;
        config client_c;
        client_c.ca_pem = certificates().ca_pem;
        background<detailed<flow>> server_side(ex, server(server_c, std::move(accepted)));
        auto c = co_await client(client_c, std::move(*tcp), "localhost");
        auto s = co_await server_side.get();
        CO_ASSERT_TRUE(c && s);
        EXPECT_EQ(c->as<tls_flow>()->epoch().version, "TLSv1.3");

        // The server's handshake ended with its session tickets, which this client never reads.
        // While nobody reads on the server's side, most of the megabyte waits in the client's
        // socket: a close that reset the connection would throw it away.
        const std::string sent = pattern(1 << 20);
        auto w = co_await write_string(*c, sent);
        EXPECT_TRUE(w) << error_of(w).message();
        co_await c->close();

        auto got = co_await read_all(*s);
        EXPECT_TRUE(got) << error_of(got).message();
        EXPECT_TRUE(got.value_or("") == sent)
            << "received " << got.value_or("").size() << " of " << sent.size() << " bytes";
        co_await s->close();
      },
      std::chrono::seconds(30));
}

}  // namespace
}  // namespace flowstack::tls
