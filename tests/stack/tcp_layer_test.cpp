// The TCP layer on its own (sans I/O): segments written by the test go in with a time point, and
// the test reads what comes out — the seeds' `input ~listeners` (an unclaimed port gets RST), the
// listener's backlog, the table's limits and what is left behind.
#include <gtest/gtest.h>

#include <flowstack/net/error.hpp>
#include <flowstack/stack/tcp_layer.hpp>
#include <map>
#include <optional>
#include <vector>

namespace flowstack::stack {
namespace {

using namespace std::chrono_literals;
using asio::ip::address_v4;

const address_v4 us = asio::ip::make_address_v4("10.0.0.1");
const address_v4 peer = asio::ip::make_address_v4("10.0.0.2");

struct wire {
  explicit wire(const tcp_layer::options& o = options()) : layer(us, o) {}

  tcp_layer layer;
  clock::time_point now{std::chrono::hours(1)};

  static tcp_layer::options options() {
    tcp_layer::options o;
    o.seed = 1;
    o.max_connections = 8;
    o.ephemeral_first = 50000;
    o.ephemeral_last = 50003;
    return o;
  }

  // A segment from the peer's `port` to our `to_port`.
  void send(std::uint16_t port, std::uint16_t to_port, std::uint8_t flags, std::uint32_t seq = 1000,
            std::uint32_t ack = 0, std::size_t payload = 0) {
    tcp_header h;
    h.source_port = port;
    h.destination_port = to_port;
    h.seq = seq;
    h.ack = ack;
    h.flags = flags;
    h.window = 65535;
    if (flags & tcp_flag::syn) h.options.mss = 1460;
    buffer b = buffer::create(h.size() + payload);
    checksum sum = ipv4_pseudo_header(peer, us, ip_protocol::tcp);
    sum.add(b.octets().subspan(h.size()));
    write_tcp_header(b.octets(), h, payload, sum);
    ipv4_header ip;
    ip.source = peer;
    ip.destination = us;
    ip.protocol = static_cast<std::uint8_t>(ip_protocol::tcp);
    layer.input(ip, b.octets(), false, now);
  }

  // What the layer sent, parsed.
  std::vector<tcp_header> sent() {
    std::vector<tcp_header> out;
    for (auto& p : layer.take_output()) {
      EXPECT_EQ(p.destination, peer);
      auto seg = parse_tcp(p.segment.octets(), ipv4_pseudo_header(us, peer, ip_protocol::tcp));
      EXPECT_TRUE(seg.has_value()) << "the layer sent a segment that does not verify";
      if (seg) out.push_back(seg->header);
    }
    return out;
  }
};

TEST(tcp_layer, a_syn_to_a_port_no_one_listens_on_gets_rst_ack_for_its_sequence) {
  wire w;
  w.send(40000, 80, tcp_flag::syn, 1000);
  auto out = w.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].flags, tcp_flag::rst | tcp_flag::ack);
  EXPECT_EQ(out[0].ack, 1001u);  // the SYN counts one
  EXPECT_EQ(out[0].seq, 0u);
  EXPECT_EQ(out[0].source_port, 80);
  EXPECT_EQ(out[0].destination_port, 40000);
  EXPECT_EQ(w.layer.stats().resets_sent, 1u);
  EXPECT_EQ(w.layer.connections(), 0u);
}

TEST(tcp_layer, an_ack_for_no_connection_gets_a_rst_at_its_acknowledgment) {
  wire w;
  w.send(40000, 80, tcp_flag::ack, 1000, 777, 10);
  auto out = w.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].flags, tcp_flag::rst);
  EXPECT_EQ(out[0].seq, 777u);
}

TEST(tcp_layer, a_rst_is_never_answered) {
  wire w;
  w.send(40000, 80, tcp_flag::rst, 1000);
  w.send(40000, 80, tcp_flag::rst | tcp_flag::ack, 1000, 5);
  ASSERT_TRUE(w.layer.listen(80, 4));
  w.send(40000, 80, tcp_flag::rst, 1000);
  EXPECT_TRUE(w.sent().empty());
  EXPECT_EQ(w.layer.stats().resets_sent, 0u);
}

TEST(tcp_layer, a_listener_answers_syn_with_syn_ack_and_an_ack_without_a_connection_with_rst) {
  wire w;
  ASSERT_TRUE(w.layer.listen(80, 4));
  w.send(40000, 80, tcp_flag::syn, 1000);
  auto out = w.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].flags, tcp_flag::syn | tcp_flag::ack);
  EXPECT_EQ(out[0].ack, 1001u);
  w.send(40001, 80, tcp_flag::ack, 5000, 1234);
  out = w.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].flags, tcp_flag::rst);
  // Neither a bare FIN nor a segment without flags starts anything (RFC 9293 §3.10.7.2), nor
  // a SYN with FIN.
  w.send(40002, 80, tcp_flag::fin, 5000);
  w.send(40003, 80, 0, 5000);
  w.send(40004, 80, tcp_flag::syn | tcp_flag::fin, 5000);
  EXPECT_TRUE(w.sent().empty());
  EXPECT_EQ(w.layer.connections(), 1u);
}

TEST(tcp_layer, the_handshake_done_puts_the_connection_in_the_accept_queue) {
  wire w;
  ASSERT_TRUE(w.layer.listen(80, 4));
  EXPECT_EQ(w.layer.accept(80), nullptr);
  w.send(40000, 80, tcp_flag::syn, 1000);
  auto syn_ack = w.sent().at(0);
  EXPECT_EQ(w.layer.accept(80), nullptr);  // half-open is not accepted
  w.send(40000, 80, tcp_flag::ack, 1001, syn_ack.seq + 1);
  EXPECT_EQ(w.layer.take_ready_listeners(), std::vector<std::uint16_t>{80});
  auto* s = w.layer.accept(80);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->connection.state(), tcp_state::established);
  EXPECT_EQ(s->connection.endpoints().remote_port, 40000);
  EXPECT_EQ(w.layer.accept(80), nullptr);
}

TEST(tcp_layer, syns_beyond_the_backlog_are_dropped_until_one_is_accepted) {
  wire w;
  ASSERT_TRUE(w.layer.listen(80, 2));
  w.send(40000, 80, tcp_flag::syn, 1000);
  w.send(40001, 80, tcp_flag::syn, 1000);
  EXPECT_EQ(w.sent().size(), 2u);
  w.send(40002, 80, tcp_flag::syn, 1000);  // two half-open: full
  EXPECT_TRUE(w.sent().empty());
  EXPECT_EQ(w.layer.stats().syns_dropped, 1u);
  EXPECT_EQ(w.layer.connections(), 2u);
}

TEST(tcp_layer, the_connection_table_is_bounded_whatever_the_listeners_allow) {
  wire w;  // max_connections 8
  ASSERT_TRUE(w.layer.listen(80, 100));
  for (std::uint16_t p = 0; p < 20; ++p)
    w.send(static_cast<std::uint16_t>(40000 + p), 80, tcp_flag::syn);
  EXPECT_EQ(w.layer.connections(), 8u);
  EXPECT_EQ(w.layer.stats().table_full, 12u);
  auto refused = w.layer.connect(peer, 80, w.now);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error(), std::errc::no_buffer_space);
}

TEST(tcp_layer, half_open_connections_that_never_finish_are_gone_after_the_syn_ack_retries) {
  wire w;
  ASSERT_TRUE(w.layer.listen(80, 2));
  w.send(40000, 80, tcp_flag::syn, 1000);
  w.send(40001, 80, tcp_flag::syn, 1000);
  for (int i = 0; i < 200 && w.layer.next_deadline(); ++i) {
    w.now = *w.layer.next_deadline();
    w.layer.poll(w.now);
  }
  EXPECT_EQ(w.layer.connections(), 0u);
  w.sent();
  w.send(40002, 80, tcp_flag::syn, 1000);  // the backlog has room again
  EXPECT_EQ(w.sent().size(), 1u);
}

TEST(tcp_layer, unlisten_resets_what_was_not_accepted_and_frees_the_port) {
  wire w;
  ASSERT_TRUE(w.layer.listen(80, 4));
  w.send(40000, 80, tcp_flag::syn, 1000);
  auto syn_ack = w.sent().at(0);
  w.send(40000, 80, tcp_flag::ack, 1001, syn_ack.seq + 1);
  w.send(40001, 80, tcp_flag::syn, 1000);
  w.sent();
  w.layer.unlisten(80, w.now);
  auto out = w.sent();
  ASSERT_EQ(out.size(), 2u);
  for (auto& h : out) EXPECT_TRUE(h.has(tcp_flag::rst));
  EXPECT_EQ(w.layer.connections(), 0u);
  EXPECT_TRUE(w.layer.listen(80, 4));
}

TEST(tcp_layer, connect_takes_ephemeral_ports_until_none_is_left_and_gets_them_back) {
  wire w;  // four ephemeral ports
  std::vector<tcp_layer::socket*> held;
  for (int i = 0; i < 4; ++i) {
    auto s = w.layer.connect(peer, 80, w.now);
    ASSERT_TRUE(s.has_value());
    held.push_back(*s);
  }
  auto none = w.layer.connect(peer, 80, w.now);
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error(), net::net_errc::address_in_use);
  held[0]->connection.abort();
  w.layer.release(held[0], w.now);
  EXPECT_EQ(w.layer.connections(), 3u);
  EXPECT_TRUE(w.layer.connect(peer, 80, w.now).has_value());
}

TEST(tcp_layer, a_segment_that_fails_its_checksum_is_counted_and_not_answered) {
  wire w;
  tcp_header h;
  h.source_port = 40000;
  h.destination_port = 80;
  h.flags = tcp_flag::syn;
  buffer b = buffer::create(h.size());
  write_tcp_header(b.octets(), h, 0, checksum());  // summed without the pseudo-header
  ipv4_header ip;
  ip.source = peer;
  ip.destination = us;
  w.layer.input(ip, b.octets(), false, w.now);
  EXPECT_TRUE(w.sent().empty());
  EXPECT_EQ(w.layer.stats().malformed, 1u);
}

TEST(tcp_layer, a_segment_to_a_broadcast_address_is_never_answered) {
  wire w;
  tcp_header h;
  h.source_port = 40000;
  h.destination_port = 80;
  h.flags = tcp_flag::syn;
  const auto broadcast = asio::ip::make_address_v4("10.0.0.255");
  buffer b = buffer::create(h.size());
  write_tcp_header(b.octets(), h, 0, ipv4_pseudo_header(peer, broadcast, ip_protocol::tcp));
  ipv4_header ip;
  ip.source = peer;
  ip.destination = broadcast;
  w.layer.input(ip, b.octets(), false, w.now);
  EXPECT_TRUE(w.sent().empty());
  EXPECT_EQ(w.layer.stats().not_for_us, 1u);
}

// Many peers each send a whole receive window, half of them with the first segment missing (so
// that the rest waits out of order), and the application reads nothing.
TEST(tcp_layer, peers_filling_their_windows_cannot_make_it_hold_more_than_its_buffer_budget) {
  auto o = wire::options();
  o.max_connections = 64;
  o.buffer_budget = 200 * 1024;
  o.settings.receive_buffer = 64 * 1024;
  wire w(o);
  ASSERT_TRUE(w.layer.listen(80, 64));
  constexpr std::uint16_t peers = 16;
  constexpr std::size_t mss = 1460;
  constexpr std::uint32_t segments = 64 * 1024 / mss;
  std::map<std::uint16_t, std::uint32_t> iss;  // ours, by the peer's port
  for (std::uint16_t p = 40000; p < 40000 + peers; ++p) {
    w.send(p, 80, tcp_flag::syn, 1000);
    auto syn_ack = w.sent();
    ASSERT_EQ(syn_ack.size(), 1u);
    iss[p] = syn_ack[0].seq;
    w.send(p, 80, tcp_flag::ack, 1001, iss[p] + 1);
  }
  std::map<std::uint16_t, std::uint32_t> acked;  // the highest ACK each peer got
  auto collect = [&] {
    for (auto& h : w.sent()) acked[h.destination_port] = std::max(acked[h.destination_port], h.ack);
  };
  for (std::uint16_t p = 40000; p < 40000 + peers; ++p) {
    for (std::uint32_t k = (p % 2 == 1 ? 1 : 0); k < segments; ++k)
      w.send(p, 80, tcp_flag::ack | tcp_flag::psh, 1001 + k * mss, iss[p] + 1, mss);
    collect();
  }
  EXPECT_LE(w.layer.buffered_bytes(), o.buffer_budget);
  EXPECT_GE(w.layer.buffered_bytes(), o.buffer_budget - 2 * mss) << "the budget is used";
  EXPECT_GT(w.layer.stats().over_budget, 0u);
  std::size_t acknowledged = 0;
  for (auto& [port, ack] : acked) acknowledged += ack - 1001;
  EXPECT_LE(acknowledged, o.buffer_budget) << "nothing dropped was acknowledged";

  // The application reads one connection: the room goes to a peer's retransmission.
  tcp_layer::socket* first = w.layer.accept(80);
  ASSERT_NE(first, nullptr);
  EXPECT_GT(first->connection.read().size(), 0u);
  w.layer.update(first, w.now);
  w.sent();
  const std::uint16_t last = 40000 + peers - 2;  // in order, and dropped
  ASSERT_EQ(acked[last], 1001u) << "only duplicate ACKs: nothing of it was taken";
  w.send(last, 80, tcp_flag::ack | tcp_flag::psh, 1001, iss[last] + 1, mss);
  w.send(last, 80, tcp_flag::ack | tcp_flag::psh, 1001 + mss, iss[last] + 1, mss);
  collect();
  EXPECT_EQ(acked[last], 1001 + 2 * mss);
  EXPECT_LE(w.layer.buffered_bytes(), o.buffer_budget);
}

}  // namespace
}  // namespace flowstack::stack
