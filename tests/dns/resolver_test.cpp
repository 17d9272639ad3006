// The resolver over the in-memory fake upstream: ocaml-dns-forward's scenarios (server answers,
// bad answers ignored, TCP multiplexing, per-server timeout, zones, local names, order, cache, a
// failing server beside a good one), and what flowstack adds (answer ranking across servers,
// offline servers, TC retried over TCP, answers kept intact, the hook, reconfiguration).
#include "fake_upstream.hpp"
#include "resolver_checks.hpp"

#include "../support/async.hpp"
#include "../support/run.hpp"
#include "../support/virtual_time.hpp"

#include <flowstack/core/combinators.hpp>
#include <flowstack/dns/resolver.hpp>

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace flowstack::dns {
namespace {

using namespace std::chrono_literals;
using test::fake_query;
using test::fake_reply;
using test::fake_upstream;
using test::make_answer;
using test::make_query;
using test::to_wire;

const server_address first{asio::ip::make_address("192.0.2.1"), 53};
const server_address second{asio::ip::make_address("192.0.2.2"), 53};

config parse(std::string_view text) {
  auto c = parse_config(text);
  EXPECT_TRUE(c) << (c ? "" : c.error().detail);
  return c ? *c : config{};
}

resolver_options no_cache() {
  resolver_options o;
  o.cache_enabled = false;
  return o;
}

// An answer that says `address` for the query's name.
fake_reply answer_with(const message& query, std::array<std::uint8_t, 4> address) {
  auto m = make_answer(query);
  m.answers.clear();
  m.answers.push_back(
      record{query.questions.front().qname, rr_type::a, rr_class::in, 300, rdata_a{address}});
  return fake_reply::with(to_wire(m));
}

// An answer with response code `code` and the zone's SOA in the authority section.
fake_reply answer_rcode(const message& query, rcode code) {
  auto m = make_answer(query);
  m.answers.clear();
  m.set_rcode(static_cast<std::uint16_t>(code));
  m.authority.push_back(record{*name::parse("example.com"), rr_type::soa, rr_class::in, 60,
                               rdata_soa{*name::parse("ns.example.com"),
                                         *name::parse("hostmaster.example.com"), 1, 2, 3, 4, 30}});
  return fake_reply::with(to_wire(m));
}

std::array<std::uint8_t, 4> address_of(const message& answer) {
  if (answer.answers.empty()) return {};
  const auto* a = std::get_if<rdata_a>(&answer.answers.front().data);
  return a ? a->address : std::array<std::uint8_t, 4>{};
}

// One client of the multiplexing scenario: a thousand queries in a row, each for its own name
// with its own id; how many came back right.
asio::awaitable<std::size_t> ask_a_thousand(resolver& r, int client, client_protocol via) {
  std::size_t right = 0;
  for (int i = 0; i < 1000; ++i) {
    auto id = static_cast<std::uint16_t>(client * 1000 + i);
    auto query = make_query("q" + std::to_string(id) + ".example.com", rr_type::a, id);
    auto answer = co_await r.resolve(query, via);
    if (answer && answer->header.id == id && *answer == make_answer(query)) ++right;
  }
  co_return right;
}

// Waits until the detached tasks of a resolution (servers nobody waited for) have finished.
asio::awaitable<void> settle(fake_upstream& fake) {
  co_await fake.wait_until([&fake] { return fake.open_channels() == 0; });
}

TEST(resolver, server_answers) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        resolver r(ex, parse("nameserver 192.0.2.1\n"), fake, no_cache(), {}, fake.time());
        auto query = make_query("foo.example.com", rr_type::a, 0x1234);
        std::string source;
        auto answer = co_await r.resolve(query, client_protocol::udp, &source);
        CO_ASSERT_TRUE(answer);
        EXPECT_EQ(*answer, make_answer(query));
        EXPECT_EQ(source, "192.0.2.1#53");
        EXPECT_EQ(fake.queries_received(first), 1u);
        co_await finish(r, fake);
      });
}

TEST(resolver, bad_server_answers_are_ignored) {
  flowstack::test::run_on_manual_clock([](asio::any_io_executor ex,
                                          manual_clock& time) -> asio::awaitable<void> {
    fake_upstream fake(ex, time);
    // Only answers to another question: never accepted, so the query times out.
    fake.set_behaviour([](const fake_query& q) {
      auto wrong = make_answer(q.query);
      wrong.questions.front().qname = *name::parse("wrong.invalid");
      return fake_reply::with(to_wire(wrong));
    });
    resolver r(ex, parse("nameserver 192.0.2.1\ntimeout 100\n"), fake, no_cache(), {}, fake.time());
    auto answer = co_await r.resolve(make_query("foo.example.com"), client_protocol::udp);
    CO_ASSERT_TRUE(!answer);
    EXPECT_EQ(answer.error(), make_error_code(dns_errc::no_answer));
    co_await finish(r, fake);
  });
}

TEST(resolver, a_server_sending_garbage_does_not_delay_a_slow_good_one) {
  flowstack::test::run_on_manual_clock([](asio::any_io_executor ex,
                                          manual_clock& time) -> asio::awaitable<void> {
    fake_upstream fake(ex, time);
    fake.set_behaviour(first,
                       [](const fake_query& q) { return fake_reply::delayed(q.query, 50ms); });
    fake.set_behaviour(
        second, [](const fake_query& q) { return fake_reply::with(buffer::of_string("garbage")); });
    resolver r(ex,
               parse("nameserver 192.0.2.1\ntimeout 2000\nnameserver 192.0.2.2\ntimeout 2000\n"),
               fake, no_cache(), {}, fake.time());
    const auto started = time.now();
    auto answer = co_await r.resolve(make_query("foo.example.com"), client_protocol::tcp);
    CO_ASSERT_TRUE(answer);
    EXPECT_EQ(time.now() - started, 50ms) << "waited for the bad server's timeout";
    co_await finish(r, fake);
  });
}

TEST(resolver, tcp_multiplexing_five_clients_of_a_thousand_queries_on_one_connection) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        resolver r(ex, parse("nameserver 192.0.2.1\n"), fake, no_cache(), {}, fake.time());
        std::vector<flowstack::test::background<std::size_t>> clients;
        for (int c = 0; c < 5; ++c)
          clients.emplace_back(ex, ask_a_thousand(r, c, client_protocol::tcp));
        std::size_t right = 0;
        for (auto& c : clients) right += co_await c.get();
        EXPECT_EQ(right, 5000u);
        EXPECT_EQ(fake.connections_opened(), 1u);
        EXPECT_EQ(fake.tcp_queries(), 5000u);
        co_await finish(r, fake);
      });
}

TEST(resolver, udp_under_the_same_load) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        resolver r(ex, parse("nameserver 192.0.2.1\n"), fake, no_cache(), {}, fake.time());
        std::vector<flowstack::test::background<std::size_t>> clients;
        for (int c = 0; c < 5; ++c)
          clients.emplace_back(ex, ask_a_thousand(r, c, client_protocol::udp));
        std::size_t right = 0;
        for (auto& c : clients) right += co_await c.get();
        EXPECT_EQ(right, 5000u);
        EXPECT_EQ(fake.udp_queries(), 5000u);
        co_await finish(r, fake);
      });
}

TEST(resolver, an_answer_just_before_the_servers_timeout_is_taken) {
  flowstack::test::run_on_manual_clock([](asio::any_io_executor ex,
                                          manual_clock& time) -> asio::awaitable<void> {
    fake_upstream fake(ex, time);
    fake.set_behaviour(
        [](const fake_query& q) { return fake_reply::delayed(q.query, 100ms - 1ns); });
    resolver r(ex, parse("nameserver 192.0.2.1\ntimeout 100\n"), fake, no_cache(), {}, fake.time());
    const auto started = time.now();
    std::string source;
    auto answer = co_await r.resolve(make_query("foo.example.com"), client_protocol::udp, &source);
    EXPECT_TRUE(answer);
    EXPECT_EQ(source, "192.0.2.1#53");
    EXPECT_EQ(time.now() - started, 100ms - 1ns);
    EXPECT_TRUE(r.is_online(first));
    co_await finish(r, fake);
  });
}

TEST(resolver, per_server_timeout_is_respected) {
  flowstack::test::run_on_manual_clock([](asio::any_io_executor ex,
                                          manual_clock& time) -> asio::awaitable<void> {
    fake_upstream fake(ex, time);
    fake.set_behaviour(test::never_answer());
    resolver r(ex, parse("nameserver 192.0.2.1\ntimeout 100\n"), fake, no_cache(), {}, fake.time());
    const auto started = time.now();
    auto answer = co_await r.resolve(make_query("foo.example.com"), client_protocol::udp);
    EXPECT_FALSE(answer);
    EXPECT_EQ(time.now() - started, 100ms);
    EXPECT_EQ(fake.queries_received(first), 1u);
    co_await finish(r, fake);
  });
}

TEST(resolver, zone_config_sends_a_name_only_to_its_zones_server) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        resolver r(ex, parse("nameserver 192.0.2.1\nzone foo\nnameserver 192.0.2.2\n"), fake,
                   no_cache(), {}, fake.time());
        auto in_zone = co_await r.resolve(make_query("host.FOO"), client_protocol::udp);
        EXPECT_TRUE(in_zone);
        EXPECT_EQ(fake.queries_received(first), 1u);
        EXPECT_EQ(fake.queries_received(second), 0u) << "the other server got the zone's query";
        auto outside = co_await r.resolve(make_query("bar.example.com"), client_protocol::udp);
        EXPECT_TRUE(outside);
        EXPECT_EQ(fake.queries_received(first), 1u) << "the zone's server got another name";
        EXPECT_EQ(fake.queries_received(second), 1u);
        co_await finish(r, fake);
      });
}

TEST(resolver, local_names_win_over_the_servers) {
  flowstack::test::run_on_manual_clock([](asio::any_io_executor ex,
                                          manual_clock& time) -> asio::awaitable<void> {
    fake_upstream fake(ex, time);
    resolver_options options = no_cache();
    options.local = [](const message& query) -> std::optional<message> {
      if (!(query.questions.front().qname == *name::parse("callback.example"))) return {};
      auto m = make_answer(query);
      m.answers.front().data = rdata_a{{192, 168, 1, 1}};
      return m;
    };
    resolver r(ex, parse("nameserver 192.0.2.1\n"), fake, options,
               hosts::parse("10.1.2.3 foo foo.local\n"), fake.time());
    std::string source;
    auto from_hosts = co_await r.resolve(make_query("FOO"), client_protocol::udp, &source);
    CO_ASSERT_TRUE(from_hosts);
    EXPECT_EQ(address_of(*from_hosts), (std::array<std::uint8_t, 4>{10, 1, 2, 3}));
    EXPECT_EQ(source, "local");
    auto nodata = co_await r.resolve(make_query("foo", rr_type::aaaa), client_protocol::udp);
    CO_ASSERT_TRUE(nodata);
    EXPECT_TRUE(nodata->answers.empty());
    EXPECT_EQ(nodata->full_rcode(), 0);
    auto from_callback = co_await r.resolve(make_query("callback.example"), client_protocol::udp);
    CO_ASSERT_TRUE(from_callback);
    EXPECT_EQ(address_of(*from_callback), (std::array<std::uint8_t, 4>{192, 168, 1, 1}));
    EXPECT_EQ(fake.queries_received(), 0u);
    co_await finish(r, fake);
  });
}

TEST(resolver, the_lower_order_answers_and_the_higher_is_not_asked) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour(first, [](const fake_query& q) {
          auto r = answer_with(q.query, {192, 168, 1, 1});
          r.delay = 30ms;  // the private server is the slow one
          return r;
        });
        fake.set_behaviour(second, [](const fake_query& q) {
          return answer_with(q.query, {8, 8, 8, 8});
        });
        resolver r(ex, parse("nameserver 192.0.2.2\norder 1\nnameserver 192.0.2.1\norder 0\n"),
                   fake, no_cache(), {}, fake.time());
        auto answer = co_await r.resolve(make_query("foo"), client_protocol::udp);
        CO_ASSERT_TRUE(answer);
        EXPECT_EQ(address_of(*answer), (std::array<std::uint8_t, 4>{192, 168, 1, 1}));
        EXPECT_EQ(fake.queries_received(first), 1u);
        EXPECT_EQ(fake.queries_received(second), 0u);
        co_await finish(r, fake);
      });
}

TEST(resolver, the_next_order_is_asked_when_the_first_gives_no_answer) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour(
            first, [](const fake_query& q) { return answer_rcode(q.query, rcode::servfail); });
        fake.set_behaviour(second, [](const fake_query& q) {
          return answer_with(q.query, {8, 8, 8, 8});
        });
        resolver r(ex, parse("nameserver 192.0.2.1\nnameserver 192.0.2.2\norder 1\n"), fake,
                   no_cache(), {}, fake.time());
        auto answer = co_await r.resolve(make_query("foo"), client_protocol::udp);
        CO_ASSERT_TRUE(answer);
        EXPECT_EQ(address_of(*answer), (std::array<std::uint8_t, 4>{8, 8, 8, 8}));
        co_await finish(r, fake);
      });
}

TEST(resolver, servfail_is_passed_on_when_no_server_does_better) {
  flowstack::test::run_on_manual_clock([](asio::any_io_executor ex,
                                          manual_clock& time) -> asio::awaitable<void> {
    fake_upstream fake(ex, time);
    fake.set_behaviour([](const fake_query& q) { return answer_rcode(q.query, rcode::servfail); });
    resolver r(ex, parse("nameserver 192.0.2.1\n"), fake, no_cache(), {}, fake.time());
    auto answer = co_await r.resolve(make_query("foo"), client_protocol::udp);
    CO_ASSERT_TRUE(answer);
    EXPECT_EQ(answer->full_rcode(), static_cast<std::uint16_t>(rcode::servfail));
    co_await finish(r, fake);
  });
}

TEST(resolver, cache_answers_when_the_upstream_is_gone) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        resolver r(ex, parse("nameserver 192.0.2.1\ntimeout 100\n"), fake, {}, {}, fake.time());
        auto query = make_query("foo.example.com", rr_type::a, 1);
        auto first_answer = co_await r.resolve(query, client_protocol::udp);
        CO_ASSERT_TRUE(first_answer);
        fake.set_behaviour(test::never_answer());
        query.header.id = 2;
        std::string source;
        auto cached = co_await r.resolve(query, client_protocol::udp, &source);
        CO_ASSERT_TRUE(cached);
        EXPECT_EQ(source, "cache");
        EXPECT_EQ(cached->header.id, 2);
        EXPECT_EQ(cached->answers, first_answer->answers);
        EXPECT_EQ(fake.queries_received(), 1u);
        EXPECT_EQ(r.cache().stats().hits, 1u);
        co_await finish(r, fake);
      });
}

// A validating upstream: with checking disabled it hands out the bogus data (198.51.100.66);
// otherwise validation fails and it says SERVFAIL. Without RD it answers only from what it has
// (here: a referral-less NODATA).
fake_reply validating_upstream(const fake_query& q) {
  if (!q.query.header.rd) {
    auto m = make_answer(q.query);
    m.answers.clear();
    return fake_reply::of(m);
  }
  if (q.query.header.cd) return answer_with(q.query, {198, 51, 100, 66});
  auto m = make_answer(q.query);
  m.answers.clear();
  m.set_rcode(static_cast<std::uint16_t>(rcode::servfail));
  return fake_reply::of(m);
}

TEST(resolver, an_answer_fetched_with_checking_disabled_is_not_served_to_a_validating_client) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour(validating_upstream);
        resolver r(ex, parse("nameserver 192.0.2.1\n"), fake, {}, {}, fake.time());
        auto unchecked = make_query("bogus.example.com", rr_type::a, 1);
        unchecked.header.cd = true;
        auto bogus = co_await r.resolve(unchecked, client_protocol::udp);
        CO_ASSERT_TRUE(bogus);
        EXPECT_EQ(address_of(*bogus), (std::array<std::uint8_t, 4>{198, 51, 100, 66}));

        auto validating = make_query("bogus.example.com", rr_type::a, 2);
        auto refused = co_await r.resolve(validating, client_protocol::udp);
        CO_ASSERT_TRUE(refused);
        EXPECT_EQ(refused->full_rcode(), static_cast<std::uint16_t>(rcode::servfail));
        EXPECT_FALSE(refused->header.cd);

        unchecked.header.id = 3;
        std::string source;
        auto again = co_await r.resolve(unchecked, client_protocol::udp, &source);
        CO_ASSERT_TRUE(again);
        EXPECT_EQ(source, "cache");
        EXPECT_TRUE(again->header.cd);
        co_await finish(r, fake);
      });
}

TEST(resolver, a_query_without_rd_does_not_get_a_cached_recursive_answer) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour(validating_upstream);
        resolver r(ex, parse("nameserver 192.0.2.1\n"), fake, {}, {}, fake.time());
        auto unchecked = make_query("www.example.com", rr_type::a, 1);
        unchecked.header.cd = true;
        CO_ASSERT_TRUE(co_await r.resolve(unchecked, client_protocol::udp));

        auto iterative = unchecked;
        iterative.header.id = 2;
        iterative.header.rd = false;
        auto answer = co_await r.resolve(iterative, client_protocol::udp);
        CO_ASSERT_TRUE(answer);
        EXPECT_FALSE(answer->header.rd);
        EXPECT_TRUE(answer->answers.empty());
        EXPECT_EQ(fake.queries_received(), 2u);
        co_await finish(r, fake);
      });
}

TEST(resolver, nsid_asked_by_one_client_does_not_reach_the_next) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour([](const fake_query& q) {
          auto m = make_answer(q.query);
          m.edns = q.query.edns;
          if (m.edns) m.edns->options.assign(1, edns_option{3, {'u', 'p', '1'}});  // NSID, RFC 5001
          return fake_reply::of(m);
        });
        resolver r(ex, parse("nameserver 192.0.2.1\n"), fake, {}, {}, fake.time());
        auto asking = make_query("www.example.com", rr_type::a, 1);
        asking.edns.emplace();
        asking.edns->options.push_back({3, {}});
        auto first_answer = co_await r.resolve(asking, client_protocol::udp);
        CO_ASSERT_TRUE(first_answer && first_answer->edns);
        EXPECT_EQ(first_answer->edns->options.size(), 1u);

        auto next = make_query("www.example.com", rr_type::a, 2);
        next.edns.emplace();
        std::string source;
        auto second_answer = co_await r.resolve(next, client_protocol::udp, &source);
        CO_ASSERT_TRUE(second_answer && second_answer->edns);
        EXPECT_EQ(source, "cache");
        EXPECT_TRUE(second_answer->edns->options.empty());
        co_await finish(r, fake);
      });
}

TEST(resolver, a_server_that_answers_nxdomain_loses_to_one_that_answers) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour(
            first, [](const fake_query& q) { return answer_rcode(q.query, rcode::nxdomain); });
        fake.set_behaviour(second, [](const fake_query& q) {
          auto r = answer_with(q.query, {8, 8, 8, 8});
          r.delay = 30ms;
          return r;
        });
        resolver r(ex, parse("nameserver 192.0.2.1\nnameserver 192.0.2.2\n"), fake, no_cache(), {},
                   fake.time());
        auto answer = co_await r.resolve(make_query("foo"), client_protocol::udp);
        CO_ASSERT_TRUE(answer);
        EXPECT_EQ(answer->full_rcode(), 0);
        EXPECT_EQ(address_of(*answer), (std::array<std::uint8_t, 4>{8, 8, 8, 8}));
        co_await finish(r, fake);
      });
}

TEST(resolver, nxdomain_beats_a_server_that_never_answers) {
  flowstack::test::run_on_manual_clock([](asio::any_io_executor ex,
                                          manual_clock& time) -> asio::awaitable<void> {
    fake_upstream fake(ex, time);
    fake.set_behaviour(first,
                       [](const fake_query& q) { return answer_rcode(q.query, rcode::nxdomain); });
    fake.set_behaviour(second, test::never_answer());
    resolver r(ex, parse("nameserver 192.0.2.1\ntimeout 100\nnameserver 192.0.2.2\ntimeout 100\n"),
               fake, no_cache(), {}, fake.time());
    auto answer = co_await r.resolve(make_query("foo"), client_protocol::udp);
    CO_ASSERT_TRUE(answer);
    EXPECT_EQ(answer->full_rcode(), static_cast<std::uint16_t>(rcode::nxdomain));
    EXPECT_EQ(answer->authority.size(), 1u) << "the SOA is kept";
    co_await finish(r, fake);
  });
}

TEST(resolver, a_dead_server_goes_offline_stops_delaying_answers_and_comes_back) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour(first, test::never_answer());
        fake.set_behaviour(
            second, [](const fake_query& q) { return answer_rcode(q.query, rcode::nxdomain); });
        resolver r(ex,
                   parse("assume-offline-after 2\nnameserver 192.0.2.1\ntimeout 300\n"
                         "nameserver 192.0.2.2\ntimeout 300\n"),
                   fake, no_cache(), {}, fake.time());
        for (int i = 0; i < 2; ++i) {
          const auto started = time.now();
          auto answer = co_await r.resolve(make_query("foo"), client_protocol::udp);
          EXPECT_TRUE(answer);
          EXPECT_EQ(time.now() - started, 300ms) << "waited for the dead server, query " << i;
        }
        EXPECT_FALSE(r.is_online(first));
        EXPECT_TRUE(r.is_online(second));
        const auto started = time.now();
        auto answer = co_await r.resolve(make_query("foo"), client_protocol::udp);
        EXPECT_TRUE(answer);
        EXPECT_EQ(time.now() - started, clock::duration::zero())
            << "an offline server still delays answers";
        EXPECT_EQ(fake.queries_received(first), 3u) << "live traffic no longer probes it";
        co_await settle(fake);

        // Its first answer brings it back.
        fake.set_behaviour(first, test::answer_all());
        auto probe = co_await r.resolve(make_query("foo"), client_protocol::udp);
        EXPECT_TRUE(probe);
        co_await settle(fake);  // its answer, which nobody waited for, has come
        EXPECT_TRUE(r.is_online(first));
        co_await finish(r, fake);
      });
}

TEST(resolver, a_truncated_udp_answer_is_asked_again_over_tcp) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour([](const fake_query& q) {
          auto m = make_answer(q.query);
          if (q.protocol == upstream_protocol::udp) {
            m.header.tc = true;
            m.answers.clear();
          }
          return fake_reply::with(to_wire(m));
        });
        resolver r(ex, parse("nameserver 192.0.2.1\n"), fake, no_cache(), {}, fake.time());
        auto query = make_query("foo");
        auto answer = co_await r.resolve(query, client_protocol::udp);
        CO_ASSERT_TRUE(answer);
        EXPECT_FALSE(answer->header.tc);
        EXPECT_EQ(*answer, make_answer(query));
        EXPECT_EQ(fake.udp_queries(), 1u);
        EXPECT_EQ(fake.tcp_queries(), 1u);
        co_await finish(r, fake);
      });
}

TEST(resolver, the_upstream_answer_comes_back_intact_but_for_the_id) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour([](const fake_query& q) {
          auto m = make_answer(q.query);
          m.header.aa = true;
          m.authority.push_back(record{*name::parse("example.com"), rr_type::ns, rr_class::in, 60,
                                       rdata_name{*name::parse("ns.example.com")}});
          m.additional.push_back(record{*name::parse("ns.example.com"), rr_type::a, rr_class::in,
                                        60, rdata_a{{192, 0, 2, 53}}});
          m.edns = edns{};
          m.edns->udp_payload_size = 4096;
          m.edns->options.push_back(edns_option{10, {1, 2, 3, 4, 5, 6, 7, 8}});
          return fake_reply::with(to_wire(m));
        });
        resolver r(ex, parse("nameserver 192.0.2.1\n"), fake, no_cache(), {}, fake.time());
        auto query = make_query("foo.example.com", rr_type::a, 0x7777);
        query.edns = edns{};
        auto answer = co_await r.resolve(query, client_protocol::udp);
        CO_ASSERT_TRUE(answer);
        EXPECT_EQ(answer->header.id, 0x7777);
        EXPECT_TRUE(answer->header.aa);
        EXPECT_EQ(answer->authority.size(), 1u);
        EXPECT_EQ(answer->additional.size(), 1u);
        CO_ASSERT_TRUE(answer->edns);
        EXPECT_EQ(answer->edns->udp_payload_size, 4096);
        EXPECT_EQ(answer->edns->options.size(), 1u);
        co_await finish(r, fake);
      });
}

TEST(resolver, the_hook_sees_every_message_in_order) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        std::vector<message_direction> seen;
        resolver_options options = no_cache();
        options.hook = [&seen](message_direction d, const message&, const server_address*) {
          seen.push_back(d);
        };
        resolver r(ex, parse("nameserver 192.0.2.1\n"), fake, options, {}, fake.time());
        auto answer = co_await r.resolve(make_query("foo"), client_protocol::udp);
        EXPECT_TRUE(answer);
        EXPECT_EQ(seen, (std::vector<message_direction>{
                            message_direction::from_client, message_direction::to_upstream,
                            message_direction::from_upstream, message_direction::to_client}));
        co_await finish(r, fake);
      });
}

TEST(resolver, reconfigure_switches_servers_and_keeps_the_ones_still_named) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        resolver r(ex, parse("nameserver 192.0.2.1\n"), fake, no_cache(), {}, fake.time());
        auto before = co_await r.resolve(make_query("foo"), client_protocol::tcp);
        EXPECT_TRUE(before);
        r.reconfigure(parse("nameserver 192.0.2.1\nnameserver 192.0.2.2\norder 1\n"));
        auto kept = co_await r.resolve(make_query("bar"), client_protocol::tcp);
        EXPECT_TRUE(kept);
        EXPECT_EQ(fake.connections_opened(), 1u) << "the kept server's connection was dropped";
        r.reconfigure(parse("nameserver 192.0.2.2\n"));
        auto after = co_await r.resolve(make_query("baz"), client_protocol::udp);
        EXPECT_TRUE(after);
        EXPECT_EQ(fake.queries_received(second), 1u);
        EXPECT_EQ(r.current_config().servers.size(), 1u);
        co_await finish(r, fake);
      });
}

TEST(resolver, a_removed_server_closes_once_its_query_in_flight_is_answered) {
  flowstack::test::run_on_manual_clock([](asio::any_io_executor ex,
                                          manual_clock& time) -> asio::awaitable<void> {
    fake_upstream fake(ex, time);
    fake.set_behaviour(first, test::hold_all());
    resolver r(ex, parse("nameserver 192.0.2.1\n"), fake, no_cache(), {}, fake.time());
    const auto started = time.now();
    flowstack::test::background<result<message>> asked(
        ex, r.resolve(make_query("foo"), client_protocol::tcp));
    co_await fake.wait_for_queries(1);
    r.reconfigure(parse("nameserver 192.0.2.2\n"));
    co_await flowstack::test::yield(10);
    EXPECT_EQ(fake.open_flows(), 1u) << "closed under a query in flight";
    fake.release_held();
    auto answer = co_await asked.get();
    EXPECT_TRUE(answer);
    auto* f = &fake;
    std::function<bool()> closed = [f] { return f->open_flows() == 0; };
    auto retired = co_await with_timeout(fake.wait_until(closed), 1min, time);
    EXPECT_TRUE(retired && *retired) << "the removed server was not closed";
    EXPECT_EQ(time.now(), started) << "the retirement waited for time to pass, not for the answer";
    co_await finish(r, fake);
  });
}

TEST(resolver, a_query_without_exactly_one_question_is_refused) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        resolver r(ex, parse("nameserver 192.0.2.1\n"), fake, no_cache(), {}, fake.time());
        message none;
        auto answer = co_await r.resolve(none, client_protocol::udp);
        CO_ASSERT_TRUE(!answer);
        EXPECT_EQ(answer.error(), make_error_code(dns_errc::not_a_query));
        co_await finish(r, fake);
      });
}

}  // namespace
}  // namespace flowstack::dns
