// One TCP connection at the packet level: two connections pass each other's segments through a
// wire the test controls (it drops, reorders and holds segments), and time moves only when the
// test moves it.
#include <gtest/gtest.h>

#include <algorithm>
#include <flowstack/net/error.hpp>
#include <flowstack/stack/tcp_connection.hpp>
#include <functional>
#include <set>
#include <string>

namespace flowstack::stack {
namespace {

using namespace std::chrono_literals;
using time_point = tcp_connection::time_point;

const time_point t0 = time_point() + 1000h;

tcp_endpoints client_side() {
  return {asio::ip::make_address_v4("10.0.0.1"), 40000, asio::ip::make_address_v4("10.0.0.2"), 80};
}
tcp_endpoints server_side() {
  return {asio::ip::make_address_v4("10.0.0.2"), 80, asio::ip::make_address_v4("10.0.0.1"), 40000};
}

std::span<const std::byte> bytes_of(const std::string& s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}
std::span<const std::uint8_t> payload_of(const tcp_output& o) {
  return {reinterpret_cast<const std::uint8_t*>(o.payload.data()), o.payload.size()};
}

// Two ends and the wire between them.
struct link {
  explicit link(tcp_settings settings = {}) : settings(settings) {}

  tcp_settings settings;
  time_point now = t0;
  std::optional<tcp_connection> client, server;
  // Segments the test decides to drop: (segment, sent by the client).
  std::function<bool(const tcp_output&, bool)> drop = [](const tcp_output&, bool) { return false; };
  std::vector<std::pair<tcp_output, bool>> sent;  // everything put on the wire

  // The client opens; its SYN reaches a listener, which accepts it.
  void connect() {
    client = tcp_connection::open(client_side(), seq32(1000), settings, now);
    auto syn = client->take_output(now);
    EXPECT_EQ(syn.size(), 1u);
    sent.emplace_back(syn[0], true);
    server = tcp_connection::accept(server_side(), syn[0].header, seq32(5000), settings, now);
    settle();
  }

  void deliver(std::vector<tcp_output> out, bool from_client) {
    for (auto& o : out) {
      sent.emplace_back(o, from_client);
      if (drop(o, from_client)) continue;
      (from_client ? *server : *client).input(o.header, payload_of(o), now);
    }
  }

  // Exchanges segments until both ends are quiet.
  void settle() {
    for (int rounds = 0; rounds < 100000; ++rounds) {
      auto a = client->take_output(now);
      auto b = server->take_output(now);
      if (a.empty() && b.empty()) return;
      deliver(std::move(a), true);
      deliver(std::move(b), false);
    }
    ADD_FAILURE() << "the two ends never went quiet";
  }

  // Lets time pass to `until`, running each timer as it falls due.
  void advance(clock::duration d) {
    settle();
    const auto until = now + d;
    for (;;) {
      std::optional<time_point> next;
      for (auto* c : {&*client, &*server}) {
        auto t = c->next_deadline();
        if (t && (!next || *t < *next)) next = t;
      }
      if (!next || *next > until) break;
      now = std::max(now, *next);
      client->poll(now);
      server->poll(now);
      settle();
    }
    now = until;
  }

  std::string read_all(tcp_connection& c) {
    std::string out;
    while (c.readable() > 0) out += c.read().to_string();
    settle();
    return out;
  }

  std::size_t count(std::function<bool(const tcp_output&, bool)> which) const {
    return static_cast<std::size_t>(std::count_if(
        sent.begin(), sent.end(), [&](const auto& s) { return which(s.first, s.second); }));
  }
};

bool has(const tcp_output& o, std::uint8_t flag) {
  return o.header.has(flag);
}

TEST(tcp_connection, the_three_way_handshake_establishes_both_ends_with_mss_and_window_scale) {
  link l;
  l.connect();
  EXPECT_EQ(l.client->state(), tcp_state::established);
  EXPECT_EQ(l.server->state(), tcp_state::established);
  const auto& syn = l.sent[0].first;
  EXPECT_EQ(flags_to_string(syn.header.flags), "SYN");
  EXPECT_EQ(syn.header.options.mss, 1460);
  EXPECT_EQ(syn.header.options.window_scale, 3) << "256 KiB needs a scale of 3";
  EXPECT_EQ(flags_to_string(l.sent[1].first.header.flags), "SYN,ACK");
  EXPECT_EQ(l.sent[1].first.header.ack, 1001u);
  EXPECT_EQ(flags_to_string(l.sent[2].first.header.flags), "ACK");
  EXPECT_EQ(l.sent.size(), 3u);
  EXPECT_EQ(l.client->send_window(), 65535u) << "a SYN-ACK's window is never scaled";
  l.server->write(bytes_of("x"), l.now);
  l.settle();
  EXPECT_EQ(l.client->send_window(), 256u * 1024) << "later windows are scaled";
}

TEST(tcp_connection, without_the_peer_offering_it_no_window_scale_is_answered_or_used) {
  tcp_header syn;
  syn.seq = 77;
  syn.flags = tcp_flag::syn;
  syn.window = 1000;
  syn.options.mss = 1000;
  auto server = tcp_connection::accept(server_side(), syn, seq32(5000), {}, t0);
  auto out = server.take_output(t0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].header.options.window_scale);
  EXPECT_EQ(out[0].header.window, 65535) << "the largest an unscaled window says";
}

TEST(tcp_connection, bytes_cross_both_ways_byte_for_byte_through_small_windows) {
  tcp_settings s;
  s.receive_buffer = 8 * 1024;
  s.send_buffer = 16 * 1024;
  link l(s);
  l.connect();
  std::string request(100'000, '\0');
  for (std::size_t i = 0; i < request.size(); ++i) request[i] = static_cast<char>(i * 31 + 7);
  std::string got;
  std::size_t written = 0;
  for (int rounds = 0; rounds < 10000 && got.size() < request.size(); ++rounds) {
    written += l.client->write(bytes_of(request).subspan(written), l.now);
    l.settle();
    std::size_t before = got.size();
    got += l.read_all(*l.server);
    // Nagle holds the last small segment until the data in flight is acknowledged, and that
    // ACK may be a delayed one.
    if (got.size() == before) l.advance(40ms);
  }
  l.advance(40ms);  // the last delayed ACK
  ASSERT_EQ(got.size(), request.size());
  EXPECT_TRUE(got == request) << "the bytes differ";
  EXPECT_EQ(l.client->retransmissions(), 0u);
  EXPECT_TRUE(l.client->all_acknowledged());
  EXPECT_LE(l.count([](const tcp_output& o, bool c) { return c && o.payload.size() > 1460; }), 0u);
}

TEST(tcp_connection, half_close_passes_eof_one_way_and_the_other_way_keeps_working) {
  link l;
  l.connect();
  l.client->write(bytes_of("request"), l.now);
  l.client->shutdown_write(l.now);
  l.settle();
  EXPECT_EQ(l.client->state(), tcp_state::fin_wait_2);
  EXPECT_EQ(l.server->state(), tcp_state::close_wait);
  EXPECT_EQ(l.read_all(*l.server), "request");
  EXPECT_TRUE(l.server->at_eof());
  l.server->write(bytes_of("answer"), l.now);
  l.server->shutdown_write(l.now);
  l.settle();
  EXPECT_EQ(l.read_all(*l.client), "answer");
  EXPECT_TRUE(l.client->at_eof());
  EXPECT_EQ(l.server->state(), tcp_state::closed);
  EXPECT_EQ(l.client->state(), tcp_state::time_wait);
  EXPECT_FALSE(l.client->error());
  l.advance(60s - 1ms);
  EXPECT_EQ(l.client->state(), tcp_state::time_wait);
  l.advance(1ms);
  EXPECT_EQ(l.client->state(), tcp_state::closed) << "TIME-WAIT lasts 2 MSL";
}

TEST(tcp_connection, simultaneous_open_establishes_both) {
  tcp_settings s;
  auto a = tcp_connection::open(client_side(), seq32(100), s, t0);
  auto b = tcp_connection::open(server_side(), seq32(900), s, t0);
  auto syn_a = a.take_output(t0), syn_b = b.take_output(t0);
  a.input(syn_b[0].header, {}, t0);
  b.input(syn_a[0].header, {}, t0);
  EXPECT_EQ(a.state(), tcp_state::syn_received);
  EXPECT_EQ(b.state(), tcp_state::syn_received);
  for (int i = 0; i < 5; ++i) {
    for (auto& o : a.take_output(t0)) b.input(o.header, payload_of(o), t0);
    for (auto& o : b.take_output(t0)) a.input(o.header, payload_of(o), t0);
  }
  EXPECT_EQ(a.state(), tcp_state::established);
  EXPECT_EQ(b.state(), tcp_state::established);
}

TEST(tcp_connection, simultaneous_close_goes_through_closing_to_time_wait_on_both_sides) {
  link l;
  l.connect();
  l.client->shutdown_write(l.now);
  l.server->shutdown_write(l.now);
  auto fin_a = l.client->take_output(l.now);
  auto fin_b = l.server->take_output(l.now);
  l.deliver(std::move(fin_a), true);
  l.deliver(std::move(fin_b), false);
  EXPECT_EQ(l.client->state(), tcp_state::closing);
  EXPECT_EQ(l.server->state(), tcp_state::closing);
  l.settle();
  EXPECT_EQ(l.client->state(), tcp_state::time_wait);
  EXPECT_EQ(l.server->state(), tcp_state::time_wait);
}

TEST(tcp_connection, a_rst_answering_our_syn_is_refused) {
  auto c = tcp_connection::open(client_side(), seq32(1000), {}, t0);
  auto syn = c.take_output(t0);
  tcp_header rst;
  rst.flags = tcp_flag::rst | tcp_flag::ack;
  rst.ack = 1001;
  c.input(rst, {}, t0);
  EXPECT_EQ(c.state(), tcp_state::closed);
  EXPECT_EQ(c.error(), net::net_errc::refused);
}

TEST(tcp_connection, a_rst_that_does_not_ack_our_syn_is_ignored) {
  auto c = tcp_connection::open(client_side(), seq32(1000), {}, t0);
  c.take_output(t0);
  tcp_header rst;
  rst.flags = tcp_flag::rst | tcp_flag::ack;
  rst.ack = 5;  // a blind attacker's guess
  c.input(rst, {}, t0);
  EXPECT_EQ(c.state(), tcp_state::syn_sent);
}

TEST(tcp_connection, an_exact_rst_resets_and_an_inexact_one_gets_a_challenge_ack) {
  link l;
  l.connect();
  tcp_header rst;
  rst.flags = tcp_flag::rst;
  rst.seq = 5001 + 100;  // in the window, not at RCV.NXT (RFC 5961 §3)
  l.client->input(rst, {}, l.now);
  EXPECT_EQ(l.client->state(), tcp_state::established);
  EXPECT_EQ(l.client->challenge_acks(), 1u);
  auto out = l.client->take_output(l.now);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(flags_to_string(out[0].header.flags), "ACK");
  rst.seq = 5001 + 10'000'000;  // outside the window
  l.client->input(rst, {}, l.now);
  EXPECT_EQ(l.client->state(), tcp_state::established);
  rst.seq = 5001;
  l.client->input(rst, {}, l.now);
  EXPECT_EQ(l.client->state(), tcp_state::closed);
  EXPECT_EQ(l.client->error(), net::net_errc::reset);
}

TEST(tcp_connection, a_syn_on_an_established_connection_gets_a_challenge_ack_and_changes_nothing) {
  link l;
  l.connect();
  tcp_header syn;
  syn.flags = tcp_flag::syn;
  syn.seq = 5001;
  l.server->input(syn, {}, l.now);  // wrong direction, but exact: still only a challenge
  l.client->input(syn, {}, l.now);
  EXPECT_EQ(l.client->state(), tcp_state::established);
  EXPECT_EQ(l.client->challenge_acks(), 1u);
}

TEST(tcp_connection, challenge_acks_are_rate_limited) {
  tcp_settings s;
  s.challenge_acks_per_second = 3;
  link l(s);
  l.connect();
  tcp_header syn;
  syn.flags = tcp_flag::syn;
  syn.seq = 5001;
  for (int i = 0; i < 10; ++i) l.client->input(syn, {}, l.now);
  EXPECT_EQ(l.client->challenge_acks(), 3u);
  l.now += 1s;
  l.client->input(syn, {}, l.now);
  EXPECT_EQ(l.client->challenge_acks(), 4u);
}

// Found by fuzz/stack_whole_fuzz.cpp: a forged FIN moves one end's RCV.NXT past the other's
// SND.NXT, and each answers the other's ACK with an ACK. With no delay on the wire that loop
// never ends; the rate limit ends it.
TEST(tcp_connection, two_ends_that_disagree_on_the_numbers_do_not_trade_acks_without_end) {
  link l;
  l.connect();
  tcp_header forged;  // "from the client", one past what it sent
  forged.source_port = 40000;
  forged.destination_port = 80;
  forged.flags = tcp_flag::fin | tcp_flag::ack;
  forged.seq = 1001;
  forged.ack = 5001;
  forged.window = 65535;
  l.server->input(forged, {}, l.now);
  const auto before = l.sent.size();
  l.settle();
  EXPECT_LT(l.sent.size() - before, 10u) << "ACKs traded at one instant";
  l.advance(2s);
  EXPECT_LT(l.sent.size() - before, 40u) << "ACKs traded in two seconds";
}

TEST(tcp_connection, a_lost_segment_is_sent_again_after_the_rto_which_then_doubles) {
  link l;
  l.connect();
  bool dropped = false;
  l.drop = [&dropped](const tcp_output& o, bool client) {
    if (!client || o.payload.empty() || dropped) return false;
    dropped = true;
    return true;
  };
  l.client->write(bytes_of("lost once"), l.now);
  l.settle();
  EXPECT_EQ(l.server->readable(), 0u);
  auto before = l.client->rto();
  l.advance(before - 1ms);
  EXPECT_EQ(l.client->retransmissions(), 0u);
  l.advance(1ms);
  EXPECT_EQ(l.client->retransmissions(), 1u);
  EXPECT_EQ(l.read_all(*l.server), "lost once");
  l.advance(40ms);
  EXPECT_TRUE(l.client->all_acknowledged());
}

TEST(tcp_connection, retransmissions_give_up_with_timeout_after_the_limit) {
  tcp_settings s;
  s.max_retransmissions = 3;
  link l(s);
  l.connect();
  l.drop = [](const tcp_output&, bool client) { return client; };  // the peer is gone
  l.client->write(bytes_of("into the void"), l.now);
  l.settle();
  l.advance(1s + 2s + 4s);
  EXPECT_EQ(l.client->retransmissions(), 3u) << "at 1, 3 and 7 s";
  l.advance(8s - 1ms);
  EXPECT_EQ(l.client->state(), tcp_state::established);
  l.advance(1ms);
  EXPECT_EQ(l.client->state(), tcp_state::closed);
  EXPECT_EQ(l.client->error(), net::net_errc::timeout);
}

TEST(tcp_connection, an_unanswered_syn_is_sent_again_with_backoff_then_times_out) {
  auto c = tcp_connection::open(client_side(), seq32(1000), {}, t0);
  std::vector<time_point> syns;
  auto now = t0;
  for (int i = 0; i < 20 && c.state() != tcp_state::closed; ++i) {
    for (auto& o : c.take_output(now)) {
      if (has(o, tcp_flag::syn)) syns.push_back(now);
    }
    auto next = c.next_deadline();
    if (!next) break;
    now = *next;
    c.poll(now);
  }
  ASSERT_EQ(syns.size(), 7u) << "the SYN and 6 retransmissions";
  for (std::size_t i = 1; i < syns.size(); ++i)
    EXPECT_EQ(syns[i] - syns[i - 1], std::chrono::seconds(1 << (i - 1)));
  EXPECT_EQ(c.error(), net::net_errc::timeout);
  EXPECT_EQ(now - t0, 63s + 60s) << "the last wait is capped at rto_max";
}

TEST(tcp_connection, a_closed_window_is_probed_until_the_reader_makes_room) {
  tcp_settings s;
  s.receive_buffer = 4096;
  link l(s);
  l.connect();
  std::string data(10000, 'w');
  std::size_t written = l.client->write(bytes_of(data), l.now);
  l.advance(40ms);  // the delayed ACK that says the window is closed
  EXPECT_EQ(l.server->readable(), 4096u);
  EXPECT_EQ(l.client->send_window(), 0u);
  l.advance(30s);
  EXPECT_GT(l.count([](const tcp_output& o, bool c) { return c && o.payload.size() == 1; }), 0u)
      << "no zero-window probe";
  EXPECT_EQ(l.client->state(), tcp_state::established) << "probes never time out";
  std::string got = l.read_all(*l.server);
  for (int i = 0; i < 100 && got.size() < written; ++i) {
    l.advance(1s);
    got += l.read_all(*l.server);
  }
  EXPECT_EQ(got.size(), written);
}

TEST(tcp_connection, out_of_order_segments_are_held_and_acknowledged_at_once) {
  tcp_settings s;
  s.nodelay = true;
  link l(s);
  l.connect();
  l.client->write(bytes_of(std::string(1460, 'a') + std::string(1460, 'b') + "c"), l.now);
  // With Nagle the small third segment would wait for the first two to be acknowledged.
  auto segments = l.client->take_output(l.now);
  ASSERT_EQ(segments.size(), 3u);
  std::vector<tcp_output> reversed(segments.rbegin(), segments.rend());
  l.deliver({reversed[0]}, true);
  EXPECT_EQ(l.server->out_of_order_segments(), 1u);
  auto dup_ack = l.server->take_output(l.now);
  ASSERT_EQ(dup_ack.size(), 1u) << "an out-of-order segment is acknowledged at once";
  EXPECT_EQ(dup_ack[0].header.ack, 1001u);
  l.deliver({reversed[1], reversed[2]}, true);
  EXPECT_EQ(l.server->readable(), 2921u);
  EXPECT_EQ(l.server->out_of_order_segments(), 0u);
}

TEST(tcp_connection, a_hole_at_the_start_of_a_full_window_keeps_every_segment_behind_it) {
  // If the segments after a loss were dropped for want of room, the sender's NewReno would
  // repair them one per round trip: a lossy link would crawl at a large window.
  link l;
  l.connect();
  l.client->write(bytes_of(std::string(1460, 'a')), l.now);
  auto first = l.client->take_output(l.now);
  ASSERT_EQ(first.size(), 1u);
  tcp_header h = first[0].header;
  const std::vector<std::uint8_t> payload(1460, 'b');
  const std::size_t behind = tcp_settings{}.receive_buffer / 1460 - 1;
  for (std::size_t i = 1; i <= behind; ++i) {
    h.seq = 1001 + static_cast<std::uint32_t>(i * 1460);
    l.server->input(h, payload, l.now);
  }
  EXPECT_EQ(l.server->out_of_order_segments(), behind);
  l.server->input(first[0].header, payload_of(first[0]), l.now);
  EXPECT_EQ(l.server->readable(), (behind + 1) * 1460);
}

TEST(tcp_connection, overlapping_out_of_order_segments_hold_no_more_than_the_receive_buffer) {
  tcp_settings s;
  s.receive_buffer = 64 * 1024;
  link l(s);
  l.connect();
  // A peer sends big segments ahead of a hole, each starting a byte after the last, so that
  // every one overlaps the others: 64 of them would be 64 times 32 KiB.
  const std::vector<std::uint8_t> payload(32 * 1024, 7);
  for (std::uint32_t k = 1; k <= 64; ++k) {
    tcp_header h;
    h.source_port = 80;
    h.destination_port = 40000;
    h.flags = tcp_flag::ack;
    h.seq = 5001 + k;
    h.ack = 1001;
    h.window = 65535;
    l.client->input(h, payload, l.now);
  }
  EXPECT_LE(l.client->out_of_order_bytes(), s.receive_buffer);
  EXPECT_LE(l.client->buffered_bytes(), s.receive_buffer);
  EXPECT_GT(l.client->out_of_order_segments(), 0u);
}

TEST(tcp_connection, one_segment_is_acknowledged_after_the_delay_and_two_at_once) {
  link l;
  l.connect();
  l.client->write(bytes_of("one"), l.now);
  l.deliver(l.client->take_output(l.now), true);
  EXPECT_TRUE(l.server->take_output(l.now).empty());
  EXPECT_EQ(l.server->next_deadline(), l.now + 40ms);
  l.now += 40ms;
  l.server->poll(l.now);
  EXPECT_EQ(l.server->take_output(l.now).size(), 1u);

  l.client->write(bytes_of(std::string(2920, 'x')), l.now);
  l.deliver(l.client->take_output(l.now), true);
  EXPECT_EQ(l.server->take_output(l.now).size(), 1u) << "every second full segment at once";
}

TEST(tcp_connection, nagle_holds_small_writes_while_data_is_in_flight_unless_nodelay) {
  for (bool nodelay : {false, true}) {
    tcp_settings s;
    s.nodelay = nodelay;
    link l(s);
    l.connect();
    l.client->write(bytes_of("a"), l.now);
    EXPECT_EQ(l.client->take_output(l.now).size(), 1u);
    l.client->write(bytes_of("b"), l.now);
    EXPECT_EQ(l.client->take_output(l.now).size(), nodelay ? 1u : 0u) << "nodelay " << nodelay;
  }
}

TEST(tcp_connection, time_wait_acknowledges_a_retransmitted_fin_and_ignores_rst) {
  link l;
  l.connect();
  l.client->shutdown_write(l.now);
  l.settle();
  l.server->shutdown_write(l.now);
  auto fin = l.server->take_output(l.now);
  l.deliver(fin, false);
  l.settle();
  ASSERT_EQ(l.client->state(), tcp_state::time_wait);
  l.now += 10s;
  l.client->input(fin[0].header, {}, l.now);  // our ACK was lost: the FIN again
  auto ack = l.client->take_output(l.now);
  ASSERT_EQ(ack.size(), 1u);
  EXPECT_EQ(l.client->next_deadline(), l.now + 60s) << "TIME-WAIT starts over";
  tcp_header rst;
  rst.flags = tcp_flag::rst;
  rst.seq = fin[0].header.seq + 1;
  l.client->input(rst, {}, l.now);
  EXPECT_EQ(l.client->state(), tcp_state::time_wait) << "RFC 1337";
}

TEST(tcp_connection, fin_wait_2_ends_after_its_timeout_once_the_application_closed) {
  link l;
  l.connect();
  l.client->close(l.now);
  l.settle();
  ASSERT_EQ(l.client->state(), tcp_state::fin_wait_2);
  l.advance(60s);
  EXPECT_EQ(l.client->state(), tcp_state::closed);
}

TEST(tcp_connection, closing_with_unread_data_resets_the_connection) {
  link l;
  l.connect();
  l.server->write(bytes_of("never read"), l.now);
  l.settle();
  l.client->close(l.now);
  auto out = l.client->take_output(l.now);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(has(out[0], tcp_flag::rst));
  l.deliver(out, true);
  EXPECT_EQ(l.server->error(), net::net_errc::reset);
}

TEST(tcp_connection, abort_sends_rst_and_the_peer_sees_reset) {
  link l;
  l.connect();
  l.client->abort();
  EXPECT_EQ(l.client->state(), tcp_state::closed);
  l.settle();
  EXPECT_EQ(l.server->state(), tcp_state::closed);
  EXPECT_EQ(l.server->error(), net::net_errc::reset);
}

TEST(tcp_connection, an_ack_for_data_never_sent_is_answered_and_ignored) {
  link l;
  l.connect();
  tcp_header h;
  h.flags = tcp_flag::ack;
  h.seq = 5001;
  h.ack = 1001 + 5000;
  l.client->input(h, {}, l.now);
  EXPECT_EQ(l.client->state(), tcp_state::established);
  EXPECT_EQ(l.client->take_output(l.now).size(), 1u);
}

TEST(tcp_connection, a_segment_outside_the_window_gets_an_ack_and_no_data_is_taken) {
  link l;
  l.connect();
  tcp_header h;
  h.flags = tcp_flag::ack;
  h.seq = 5001 + 1'000'000;
  h.ack = 1001;
  std::string junk = "junk";
  l.client->input(h, std::span(reinterpret_cast<const std::uint8_t*>(junk.data()), junk.size()),
                  l.now);
  EXPECT_EQ(l.client->readable(), 0u);
  EXPECT_EQ(l.client->take_output(l.now).size(), 1u);
}

TEST(tcp_connection, an_unacceptable_ack_in_syn_received_gets_a_rst) {
  tcp_header syn;
  syn.seq = 77;
  syn.flags = tcp_flag::syn;
  auto server = tcp_connection::accept(server_side(), syn, seq32(5000), {}, t0);
  server.take_output(t0);
  tcp_header ack;
  ack.flags = tcp_flag::ack;
  ack.seq = 78;
  ack.ack = 12345;
  server.input(ack, {}, t0);
  auto out = server.take_output(t0);
  ASSERT_FALSE(out.empty());
  EXPECT_TRUE(has(out[0], tcp_flag::rst));
  EXPECT_EQ(out[0].header.seq, 12345u);
  EXPECT_EQ(server.state(), tcp_state::syn_received);
}

}  // namespace
}  // namespace flowstack::stack

namespace flowstack::stack {
namespace {

// A connection whose client sends `segments` full segments at once, with the segments whose
// index (0 = the first data segment) is in `lost` dropped the first time they are sent.
struct lossy_transfer {
  explicit lossy_transfer(std::vector<std::size_t> lost) : lost(std::move(lost)) {
    s.nodelay = true;
    s.send_buffer = 1 << 20;
    s.receive_buffer = 1 << 20;
  }
  std::vector<std::size_t> lost;
  tcp_settings s;

  void run(link& l, std::size_t segments) {
    std::set<std::uint32_t> dropped;
    l.drop = [this, &dropped](const tcp_output& o, bool client) {
      if (!client || o.payload.empty()) return false;
      std::size_t index = (o.header.seq - 1001) / 1460;
      bool first_time = dropped.insert(o.header.seq).second;
      return first_time && std::find(lost.begin(), lost.end(), index) != lost.end();
    };
    std::string data(segments * 1460, 'd');
    EXPECT_EQ(l.client->write(bytes_of(data), l.now), data.size());
    std::string got;
    for (int i = 0; i < 200 && got.size() < data.size(); ++i) {
      l.settle();
      got += l.read_all(*l.server);
      if (got.size() < data.size()) l.advance(10ms);
    }
    EXPECT_EQ(got.size(), data.size());
  }
};

TEST(tcp_congestion, the_initial_window_is_ten_segments_and_slow_start_doubles_it) {
  tcp_settings s;
  s.nodelay = true;
  link l(s);
  l.connect();
  EXPECT_EQ(l.client->congestion_window(), 14600u);
  std::string data(100 * 1460, 'x');
  l.client->write(bytes_of(data), l.now);
  auto first_flight = l.client->take_output(l.now);
  EXPECT_EQ(first_flight.size(), 10u) << "no more than the initial window before an ACK";
  l.deliver(std::move(first_flight), true);
  l.settle();
  EXPECT_GE(l.client->congestion_window(), 2 * 14600u) << "slow start: one MSS per ACKed MSS";
}

TEST(tcp_congestion, three_duplicate_acks_retransmit_the_lost_segment_before_any_timeout) {
  lossy_transfer t({2});
  link l(t.s);
  l.connect();
  t.run(l, 10);
  EXPECT_EQ(l.client->fast_retransmits(), 1u);
  EXPECT_EQ(l.client->retransmissions(), 1u) << "only the fast retransmit, no timeout";
  EXPECT_FALSE(l.client->in_recovery());
  // Segments 0 and 1 were acknowledged: 8 were in flight when the loss was seen.
  EXPECT_EQ(l.client->slow_start_threshold(), 4u * 1460) << "half the flight";
}

TEST(tcp_congestion, newreno_recovers_two_losses_in_one_window_without_a_timeout) {
  lossy_transfer t({2, 5});
  link l(t.s);
  l.connect();
  t.run(l, 10);
  EXPECT_EQ(l.client->fast_retransmits(), 1u) << "one recovery for both";
  EXPECT_EQ(l.client->retransmissions(), 2u) << "the second hole by the partial ACK";
  EXPECT_FALSE(l.client->in_recovery());
}

TEST(tcp_congestion, a_retransmission_timeout_collapses_the_window_to_one_segment) {
  lossy_transfer t({0});
  link l(t.s);
  l.connect();
  // The first segment of a single-segment flight: no duplicates can come, only the timer.
  l.drop = [](const tcp_output& o, bool client) { return client && !o.payload.empty(); };
  l.client->write(bytes_of(std::string(1460, 'x')), l.now);
  l.settle();
  l.advance(1s);
  EXPECT_EQ(l.client->retransmissions(), 1u);
  EXPECT_EQ(l.client->congestion_window(), 1460u);
  EXPECT_EQ(l.client->slow_start_threshold(), 2u * 1460) << "at least two segments";
}

TEST(tcp_connection, segments_are_slices_of_the_written_bytes_not_copies_of_them) {
  tcp_settings s;
  s.nodelay = true;
  link l(s);
  l.connect();
  std::string data(3 * 1460, 's');
  l.client->write(bytes_of(data.substr(0, 1000)), l.now);
  l.client->write(bytes_of(data.substr(1000)), l.now);
  auto out = l.client->take_output(l.now);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[1].payload.data(), out[0].payload.data() + 1460)
      << "two writes, one block, and each segment a view of it";
  EXPECT_EQ(out[2].payload.data(), out[1].payload.data() + 1460);
  l.deliver(std::move(out), true);
  EXPECT_EQ(l.read_all(*l.server), data);
}

bool is_keepalive_probe(const tcp_output& o, bool client) {
  // The client's ISS is 1000 and nothing is outstanding: SND.UNA - 1 is 1000 after the SYN.
  return client && o.payload.empty() && o.header.seq == 1000 && !has(o, tcp_flag::syn);
}

TEST(tcp_keepalive, is_off_unless_asked_for) {
  link l;
  l.connect();
  const auto before = l.sent.size();
  l.advance(3h);
  EXPECT_EQ(l.sent.size(), before);
  EXPECT_EQ(l.client->state(), tcp_state::established);
}

TEST(tcp_keepalive, an_idle_connection_is_probed_below_snd_una_and_the_answer_keeps_it_open) {
  link l;
  l.connect();
  l.client->set_keepalive(10s, 2s, 3);
  l.advance(10s - 1ms);
  EXPECT_EQ(l.count(is_keepalive_probe), 0u);
  l.advance(1ms);
  ASSERT_EQ(l.count(is_keepalive_probe), 1u);
  const auto& answer = l.sent.back();
  EXPECT_FALSE(answer.second) << "the server answers the probe";
  EXPECT_TRUE(has(answer.first, tcp_flag::ack));
  EXPECT_EQ(answer.first.header.ack, 1001u);
  EXPECT_EQ(l.client->keepalive_probes(), 0u) << "the answer counts as the peer heard";
  l.advance(10s);
  EXPECT_EQ(l.count(is_keepalive_probe), 2u) << "the next one after another idle time";
  EXPECT_EQ(l.client->state(), tcp_state::established);
}

TEST(tcp_keepalive, count_unanswered_probes_an_interval_apart_end_the_connection_with_timeout) {
  link l;
  l.connect();
  l.client->set_keepalive(10s, 2s, 3);
  l.drop = [](const tcp_output&, bool client) { return !client; };  // the server is gone
  l.advance(10s + 2s + 2s);
  EXPECT_EQ(l.count(is_keepalive_probe), 3u) << "at 10, 12 and 14 s";
  l.advance(2s - 1ms);
  EXPECT_EQ(l.client->state(), tcp_state::established);
  l.advance(1ms);
  EXPECT_EQ(l.client->state(), tcp_state::closed);
  EXPECT_EQ(l.client->error(), net::net_errc::timeout);
}

TEST(tcp_keepalive, a_half_closed_connection_waiting_in_fin_wait_2_is_probed_too) {
  // Our FIN is acknowledged and we still read: without probes a peer that vanished would leave
  // the connection in FIN-WAIT-2 for as long as the application waits (it has not closed, so
  // the FIN-WAIT-2 timeout does not apply).
  link l;
  l.connect();
  l.client->set_keepalive(10s, 2s, 3);
  l.client->shutdown_write(l.now);
  l.settle();
  ASSERT_EQ(l.client->state(), tcp_state::fin_wait_2);
  // SND.UNA - 1 is now the FIN's number, 1001.
  auto probe = [](const tcp_output& o, bool client) {
    return client && o.payload.empty() && o.header.seq == 1001 && o.header.flags == tcp_flag::ack;
  };
  const auto before = l.count(probe);  // the handshake's last ACK has that number too
  l.drop = [](const tcp_output&, bool client) { return !client; };  // the server is gone
  l.advance(10s + 2s + 2s);
  EXPECT_EQ(l.count(probe) - before, 3u);
  EXPECT_EQ(l.client->state(), tcp_state::fin_wait_2);
  l.advance(2s);
  EXPECT_EQ(l.client->state(), tcp_state::closed);
  EXPECT_EQ(l.client->error(), net::net_errc::timeout);
}

TEST(tcp_keepalive, no_probe_goes_while_data_is_unacknowledged) {
  link l;
  l.connect();
  l.client->set_keepalive(1s, 1s, 1);
  l.drop = [](const tcp_output& o, bool client) { return client && !o.payload.empty(); };
  l.client->write(bytes_of("held up"), l.now);
  l.advance(5s);
  EXPECT_EQ(l.count(is_keepalive_probe), 0u);
  EXPECT_GE(l.client->retransmissions(), 2u);
  EXPECT_EQ(l.client->state(), tcp_state::established) << "retransmissions decide, not keepalive";
}

TEST(tcp_icmp, port_unreachable_fails_a_connect_with_refused) {
  auto c = tcp_connection::open(client_side(), seq32(1000), {}, t0);
  c.take_output(t0);
  c.input_icmp_error(unreachable_code::port, t0);
  EXPECT_EQ(c.state(), tcp_state::closed);
  EXPECT_EQ(c.error(), net::net_errc::refused);
  EXPECT_TRUE(c.take_output(t0).empty()) << "no RST for a peer that is not there";
}

TEST(tcp_icmp, host_or_network_unreachable_fails_a_connect_with_unreachable) {
  for (auto code : {unreachable_code::host, unreachable_code::network}) {
    auto c = tcp_connection::open(client_side(), seq32(1000), {}, t0);
    c.take_output(t0);
    c.input_icmp_error(code, t0);
    EXPECT_EQ(c.state(), tcp_state::closed);
    EXPECT_EQ(c.error(), net::net_errc::unreachable);
  }
}

TEST(tcp_icmp, fragmentation_needed_leaves_a_connect_alone) {
  auto c = tcp_connection::open(client_side(), seq32(1000), {}, t0);
  c.take_output(t0);
  c.input_icmp_error(unreachable_code::fragmentation_needed, t0);
  EXPECT_EQ(c.state(), tcp_state::syn_sent);
  EXPECT_FALSE(c.soft_error());
}

TEST(tcp_icmp, an_error_on_an_established_connection_is_soft_and_names_a_later_timeout) {
  tcp_settings s;
  s.max_retransmissions = 3;
  link l(s);
  l.connect();
  l.drop = [](const tcp_output&, bool client) { return client; };
  l.client->write(bytes_of("into the void"), l.now);
  l.settle();
  l.client->input_icmp_error(unreachable_code::host, l.now);
  EXPECT_EQ(l.client->state(), tcp_state::established);
  EXPECT_EQ(l.client->soft_error(), net::net_errc::unreachable);
  l.advance(15s);
  EXPECT_EQ(l.client->state(), tcp_state::closed);
  EXPECT_EQ(l.client->error(), net::net_errc::unreachable) << "not timeout";
}

TEST(tcp_icmp, a_soft_error_is_forgotten_once_the_peer_is_heard_again) {
  tcp_settings s;
  s.max_retransmissions = 3;
  link l(s);
  l.connect();
  l.client->input_icmp_error(unreachable_code::port, l.now);
  EXPECT_EQ(l.client->soft_error(), net::net_errc::refused);
  l.client->write(bytes_of("ping"), l.now);
  l.advance(1s);  // the server's delayed ACK
  EXPECT_FALSE(l.client->soft_error());
  l.drop = [](const tcp_output&, bool client) { return client; };
  l.client->write(bytes_of("into the void"), l.now);
  l.advance(30s);
  EXPECT_EQ(l.client->error(), net::net_errc::timeout);
}

TEST(tcp_icmp, keepalive_giving_up_after_an_icmp_error_reports_the_error) {
  link l;
  l.connect();
  l.client->set_keepalive(10s, 2s, 2);
  l.drop = [](const tcp_output&, bool client) { return !client; };
  l.advance(10s);
  l.client->input_icmp_error(unreachable_code::network, l.now);
  l.advance(4s);
  EXPECT_EQ(l.client->state(), tcp_state::closed);
  EXPECT_EQ(l.client->error(), net::net_errc::unreachable);
}

}  // namespace
}  // namespace flowstack::stack
