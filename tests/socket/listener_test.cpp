#include <flowstack/socket/tcp.hpp>

#include "helpers.hpp"
#include "support/run.hpp"

namespace flowstack::socket {
namespace {

using namespace std::chrono_literals;
using namespace test;

// Handlers that hold their connection until the test opens `release`.
struct held {
  explicit held(asio::any_io_executor ex) : release(ex) {}
  gate release;
};

asio::awaitable<void> hold(std::shared_ptr<held> h, flow& f) {
  (void)co_await write_string(f, "in");
  co_await h->release.wait();
}

TEST(listener, handler_flow_is_closed_when_handler_returns) {
  auto got = run([](asio::any_io_executor ex) -> asio::awaitable<std::string> {
    auto l = must_listen(ex, loopback_v4(), say_and_return_handler("bye"));
    auto f = co_await must_connect(loopback_v4(l.local_port()));
    // Eof after the handler's words: the listener closed the flow when the handler returned.
    auto text = co_await read_all(f);
    co_await f.close();
    co_return text.value_or("<error>");
  });
  EXPECT_EQ(got, "bye");
}

TEST(listener, counts_accepted_and_active_connections) {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto h = std::make_shared<held>(ex);
    flow_handler handler = [h](flow& f) { return hold(h, f); };
    auto l = must_listen(ex, loopback_v4(), handler);
    EXPECT_EQ(l.accepted_connections(), 0u);
    auto a = co_await must_connect(loopback_v4(l.local_port()));
    auto b = co_await must_connect(loopback_v4(l.local_port()));
    (void)co_await read_string(a, 2);
    (void)co_await read_string(b, 2);
    EXPECT_EQ(l.accepted_connections(), 2u);
    EXPECT_EQ(l.active_connections(), 2u);
    h->release.open();
    // The released handlers return and the listener closes their flows: work of this process
    // alone, done within a few turns of the loop.
    bool drained = co_await yield_until([&l] { return l.active_connections() == 0; });
    EXPECT_TRUE(drained);
    EXPECT_EQ(l.accepted_connections(), 2u);
    co_await a.close();
    co_await b.close();
  });
}

TEST(listener, listener_holds_the_connection_limit) {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto h = std::make_shared<held>(ex);
    flow_handler handler = [h](flow& f) { return hold(h, f); };
    listen_options options;
    options.max_connections = 2;
    auto l = must_listen(ex, loopback_v4(), handler, options);
    auto a = co_await must_connect(loopback_v4(l.local_port()));
    auto b = co_await must_connect(loopback_v4(l.local_port()));
    // The third peer connects (the kernel's backlog takes it) but is not served yet.
    auto c = co_await must_connect(loopback_v4(l.local_port()));
    (void)co_await read_string(a, 2);
    (void)co_await read_string(b, 2);
    // The third connection waits in the kernel's backlog, ready to be accepted; the loop runs
    // many turns, in which an accept that were still pending would take it. None does.
    bool waiting = co_await backlog_holds_a_connection(loopback_v4(l.local_port()));
    EXPECT_TRUE(waiting);
    co_await yield(20);
    EXPECT_EQ(l.accepted_connections(), 2u);
    EXPECT_EQ(l.active_connections(), 2u);
    // One handler ends: the third connection is accepted and served.
    h->release.open();
    auto third = co_await read_string(c, 2);
    EXPECT_EQ(third.value_or("<error>"), "in");
    EXPECT_EQ(l.accepted_connections(), 3u);
    co_await a.close();
    co_await b.close();
    co_await c.close();
  });
}

TEST(listener, unlisten_stops_accepting) {
  auto error = run([](asio::any_io_executor ex) -> asio::awaitable<std::error_code> {
    auto l = must_listen(ex, loopback_v4(), echo_handler());
    auto port = l.local_port();
    l.unlisten();
    l.unlisten();  // idempotent
    auto r = co_await connect(loopback_v4(port));
    co_return error_of(r);
  });
  EXPECT_EQ(error, net::net_errc::refused);
}

TEST(listener, destroying_a_listener_unlistens) {
  auto error = run([](asio::any_io_executor ex) -> asio::awaitable<std::error_code> {
    unsigned short port = 0;
    {
      auto l = must_listen(ex, loopback_v4(), echo_handler());
      port = l.local_port();
    }
    auto r = co_await connect(loopback_v4(port));
    co_return error_of(r);
  });
  EXPECT_EQ(error, net::net_errc::refused);
}

TEST(listener, connections_already_accepted_go_on_after_unlisten) {
  auto got = run([](asio::any_io_executor ex) -> asio::awaitable<std::string> {
    auto l = must_listen(ex, loopback_v4(), echo_handler());
    auto f = co_await must_connect(loopback_v4(l.local_port()));
    auto first = co_await write_string(f, "x");
    EXPECT_TRUE(first);
    (void)co_await read_string(f, 1);  // the handler runs
    l.unlisten();
    auto second = co_await write_string(f, "still here");
    EXPECT_TRUE(second);
    co_await f.shutdown(shutdown_mode::write);
    auto text = co_await read_all(f);
    co_await f.close();
    co_return text.value_or("<error>");
  });
  EXPECT_EQ(got, "still here");
}

TEST(listener, listening_where_another_listens_gives_address_in_use) {
  auto error = run([](asio::any_io_executor ex) -> asio::awaitable<std::error_code> {
    auto l = must_listen(ex, loopback_v4(), echo_handler());
    auto second = listen(ex, loopback_v4(l.local_port()), echo_handler());
    co_return error_of(second);
  });
  EXPECT_EQ(error, net::net_errc::address_in_use);
}

TEST(listener, local_address_and_port_name_the_bound_socket) {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto l = must_listen(ex, loopback_v4(), echo_handler());
    EXPECT_NE(l.local_port(), 0);
    EXPECT_EQ(l.local_address(), "127.0.0.1:" + std::to_string(l.local_port()));
    co_return;
  });
}

TEST(listener, a_handler_that_throws_still_has_its_flow_closed) {
  auto got = run([](asio::any_io_executor ex) -> asio::awaitable<std::string> {
    flow_handler handler = [](flow&) -> asio::awaitable<void> {
      throw std::runtime_error("handler bug");
      co_return;
    };
    auto l = must_listen(ex, loopback_v4(), handler);
    auto f = co_await must_connect(loopback_v4(l.local_port()));
    auto r = co_await f.read();
    co_await f.close();
    co_return describe(r);
  });
  EXPECT_EQ(got, "<eof>");
}

asio::awaitable<int> connect_and_close_many(unsigned short port, int count) {
  int served = 0;
  for (int i = 0; i < count; ++i) {
    auto f = co_await must_connect(loopback_v4(port));
    if (!f) break;
    auto text = co_await read_all(f);
    if (text && *text == "hi") ++served;
    co_await f.close();
  }
  co_return served;
}

TEST(listener, no_file_descriptor_leaks_over_1000_connections) {
  int before_all = open_descriptors();
  auto leaked = run([](asio::any_io_executor ex) -> asio::awaitable<int> {
    auto l = must_listen(ex, loopback_v4(), say_and_return_handler("hi"));
    int before = open_descriptors();  // the listener and the io_context's own are open now
    int served = co_await connect_and_close_many(l.local_port(), 1000);
    EXPECT_EQ(served, 1000);
    // Each peer read eof once the listener had closed its flow; the last slot is freed next.
    bool drained = co_await yield_until([&l] { return l.active_connections() == 0; });
    EXPECT_TRUE(drained);
    EXPECT_EQ(l.accepted_connections(), 1000u);
    co_return open_descriptors() - before;
  });
  EXPECT_EQ(leaked, 0);
  EXPECT_EQ(open_descriptors(), before_all);
}

}  // namespace
}  // namespace flowstack::socket
