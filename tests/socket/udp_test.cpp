#include <flowstack/socket/stack.hpp>
#include <flowstack/socket/udp.hpp>

#include "helpers.hpp"
#include "support/run.hpp"

namespace flowstack::socket {
namespace {

using namespace std::chrono_literals;
using namespace test;

udp_endpoint udp_loopback(unsigned short port = 0) {
  return {asio::ip::make_address("127.0.0.1"), port};
}

udp_socket must_bind(asio::any_io_executor ex, udp_endpoint local) {
  auto s = udp_socket::bind(ex, local);
  if (!s) {
    ADD_FAILURE() << "bind: " << s.error().message();
    std::abort();
  }
  return std::move(*s);
}

TEST(udp, udp_send_to_and_receive_from) {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto a = must_bind(ex, udp_loopback());
    auto b = must_bind(ex, udp_loopback());
    auto sent = co_await a.send_to(buffer::of_string("ping"), b.local_endpoint());
    EXPECT_TRUE(sent);
    auto got = co_await b.receive_from();
    EXPECT_TRUE(got);
    if (!got) co_return;
    EXPECT_EQ(got->data.to_string(), "ping");
    EXPECT_EQ(got->from, a.local_endpoint());
    // And back to where it came from.
    auto reply = co_await b.send_to(buffer::of_string("pong"), got->from);
    EXPECT_TRUE(reply);
    auto back = co_await a.receive_from();
    EXPECT_EQ(back ? back->data.to_string() : "<error>", "pong");
  });
}

TEST(udp, each_receive_gives_one_whole_datagram) {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto a = must_bind(ex, udp_loopback());
    auto b = must_bind(ex, udp_loopback());
    auto first = co_await a.send_to(buffer::of_string("one"), b.local_endpoint());
    auto second = co_await a.send_to(buffer::of_string("three"), b.local_endpoint());
    EXPECT_TRUE(first && second);
    auto x = co_await b.receive_from();
    auto y = co_await b.receive_from();
    EXPECT_EQ(x ? x->data.to_string() : "<error>", "one");
    EXPECT_EQ(y ? y->data.to_string() : "<error>", "three");
  });
}

TEST(udp, a_datagram_larger_than_max_size_is_cut) {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto a = must_bind(ex, udp_loopback());
    auto b = must_bind(ex, udp_loopback());
    auto sent = co_await a.send_to(buffer::of_string("0123456789"), b.local_endpoint());
    EXPECT_TRUE(sent);
    auto got = co_await b.receive_from(4);
    EXPECT_EQ(got ? got->data.to_string() : "<error>", "0123");
  });
}

TEST(udp, udp_connected_socket_ignores_other_senders) {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto server = must_bind(ex, udp_loopback());
    auto stranger = must_bind(ex, udp_loopback());
    auto client = udp_socket::connect(ex, server.local_endpoint());
    EXPECT_TRUE(client);
    if (!client) co_return;
    auto query = co_await client->send(buffer::of_string("query"));
    EXPECT_TRUE(query);
    auto at_server = co_await server.receive_from();
    EXPECT_TRUE(at_server);
    if (!at_server) co_return;
    // A stranger's datagram arrives first, then the server's answer: only the answer is seen.
    auto spoof = co_await stranger.send_to(buffer::of_string("spoofed"), at_server->from);
    EXPECT_TRUE(spoof);
    auto answer = co_await server.send_to(buffer::of_string("answer"), at_server->from);
    EXPECT_TRUE(answer);
    auto got = co_await client->receive();
    EXPECT_EQ(got ? got->to_string() : "<error>", "answer");
  });
}

asio::awaitable<result<net::datagram>> receive_of(udp_socket& s) {
  co_return co_await s.receive_from();
}

TEST(udp, close_ends_a_pending_receive_with_closed) {
  auto error = run([](asio::any_io_executor ex) -> asio::awaitable<std::error_code> {
    auto s = must_bind(ex, udp_loopback());
    background<result<net::datagram>> pending(ex, receive_of(s));
    co_await yield(3);  // the receive has started; nothing will come for it
    EXPECT_FALSE(pending.ready());
    s.close();
    auto r = co_await pending.get();
    co_return error_of(r);
  });
  EXPECT_EQ(error, flow_errc::closed);
}

TEST(udp, ipv6_loopback_datagrams_work) {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    socket::stack s(ex);
    auto a = s.udp_bind(udp_endpoint(asio::ip::make_address("::1"), 0));
    auto b = s.udp_bind(udp_endpoint(asio::ip::make_address("::1"), 0));
    EXPECT_TRUE(a && b);
    if (!a || !b) co_return;
    // The stack hands out its sockets as net::datagram_socket.
    net::datagram_socket& from = **a;
    net::datagram_socket& to = **b;
    auto sent = co_await from.send_to(buffer::of_string("v6"), to.local_endpoint());
    EXPECT_TRUE(sent);
    auto got = co_await to.receive_from();
    EXPECT_EQ(got ? got->data.to_string() : "<error>", "v6");
    EXPECT_EQ(to_string(to.local_endpoint()).substr(0, 6), "[::1]:");
  });
}

TEST(udp, binding_a_port_in_use_gives_address_in_use) {
  auto error = run([](asio::any_io_executor ex) -> asio::awaitable<std::error_code> {
    auto a = must_bind(ex, udp_loopback());
    auto b = udp_socket::bind(ex, a.local_endpoint());
    co_return error_of(b);
  });
  EXPECT_EQ(error, net::net_errc::address_in_use);
}

}  // namespace
}  // namespace flowstack::socket
