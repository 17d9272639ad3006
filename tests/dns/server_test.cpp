// The forwarder's client side (dns::server) over in-memory transports: what each kind of client
// message gets (RFC 1035 §4.1.1, RFC 6891 §6.2.5, §7), UDP truncation, TCP pipelining, out of
// order answers and connection management (RFC 7766 §6.2), and the UDP loop.
#include "fake_upstream.hpp"
#include "memory_listener.hpp"
#include "resolver_checks.hpp"
#include "wire.hpp"

#include "../support/async.hpp"
#include "../support/run.hpp"
#include "../support/virtual_time.hpp"

#include <flowstack/core/combinators.hpp>
#include <flowstack/core/memory_flow.hpp>
#include <flowstack/dns/framing.hpp>
#include <flowstack/dns/resolver.hpp>
#include <flowstack/dns/server.hpp>

#include <gtest/gtest.h>

#include <functional>
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
using test::memory_listener;
using test::to_wire;

config one_server(const fake_upstream& fake, std::chrono::milliseconds timeout = 5000ms) {
  config c;
  c.servers.push_back(server_config{fake.address(), {}, timeout, 0});
  return c;
}

std::optional<message> decoded(const std::optional<buffer>& wire) {
  if (!wire) return std::nullopt;
  auto m = decode(*wire);
  EXPECT_TRUE(m) << "the server's answer does not decode: " << m.error().message();
  if (!m) return std::nullopt;
  return std::move(*m);
}

asio::awaitable<std::optional<message>> ask(server& s, message query, client_protocol via) {
  auto wire = to_wire(query);
  auto out = co_await s.answer(std::move(wire), via, "192.0.2.7:5353");
  co_return decoded(out);
}

buffer raw(const test::bytes& octets) {
  return buffer::copy_of(std::as_bytes(std::span(octets)));
}

message with_edns(message m, std::uint16_t payload) {
  m.edns = edns{};
  m.edns->udp_payload_size = payload;
  return m;
}

// An upstream that answers `n` distinct A records to every query.
test::fake_behaviour many_a_records(std::size_t n) {
  return [n](const fake_query& q) {
    auto m = make_answer(q.query);
    m.answers.clear();
    for (std::size_t i = 0; i < n; ++i) {
      m.answers.push_back(record{q.query.questions.front().qname, rr_type::a, rr_class::in, 300,
                                 rdata_a{{10, 0, static_cast<std::uint8_t>(i / 256),
                                          static_cast<std::uint8_t>(i % 256)}}});
    }
    return fake_reply::with(to_wire(m));
  };
}

// ---- answer() ----------------------------------------------------------------------------------

TEST(server, query_is_answered_with_the_clients_id) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        resolver r(ex, one_server(fake), fake, {}, {}, fake.time());
        server s(r, {}, nullptr, fake.time());
        auto query = make_query("www.example.com", rr_type::a, 0x1234);
        auto answer = co_await ask(s, query, client_protocol::udp);
        EXPECT_TRUE(answer.has_value());
        if (answer) {
          EXPECT_EQ(answer->header.id, 0x1234);
          EXPECT_TRUE(answer->header.qr);
          EXPECT_EQ(answer->full_rcode(), 0);
          EXPECT_EQ(answer->questions, query.questions);
          EXPECT_EQ(answer->answers, make_answer(query).answers);
        }
        EXPECT_EQ(s.in_flight(), 0u);
        co_await finish(r, fake);
      });
}

TEST(server, undecodable_query_with_a_header_gets_formerr_with_its_id) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        resolver r(ex, one_server(fake), fake, {}, {}, fake.time());
        server s(r, {}, nullptr, fake.time());
        // One question announced, none there.
        test::wire_builder w;
        w.header(0xbeef, 0x0100, 1, 0, 0, 0);
        auto out = co_await s.answer(raw(w.out), client_protocol::udp, "c");
        auto answer = decoded(out);
        EXPECT_TRUE(answer.has_value());
        if (answer) {
          EXPECT_EQ(answer->header.id, 0xbeef);
          EXPECT_TRUE(answer->header.qr);
          EXPECT_TRUE(answer->header.rd);
          EXPECT_EQ(answer->full_rcode(), static_cast<std::uint16_t>(rcode::formerr));
        }
        EXPECT_EQ(fake.queries_received(), 0u);
        co_await finish(r, fake);
      });
}

TEST(server, message_shorter_than_a_header_gets_no_answer) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        resolver r(ex, one_server(fake), fake, {}, {}, fake.time());
        server s(r, {}, nullptr, fake.time());
        auto empty = co_await s.answer(buffer{}, client_protocol::udp, "c");
        EXPECT_FALSE(empty.has_value());
        auto eleven = co_await s.answer(raw(test::bytes(11, 0)), client_protocol::tcp, "c");
        EXPECT_FALSE(eleven.has_value());
        auto text = r.metrics().prometheus(r.cache().stats());
        EXPECT_NE(text.find("flowstack_dns_queries_dropped_total{transport=\"udp\",reason="
                            "\"malformed\"} 1"),
                  std::string::npos)
            << text;
        co_await finish(r, fake);
      });
}

TEST(server, message_with_qr_set_gets_no_answer) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        resolver r(ex, one_server(fake), fake, {}, {}, fake.time());
        server s(r, {}, nullptr, fake.time());
        auto response = make_answer(make_query("www.example.com"));
        auto answer = co_await ask(s, response, client_protocol::udp);
        EXPECT_FALSE(answer.has_value());
        // Nor one that does not decode: a response is never answered (no FORMERR loops).
        test::wire_builder w;
        w.header(0x1111, 0x8100, 1, 0, 0, 0);
        auto out = co_await s.answer(raw(w.out), client_protocol::udp, "c");
        EXPECT_FALSE(out.has_value());
        EXPECT_EQ(fake.queries_received(), 0u);
        co_await finish(r, fake);
      });
}

TEST(server, zero_or_two_questions_get_formerr) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        resolver r(ex, one_server(fake), fake, {}, {}, fake.time());
        server s(r, {}, nullptr, fake.time());
        auto none = make_query("www.example.com", rr_type::a, 7);
        none.questions.clear();
        auto answer = co_await ask(s, none, client_protocol::udp);
        EXPECT_TRUE(answer.has_value());
        if (answer) {
          EXPECT_EQ(answer->header.id, 7);
          EXPECT_EQ(answer->full_rcode(), static_cast<std::uint16_t>(rcode::formerr));
        }
        auto two = make_query("www.example.com", rr_type::a, 8);
        two.questions.push_back(make_query("mail.example.com").questions.front());
        auto answer2 = co_await ask(s, two, client_protocol::tcp);
        EXPECT_TRUE(answer2.has_value());
        if (answer2) {
          EXPECT_EQ(answer2->header.id, 8);
          EXPECT_EQ(answer2->full_rcode(), static_cast<std::uint16_t>(rcode::formerr));
          EXPECT_TRUE(answer2->answers.empty());
        }
        EXPECT_EQ(fake.queries_received(), 0u);
        co_await finish(r, fake);
      });
}

TEST(server, opcode_other_than_query_gets_notimp) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        resolver r(ex, one_server(fake), fake, {}, {}, fake.time());
        server s(r, {}, nullptr, fake.time());
        for (auto op : {opcode::iquery, opcode::status, opcode::notify, opcode::update}) {
          auto query = make_query("www.example.com", rr_type::a, 0x0a0b);
          query.header.op = op;
          auto answer = co_await ask(s, query, client_protocol::udp);
          EXPECT_TRUE(answer.has_value());
          if (!answer) continue;
          EXPECT_EQ(answer->header.id, 0x0a0b);
          EXPECT_EQ(answer->header.op, op);
          EXPECT_EQ(answer->full_rcode(), static_cast<std::uint16_t>(rcode::notimp));
          EXPECT_EQ(answer->questions, query.questions);
        }
        EXPECT_EQ(fake.queries_received(), 0u);
        co_await finish(r, fake);
      });
}

TEST(server, query_beyond_max_in_flight_is_refused_at_once) {
  flowstack::test::run_on_manual_clock([](asio::any_io_executor ex,
                                          manual_clock& time) -> asio::awaitable<void> {
    fake_upstream fake(ex, time);
    fake.set_behaviour(test::hold_all());
    resolver r(ex, one_server(fake), fake, {}, {}, fake.time());
    server_options options;
    options.max_in_flight = 2;
    query_log log;
    server s(r, options, &log, fake.time());
    auto q1 = make_query("one.example.com", rr_type::a, 1);
    auto q2 = make_query("two.example.com", rr_type::a, 2);
    background<std::optional<buffer>> first(ex, s.answer(to_wire(q1), client_protocol::udp, "c"));
    background<std::optional<buffer>> second(ex, s.answer(to_wire(q2), client_protocol::udp, "c"));
    co_await fake.wait_for_queries(2);
    EXPECT_EQ(s.in_flight(), 2u);

    auto q3 = make_query("three.example.com", rr_type::a, 3);
    auto third = co_await ask(s, q3, client_protocol::udp);
    EXPECT_TRUE(third.has_value());
    if (third) {
      EXPECT_EQ(third->header.id, 3);
      EXPECT_EQ(third->full_rcode(), static_cast<std::uint16_t>(rcode::refused));
    }
    EXPECT_EQ(fake.queries_received(), 2u) << "the refused query was not passed on";
    EXPECT_FALSE(first.ready());

    fake.release_held();
    auto a1 = co_await first.get();
    auto a2 = co_await second.get();
    auto m1 = decoded(a1);
    auto m2 = decoded(a2);
    EXPECT_TRUE(m1 && m1->header.id == 1 && m1->full_rcode() == 0);
    EXPECT_TRUE(m2 && m2->header.id == 2 && m2->full_rcode() == 0);
    EXPECT_EQ(s.in_flight(), 0u);
    auto entries = log.entries();
    EXPECT_EQ(entries.size(), 3u);
    if (!entries.empty()) {
      EXPECT_EQ(entries.front().source, "overload");
    }
    co_await finish(r, fake);
  });
}

TEST(server, every_upstream_failing_gives_servfail) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour(test::never_answer());
        resolver r(ex, one_server(fake, 100ms), fake, {}, {}, fake.time());
        server s(r, {}, nullptr, fake.time());
        auto query = make_query("www.example.com", rr_type::a, 0x5151);
        auto answer = co_await ask(s, query, client_protocol::udp);
        EXPECT_TRUE(answer.has_value());
        if (answer) {
          EXPECT_EQ(answer->header.id, 0x5151);
          EXPECT_EQ(answer->full_rcode(), static_cast<std::uint16_t>(rcode::servfail));
          EXPECT_EQ(answer->questions, query.questions);
          EXPECT_TRUE(answer->header.ra);
        }
        EXPECT_EQ(s.in_flight(), 0u);
        co_await finish(r, fake);
      });
}

TEST(server, every_upstream_failing_gives_nothing_without_servfail_on_failure) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour(test::never_answer());
        resolver r(ex, one_server(fake, 100ms), fake, {}, {}, fake.time());
        server_options options;
        options.servfail_on_failure = false;
        server s(r, options, nullptr, fake.time());
        auto answer = co_await ask(s, make_query("www.example.com"), client_protocol::tcp);
        EXPECT_FALSE(answer.has_value());
        EXPECT_EQ(s.in_flight(), 0u);
        auto text = r.metrics().prometheus(r.cache().stats());
        EXPECT_NE(text.find("flowstack_dns_queries_dropped_total{transport=\"tcp\",reason="
                            "\"no_upstream\"} 1"),
                  std::string::npos)
            << text;
        co_await finish(r, fake);
      });
}

TEST(server, sixty_four_a_records_over_udp_without_edns_come_back_truncated_with_tc) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour(many_a_records(64));
        resolver r(ex, one_server(fake), fake, {}, {}, fake.time());
        server s(r, {}, nullptr, fake.time());
        auto query = make_query("www.example.com", rr_type::a, 0x6464);
        auto out = co_await s.answer(to_wire(query), client_protocol::udp, "c");
        EXPECT_TRUE(out.has_value());
        if (out) {
          EXPECT_LE(out->size(), 512u);
          auto answer = decoded(out);
          EXPECT_TRUE(answer.has_value());
          if (answer) {
            EXPECT_EQ(answer->header.id, 0x6464);
            EXPECT_TRUE(answer->header.tc);
            EXPECT_LT(answer->answers.size(), 64u);
            EXPECT_GT(answer->answers.size(), 0u) << "cut at a record boundary, not emptied";
            EXPECT_FALSE(answer->edns.has_value());
          }
        }
        co_await finish(r, fake);
      });
}

TEST(server, sixty_four_a_records_over_tcp_come_back_whole) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour(many_a_records(64));
        resolver r(ex, one_server(fake), fake, {}, {}, fake.time());
        server s(r, {}, nullptr, fake.time());
        auto answer =
            co_await ask(s, make_query("www.example.com", rr_type::a, 1), client_protocol::tcp);
        EXPECT_TRUE(answer.has_value());
        if (answer) {
          EXPECT_FALSE(answer->header.tc);
          EXPECT_EQ(answer->answers.size(), 64u);
        }
        co_await finish(r, fake);
      });
}

TEST(server, sixty_four_a_records_fit_an_edns_payload_of_1232) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour(many_a_records(64));
        resolver r(ex, one_server(fake), fake, {}, {}, fake.time());
        server s(r, {}, nullptr, fake.time());
        auto query = with_edns(make_query("www.example.com", rr_type::a, 2), 1232);
        auto out = co_await s.answer(to_wire(query), client_protocol::udp, "c");
        EXPECT_TRUE(out.has_value());
        if (out) {
          EXPECT_GT(out->size(), 512u);
          EXPECT_LE(out->size(), 1232u);
          auto answer = decoded(out);
          EXPECT_TRUE(answer && !answer->header.tc && answer->answers.size() == 64u);
        }
        co_await finish(r, fake);
      });
}

TEST(server, client_edns_payload_is_capped_by_max_udp_size) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour(many_a_records(200));
        resolver r(ex, one_server(fake), fake, {}, {}, fake.time());
        server_options options;
        options.max_udp_size = 1232;
        server s(r, options, nullptr, fake.time());
        auto query = with_edns(make_query("www.example.com", rr_type::a, 3), 4096);
        auto out = co_await s.answer(to_wire(query), client_protocol::udp, "c");
        EXPECT_TRUE(out.has_value());
        if (out) {
          EXPECT_LE(out->size(), 1232u);
          auto answer = decoded(out);
          EXPECT_TRUE(answer && answer->header.tc && answer->answers.size() < 200u);
        }
        // The same answer from the cache, over TCP: whole.
        auto whole = co_await ask(s, query, client_protocol::tcp);
        EXPECT_TRUE(whole && !whole->header.tc && whole->answers.size() == 200u);
        co_await finish(r, fake);
      });
}

TEST(server, query_without_opt_gets_an_answer_without_opt) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        // An upstream that always puts an OPT record in its answers.
        fake.set_behaviour([](const fake_query& q) {
          auto m = make_answer(q.query);
          m.edns = edns{};
          return fake_reply::with(to_wire(m));
        });
        resolver r(ex, one_server(fake), fake, {}, {}, fake.time());
        server s(r, {}, nullptr, fake.time());
        // From upstream.
        auto plain = make_query("one.example.com", rr_type::a, 1);
        auto answer = co_await ask(s, plain, client_protocol::udp);
        EXPECT_TRUE(answer && !answer->edns.has_value() && answer->answers.size() == 1u);
        // From the cache, filled by a query with OPT whose answer kept it.
        auto with_opt = with_edns(make_query("two.example.com", rr_type::a, 2), 1232);
        auto answer2 = co_await ask(s, with_opt, client_protocol::udp);
        EXPECT_TRUE(answer2 && answer2->edns.has_value());
        auto plain2 = make_query("two.example.com", rr_type::a, 3);
        auto answer3 = co_await ask(s, plain2, client_protocol::udp);
        EXPECT_TRUE(answer3 && !answer3->edns.has_value() && answer3->header.id == 3);
        EXPECT_EQ(fake.queries_received(), 2u) << "the third came from the cache";
        co_await finish(r, fake);
      });
}

TEST(server, query_with_opt_gets_an_answer_with_opt_even_when_the_upstream_left_it_out) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);  // make_answer never carries an OPT record
        resolver r(ex, one_server(fake), fake, {}, {}, fake.time());
        server s(r, {}, nullptr, fake.time());
        auto query = with_edns(make_query("www.example.com", rr_type::a, 4), 4096);
        auto answer = co_await ask(s, query, client_protocol::udp);
        EXPECT_TRUE(answer && answer->edns.has_value() && answer->answers.size() == 1u);
        if (answer && answer->edns) EXPECT_EQ(answer->edns->udp_payload_size, 1232);
        co_await finish(r, fake);
      });
}

TEST(server, metrics_count_queries_by_transport_and_rcode) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        resolver r(ex, one_server(fake), fake, {}, {}, fake.time());
        server s(r, {}, nullptr, fake.time());
        co_await ask(s, make_query("a.example.com"), client_protocol::udp);
        co_await ask(s, make_query("b.example.com"), client_protocol::udp);
        co_await ask(s, make_query("c.example.com"), client_protocol::tcp);
        auto notify = make_query("d.example.com");
        notify.header.op = opcode::notify;
        co_await ask(s, notify, client_protocol::tcp);
        auto text = r.metrics().prometheus(r.cache().stats());
        for (const char* line : {
                 "flowstack_dns_queries_total{transport=\"udp\",rcode=\"NOERROR\"} 2\n",
                 "flowstack_dns_queries_total{transport=\"tcp\",rcode=\"NOERROR\"} 1\n",
                 "flowstack_dns_queries_total{transport=\"tcp\",rcode=\"NOTIMP\"} 1\n",
             }) {
          EXPECT_NE(text.find(line), std::string::npos) << line << " missing in\n" << text;
        }
        EXPECT_EQ(text.find("transport=\"udp\",rcode=\"NOTIMP\""), std::string::npos);
        co_await finish(r, fake);
      });
}

TEST(server, query_log_gets_a_record_of_each_answer) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        resolver r(ex, one_server(fake), fake, {}, {}, fake.time());
        query_log log(16);
        server s(r, {}, &log, fake.time());
        auto query = make_query("www.example.com", rr_type::aaaa);
        auto out = co_await s.answer(to_wire(query), client_protocol::udp, "192.0.2.7:5353");
        EXPECT_TRUE(out.has_value());
        auto out2 = co_await s.answer(to_wire(query), client_protocol::tcp, "192.0.2.8:4000");
        EXPECT_TRUE(out2.has_value());
        auto entries = log.entries();
        EXPECT_EQ(entries.size(), 2u);
        if (entries.size() == 2) {
          EXPECT_EQ(entries[0].client, "udp 192.0.2.7:5353");
          EXPECT_EQ(entries[0].q, query.questions.front());
          EXPECT_EQ(entries[0].rcode, 0);
          EXPECT_EQ(entries[0].source, fake.address().to_string());
          EXPECT_EQ(entries[1].client, "tcp 192.0.2.8:4000");
          EXPECT_EQ(entries[1].source, "cache");
        }
        co_await finish(r, fake);
      });
}

// ---- serve_tcp() -------------------------------------------------------------------------------

asio::awaitable<bool> serve(server& s, flow connection) {
  co_await s.serve_tcp(std::move(connection), "192.0.2.9:3333");
  co_return true;
}

asio::awaitable<result<void>> send_query(flow& f, message query) {
  co_return co_await write_tcp_message(f, to_wire(query));
}

asio::awaitable<std::optional<message>> read_answer_unbounded(flow& f) {
  auto framed = co_await read_tcp_message(f);
  if (!framed || !*framed) co_return std::nullopt;
  co_return decoded(**framed);
}

// The next answer on `f`, or nothing on eof, an error, or after a few seconds on `time`.
asio::awaitable<std::optional<message>> read_answer(flow& f, clock& time) {
  auto answer = co_await with_timeout(read_answer_unbounded(f), 3s, time);
  if (!answer) co_return std::nullopt;
  co_return std::move(*answer);
}

asio::awaitable<bool> reads_eof_unbounded(flow& f) {
  auto framed = co_await read_tcp_message(f);
  co_return framed && !*framed;
}

// Whether the server ends the connection (a clean eof) within a few seconds on `time`.
asio::awaitable<bool> reads_eof(flow& f, clock& time) {
  auto eof = co_await with_timeout(reads_eof_unbounded(f), 3s, time);
  co_return eof&&* eof;
}

TEST(server, tcp_pipelined_queries_on_one_connection_are_all_answered) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        resolver r(ex, one_server(fake), fake, {}, {}, fake.time());
        server s(r, {}, nullptr, fake.time());
        auto [client, server_end] = memory_pair(ex);
        background<bool> served(ex, serve(s, std::move(server_end)));
        constexpr std::uint16_t count = 40;
        for (std::uint16_t i = 0; i < count; ++i) {
          auto query = make_query("q" + std::to_string(i) + ".example.com", rr_type::a, i);
          auto sent = co_await send_query(client, query);
          EXPECT_TRUE(sent);
        }
        std::set<std::uint16_t> ids;
        for (std::uint16_t i = 0; i < count; ++i) {
          auto answer = co_await read_answer(client, time);
          EXPECT_TRUE(answer.has_value());
          if (!answer) break;
          ids.insert(answer->header.id);
          EXPECT_EQ(answer->questions.front().qname.to_string(),
                    "q" + std::to_string(answer->header.id) + ".example.com.");
        }
        EXPECT_EQ(ids.size(), count);
        co_await client.shutdown(shutdown_mode::write);
        auto eof = co_await reads_eof(client, time);
        EXPECT_TRUE(eof);
        co_await served.get();
        co_await client.close();
        co_await finish(r, fake);
      });
}

TEST(server, tcp_answers_go_out_as_they_complete_not_in_query_order) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour(test::hold_all());
        resolver r(ex, one_server(fake), fake, {}, {}, fake.time());
        server s(r, {}, nullptr, fake.time());
        auto [client, server_end] = memory_pair(ex);
        background<bool> served(ex, serve(s, std::move(server_end)));
        for (std::uint16_t i = 1; i <= 3; ++i) {
          auto query = make_query("q" + std::to_string(i) + ".example.com", rr_type::a, i);
          co_await send_query(client, query);
        }
        co_await fake.wait_for_queries(3);
        fake.release_held(true);
        std::vector<std::uint16_t> order;
        for (int i = 0; i < 3; ++i) {
          auto answer = co_await read_answer(client, time);
          if (answer) order.push_back(answer->header.id);
        }
        EXPECT_EQ(order, (std::vector<std::uint16_t>{3, 2, 1}));
        co_await client.close();
        co_await served.get();
        co_await finish(r, fake);
      });
}

TEST(server, tcp_client_that_sends_nothing_is_closed_after_the_idle_timeout) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        resolver r(ex, one_server(fake), fake, {}, {}, fake.time());
        server_options options;
        options.tcp_idle_timeout = 100ms;
        server s(r, options, nullptr, fake.time());
        auto [client, server_end] = memory_pair(ex);
        const auto started = time.now();
        background<bool> served(ex, serve(s, std::move(server_end)));
        auto eof = co_await reads_eof(client, time);
        EXPECT_TRUE(eof);
        EXPECT_EQ(time.now() - started, 100ms);
        co_await served.get();
        EXPECT_TRUE(s.accepts_tcp());
        co_await client.close();
        co_await finish(r, fake);
      });
}

TEST(server, tcp_connection_stays_open_until_the_idle_timeout_has_passed) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        resolver r(ex, one_server(fake), fake, {}, {}, fake.time());
        server_options options;
        options.tcp_idle_timeout = 10s;
        server s(r, options, nullptr, fake.time());
        auto [client, server_end] = memory_pair(ex);
        background<bool> served(ex, serve(s, std::move(server_end)));
        co_await send_query(client, make_query("www.example.com", rr_type::a, 9));
        auto answer = co_await read_answer(client, time);
        EXPECT_TRUE(answer && answer->header.id == 9);
        // The idle time counts from the answer.
        const auto answered = time.now();
        co_await time.wait_until(answered + 10s - 1ns);
        EXPECT_FALSE(served.ready()) << "closed before the idle timeout";
        auto eof = co_await reads_eof(client, time);
        EXPECT_TRUE(eof);
        EXPECT_EQ(time.now(), answered + 10s);
        co_await served.get();
        co_await client.close();
        co_await finish(r, fake);
      });
}

TEST(server, tcp_connection_with_a_query_pending_outlives_the_idle_timeout) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour(test::hold_all());
        resolver r(ex, one_server(fake), fake, {}, {}, fake.time());
        server_options options;
        options.tcp_idle_timeout = 100ms;
        server s(r, options, nullptr, fake.time());
        auto [client, server_end] = memory_pair(ex);
        background<bool> served(ex, serve(s, std::move(server_end)));
        co_await send_query(client, make_query("www.example.com", rr_type::a, 9));
        co_await fake.wait_for_queries(1);
        // Several idle timeouts pass while the answer is awaited.
        co_await time.wait_for(350ms);
        EXPECT_FALSE(served.ready()) << "closed with a query pending";
        fake.release_held();
        auto answer = co_await read_answer(client, time);
        EXPECT_TRUE(answer && answer->header.id == 9);
        // Then idle again: closed.
        auto eof = co_await reads_eof(client, time);
        EXPECT_TRUE(eof);
        co_await served.get();
        co_await client.close();
        co_await finish(r, fake);
      });
}

TEST(server, tcp_max_queries_per_connection_stops_reading_until_an_answer_goes_out) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour(test::hold_all());
        resolver r(ex, one_server(fake), fake, {}, {}, fake.time());
        server_options options;
        options.max_queries_per_connection = 2;
        server s(r, options, nullptr, fake.time());
        auto [client, server_end] = memory_pair(ex);
        background<bool> served(ex, serve(s, std::move(server_end)));
        for (std::uint16_t i = 1; i <= 3; ++i) {
          auto query = make_query("q" + std::to_string(i) + ".example.com", rr_type::a, i);
          co_await send_query(client, query);
        }
        co_await fake.wait_for_queries(2);
        co_await flowstack::test::yield(50);
        EXPECT_EQ(fake.queries_received(), 2u) << "a third query was read";
        EXPECT_EQ(s.in_flight(), 2u);

        EXPECT_EQ(fake.release_held(), 2u);
        auto a1 = co_await read_answer(client, time);
        auto a2 = co_await read_answer(client, time);
        EXPECT_TRUE(a1 && a2);
        co_await fake.wait_for_queries(3);
        EXPECT_EQ(fake.release_held(), 1u);
        auto a3 = co_await read_answer(client, time);
        EXPECT_TRUE(a3 && a3->header.id == 3);
        co_await client.close();
        co_await served.get();
        co_await finish(r, fake);
      });
}

TEST(server, tcp_eof_inside_a_frame_ends_the_connection_cleanly) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        resolver r(ex, one_server(fake), fake, {}, {}, fake.time());
        server s(r, {}, nullptr, fake.time());
        auto [client, server_end] = memory_pair(ex);
        background<bool> served(ex, serve(s, std::move(server_end)));
        co_await send_query(client, make_query("www.example.com", rr_type::a, 5));
        // A frame announcing 30 octets, 5 of them sent.
        test::wire_builder partial;
        partial.u16(30).raw({1, 2, 3, 4, 5});
        co_await client.write(raw(partial.out));
        co_await client.shutdown(shutdown_mode::write);
        auto answer = co_await read_answer(client, time);
        EXPECT_TRUE(answer && answer->header.id == 5) << "the whole query before is answered";
        auto eof = co_await reads_eof(client, time);
        EXPECT_TRUE(eof);
        co_await served.get();
        co_await client.close();
        co_await finish(r, fake);
      });
}

TEST(server, tcp_empty_frame_is_dropped_and_the_connection_goes_on) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        resolver r(ex, one_server(fake), fake, {}, {}, fake.time());
        server s(r, {}, nullptr, fake.time());
        auto [client, server_end] = memory_pair(ex);
        background<bool> served(ex, serve(s, std::move(server_end)));
        test::bytes empty_frame(2, 0);
        co_await client.write(raw(empty_frame));
        co_await send_query(client, make_query("www.example.com", rr_type::a, 6));
        auto answer = co_await read_answer(client, time);
        EXPECT_TRUE(answer && answer->header.id == 6);
        co_await client.shutdown(shutdown_mode::write);
        auto eof = co_await reads_eof(client, time);
        EXPECT_TRUE(eof) << "nothing was sent for the empty frame";
        co_await served.get();
        co_await client.close();
        co_await finish(r, fake);
      });
}

TEST(server, tcp_huge_length_prefix_with_few_octets_then_eof_ends_the_connection) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        resolver r(ex, one_server(fake), fake, {}, {}, fake.time());
        server s(r, {}, nullptr, fake.time());
        auto [client, server_end] = memory_pair(ex);
        background<bool> served(ex, serve(s, std::move(server_end)));
        test::wire_builder partial;
        partial.u16(0xffff).raw({0x12, 0x34, 0x01});
        co_await client.write(raw(partial.out));
        co_await client.shutdown(shutdown_mode::write);
        auto eof = co_await reads_eof(client, time);
        EXPECT_TRUE(eof);
        co_await served.get();
        EXPECT_EQ(fake.queries_received(), 0u);
        co_await client.close();
        co_await finish(r, fake);
      });
}

TEST(server, tcp_connection_beyond_max_tcp_connections_is_closed_at_once) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        resolver r(ex, one_server(fake), fake, {}, {}, fake.time());
        server_options options;
        options.max_tcp_connections = 1;
        server s(r, options, nullptr, fake.time());
        auto [client1, server1] = memory_pair(ex);
        background<bool> served1(ex, serve(s, std::move(server1)));
        // Served: the connection counts once it answered.
        co_await send_query(client1, make_query("www.example.com", rr_type::a, 1));
        auto answer = co_await read_answer(client1, time);
        EXPECT_TRUE(answer.has_value());
        EXPECT_FALSE(s.accepts_tcp());

        auto [client2, server2] = memory_pair(ex);
        co_await s.serve_tcp(std::move(server2), "192.0.2.10:1");
        auto eof = co_await reads_eof(client2, time);
        EXPECT_TRUE(eof);
        auto text = r.metrics().prometheus(r.cache().stats());
        EXPECT_NE(text.find("reason=\"connection_limit\"} 1"), std::string::npos) << text;

        // The first connection is unaffected.
        co_await send_query(client1, make_query("www.example.com", rr_type::a, 2));
        auto answer2 = co_await read_answer(client1, time);
        EXPECT_TRUE(answer2 && answer2->header.id == 2);
        co_await client1.shutdown(shutdown_mode::write);
        co_await served1.get();
        EXPECT_TRUE(s.accepts_tcp());
        co_await client1.close();
        co_await client2.close();
        co_await finish(r, fake);
      });
}

TEST(server, stop_closes_a_tcp_connection_once_its_pending_answers_are_written) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour(test::hold_all());
        resolver r(ex, one_server(fake), fake, {}, {}, fake.time());
        server_options options;
        options.tcp_idle_timeout = 60s;  // never what closes the connection here
        server s(r, options, nullptr, fake.time());
        auto [client, server_end] = memory_pair(ex);
        background<bool> served(ex, serve(s, std::move(server_end)));
        co_await send_query(client, make_query("www.example.com", rr_type::a, 4));
        co_await fake.wait_for_queries(1);
        s.stop();
        EXPECT_FALSE(s.accepts_tcp());
        co_await flowstack::test::yield(20);
        EXPECT_FALSE(served.ready()) << "closed before the pending answer was written";
        fake.release_held();
        auto answer = co_await read_answer(client, time);
        EXPECT_TRUE(answer && answer->header.id == 4 && answer->full_rcode() == 0);
        auto eof = co_await reads_eof(client, time);
        EXPECT_TRUE(eof) << "not closed once the answer was written";
        co_await client.close();
        co_await served.get();
        co_await finish(r, fake);
      });
}

TEST(server, stop_closes_an_idle_tcp_connection_at_once) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        resolver r(ex, one_server(fake), fake, {}, {}, fake.time());
        server_options options;
        options.tcp_idle_timeout = 60s;
        server s(r, options, nullptr, fake.time());
        auto [client, server_end] = memory_pair(ex);
        background<bool> served(ex, serve(s, std::move(server_end)));
        co_await send_query(client, make_query("www.example.com", rr_type::a, 4));
        auto answer = co_await read_answer(client, time);
        EXPECT_TRUE(answer.has_value());
        s.stop();
        auto eof = co_await reads_eof(client, time);
        EXPECT_TRUE(eof);
        co_await served.get();
        co_await client.close();
        co_await finish(r, fake);
      });
}

// ---- serve_udp() -------------------------------------------------------------------------------

asio::awaitable<bool> serve_datagrams(server& s, datagram_listener& listener) {
  co_await s.serve_udp(listener);
  co_return true;
}

asio::ip::udp::endpoint client_endpoint(std::uint16_t port) {
  return {asio::ip::make_address("127.0.0.1"), port};
}

TEST(server, udp_answers_several_clients_each_at_its_own_address) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        resolver r(ex, one_server(fake), fake, {}, {}, fake.time());
        server s(r, {}, nullptr, fake.time());
        memory_listener listener(ex);
        background<bool> served(ex, serve_datagrams(s, listener));
        for (std::uint16_t i = 0; i < 5; ++i) {
          auto query = make_query("c" + std::to_string(i) + ".example.com", rr_type::a,
                                  static_cast<std::uint16_t>(100 + i));
          listener.deliver(to_wire(query), client_endpoint(static_cast<std::uint16_t>(40000 + i)));
        }
        const auto& sent = listener.sent();
        std::function<bool()> all_sent = [&sent] { return sent.size() >= 5; };
        co_await listener.wait_until(all_sent);
        EXPECT_EQ(sent.size(), 5u);
        for (const auto& d : sent) {
          auto answer = decode(d.data);
          EXPECT_TRUE(answer);
          if (!answer) continue;
          auto i = static_cast<std::uint16_t>(answer->header.id - 100);
          EXPECT_EQ(d.to, client_endpoint(static_cast<std::uint16_t>(40000 + i)));
          EXPECT_EQ(answer->questions.front().qname.to_string(),
                    "c" + std::to_string(i) + ".example.com.");
        }
        listener.close();
        co_await served.get();
        co_await finish(r, fake);
      });
}

TEST(server, udp_garbage_is_dropped_and_the_loop_goes_on) {
  flowstack::test::run_on_manual_clock([](asio::any_io_executor ex,
                                          manual_clock& time) -> asio::awaitable<void> {
    fake_upstream fake(ex, time);
    resolver r(ex, one_server(fake), fake, {}, {}, fake.time());
    server s(r, {}, nullptr, fake.time());
    memory_listener listener(ex);
    background<bool> served(ex, serve_datagrams(s, listener));
    listener.deliver(buffer::of_string("garbage"), client_endpoint(1));
    listener.deliver(to_wire(make_answer(make_query("www.example.com"))), client_endpoint(2));
    listener.deliver_error(asio::error::connection_refused);  // an ICMP error
    listener.deliver(to_wire(make_query("www.example.com", rr_type::a, 77)), client_endpoint(3));
    const auto& sent = listener.sent();
    std::function<bool()> any_sent = [&sent] { return !sent.empty(); };
    co_await listener.wait_until(any_sent);
    EXPECT_EQ(listener.received(), 4u);
    EXPECT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent.front().to, client_endpoint(3));
    auto answer = decode(sent.front().data);
    EXPECT_TRUE(answer && answer->header.id == 77);
    EXPECT_FALSE(served.ready());
    listener.close();
    co_await served.get();
    auto text = r.metrics().prometheus(r.cache().stats());
    EXPECT_NE(text.find("{transport=\"udp\",reason=\"malformed\"} 1"), std::string::npos) << text;
    EXPECT_NE(text.find("{transport=\"udp\",reason=\"not_a_query\"} 1"), std::string::npos) << text;
    co_await finish(r, fake);
  });
}

TEST(server, udp_listener_close_ends_serve_udp_after_the_answers_in_flight_are_sent) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour(test::hold_all());
        resolver r(ex, one_server(fake), fake, {}, {}, fake.time());
        server s(r, {}, nullptr, fake.time());
        memory_listener listener(ex);
        background<bool> served(ex, serve_datagrams(s, listener));
        listener.deliver(to_wire(make_query("a.example.com", rr_type::a, 1)), client_endpoint(1));
        listener.deliver(to_wire(make_query("b.example.com", rr_type::a, 2)), client_endpoint(2));
        co_await fake.wait_for_queries(2);
        listener.close();
        co_await flowstack::test::yield(20);
        EXPECT_FALSE(served.ready()) << "ended with answers in flight";
        fake.release_held();
        co_await served.get();
        EXPECT_EQ(listener.sent().size(), 2u);
        EXPECT_EQ(s.in_flight(), 0u);
        co_await finish(r, fake);
      });
}

TEST(server, udp_closing_one_listener_does_not_wait_for_anothers_answers) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour(test::hold_all());
        resolver r(ex, one_server(fake), fake, {}, {}, fake.time());
        server s(r, {}, nullptr, fake.time());
        memory_listener v4(ex);
        memory_listener v6(ex);
        background<bool> served_v4(ex, serve_datagrams(s, v4));
        background<bool> served_v6(ex, serve_datagrams(s, v6));
        v6.deliver(to_wire(make_query("a.example.com", rr_type::a, 1)), client_endpoint(1));
        co_await fake.wait_for_queries(1);
        v4.close();
        co_await served_v4.get();  // ends although v6 still has an answer in flight
        EXPECT_FALSE(served_v6.ready());
        fake.release_held();
        v6.close();
        co_await served_v6.get();
        EXPECT_EQ(v6.sent().size(), 1u);
        co_await finish(r, fake);
      });
}

TEST(server, udp_after_stop_new_queries_are_refused_and_those_in_flight_answered) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour(test::hold_all());
        resolver r(ex, one_server(fake), fake, {}, {}, fake.time());
        server s(r, {}, nullptr, fake.time());
        memory_listener listener(ex);
        background<bool> served(ex, serve_datagrams(s, listener));
        listener.deliver(to_wire(make_query("a.example.com", rr_type::a, 1)), client_endpoint(1));
        co_await fake.wait_for_queries(1);
        s.stop();
        listener.deliver(to_wire(make_query("b.example.com", rr_type::a, 2)), client_endpoint(2));
        const auto& sent = listener.sent();
        std::function<bool()> refused_sent = [&sent] { return !sent.empty(); };
        co_await listener.wait_until(refused_sent);
        auto refused = decode(sent.front().data);
        EXPECT_TRUE(refused && refused->header.id == 2 &&
                    refused->full_rcode() == static_cast<std::uint16_t>(rcode::refused));
        EXPECT_EQ(fake.queries_received(), 1u);
        co_await flowstack::test::yield(20);
        EXPECT_FALSE(served.ready()) << "ended with an answer in flight";
        fake.release_held();
        co_await served.get();
        EXPECT_EQ(sent.size(), 2u);
        auto answered = decode(sent.back().data);
        EXPECT_TRUE(answered && answered->header.id == 1 && answered->full_rcode() == 0);
        EXPECT_EQ(sent.back().to, client_endpoint(1));
        listener.close();
        co_await finish(r, fake);
      });
}

asio::awaitable<bool> drain(server& s) {
  co_await s.drain();
  co_return true;
}

TEST(server, drain_returns_once_the_answers_in_flight_have_gone_out) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        fake.set_behaviour(test::hold_all());
        resolver r(ex, one_server(fake), fake, {}, {}, fake.time());
        server s(r, {}, nullptr, fake.time());
        memory_listener listener(ex);
        background<bool> served(ex, serve_datagrams(s, listener));
        listener.deliver(to_wire(make_query("a.example.com", rr_type::a, 1)), client_endpoint(1));
        co_await fake.wait_for_queries(1);
        s.stop();
        const auto stopped = time.now();
        background<bool> drained(ex, drain(s));
        co_await flowstack::test::yield(20);
        EXPECT_FALSE(drained.ready()) << "drained with an answer in flight";
        fake.release_held();
        co_await drained.get();
        EXPECT_EQ(listener.sent().size(), 1u) << "the answer had not gone out";
        EXPECT_EQ(time.now(), stopped) << "the drain waited for time to pass, not for the answer";
        listener.close();
        co_await served.get();
        co_await finish(r, fake);
      });
}

TEST(server, drain_with_nothing_in_flight_returns_at_once) {
  flowstack::test::run_on_manual_clock(
      [](asio::any_io_executor ex, manual_clock& time) -> asio::awaitable<void> {
        fake_upstream fake(ex, time);
        resolver r(ex, one_server(fake), fake, {}, {}, fake.time());
        server s(r, {}, nullptr, fake.time());
        s.stop();
        const auto stopped = time.now();
        co_await s.drain();
        EXPECT_EQ(time.now(), stopped);
        co_await finish(r, fake);
      });
}

}  // namespace
}  // namespace flowstack::dns
