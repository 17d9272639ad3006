// The upstream client over the in-memory fake server: id and question matching (RFC 5452),
// UDP resends, TCP multiplexing on one connection, back-pressure, cancellation, close, leaks.
#include "fake_upstream.hpp"

#include "../support/async.hpp"
#include "../support/faults.hpp"
#include "../support/run.hpp"
#include "../support/virtual_time.hpp"

#include <flowstack/core/combinators.hpp>
#include <flowstack/dns/upstream.hpp>

#include <asio/experimental/awaitable_operators.hpp>

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace flowstack::dns {
namespace {

using namespace std::chrono_literals;
using flowstack::test::background;
using test::fake_query;
using test::fake_reply;
using test::fake_upstream;
using test::make_answer;
using test::make_query;

// Closes the upstream, checks that nothing it opened is left open, and ends the fake server.
asio::awaitable<void> finish(upstream& up, fake_upstream& fake) {
  co_await up.close();
  EXPECT_EQ(up.in_flight(), 0u);
  EXPECT_EQ(fake.open_flows(), 0u) << "connections left open";
  EXPECT_EQ(fake.open_channels(), 0u) << "datagram channels left open";
  co_await fake.shutdown();
}

std::unique_ptr<upstream> make(asio::any_io_executor ex, upstream_protocol protocol,
                               fake_upstream& fake, upstream_options options = {}) {
  return make_upstream(ex, protocol, fake.address(), fake, options, fake.time());
}

// Queries for distinct names, so that every answer says which query it belongs to.
std::vector<message> distinct_queries(std::size_t n, std::string_view prefix = "q") {
  std::vector<message> queries;
  for (std::size_t i = 0; i < n; ++i) {
    queries.push_back(make_query(std::string(prefix) + std::to_string(i) + ".example.com",
                                 rr_type::a, static_cast<std::uint16_t>(i)));
  }
  return queries;
}

// An answer as the caller must see it: the server's answer with the caller's id.
void expect_answers(const result<message>& answer, const message& query) {
  ASSERT_TRUE(answer) << answer.error().message();
  EXPECT_EQ(*answer, make_answer(query));
}

std::set<std::uint16_t> ids_received(const fake_upstream& fake) {
  std::set<std::uint16_t> ids;
  for (const auto& q : fake.received()) ids.insert(q.query.header.id);
  return ids;
}

// ---- UDP ---------------------------------------------------------------------------------------

TEST(upstream, udp_query_gets_the_answer_with_the_callers_id) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        auto up = make(ex, upstream_protocol::udp, fake);
        auto query = make_query("www.example.com", rr_type::a, 0x1234);
        auto answer = co_await up->query(query);
        expect_answers(answer, query);
        EXPECT_EQ(fake.udp_queries(), 1u);
        EXPECT_EQ(fake.channels_opened(), 1u);
        EXPECT_EQ(fake.open_channels(), 0u) << "the channel lives as long as its query";
        EXPECT_EQ(fake.received().front().query.questions, query.questions);
        co_await finish(*up, fake);
      });
}

TEST(upstream, udp_answer_with_wrong_id_is_dropped_then_right_one_accepted) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour([](const fake_query& q) { return fake_reply::wrong_id_first(q.query); });
        auto up = make(ex, upstream_protocol::udp, fake);
        auto query = make_query("www.example.com");
        auto answer = co_await up->query(query);
        expect_answers(answer, query);
        EXPECT_EQ(fake.udp_queries(), 1u) << "answered without a resend";
        co_await finish(*up, fake);
      });
}

TEST(upstream, udp_answer_with_wrong_question_is_dropped) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour(
            [](const fake_query& q) { return fake_reply::wrong_question_first(q.query); });
        auto up = make(ex, upstream_protocol::udp, fake);
        auto query = make_query("www.example.com");
        auto answer = co_await up->query(query);
        expect_answers(answer, query);
        co_await finish(*up, fake);
      });
}

TEST(upstream, udp_message_without_qr_is_dropped) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour([](const fake_query& q) { return fake_reply::echo_first(q.query); });
        auto up = make(ex, upstream_protocol::udp, fake);
        auto query = make_query("www.example.com");
        auto answer = co_await up->query(query);
        expect_answers(answer, query);
        co_await finish(*up, fake);
      });
}

TEST(upstream, udp_undecodable_datagram_is_dropped) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour([](const fake_query& q) { return fake_reply::garbage_first(q.query); });
        auto up = make(ex, upstream_protocol::udp, fake);
        auto query = make_query("www.example.com");
        auto answer = co_await up->query(query);
        expect_answers(answer, query);
        co_await finish(*up, fake);
      });
}

TEST(upstream, udp_question_name_matches_without_regard_to_case) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour([](const fake_query& q) {
          auto answer = make_answer(q.query);
          answer.questions.front().qname = *name::parse("WWW.Example.COM");
          return fake_reply::with(test::to_wire(answer));
        });
        auto up = make(ex, upstream_protocol::udp, fake);
        auto query = make_query("www.example.com");
        auto answer = co_await up->query(query);
        EXPECT_TRUE(answer) << flowstack::test::error_of(answer).message();
        if (!answer) co_return;
        EXPECT_EQ(answer->questions.front().qname.to_string(), "WWW.Example.COM.")
            << "the answer is returned as the server sent it";
        co_await finish(*up, fake);
      });
}

TEST(upstream, udp_query_is_resent_when_the_first_datagram_is_lost) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour(test::drop_first(1));
        upstream_options options;
        options.resend_interval = 20ms;
        auto up = make(ex, upstream_protocol::udp, fake, options);
        auto query = make_query("www.example.com");
        auto answer = co_await up->query(query);
        expect_answers(answer, query);
        EXPECT_EQ(fake.udp_queries(), 2u);
        if (fake.udp_queries() < 2) co_return;
        EXPECT_EQ(fake.received()[0].query, fake.received()[1].query) << "the same datagram again";
        EXPECT_EQ(fake.channels_opened(), 1u);
        co_await finish(*up, fake);
      });
}

TEST(upstream, udp_query_is_resent_only_once_each_resend_interval_has_passed) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour(test::never_answer());
        upstream_options options;
        options.resend_interval = 1s;
        auto up = make(ex, upstream_protocol::udp, fake, options);
        const auto sent = time.now();
        background<result<message>> asked(ex, up->query(make_query("www.example.com")));
        co_await fake.wait_for_queries(1);
        co_await time.wait_until(sent + 1s - 1ns);
        EXPECT_EQ(fake.udp_queries(), 1u) << "resent before the interval";
        co_await fake.wait_for_queries(2);
        EXPECT_EQ(time.now(), sent + 1s);
        co_await fake.wait_for_queries(3);
        EXPECT_EQ(time.now(), sent + 2s);
        co_await up->close();
        auto answer = co_await asked.get();
        EXPECT_EQ(flowstack::test::error_of(answer), flow_errc::closed);
        co_await finish(*up, fake);
      });
}

TEST(upstream, udp_channel_connected_to_itself_is_closed_and_replaced) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.self_connect_opens(1);
        auto up = make(ex, upstream_protocol::udp, fake);
        auto query = make_query("www.example.com");
        auto answer = co_await with_timeout(up->query(query), 2s, time);
        expect_answers(answer, query);
        EXPECT_EQ(fake.channels_opened(), 2u);
        EXPECT_EQ(fake.udp_queries(), 1u);
        EXPECT_EQ(fake.open_channels(), 0u);
        co_await finish(*up, fake);
      });
}

TEST(upstream, udp_query_fails_at_once_when_every_channel_is_connected_to_itself) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.self_connect_opens(100);
        auto up = make(ex, upstream_protocol::udp, fake);
        auto answer = co_await with_timeout(up->query(make_query("www.example.com")), 2s, time);
        EXPECT_EQ(flowstack::test::error_of(answer), dns_errc::self_connected);
        // None is kept open: the server's port is free for it to come back on.
        EXPECT_EQ(fake.open_channels(), 0u);
        EXPECT_EQ(fake.udp_queries(), 0u);
        co_await finish(*up, fake);
      });
}

TEST(upstream, udp_query_with_timeout_times_out_and_closes_its_channel) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour(test::never_answer());
        upstream_options options;
        options.resend_interval = 20ms;
        auto up = make(ex, upstream_protocol::udp, fake, options);
        auto query = make_query("www.example.com");
        auto answer = co_await with_timeout(up->query(query), 100ms, time);
        EXPECT_EQ(flowstack::test::error_of(answer), flow_errc::timeout);
        EXPECT_EQ(fake.open_channels(), 0u);
        EXPECT_EQ(up->in_flight(), 0u);
        // The resends stopped with the query.
        std::size_t sent = fake.udp_queries();
        co_await time.wait_for(60ms);
        EXPECT_EQ(fake.udp_queries(), sent);
        co_await finish(*up, fake);
      });
}

TEST(upstream, udp_query_cancelled_by_an_awaitable_operator_frees_its_slot_and_channel) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        using namespace asio::experimental::awaitable_operators;
        fake_upstream fake(ex, time);
        fake.set_behaviour(test::never_answer());
        upstream_options options;
        options.max_in_flight = 1;
        auto up = make(ex, upstream_protocol::udp, fake, options);
        auto query = make_query("www.example.com");
        // The query loses the race; with the operator's default, its coroutine may end by an
        // exception rather than a value. Either way nothing of it may stay behind.
        auto raced = co_await (up->query(query) || time.wait_for(30ms));
        EXPECT_EQ(raced.index(), 1u);
        EXPECT_EQ(fake.open_channels(), 0u);
        EXPECT_EQ(up->in_flight(), 0u);
        // The one slot is free again.
        fake.set_behaviour(test::answer_all());
        auto answer = co_await up->query(query);
        expect_answers(answer, query);
        co_await finish(*up, fake);
      });
}

// The query's deadline falls due and, in the same turn of the loop, a datagram reaches its
// receive: the deadline's cancellation then finds the receive completed but not yet resumed.
// The clock moves only where this says (flowstack::test::run, not run_virtual).
asio::awaitable<void> cancellation_meets_a_completed_receive(asio::any_io_executor ex,
                                                             manual_clock& time) {
  fake_upstream fake(ex, time);
  fake.set_behaviour([](const fake_query&) {
    auto r = fake_reply::with(buffer::of_string("\xff"));  // dropped by the client
    r.hold = true;
    return r;
  });
  auto up = make(ex, upstream_protocol::udp, fake);
  auto query = make_query("www.example.com");
  background<result<message>> asked(ex, with_timeout(up->query(query), 20ms, time));
  co_await fake.wait_for_queries(1);
  co_await flowstack::test::yield(5);  // the query waits in its receive
  time.advance(20ms);                  // the deadline's wake-up is queued first,
  fake.release_held();                 // the receive's completion after it
  auto answer = co_await asked.get();
  EXPECT_EQ(flowstack::test::error_of(answer), flow_errc::timeout);
  EXPECT_EQ(fake.open_channels(), 0u);
  EXPECT_EQ(up->in_flight(), 0u);
  co_await finish(*up, fake);
}

TEST(upstream, udp_cancellation_that_meets_a_completed_receive_still_ends_the_query) {
  manual_clock time;
  flowstack::test::run([&time](asio::any_io_executor ex) {
    return cancellation_meets_a_completed_receive(std::move(ex), time);
  });
}

TEST(upstream, udp_ids_are_unique_while_in_flight) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour(test::hold_all());
        auto up = make(ex, upstream_protocol::udp, fake);
        auto queries = distinct_queries(300);
        std::vector<background<result<message>>> pending;
        for (const auto& q : queries) pending.emplace_back(ex, up->query(q));
        co_await fake.wait_for_queries(queries.size());
        EXPECT_EQ(ids_received(fake).size(), queries.size());
        EXPECT_EQ(up->in_flight(), queries.size());
        fake.release_held();
        for (std::size_t i = 0; i < queries.size(); ++i) {
          auto answer = co_await pending[i].get();
          expect_answers(answer, queries[i]);
        }
        co_await finish(*up, fake);
      });
}

// Holds every query and checks the upstream never has more than `cap` out, releasing the
// held answers in rounds until all `n` queries are answered.
asio::awaitable<void> check_back_pressure(asio::any_io_executor ex, manual_clock& time,
                                          upstream_protocol protocol) {
  constexpr std::size_t cap = 4;
  constexpr std::size_t n = 20;
  fake_upstream fake(ex, time);
  upstream_options options;
  options.max_in_flight = cap;
  auto up = make(ex, protocol, fake, options);
  std::size_t most_in_flight = 0;
  fake.set_behaviour([&up, &most_in_flight](const fake_query& q) {
    most_in_flight = std::max(most_in_flight, up->in_flight());
    return fake_reply::held(q.query);
  });
  auto queries = distinct_queries(n);
  std::vector<background<result<message>>> pending;
  for (const auto& q : queries) pending.emplace_back(ex, up->query(q));
  for (std::size_t round = 1; round <= n / cap; ++round) {
    co_await fake.wait_for_queries(round * cap);
    co_await flowstack::test::yield(10);
    EXPECT_EQ(fake.queries_received(), round * cap) << "no query beyond the cap went out";
    EXPECT_EQ(up->in_flight(), cap);
    fake.release_held();
  }
  for (std::size_t i = 0; i < n; ++i) {
    auto answer = co_await pending[i].get();
    expect_answers(answer, queries[i]);
  }
  EXPECT_EQ(most_in_flight, cap);
  co_await finish(*up, fake);
}

TEST(upstream, udp_queries_beyond_max_in_flight_wait_for_a_turn) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        co_await check_back_pressure(ex, time, upstream_protocol::udp);
      });
}

// Three queries that are never answered, one of them waiting for a slot; close() ends all.
asio::awaitable<void> check_close_fails_waiters(asio::any_io_executor ex, manual_clock& time,
                                                upstream_protocol protocol) {
  fake_upstream fake(ex, time);
  fake.set_behaviour(test::never_answer());
  upstream_options options;
  options.max_in_flight = 2;
  auto up = make(ex, protocol, fake, options);
  auto queries = distinct_queries(3);
  std::vector<background<result<message>>> pending;
  for (const auto& q : queries) pending.emplace_back(ex, up->query(q));
  co_await fake.wait_for_queries(2);
  co_await up->close();
  for (auto& p : pending) {
    auto answer = co_await p.get();
    EXPECT_EQ(flowstack::test::error_of(answer), flow_errc::closed);
  }
  // A query after close fails at once.
  auto late = co_await up->query(queries[0]);
  EXPECT_EQ(flowstack::test::error_of(late), flow_errc::closed);
  co_await finish(*up, fake);
}

TEST(upstream, udp_close_fails_waiting_queries_with_closed) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        co_await check_close_fails_waiters(ex, time, upstream_protocol::udp);
      });
}

TEST(upstream, udp_channel_that_cannot_open_fails_the_query) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.fail_opens(1, flowstack::test::io_error);
        auto up = make(ex, upstream_protocol::udp, fake);
        auto query = make_query("www.example.com");
        auto answer = co_await up->query(query);
        EXPECT_EQ(flowstack::test::error_of(answer), flowstack::test::io_error);
        EXPECT_EQ(up->in_flight(), 0u);
        co_await finish(*up, fake);
      });
}

TEST(upstream, query_without_exactly_one_question_is_refused) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        auto up = make(ex, upstream_protocol::udp, fake);
        message empty;
        auto answer = co_await up->query(empty);
        EXPECT_EQ(flowstack::test::error_of(answer), flow_errc::invalid_argument);
        EXPECT_EQ(fake.queries_received(), 0u);
        co_await finish(*up, fake);
      });
}

// ---- TCP ---------------------------------------------------------------------------------------

TEST(upstream, tcp_query_gets_the_answer_with_the_callers_id) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        auto up = make(ex, upstream_protocol::tcp, fake);
        auto query = make_query("www.example.com", rr_type::aaaa, 0xbeef);
        auto answer = co_await up->query(query);
        expect_answers(answer, query);
        EXPECT_EQ(fake.tcp_queries(), 1u);
        EXPECT_EQ(fake.connections_opened(), 1u);
        EXPECT_EQ(fake.open_flows(), 1u) << "kept open for the next query";
        co_await finish(*up, fake);
      });
}

// One client asking `n` questions one after another; returns how many came back right.
asio::awaitable<std::size_t> ask_in_turn(upstream& up, std::size_t client, std::size_t n) {
  std::size_t right = 0;
  for (std::size_t i = 0; i < n; ++i) {
    auto query = make_query("c" + std::to_string(client) + "-" + std::to_string(i) + ".example",
                            rr_type::a, static_cast<std::uint16_t>(i));
    auto answer = co_await up.query(query);
    if (answer && *answer == make_answer(query)) ++right;
  }
  co_return right;
}

TEST(upstream, tcp_concurrent_clients_share_one_connection_and_get_their_own_answers) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        constexpr std::size_t clients = 5;
        constexpr std::size_t per_client = 1000;
        fake_upstream fake(ex, time);
        auto up = make(ex, upstream_protocol::tcp, fake);
        std::vector<background<std::size_t>> running;
        for (std::size_t c = 0; c < clients; ++c)
          running.emplace_back(ex, ask_in_turn(*up, c, per_client));
        for (auto& r : running) {
          std::size_t right = co_await r.get();
          EXPECT_EQ(right, per_client);
        }
        EXPECT_EQ(fake.tcp_queries(), clients * per_client);
        EXPECT_EQ(fake.connections_opened(), 1u);
        co_await finish(*up, fake);
      });
}

TEST(upstream, tcp_answers_out_of_order_are_matched_by_id) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour(test::hold_all());
        auto up = make(ex, upstream_protocol::tcp, fake);
        auto queries = distinct_queries(10);
        std::vector<background<result<message>>> pending;
        for (const auto& q : queries) pending.emplace_back(ex, up->query(q));
        co_await fake.wait_for_queries(queries.size());
        EXPECT_EQ(fake.release_held(true), queries.size());
        for (std::size_t i = 0; i < queries.size(); ++i) {
          auto answer = co_await pending[i].get();
          expect_answers(answer, queries[i]);
        }
        EXPECT_EQ(fake.connections_opened(), 1u);
        co_await finish(*up, fake);
      });
}

TEST(upstream, tcp_answers_with_wrong_id_question_or_qr_are_dropped) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour([](const fake_query& q) {
          auto r = fake_reply::wrong_question_first(q.query);
          auto wrong_id = fake_reply::wrong_id_first(q.query);
          r.messages.insert(r.messages.begin(), wrong_id.messages.front());
          r.messages.insert(r.messages.begin(), buffer::of_string("\xff"));
          r.messages.insert(r.messages.begin(), test::to_wire(q.query));  // QR clear
          return r;
        });
        auto up = make(ex, upstream_protocol::tcp, fake);
        auto query = make_query("www.example.com");
        auto answer = co_await up->query(query);
        expect_answers(answer, query);
        EXPECT_EQ(fake.connections_opened(), 1u);
        co_await finish(*up, fake);
      });
}

TEST(upstream, tcp_disconnect_fails_every_pending_query_at_once) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        // Nine queries are never answered; the tenth makes the server hang up.
        fake.set_behaviour([](const fake_query& q) {
          return q.number < 9 ? fake_reply::drop() : fake_reply::hang_up();
        });
        auto up = make(ex, upstream_protocol::tcp, fake);
        auto queries = distinct_queries(10);
        std::vector<background<result<message>>> pending;
        for (const auto& q : queries) pending.emplace_back(ex, up->query(q));
        for (auto& p : pending) {
          auto answer = co_await p.get();
          EXPECT_EQ(flowstack::test::error_of(answer), flow_errc::closed);
        }
        EXPECT_EQ(up->in_flight(), 0u);
        // The next query opens a new connection.
        fake.set_behaviour(test::answer_all());
        auto answer = co_await up->query(queries[0]);
        expect_answers(answer, queries[0]);
        EXPECT_EQ(fake.connections_opened(), 2u);
        co_await finish(*up, fake);
      });
}

TEST(upstream, tcp_failed_write_reconnects_and_retries_once) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.fail_client_writes(1, flowstack::test::io_error);
        auto up = make(ex, upstream_protocol::tcp, fake);
        auto query = make_query("www.example.com");
        auto answer = co_await up->query(query);
        expect_answers(answer, query);
        EXPECT_EQ(fake.connections_opened(), 2u);
        EXPECT_EQ(fake.tcp_queries(), 1u);
        co_await finish(*up, fake);
      });
}

TEST(upstream, tcp_write_that_fails_twice_fails_the_query) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.fail_client_writes(2, flowstack::test::io_error);
        auto up = make(ex, upstream_protocol::tcp, fake);
        auto query = make_query("www.example.com");
        auto answer = co_await up->query(query);
        EXPECT_EQ(flowstack::test::error_of(answer), flowstack::test::io_error);
        EXPECT_EQ(fake.connections_opened(), 2u) << "one retry, not more";
        EXPECT_EQ(up->in_flight(), 0u);
        co_await finish(*up, fake);
      });
}

TEST(upstream, tcp_idle_connection_is_closed_and_reopened_on_the_next_query) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        upstream_options options;
        options.idle_timeout = 20ms;
        auto up = make(ex, upstream_protocol::tcp, fake, options);
        auto query = make_query("www.example.com");
        auto first = co_await up->query(query);
        expect_answers(first, query);
        auto* f = &fake;
        std::function<bool()> closed = [f] { return f->open_flows() == 0; };
        auto went_idle = co_await with_timeout(fake.wait_until(closed), 5s, time);
        EXPECT_TRUE(went_idle && *went_idle) << "the idle connection was not closed";
        auto second = co_await up->query(query);
        expect_answers(second, query);
        EXPECT_EQ(fake.connections_opened(), 2u);
        co_await finish(*up, fake);
      });
}

TEST(upstream, tcp_idle_connection_stays_open_until_the_idle_timeout_has_passed) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        upstream_options options;
        options.idle_timeout = 10s;
        auto up = make(ex, upstream_protocol::tcp, fake, options);
        auto query = make_query("www.example.com");
        auto answer = co_await up->query(query);
        expect_answers(answer, query);
        const auto answered = time.now();
        co_await time.wait_until(answered + 10s - 1ns);
        EXPECT_EQ(fake.open_flows(), 1u) << "closed before the idle timeout";
        auto* f = &fake;
        std::function<bool()> closed = [f] { return f->open_flows() == 0; };
        auto went_idle = co_await with_timeout(fake.wait_until(closed), 1min, time);
        EXPECT_TRUE(went_idle && *went_idle) << "the idle connection was not closed";
        EXPECT_EQ(time.now(), answered + 10s);
        co_await finish(*up, fake);
      });
}

TEST(upstream, tcp_busy_connection_is_not_closed_as_idle) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour([](const fake_query& q) { return fake_reply::delayed(q.query, 60ms); });
        upstream_options options;
        options.idle_timeout = 20ms;
        auto up = make(ex, upstream_protocol::tcp, fake, options);
        auto query = make_query("www.example.com");
        auto answer = co_await up->query(query);
        expect_answers(answer, query);
        EXPECT_EQ(fake.connections_opened(), 1u);
        co_await finish(*up, fake);
      });
}

TEST(upstream, tcp_queries_beyond_max_in_flight_wait_for_a_turn) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        co_await check_back_pressure(ex, time, upstream_protocol::tcp);
      });
}

TEST(upstream, tcp_ids_are_unique_while_in_flight) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour(test::hold_all());
        auto up = make(ex, upstream_protocol::tcp, fake);
        auto queries = distinct_queries(300);
        std::vector<background<result<message>>> pending;
        for (const auto& q : queries) pending.emplace_back(ex, up->query(q));
        co_await fake.wait_for_queries(queries.size());
        EXPECT_EQ(ids_received(fake).size(), queries.size());
        fake.release_held();
        for (std::size_t i = 0; i < queries.size(); ++i) {
          auto answer = co_await pending[i].get();
          expect_answers(answer, queries[i]);
        }
        co_await finish(*up, fake);
      });
}

TEST(upstream, tcp_close_fails_waiting_queries_with_closed) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        co_await check_close_fails_waiters(ex, time, upstream_protocol::tcp);
      });
}

TEST(upstream, tcp_timed_out_query_leaves_the_connection_usable) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour(test::drop_first(1));
        auto up = make(ex, upstream_protocol::tcp, fake);
        auto query = make_query("www.example.com");
        auto timed_out = co_await with_timeout(up->query(query), 50ms, time);
        EXPECT_EQ(flowstack::test::error_of(timed_out), flow_errc::timeout);
        EXPECT_EQ(up->in_flight(), 0u);
        auto answer = co_await up->query(query);
        expect_answers(answer, query);
        EXPECT_EQ(fake.connections_opened(), 1u);
        co_await finish(*up, fake);
      });
}

TEST(upstream, tcp_late_answer_to_a_cancelled_query_is_dropped) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour(test::hold_all());
        auto up = make(ex, upstream_protocol::tcp, fake);
        auto queries = distinct_queries(2);
        auto timed_out = co_await with_timeout(up->query(queries[0]), 30ms, time);
        EXPECT_EQ(flowstack::test::error_of(timed_out), flow_errc::timeout);
        background<result<message>> second(ex, up->query(queries[1]));
        co_await fake.wait_for_queries(2);
        fake.release_held();  // the late answer to the first query comes first
        auto answer = co_await second.get();
        expect_answers(answer, queries[1]);
        co_await finish(*up, fake);
      });
}

TEST(upstream, tcp_connect_failure_fails_the_query_and_the_next_one_reconnects) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        auto refused = std::make_error_code(std::errc::connection_refused);
        fake.fail_connects(1, refused);
        auto up = make(ex, upstream_protocol::tcp, fake);
        auto query = make_query("www.example.com");
        auto failed = co_await up->query(query);
        EXPECT_EQ(flowstack::test::error_of(failed), refused);
        auto answer = co_await up->query(query);
        expect_answers(answer, query);
        EXPECT_EQ(fake.connections_opened(), 1u);
        co_await finish(*up, fake);
      });
}

TEST(upstream, upstream_destroyed_after_close_leaves_nothing_running) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        {
          auto up = make(ex, upstream_protocol::tcp, fake);
          auto query = make_query("www.example.com");
          auto answer = co_await up->query(query);
          expect_answers(answer, query);
          co_await up->close();
          EXPECT_EQ(fake.open_flows(), 0u);
        }
        co_await flowstack::test::yield(5);
        EXPECT_EQ(fake.open_flows(), 0u);
        co_await fake.shutdown();
      });
}

}  // namespace
}  // namespace flowstack::dns
