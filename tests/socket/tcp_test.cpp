#include <sys/socket.h>

#include <asio/ip/tcp.hpp>
#include <flowstack/socket/stack.hpp>
#include <flowstack/socket/tcp.hpp>

#include "helpers.hpp"
#include "support/run.hpp"
#include "support/virtual_time.hpp"

namespace flowstack::socket {
namespace {

using namespace std::chrono_literals;
using namespace test;

TEST(tcp, bytes_cross_a_loopback_connection_both_ways) {
  auto got = run([](asio::any_io_executor ex) -> asio::awaitable<std::string> {
    auto l = must_listen(ex, loopback_v4(), echo_handler());
    auto f = co_await must_connect(loopback_v4(l.local_port()));
    auto w1 = co_await write_string(f, "hello, flow");
    EXPECT_TRUE(w1) << error_of(w1).message();
    co_await f.shutdown(shutdown_mode::write);
    auto text = co_await read_all(f);
    co_await f.close();
    co_return text.value_or("<error>");
  });
  EXPECT_EQ(got, "hello, flow");
}

TEST(tcp, connect_to_closed_port_is_refused) {
  auto error = run([](asio::any_io_executor ex) -> asio::awaitable<std::error_code> {
    // A socket bound but not listening holds the port, so nobody else can listen there.
    asio::ip::tcp::acceptor holder(ex);
    holder.open(asio::ip::tcp::v4());
    holder.bind(loopback_v4());
    auto r = co_await connect(holder.local_endpoint());
    co_return error_of(r);
  });
  EXPECT_EQ(error, net::net_errc::refused);
}

TEST(tcp, connect_with_timeout_still_reports_refused) {
  auto error = run([](asio::any_io_executor ex) -> asio::awaitable<std::error_code> {
    asio::ip::tcp::acceptor holder(ex);
    holder.open(asio::ip::tcp::v4());
    holder.bind(loopback_v4());
    connect_options options;
    options.timeout = 2s;
    auto r = co_await connect(holder.local_endpoint(), options);
    co_return error_of(r);
  });
  EXPECT_EQ(error, net::net_errc::refused);
}

TEST(tcp, dst_and_src_report_the_endpoints) {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto accepted_dst = std::make_shared<tcp_endpoint>();
    auto accepted_src = std::make_shared<tcp_endpoint>();
    auto served = std::make_shared<gate>(ex);
    flow_handler handler = [accepted_dst, accepted_src, served](flow& f) {
      *accepted_dst = f.as<tcp_flow>()->dst();
      *accepted_src = f.as<tcp_flow>()->src();
      served->open();
      return echo(f);
    };
    auto l = must_listen(ex, loopback_v4(), handler);
    auto f = co_await must_connect(loopback_v4(l.local_port()));
    co_await served->wait();
    auto* tcp = f.as<tcp_flow>();
    EXPECT_NE(tcp, nullptr);
    EXPECT_EQ(tcp->dst(), loopback_v4(l.local_port()));
    EXPECT_EQ(tcp->get_dest(), tcp->dst());
    EXPECT_EQ(tcp->src().address(), asio::ip::make_address("127.0.0.1"));
    EXPECT_NE(tcp->src().port(), 0);
    // The accepting side sees the same connection from the other end.
    EXPECT_EQ(*accepted_dst, tcp->src());
    EXPECT_EQ(*accepted_src, tcp->dst());
    co_await f.close();
  });
}

TEST(tcp, description_names_both_endpoints) {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto l = must_listen(ex, loopback_v4(), echo_handler());
    auto f = co_await must_connect(loopback_v4(l.local_port()));
    auto src = to_string(f.as<tcp_flow>()->src());
    EXPECT_EQ(f.description(), "tcp " + src + " -> 127.0.0.1:" + std::to_string(l.local_port()));
    co_await f.close();
  });
}

TEST(tcp, ipv6_loopback_works) {
  auto got = run([](asio::any_io_executor ex) -> asio::awaitable<std::string> {
    auto l = must_listen(ex, loopback_v6(), echo_handler());
    EXPECT_EQ(l.local_address(), "[::1]:" + std::to_string(l.local_port()));
    auto f = co_await must_connect(loopback_v6(l.local_port()));
    EXPECT_TRUE(f.description().find("-> [::1]:") != std::string::npos) << f.description();
    auto w2 = co_await write_string(f, "over v6");
    EXPECT_TRUE(w2) << error_of(w2).message();
    co_await f.shutdown(shutdown_mode::write);
    auto text = co_await read_all(f);
    co_await f.close();
    co_return text.value_or("<error>");
  });
  EXPECT_EQ(got, "over v6");
}

TEST(tcp, v4_and_v6_loopback_listeners_share_a_port) {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto v6 = must_listen(ex, loopback_v6(), say_and_return_handler("six"));
    auto v4 = listen(ex, loopback_v4(v6.local_port()), say_and_return_handler("four"));
    EXPECT_TRUE(v4) << error_of(v4).message();
    if (!v4) co_return;
    auto a = co_await must_connect(loopback_v4(v6.local_port()));
    auto b = co_await must_connect(loopback_v6(v6.local_port()));
    auto from_a = co_await read_all(a);
    auto from_b = co_await read_all(b);
    EXPECT_EQ(from_a.value_or("<error>"), "four");
    EXPECT_EQ(from_b.value_or("<error>"), "six");
    co_await a.close();
    co_await b.close();
  });
}

TEST(tcp, connect_by_name_tries_each_resolved_address) {
  // "localhost" may resolve to ::1 first; only 127.0.0.1 listens, so connect must go on.
  auto got = run([](asio::any_io_executor ex) -> asio::awaitable<std::string> {
    auto l = must_listen(ex, loopback_v4(), say_and_return_handler("by name"));
    host_port where{"localhost", l.local_port()};
    auto r = co_await connect(where);
    EXPECT_TRUE(r) << error_of(r).message();
    if (!r) co_return "";
    auto text = co_await read_all(*r);
    co_await r->close();
    co_return text.value_or("<error>");
  });
  EXPECT_EQ(got, "by name");
}

TEST(tcp, read_buffer_is_sized_to_what_arrived) {
  auto size = run([](asio::any_io_executor ex) -> asio::awaitable<std::size_t> {
    auto l = must_listen(ex, loopback_v4(), say_and_return_handler("ten bytes!"));
    auto f = co_await must_connect(loopback_v4(l.local_port()));
    // All ten bytes have arrived, and the FIN after them: the read may take as much as it likes.
    bool finished = co_await peer_finished(f);
    EXPECT_TRUE(finished);
    auto r = co_await f.read();
    co_await f.close();
    co_return r && !r->is_eof() ? r->data().size() : 0;
  });
  EXPECT_EQ(size, 10u);
}

TEST(tcp, no_read_returns_more_than_read_buffer_size) {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto l = must_listen(ex, loopback_v4(), say_and_return_handler(std::string(1000, 'x')));
    // The seeds' form: connect ?read_buffer_size.
    auto r = co_await connect(loopback_v4(l.local_port()), std::size_t{64});
    EXPECT_TRUE(r);
    if (!r) co_return;
    // All 1000 bytes are queued (the FIN came after them), so only the limit keeps reads small.
    bool finished = co_await peer_finished(*r);
    EXPECT_TRUE(finished);
    std::size_t total = 0;
    for (;;) {
      auto got = co_await r->read();
      EXPECT_TRUE(got);
      if (!got || got->is_eof()) break;
      EXPECT_LE(got->data().size(), 64u);
      total += got->data().size();
    }
    EXPECT_EQ(total, 1000u);
    co_await r->close();
  });
}

TEST(tcp, shutdown_write_gives_the_peer_eof_and_reading_goes_on) {
  auto got = run([](asio::any_io_executor ex) -> asio::awaitable<std::string> {
    auto l = must_listen(ex, loopback_v4(), echo_handler());
    auto f = co_await must_connect(loopback_v4(l.local_port()));
    auto w3 = co_await write_string(f, "half");
    EXPECT_TRUE(w3) << error_of(w3).message();
    co_await f.shutdown(shutdown_mode::write);
    auto late = co_await write_string(f, "more");
    EXPECT_EQ(error_of(late), flow_errc::closed);
    auto text = co_await read_all(f);
    co_await f.close();
    co_return text.value_or("<error>");
  });
  EXPECT_EQ(got, "half");
}

asio::awaitable<read_result> read_of(flow& f) {
  co_return co_await f.read();
}

TEST(tcp, shutdown_read_wakes_a_pending_read_with_eof) {
  auto got = run([](asio::any_io_executor ex) -> asio::awaitable<std::string> {
    auto l = must_listen(ex, loopback_v4(), echo_handler());
    auto f = co_await must_connect(loopback_v4(l.local_port()));
    background<read_result> pending(ex, read_of(f));
    co_await yield(3);  // the read has started; nothing will come for it
    EXPECT_FALSE(pending.ready());
    co_await f.shutdown(shutdown_mode::read);
    auto r = co_await pending.get();
    co_await f.close();
    co_return describe(r);
  });
  EXPECT_EQ(got, "<eof>");
}

TEST(tcp, close_ends_a_pending_read_with_closed) {
  auto error = run([](asio::any_io_executor ex) -> asio::awaitable<std::error_code> {
    auto l = must_listen(ex, loopback_v4(), echo_handler());
    auto f = co_await must_connect(loopback_v4(l.local_port()));
    background<read_result> pending(ex, read_of(f));
    co_await yield(3);  // the read has started; nothing will come for it
    EXPECT_FALSE(pending.ready());
    co_await f.close();
    auto r = co_await pending.get();
    co_return error_of(r);
  });
  EXPECT_EQ(error, flow_errc::closed);
}

TEST(tcp, peer_reset_mid_transfer_gives_reset) {
  auto error = run([](asio::any_io_executor ex) -> asio::awaitable<std::error_code> {
    // The peer is a plain Asio socket so the test can set SO_LINGER on it.
    asio::ip::tcp::acceptor acceptor(ex, loopback_v4());
    auto f = co_await must_connect(acceptor.local_endpoint());
    auto peer = co_await acceptor.async_accept(asio::use_awaitable);
    co_await asio::async_write(peer, asio::buffer(std::string("partial")), asio::use_awaitable);
    auto head = co_await read_string(f, 7);
    EXPECT_EQ(head.value_or("<error>"), "partial");
    peer.set_option(asio::socket_base::linger(true, 0));
    peer.close();
    auto r = co_await f.read();
    auto error = error_of(r);
    // The failure is sticky: a write fails the same way.
    auto w = co_await write_string(f, "after");
    EXPECT_EQ(error_of(w), error);
    co_await f.close();
    co_return error;
  });
  EXPECT_EQ(error, net::net_errc::reset);
}

TEST(tcp, write_nodelay_delivers_at_once_between_ordinary_writes) {
  auto got = run([](asio::any_io_executor ex) -> asio::awaitable<std::string> {
    auto l = must_listen(ex, loopback_v4(), echo_handler());
    auto f = co_await must_connect(loopback_v4(l.local_port()));
    auto* tcp = f.as<tcp_flow>();
    auto w4 = co_await write_string(f, "a");
    EXPECT_TRUE(w4) << error_of(w4).message();
    auto w5 = co_await tcp->write_nodelay(buffer::of_string("b"));
    EXPECT_TRUE(w5) << error_of(w5).message();
    std::vector<buffer> parts{buffer::of_string("c"), buffer::of_string("d")};
    auto w6 = co_await tcp->writev_nodelay(parts);
    EXPECT_TRUE(w6) << error_of(w6).message();
    // The echo of all four comes back without a shutdown to push it.
    auto text = co_await read_string(f, 4);
    co_await f.close();
    co_return text.value_or("<error>");
  });
  EXPECT_EQ(got, "abcd");
}

TEST(tcp, options_set_nodelay_and_keepalive_on_connected_flows) {
  auto got = run([](asio::any_io_executor ex) -> asio::awaitable<std::string> {
    auto l = must_listen(ex, loopback_v4(), echo_handler());
    connect_options options;
    options.nodelay = true;
    options.keepalive = keepalive{std::chrono::seconds(5), std::chrono::seconds(1), 3};
    auto f = co_await must_connect(loopback_v4(l.local_port()), options);
    f.as<tcp_flow>()->set_nodelay(false);
    auto w7 = co_await write_string(f, "ok");
    EXPECT_TRUE(w7) << error_of(w7).message();
    auto text = co_await read_string(f, 2);
    co_await f.close();
    co_return text.value_or("<error>");
  });
  EXPECT_EQ(got, "ok");
}

TEST(tcp, a_read_cut_short_by_with_timeout_leaves_the_flow_usable) {
  // On a manual clock: the timeout falls due once nothing else can run, in no wall time.
  manual_clock time;
  auto got = run_virtual(time, [&time](asio::any_io_executor ex) -> asio::awaitable<std::string> {
    auto l = must_listen(ex, loopback_v4(), echo_handler());
    auto f = co_await must_connect(loopback_v4(l.local_port()));
    auto early = co_await with_timeout(read_of(f), 20ms, time);
    EXPECT_EQ(error_of(early), flow_errc::timeout);
    auto w = co_await write_string(f, "later");
    EXPECT_TRUE(w);
    auto text = co_await read_string(f, 5);
    co_await f.close();
    co_return text.value_or("<error>");
  });
  EXPECT_EQ(got, "later");
}

TEST(tcp, a_zero_read_buffer_size_means_the_default) {
  auto size = run([](asio::any_io_executor ex) -> asio::awaitable<std::size_t> {
    auto l = must_listen(ex, loopback_v4(), say_and_return_handler("several bytes"));
    auto r = co_await connect(loopback_v4(l.local_port()), std::size_t{0});
    EXPECT_TRUE(r);
    if (!r) co_return 0;
    // All 13 bytes are queued (the FIN came after them): one read of the default size takes them.
    bool finished = co_await peer_finished(*r);
    EXPECT_TRUE(finished);
    auto got = co_await r->read();
    co_await r->close();
    co_return got && !got->is_eof() ? got->data().size() : 0;
  });
  EXPECT_EQ(size, 13u);
}

TEST(stack, create_connection_gives_a_tcp_flow) {
  auto got = run([](asio::any_io_executor ex) -> asio::awaitable<std::string> {
    socket::stack s(ex);
    auto l = s.listen(loopback_v4(), say_and_return_handler("from the stack"));
    EXPECT_TRUE(l);
    if (!l) co_return "";
    auto f = co_await s.create_connection(loopback_v4(l->local_port()));
    EXPECT_TRUE(f);
    if (!f) co_return "";
    auto text = co_await read_all(*f);
    co_await f->close();
    co_return text.value_or("<error>");
  });
  EXPECT_EQ(got, "from the stack");
}

}  // namespace
}  // namespace flowstack::socket
