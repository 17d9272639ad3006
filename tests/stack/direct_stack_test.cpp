// The userspace stack as a net::stack: two stacks on the in-memory switch, on a manual clock,
// talking TCP and UDP through the same interface the kernel's stack offers.
#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <flowstack/core/combinators.hpp>
#include <flowstack/net/error.hpp>
#include <flowstack/stack/direct_stack.hpp>
#include <flowstack/stack/memory_switch.hpp>
#include <memory>
#include <optional>
#include <string>

#include "support/async.hpp"
#include "support/run.hpp"
#include "support/virtual_time.hpp"

namespace flowstack::stack {
namespace {

using namespace std::chrono_literals;
using asio::ip::address_v4;

const mac_address mac_a{{2, 0, 0, 0, 0, 0xa}};
const mac_address mac_b{{2, 0, 0, 0, 0, 0xb}};
const address_v4 ip_a = asio::ip::make_address_v4("10.0.0.1");
const address_v4 ip_b = asio::ip::make_address_v4("10.0.0.2");
const address_v4 ip_absent = asio::ip::make_address_v4("10.0.0.9");

direct_stack_config config_for(const address_v4& a, std::size_t mtu = 1500) {
  direct_stack_config c;
  c.ipv4.address = a;
  c.ipv4.prefix_length = 24;
  c.ipv4.mtu = mtu;
  c.tcp.settings.mss = static_cast<std::uint16_t>(mtu - 40);
  c.tcp.seed = a.to_uint();
  return c;
}

// Two stacks, a (10.0.0.1) and b (10.0.0.2), on one switch. The stacks go first and the switch
// last, once their loops have ended (finish()).
struct two_hosts {
  two_hosts(asio::any_io_executor ex, manual_clock& time, link_faults faults = {})
      : net(ex, time, 7),
        a(std::make_unique<direct_stack>(ex, net.connect(mac_a, faults),
                                         config_for(ip_a, faults.mtu), time)),
        b(std::make_unique<direct_stack>(ex, net.connect(mac_b, faults),
                                         config_for(ip_b, faults.mtu), time)) {}

  // Destroys both stacks and lets their loops end, so that nothing uses the switch afterwards.
  asio::awaitable<void> finish() {
    a.reset();
    b.reset();
    for (int i = 0; i < 16; ++i) co_await asio::post(asio::use_awaitable);
  }

  memory_switch net;
  std::unique_ptr<direct_stack> a;
  std::unique_ptr<direct_stack> b;
};

asio::awaitable<void> echo(flow& f) {
  for (;;) {
    auto r = co_await f.read();
    if (!r || r->is_eof()) break;
    auto w = co_await f.write(r->data());
    if (!w) break;
  }
  co_await f.shutdown(shutdown_mode::write);
}

TEST(direct_stack, a_connection_carries_bytes_both_ways_and_ends_with_fin) {
  manual_clock time;
  test::run_virtual(time, [&time](asio::any_io_executor ex) -> asio::awaitable<void> {
    two_hosts hosts(ex, time);
    auto l = hosts.a->listen({address_v4::any(), 7}, echo);
    CO_ASSERT_TRUE(l.has_value());
    auto f = co_await hosts.b->connect({ip_a, 7});
    CO_ASSERT_TRUE(f.has_value());
    auto* tcp = f->as<net::tcp_flow>();
    CO_ASSERT_TRUE(tcp != nullptr);
    EXPECT_EQ(tcp->dst(), net::tcp_endpoint(ip_a, 7));
    EXPECT_EQ(tcp->src().address(), asio::ip::address(ip_b));
    auto w = co_await f->write(buffer::of_string("hello, stack"));
    EXPECT_TRUE(w);
    co_await f->shutdown(shutdown_mode::write);
    auto got = co_await test::read_all(*f);
    EXPECT_TRUE(got);
    EXPECT_EQ(got.value_or(""), "hello, stack");
    co_await f->close();
    l->unlisten();
    co_await time.wait_for(100ms);  // the last ACK crosses
    // On a clean link every segment one stack sends is one the other takes, none twice.
    const auto& sa = hosts.a->tcp().stats();
    const auto& sb = hosts.b->tcp().stats();
    EXPECT_GT(sa.segments_out, 0u);
    EXPECT_EQ(sa.segments_out, sb.segments_in);
    EXPECT_EQ(sb.segments_out, sa.segments_in);
    EXPECT_EQ(sa.retransmissions + sb.retransmissions, 0u);
    co_await hosts.finish();
  });
}

TEST(direct_stack, a_connect_to_a_port_nobody_listens_on_is_refused_by_rst) {
  manual_clock time;
  test::run_virtual(time, [&time](asio::any_io_executor ex) -> asio::awaitable<void> {
    two_hosts hosts(ex, time);
    auto f = co_await hosts.b->connect({ip_a, 9});
    EXPECT_FALSE(f.has_value());
    if (!f) {
      EXPECT_EQ(f.error(), net::net_errc::refused);
    }
    EXPECT_EQ(hosts.a->tcp().stats().resets_sent, 1u);
    co_await hosts.finish();
  });
}

TEST(direct_stack, a_connect_that_is_never_answered_times_out_on_the_stack_clock) {
  manual_clock time;
  test::run_virtual(time, [&time](asio::any_io_executor ex) -> asio::awaitable<void> {
    two_hosts hosts(ex, time);
    const auto start = time.now();
    net::connect_options o;
    o.timeout = 3000ms;
    auto f = co_await hosts.b->connect({ip_absent, 80}, o);
    EXPECT_FALSE(f.has_value());
    if (!f) {
      EXPECT_EQ(f.error(), flow_condition::timeout);
    }
    EXPECT_EQ(time.now() - start, 3000ms);
    EXPECT_EQ(hosts.b->tcp().connections(), 0u);  // the half-made connection is gone
    co_await hosts.finish();
  });
}

TEST(direct_stack, a_connect_to_an_address_no_one_answers_arp_for_fails_unreachable) {
  manual_clock time;
  test::run_virtual(time, [&time](asio::any_io_executor ex) -> asio::awaitable<void> {
    two_hosts hosts(ex, time);
    auto f = co_await hosts.b->connect({ip_absent, 80});
    EXPECT_FALSE(f.has_value());
    if (!f) {
      EXPECT_EQ(f.error(), net::net_errc::unreachable);
    }
    EXPECT_EQ(hosts.b->tcp().connections(), 0u);
    co_await hosts.finish();
  });
}

// A host that answers a SYN for a closed port with ICMP port unreachable instead of RST (a
// firewall's reject): the connect fails refused. The ICMP comes from a raw port on the switch.
TEST(direct_stack, an_icmp_port_unreachable_fails_the_connect_it_quotes_with_refused) {
  manual_clock time;
  test::run_virtual(time, [&time](asio::any_io_executor ex) -> asio::awaitable<void> {
    memory_switch net(ex, time);
    auto b = std::make_unique<direct_stack>(ex, net.connect(mac_b), config_for(ip_b), time);
    // A host at ip_a made of the network layer alone: it answers ARP and turns every TCP
    // segment into a port unreachable.
    auto raw = net.connect(mac_a);
    ipv4_layer host(mac_a, {ip_a, 24}, time.now());
    bool stop = false;
    asio::co_spawn(
        ex,
        [&]() -> asio::awaitable<void> {
          while (!stop) {
            auto f = co_await raw->receive();
            if (!f) break;
            std::vector<buffer> out;
            if (auto d = host.input(*f, time.now(), out)) {
              if (d->header.protocol == static_cast<std::uint8_t>(ip_protocol::tcp))
                host.send_unreachable(*d, unreachable_code::port, time.now(), out);
            }
            for (auto& o : out) (void)raw->send(std::move(o));
          }
        },
        asio::detached);
    auto f = co_await b->connect({ip_a, 80});
    EXPECT_FALSE(f.has_value());
    if (!f) {
      EXPECT_EQ(f.error(), net::net_errc::refused);
    }
    stop = true;
    raw->close();
    b.reset();
    for (int i = 0; i < 16; ++i) co_await asio::post(asio::use_awaitable);
  });
}

TEST(direct_stack, listening_on_a_port_taken_already_fails_address_in_use) {
  manual_clock time;
  test::run_virtual(time, [&time](asio::any_io_executor ex) -> asio::awaitable<void> {
    two_hosts hosts(ex, time);
    auto first = hosts.a->listen({address_v4::any(), 80}, echo);
    CO_ASSERT_TRUE(first.has_value());
    auto second = hosts.a->listen({address_v4::any(), 80}, echo);
    EXPECT_FALSE(second.has_value());
    if (!second) {
      EXPECT_EQ(second.error(), net::net_errc::address_in_use);
    }
    auto elsewhere = hosts.a->listen({ip_b, 81}, echo);  // not this stack's address
    EXPECT_FALSE(elsewhere.has_value());
    first->unlisten();
    auto again = hosts.a->listen({address_v4::any(), 80}, echo);
    EXPECT_TRUE(again.has_value());
    co_await hosts.finish();
  });
}

TEST(direct_stack, port_zero_listens_on_a_free_port_it_names) {
  manual_clock time;
  test::run_virtual(time, [&time](asio::any_io_executor ex) -> asio::awaitable<void> {
    two_hosts hosts(ex, time);
    auto l = hosts.a->listen({address_v4::any(), 0}, echo);
    CO_ASSERT_TRUE(l.has_value());
    EXPECT_NE(l->local_port(), 0);
    EXPECT_EQ(l->local_address(), "10.0.0.1:" + std::to_string(l->local_port()));
    auto f = co_await hosts.b->connect({ip_a, l->local_port()});
    EXPECT_TRUE(f.has_value());
    if (f) co_await f->close();
    co_await hosts.finish();
  });
}

TEST(direct_stack, a_megabyte_crosses_a_lossy_reordering_link_intact) {
  manual_clock time;
  test::run_virtual(time, [&time](asio::any_io_executor ex) -> asio::awaitable<void> {
    link_faults faults;
    faults.loss = 0.02;
    faults.reorder = 0.02;
    faults.duplicate = 0.01;
    faults.delay = 5ms;
    two_hosts hosts(ex, time, faults);
    std::string sent(1 << 20, '\0');
    for (std::size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<char>(i * 131 % 251);
    auto l = hosts.a->listen({address_v4::any(), 7}, echo);
    CO_ASSERT_TRUE(l.has_value());
    auto f = co_await hosts.b->connect({ip_a, 7});
    CO_ASSERT_TRUE(f.has_value());
    // The echo comes back while we write: a writer that read only after its last write would
    // need every buffer on the way (ours, the echo's both ways, the peer's) to hold the megabyte.
    std::optional<write_result> w;
    asio::co_spawn(
        ex,
        [&]() -> asio::awaitable<void> {
          w = co_await f->write(buffer::of_string(sent));
          co_await f->shutdown(shutdown_mode::write);
        },
        asio::detached);
    auto got = co_await test::read_all(*f);
    EXPECT_TRUE(w && *w);
    EXPECT_TRUE(got);
    EXPECT_EQ(got.value_or("").size(), sent.size());
    EXPECT_TRUE(got.value_or("") == sent);
    EXPECT_GT(hosts.net.counters(mac_a)->lost + hosts.net.counters(mac_b)->lost, 0u);
    // What was lost was sent again, and the stacks count it.
    const auto& sa = hosts.a->tcp().stats();
    const auto& sb = hosts.b->tcp().stats();
    EXPECT_GT(sa.retransmissions + sb.retransmissions, 0u);
    EXPECT_LE(sa.fast_retransmits, sa.retransmissions);
    EXPECT_LE(sb.fast_retransmits, sb.retransmissions);
    co_await f->close();
    co_await hosts.finish();
  });
}

// Segments of 64 KiB, as a TAP device's offloads hand over, are few, and only every second one is
// acknowledged at once: a reader that makes room in a full window must say so itself (RFC 9293
// §3.8.6.2.2), or the sender waits for the delayed ACK each time the window fills.
TEST(direct_stack, a_reader_that_empties_a_full_window_tells_the_sender_at_once) {
  manual_clock time;
  test::run_virtual(time, [&time](asio::any_io_executor ex) -> asio::awaitable<void> {
    link_faults jumbo;
    jumbo.mtu = 65535;
    two_hosts hosts(ex, time, jumbo);
    clock::time_point reading{}, done{};
    std::size_t received = 0;
    auto l = hosts.a->listen({address_v4::any(), 9}, [&](flow& f) -> asio::awaitable<void> {
      co_await time.wait_until(time.now() + 5ms);  // the window fills meanwhile
      reading = time.now();
      for (;;) {
        auto r = co_await f.read();
        if (!r || r->is_eof()) break;
        received += r->data().size();
      }
      done = time.now();
      co_await f.close();
    });
    CO_ASSERT_TRUE(l.has_value());
    auto f = co_await hosts.b->connect({ip_a, 9});
    CO_ASSERT_TRUE(f.has_value());
    const std::size_t size = 4 << 20;
    auto w = co_await f->write(buffer::create(size));
    EXPECT_TRUE(w);
    co_await f->shutdown(shutdown_mode::write);
    auto rest = co_await test::read_all(*f);
    EXPECT_TRUE(rest);
    EXPECT_EQ(received, size);
    // The link has no delay: the whole transfer takes no time, where a delayed ACK takes 40 ms.
    EXPECT_LT(done - reading, 1ms) << "the sender waited for a delayed ACK";
    co_await f->close();
    l->unlisten();
    co_await hosts.finish();
  });
}

TEST(direct_stack, an_abort_resets_the_peer) {
  manual_clock time;
  test::run_virtual(time, [&time](asio::any_io_executor ex) -> asio::awaitable<void> {
    two_hosts hosts(ex, time);
    auto l = hosts.a->listen({address_v4::any(), 7},
                             [](flow& f) -> asio::awaitable<void> { co_await f.abort(); });
    CO_ASSERT_TRUE(l.has_value());
    auto f = co_await hosts.b->connect({ip_a, 7});
    CO_ASSERT_TRUE(f.has_value());
    auto r = co_await f->read();
    EXPECT_FALSE(r.has_value());
    if (!r) {
      EXPECT_EQ(r.error(), flow_condition::reset);
    }
    co_await f->close();
    co_await hosts.finish();
  });
}

TEST(direct_stack, a_flow_keeps_its_stack_running_after_the_stack_object_is_gone) {
  manual_clock time;
  test::run_virtual(time, [&time](asio::any_io_executor ex) -> asio::awaitable<void> {
    two_hosts hosts(ex, time);
    auto l = hosts.a->listen({address_v4::any(), 7}, echo);
    CO_ASSERT_TRUE(l.has_value());
    auto f = co_await hosts.b->connect({ip_a, 7});
    CO_ASSERT_TRUE(f.has_value());
    hosts.b.reset();
    auto w = co_await f->write(buffer::of_string("still here"));
    EXPECT_TRUE(w);
    co_await f->shutdown(shutdown_mode::write);
    auto got = co_await test::read_all(*f);
    EXPECT_TRUE(got);
    EXPECT_EQ(got.value_or(""), "still here");
    co_await f->close();
    co_await hosts.finish();
  });
}

TEST(direct_stack, udp_datagrams_go_both_ways_and_a_connected_socket_hears_its_peer_only) {
  manual_clock time;
  test::run_virtual(time, [&time](asio::any_io_executor ex) -> asio::awaitable<void> {
    two_hosts hosts(ex, time);
    auto server = hosts.a->udp_bind({address_v4::any(), 53});
    CO_ASSERT_TRUE(server.has_value());
    auto client = hosts.b->udp_connect({ip_a, 53});
    CO_ASSERT_TRUE(client.has_value());
    auto sent = co_await (*client)->send(buffer::of_string("query"));
    EXPECT_TRUE(sent);
    auto q = co_await (*server)->receive_from();
    CO_ASSERT_TRUE(q.has_value());
    EXPECT_EQ(q->data.to_string(), "query");
    EXPECT_EQ(q->from, (*client)->local_endpoint());
    // From another port of the server's host: the connected client does not take it.
    auto other = hosts.a->udp_bind({address_v4::any(), 5353});
    CO_ASSERT_TRUE(other.has_value());
    auto stray = co_await (*other)->send_to(buffer::of_string("stray"), q->from);
    EXPECT_TRUE(stray);
    auto reply = co_await (*server)->send_to(buffer::of_string("answer"), q->from);
    EXPECT_TRUE(reply);
    auto a = co_await (*client)->receive();
    CO_ASSERT_TRUE(a.has_value());
    EXPECT_EQ(a->to_string(), "answer");
    (*client)->close();
    (*server)->close();
    (*other)->close();
    co_await hosts.finish();
  });
}

TEST(direct_stack, a_datagram_to_a_closed_port_is_answered_with_port_unreachable) {
  manual_clock time;
  test::run_virtual(time, [&time](asio::any_io_executor ex) -> asio::awaitable<void> {
    two_hosts hosts(ex, time);
    auto open = hosts.a->udp_bind({address_v4::any(), 53});
    CO_ASSERT_TRUE(open.has_value());
    auto client = hosts.b->udp_bind({address_v4::any(), 0});
    CO_ASSERT_TRUE(client.has_value());
    // The first datagram makes the hosts know each other's MAC addresses.
    auto first = co_await (*client)->send_to(buffer::of_string("hello"), {ip_a, 53});
    EXPECT_TRUE(first);
    auto heard = co_await (*open)->receive_from();
    EXPECT_TRUE(heard.has_value());
    const auto before = hosts.net.counters(mac_b)->delivered;
    auto sent = co_await (*client)->send_to(buffer::of_string("anyone?"), {ip_a, 4444});
    EXPECT_TRUE(sent);
    co_await time.wait_for(10ms);
    // One frame came back: the ICMP error, which b's IP layer took as well formed.
    EXPECT_EQ(hosts.net.counters(mac_b)->delivered, before + 1);
    EXPECT_EQ(hosts.b->network().drops(ipv4_layer::drop_reason::bad_packet), 0u);
    (*client)->close();
    (*open)->close();
    co_await hosts.finish();
  });
}

TEST(direct_stack, a_connected_udp_socket_hears_port_unreachable_as_refused_after_its_datagrams) {
  manual_clock time;
  test::run_virtual(time, [&time](asio::any_io_executor ex) -> asio::awaitable<void> {
    two_hosts hosts(ex, time);
    auto server = hosts.a->udp_bind({address_v4::any(), 53});
    CO_ASSERT_TRUE(server.has_value());
    auto client = hosts.b->udp_connect({ip_a, 53});
    CO_ASSERT_TRUE(client.has_value());
    auto sent = co_await (*client)->send(buffer::of_string("query"));
    EXPECT_TRUE(sent);
    auto q = co_await (*server)->receive_from();
    CO_ASSERT_TRUE(q.has_value());
    auto reply = co_await (*server)->send_to(buffer::of_string("answer"), q->from);
    EXPECT_TRUE(reply);
    // The server goes away; the next query is answered with port unreachable.
    (*server)->close();
    auto again = co_await (*client)->send(buffer::of_string("query"));
    EXPECT_TRUE(again);
    co_await time.wait_for(10ms);
    // What came before the error is read first, then the error, once.
    auto answer = co_await (*client)->receive();
    CO_ASSERT_TRUE(answer.has_value());
    EXPECT_EQ(answer->to_string(), "answer");
    auto refused = co_await with_timeout((*client)->receive(), 1s, time);
    CO_ASSERT_TRUE(!refused.has_value());
    EXPECT_EQ(refused.error(), net::net_errc::refused);
    // An unconnected socket of the same host is not told of errors about its datagrams.
    auto unconnected = hosts.b->udp_bind({address_v4::any(), 0});
    CO_ASSERT_TRUE(unconnected.has_value());
    auto stray = co_await (*unconnected)->send_to(buffer::of_string("anyone?"), {ip_a, 53});
    EXPECT_TRUE(stray);
    co_await time.wait_for(10ms);
    auto pending = co_await with_timeout((*unconnected)->receive_from(), 1s, time);
    CO_ASSERT_TRUE(!pending.has_value());
    EXPECT_EQ(pending.error(), flow_errc::timeout);
    (*client)->close();
    (*unconnected)->close();
    co_await hosts.finish();
  });
}

// 10,000 connections, ending every way a connection ends; afterwards (TIME-WAIT over) neither
// stack holds a connection, a port or a waiting flow.
TEST(direct_stack, ten_thousand_connections_of_every_ending_leave_nothing_behind) {
  manual_clock time;
  test::run_virtual(time, [&time](asio::any_io_executor ex) -> asio::awaitable<void> {
    two_hosts hosts(ex, time);
    // The server's side of each ending: echo then end, abort at once, or close while the
    // client is still sending (what arrives after the close is answered with RST).
    auto ending = [](flow& f) -> asio::awaitable<void> {
      auto r = co_await f.read();
      if (!r || r->is_eof()) co_return;
      const char how = r->data().to_string()[0];
      if (how == 'a') {
        co_await f.abort();
      } else if (how == 'u') {
        co_await f.close();
      } else {
        co_await f.write(r->data());
        co_await f.shutdown(shutdown_mode::write);
        (void)co_await f.read();
      }
    };
    auto l = hosts.a->listen({address_v4::any(), 7}, ending);
    CO_ASSERT_TRUE(l.has_value());
    constexpr int rounds = 2500;
    int done = 0;
    for (int i = 0; i < rounds; ++i) {
      for (const char* how : {"e", "a", "u"}) {
        auto f = co_await hosts.b->connect({ip_a, 7});
        CO_ASSERT_TRUE(f.has_value());
        (void)co_await f->write(buffer::of_string(std::string(how) + "xx"));
        if (how[0] == 'u') (void)co_await f->write(buffer::of_string("more, never read"));
        (void)co_await test::read_all(*f);
        co_await f->close();
        ++done;
      }
      auto refused = co_await hosts.b->connect({ip_a, 9});  // nobody listens: RST
      EXPECT_FALSE(refused.has_value());
      if (!refused && refused.error() == net::net_errc::refused) ++done;
    }
    EXPECT_EQ(done, 4 * rounds);
    co_await time.wait_for(2min);  // every TIME-WAIT is over
    EXPECT_EQ(hosts.a->tcp().connections(), 0u);
    EXPECT_EQ(hosts.b->tcp().connections(), 0u);
    EXPECT_EQ(l->active_connections(), 0u);
    EXPECT_EQ(l->accepted_connections(), 3u * rounds);
    l->unlisten();
    co_await hosts.finish();
  });
}

}  // namespace
}  // namespace flowstack::stack
