// Every TCP state against every kind of segment (RFC 9293 §3.10.7, RFC 5961 for RST and SYN):
// one row of the table per cell, each its own named test (`established_fin_ack`). A row says
// what the peer's segment is, what we must answer (nothing, an ACK, a challenge ACK, a RST and
// with which numbers, a SYN-ACK) and the state after. LISTEN is the TCP layer's; the other
// states are one connection's, brought there by segments the test writes itself.
//
// Our initial sequence number is 1000 and the peer's 5000. A segment of the table is in the
// window: its sequence number is RCV.NXT and its ACK acknowledges everything we sent, unless
// the row's segment says otherwise.
#include <gtest/gtest.h>

#include <flowstack/net/error.hpp>
#include <flowstack/stack/tcp_connection.hpp>
#include <flowstack/stack/tcp_layer.hpp>
#include <ostream>
#include <string>
#include <vector>

namespace flowstack::stack {
namespace {

using namespace std::chrono_literals;
using time_point = tcp_connection::time_point;

const time_point t0 = time_point() + 1000h;
constexpr std::uint32_t our_iss = 1000;
constexpr std::uint32_t peer_iss = 5000;

// LISTEN has no connection: it is the layer's.
enum class start {
  listen,
  syn_sent,
  syn_received,
  established,
  fin_wait_1,
  fin_wait_2,
  close_wait,
  closing,
  last_ack,
  time_wait,
};

const char* name_of(start s) {
  switch (s) {
    case start::listen:
      return "listen";
    case start::syn_sent:
      return "syn_sent";
    case start::syn_received:
      return "syn_received";
    case start::established:
      return "established";
    case start::fin_wait_1:
      return "fin_wait_1";
    case start::fin_wait_2:
      return "fin_wait_2";
    case start::close_wait:
      return "close_wait";
    case start::closing:
      return "closing";
    case start::last_ack:
      return "last_ack";
    case start::time_wait:
      return "time_wait";
  }
  return "?";
}

// The peer's segment: its flags, and where its numbers are if not at RCV.NXT and SND.NXT.
struct segment_kind {
  const char* name;
  std::uint8_t flags;
  std::int64_t seq_offset = 0;  // from RCV.NXT (from the peer's ISS in LISTEN and SYN-SENT)
  bool old_ack = false;         // acknowledges SND.UNA, not what we sent since
};

const segment_kind ack{"ack", tcp_flag::ack};
const segment_kind fin{"fin", tcp_flag::fin};
const segment_kind fin_ack{"fin_ack", tcp_flag::fin | tcp_flag::ack};
const segment_kind rst{"rst", tcp_flag::rst};
const segment_kind rst_ack{"rst_ack", tcp_flag::rst | tcp_flag::ack};
const segment_kind syn{"syn", tcp_flag::syn};
const segment_kind syn_ack{"syn_ack", tcp_flag::syn | tcp_flag::ack};
const segment_kind syn_fin{"syn_fin", tcp_flag::syn | tcp_flag::fin};
const segment_kind no_flags{"no_flags", 0};
// RFC 5961 §3.2: outside the window, and in it but not at RCV.NXT.
const segment_kind rst_out_of_window{"rst_out_of_window", tcp_flag::rst, 0x40000000};
const segment_kind rst_inexact{"rst_inexact", tcp_flag::rst, 1};
// The peer's FIN again (our ACK of it was lost), acknowledging what it had then.
const segment_kind fin_again{"fin_again", tcp_flag::fin | tcp_flag::ack, -1, true};
// The peer's FIN while ours is not acknowledged yet: simultaneous close.
const segment_kind fin_ack_old{"fin_ack_old", tcp_flag::fin | tcp_flag::ack, 0, true};
// The peer's SYN again (our SYN-ACK was lost).
const segment_kind syn_again{"syn_again", tcp_flag::syn, -1};

enum class reply {
  none,
  ack,            // SEQ = SND.NXT, ACK = RCV.NXT after the segment
  challenge_ack,  // the same, counted as RFC 5961's challenge
  rst,            // SEQ = the segment's ACK, no ACK bit
  rst_ack,        // SEQ = 0, ACK = the segment's SEQ + its length
  syn_ack,        // SEQ = ISS, ACK = the peer's ISS + 1
};

const char* name_of(reply r) {
  switch (r) {
    case reply::none:
      return "nothing";
    case reply::ack:
      return "ACK";
    case reply::challenge_ack:
      return "challenge ACK";
    case reply::rst:
      return "RST";
    case reply::rst_ack:
      return "RST,ACK";
    case reply::syn_ack:
      return "SYN,ACK";
  }
  return "?";
}

// What the connection's error is after the segment.
enum class ending { none, reset, refused };

struct cell {
  start from;
  segment_kind segment;
  reply answer;
  start after;          // LISTEN after LISTEN: no connection was made
  bool closed = false;  // the connection is closed (then `after` is ignored)
  ending error = ending::none;
};

std::ostream& operator<<(std::ostream& os, const cell& c) {
  return os << name_of(c.from) << " + " << c.segment.name;
}

cell goes(start from, const segment_kind& s, reply r, start after) {
  return {from, s, r, after};
}
cell ends(start from, const segment_kind& s, reply r, ending e) {
  return {from, s, r, from, true, e};
}
cell stays(start from, const segment_kind& s, reply r = reply::none) {
  return {from, s, r, from};
}

// The table. Where a row departs from the letter of RFC 9293 the comment says why.
const std::vector<cell> table = {
    // LISTEN (RFC 9293 §3.10.7.2): a RST is ignored, an ACK gets RST, a SYN a SYN-ACK.
    stays(start::listen, ack, reply::rst),
    stays(start::listen, fin),
    stays(start::listen, fin_ack, reply::rst),
    stays(start::listen, rst),
    stays(start::listen, rst_ack),
    goes(start::listen, syn, reply::syn_ack, start::syn_received),
    stays(start::listen, syn_ack, reply::rst),
    stays(start::listen, syn_fin),  // no real stack opens with SYN,FIN: dropped, as Linux does
    stays(start::listen, no_flags),

    // SYN-SENT (§3.10.7.3): only a SYN or a RST that acknowledges our SYN counts.
    stays(start::syn_sent, ack),
    stays(start::syn_sent, fin),
    stays(start::syn_sent, fin_ack),
    stays(start::syn_sent, rst),  // without an ACK a RST proves nothing
    ends(start::syn_sent, rst_ack, reply::none, ending::refused),
    goes(start::syn_sent, syn, reply::syn_ack, start::syn_received),  // simultaneous open
    goes(start::syn_sent, syn_ack, reply::ack, start::established),
    goes(start::syn_sent, syn_fin, reply::syn_ack, start::syn_received),
    stays(start::syn_sent, no_flags),

    // SYN-RECEIVED. A SYN in the window gets a challenge ACK (RFC 5961 §4.2) rather than RFC
    // 9293's return to LISTEN, so that a blind SYN cannot end a handshake.
    goes(start::syn_received, ack, reply::none, start::established),
    stays(start::syn_received, fin),  // no ACK bit: dropped (fifth check)
    goes(start::syn_received, fin_ack, reply::ack, start::close_wait),
    ends(start::syn_received, rst, reply::none, ending::reset),
    ends(start::syn_received, rst_ack, reply::none, ending::reset),
    stays(start::syn_received, syn, reply::challenge_ack),
    stays(start::syn_received, syn_ack, reply::challenge_ack),
    stays(start::syn_received, syn_fin, reply::challenge_ack),
    stays(start::syn_received, no_flags),
    stays(start::syn_received, rst_out_of_window),
    stays(start::syn_received, rst_inexact, reply::challenge_ack),
    stays(start::syn_received, syn_again, reply::syn_ack),

    // ESTABLISHED.
    stays(start::established, ack),
    stays(start::established, fin),
    goes(start::established, fin_ack, reply::ack, start::close_wait),
    ends(start::established, rst, reply::none, ending::reset),
    ends(start::established, rst_ack, reply::none, ending::reset),
    stays(start::established, syn, reply::challenge_ack),
    stays(start::established, syn_ack, reply::challenge_ack),
    stays(start::established, syn_fin, reply::challenge_ack),
    stays(start::established, no_flags),
    stays(start::established, rst_out_of_window),
    stays(start::established, rst_inexact, reply::challenge_ack),

    // FIN-WAIT-1: our FIN is out; the table's ACK acknowledges it.
    goes(start::fin_wait_1, ack, reply::none, start::fin_wait_2),
    stays(start::fin_wait_1, fin),
    goes(start::fin_wait_1, fin_ack, reply::ack, start::time_wait),
    goes(start::fin_wait_1, fin_ack_old, reply::ack, start::closing),
    ends(start::fin_wait_1, rst, reply::none, ending::reset),
    ends(start::fin_wait_1, rst_ack, reply::none, ending::reset),
    stays(start::fin_wait_1, syn, reply::challenge_ack),
    stays(start::fin_wait_1, syn_ack, reply::challenge_ack),
    stays(start::fin_wait_1, syn_fin, reply::challenge_ack),
    stays(start::fin_wait_1, no_flags),
    stays(start::fin_wait_1, rst_out_of_window),
    stays(start::fin_wait_1, rst_inexact, reply::challenge_ack),

    // FIN-WAIT-2.
    stays(start::fin_wait_2, ack),
    stays(start::fin_wait_2, fin),
    goes(start::fin_wait_2, fin_ack, reply::ack, start::time_wait),
    ends(start::fin_wait_2, rst, reply::none, ending::reset),
    ends(start::fin_wait_2, rst_ack, reply::none, ending::reset),
    stays(start::fin_wait_2, syn, reply::challenge_ack),
    stays(start::fin_wait_2, syn_ack, reply::challenge_ack),
    stays(start::fin_wait_2, syn_fin, reply::challenge_ack),
    stays(start::fin_wait_2, no_flags),
    stays(start::fin_wait_2, rst_out_of_window),
    stays(start::fin_wait_2, rst_inexact, reply::challenge_ack),

    // CLOSE-WAIT: the peer's FIN is in. A second FIN beyond it is ignored (§3.10.7.4 seventh:
    // nothing more can come from a side that has ended); the same FIN again is acknowledged.
    stays(start::close_wait, ack),
    stays(start::close_wait, fin),
    stays(start::close_wait, fin_ack),
    ends(start::close_wait, rst, reply::none, ending::reset),
    ends(start::close_wait, rst_ack, reply::none, ending::reset),
    stays(start::close_wait, syn, reply::challenge_ack),
    stays(start::close_wait, syn_ack, reply::challenge_ack),
    stays(start::close_wait, syn_fin, reply::challenge_ack),
    stays(start::close_wait, no_flags),
    stays(start::close_wait, rst_out_of_window),
    stays(start::close_wait, rst_inexact, reply::challenge_ack),
    stays(start::close_wait, fin_again, reply::ack),

    // CLOSING: both FINs are out, ours not acknowledged. An ACK of it is answered by nothing.
    goes(start::closing, ack, reply::none, start::time_wait),
    stays(start::closing, fin),
    goes(start::closing, fin_ack, reply::none, start::time_wait),
    ends(start::closing, rst, reply::none, ending::none),  // both sides had ended
    ends(start::closing, rst_ack, reply::none, ending::none),
    stays(start::closing, syn, reply::challenge_ack),
    stays(start::closing, syn_ack, reply::challenge_ack),
    stays(start::closing, syn_fin, reply::challenge_ack),
    stays(start::closing, no_flags),
    stays(start::closing, rst_out_of_window),
    stays(start::closing, rst_inexact, reply::challenge_ack),
    stays(start::closing, fin_again, reply::ack),

    // LAST-ACK.
    ends(start::last_ack, ack, reply::none, ending::none),
    stays(start::last_ack, fin),
    ends(start::last_ack, fin_ack, reply::none, ending::none),
    ends(start::last_ack, rst, reply::none, ending::none),
    ends(start::last_ack, rst_ack, reply::none, ending::none),
    stays(start::last_ack, syn, reply::challenge_ack),
    stays(start::last_ack, syn_ack, reply::challenge_ack),
    stays(start::last_ack, syn_fin, reply::challenge_ack),
    stays(start::last_ack, no_flags),
    stays(start::last_ack, rst_out_of_window),
    stays(start::last_ack, rst_inexact, reply::challenge_ack),
    stays(start::last_ack, fin_again, reply::ack),

    // TIME-WAIT. An exact RST does not end it (RFC 1337's TIME-WAIT assassination), where RFC
    // 9293 would close; an inexact one still gets RFC 5961's challenge ACK.
    stays(start::time_wait, ack),
    stays(start::time_wait, fin),
    stays(start::time_wait, fin_ack),
    stays(start::time_wait, rst),
    stays(start::time_wait, rst_ack),
    stays(start::time_wait, syn, reply::challenge_ack),
    stays(start::time_wait, syn_ack, reply::challenge_ack),
    stays(start::time_wait, syn_fin, reply::challenge_ack),
    stays(start::time_wait, no_flags),
    stays(start::time_wait, rst_out_of_window),
    stays(start::time_wait, rst_inexact, reply::challenge_ack),
    stays(start::time_wait, fin_again, reply::ack),
};

tcp_endpoints our_side() {
  return {asio::ip::make_address_v4("10.0.0.1"), 40000, asio::ip::make_address_v4("10.0.0.2"), 80};
}

tcp_header from_peer(std::uint8_t flags, std::uint32_t seq, std::uint32_t ack) {
  tcp_header h;
  h.source_port = 80;
  h.destination_port = 40000;
  h.flags = flags;
  h.seq = seq;
  h.ack = (flags & tcp_flag::ack) ? ack : 0;
  h.window = 65535;
  if (flags & tcp_flag::syn) h.options.mss = 1460;
  return h;
}

// A connection brought to `s`, and the numbers the peer has: its next sequence number
// (our RCV.NXT) and what it has acknowledged (our SND.UNA), and our SND.NXT.
struct connection_in {
  std::optional<tcp_connection> c;
  std::uint32_t rcv_nxt = peer_iss;
  std::uint32_t snd_una = our_iss;
  std::uint32_t snd_nxt = our_iss + 1;

  void feed(std::uint8_t flags, std::uint32_t seq, std::uint32_t ack) {
    c->input(from_peer(flags, seq, ack), {}, t0);
    c->take_output(t0);
  }

  explicit connection_in(start s) {
    if (s == start::syn_received) {
      c = tcp_connection::accept(our_side(), from_peer(tcp_flag::syn, peer_iss, 0), seq32(our_iss),
                                 {}, t0);
      c->take_output(t0);
      rcv_nxt = peer_iss + 1;
      return;
    }
    c = tcp_connection::open(our_side(), seq32(our_iss), {}, t0);
    c->take_output(t0);
    if (s == start::syn_sent) return;
    feed(tcp_flag::syn | tcp_flag::ack, peer_iss, our_iss + 1);
    rcv_nxt = peer_iss + 1;
    snd_una = our_iss + 1;
    const bool we_close_first = s == start::fin_wait_1 || s == start::fin_wait_2 ||
                                s == start::closing || s == start::time_wait;
    if (we_close_first) {
      c->shutdown_write(t0);
      c->take_output(t0);  // our FIN
      snd_nxt += 1;
      if (s == start::fin_wait_2 || s == start::time_wait) {
        feed(tcp_flag::ack, rcv_nxt, snd_nxt);
        snd_una = snd_nxt;
      }
      if (s == start::closing || s == start::time_wait) {
        feed(tcp_flag::fin | tcp_flag::ack, rcv_nxt, snd_una);
        rcv_nxt += 1;
      }
    } else if (s == start::close_wait || s == start::last_ack) {
      feed(tcp_flag::fin | tcp_flag::ack, rcv_nxt, snd_una);
      rcv_nxt += 1;
      if (s == start::last_ack) {
        c->shutdown_write(t0);
        c->take_output(t0);
        snd_nxt += 1;
      }
    }
  }
};

tcp_state state_of(start s) {
  switch (s) {
    case start::listen:
      return tcp_state::closed;
    case start::syn_sent:
      return tcp_state::syn_sent;
    case start::syn_received:
      return tcp_state::syn_received;
    case start::established:
      return tcp_state::established;
    case start::fin_wait_1:
      return tcp_state::fin_wait_1;
    case start::fin_wait_2:
      return tcp_state::fin_wait_2;
    case start::close_wait:
      return tcp_state::close_wait;
    case start::closing:
      return tcp_state::closing;
    case start::last_ack:
      return tcp_state::last_ack;
    case start::time_wait:
      return tcp_state::time_wait;
  }
  return tcp_state::closed;
}

// The peer's FIN is in: RCV.NXT is past it.
bool peer_has_ended(start s) {
  return s == start::close_wait || s == start::closing || s == start::last_ack ||
         s == start::time_wait;
}

std::uint32_t length_of(const tcp_header& h) {
  return (h.has(tcp_flag::syn) ? 1 : 0) + (h.has(tcp_flag::fin) ? 1 : 0);
}

// The answer the cell wants, given the segment sent and our numbers.
void expect_reply(const cell& row, const tcp_header& sent, const std::vector<tcp_header>& out,
                  std::uint32_t snd_nxt, std::uint32_t rcv_nxt_after) {
  if (row.answer == reply::none) {
    EXPECT_TRUE(out.empty()) << "answered with " << out.size() << " segment(s), the first "
                             << flags_to_string(out.empty() ? 0 : out[0].flags);
    return;
  }
  ASSERT_EQ(out.size(), 1u) << "wanted one " << name_of(row.answer);
  const tcp_header& r = out[0];
  switch (row.answer) {
    case reply::none:
      break;
    case reply::ack:
    case reply::challenge_ack:
      EXPECT_EQ(flags_to_string(r.flags), "ACK");
      EXPECT_EQ(r.seq, snd_nxt);
      EXPECT_EQ(r.ack, rcv_nxt_after);
      break;
    case reply::rst:
      EXPECT_EQ(flags_to_string(r.flags), "RST");
      EXPECT_EQ(r.seq, sent.ack);
      break;
    case reply::rst_ack:
      EXPECT_EQ(flags_to_string(r.flags), "RST,ACK");
      EXPECT_EQ(r.seq, 0u);
      EXPECT_EQ(r.ack, sent.seq + length_of(sent));
      break;
    case reply::syn_ack:
      EXPECT_EQ(flags_to_string(r.flags), "SYN,ACK");
      EXPECT_EQ(r.seq, our_iss);
      EXPECT_EQ(r.ack, peer_iss + 1);
      break;
  }
}

class tcp_state_matrix : public testing::TestWithParam<cell> {};

void run_listen_cell(const cell& row) {
  const auto us = asio::ip::make_address_v4("10.0.0.2");
  const auto peer = asio::ip::make_address_v4("10.0.0.1");
  tcp_layer::options o;
  o.seed = 1;
  tcp_layer layer(us, o);
  ASSERT_TRUE(layer.listen(80, 8));
  tcp_header h;
  h.source_port = 40000;
  h.destination_port = 80;
  h.flags = row.segment.flags;
  h.seq = peer_iss;
  h.ack = (h.flags & tcp_flag::ack) ? our_iss + 1 : 0;
  h.window = 65535;
  if (h.flags & tcp_flag::syn) h.options.mss = 1460;
  buffer b = buffer::create(h.size());
  write_tcp_header(b.octets(), h, 0, ipv4_pseudo_header(peer, us, ip_protocol::tcp));
  ipv4_header ip;
  ip.source = peer;
  ip.destination = us;
  ip.protocol = static_cast<std::uint8_t>(ip_protocol::tcp);
  layer.input(ip, b.octets(), false, t0);
  std::vector<tcp_header> out;
  for (auto& p : layer.take_output()) {
    auto seg = parse_tcp(p.segment.octets(), ipv4_pseudo_header(us, peer, ip_protocol::tcp));
    ASSERT_TRUE(seg.has_value());
    out.push_back(seg->header);
  }
  if (row.answer == reply::syn_ack) {
    // Our ISS is the layer's (RFC 6528): check the rest.
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(flags_to_string(out[0].flags), "SYN,ACK");
    EXPECT_EQ(out[0].ack, peer_iss + 1);
  } else {
    expect_reply(row, h, out, 0, 0);
  }
  EXPECT_EQ(layer.connections(), row.after == start::listen ? 0u : 1u);
}

TEST_P(tcp_state_matrix, answers_and_moves_as_the_rfc_says) {
  const cell& row = GetParam();
  if (row.from == start::listen) {
    run_listen_cell(row);
    return;
  }
  connection_in at(row.from);
  ASSERT_EQ(at.c->state(), state_of(row.from)) << "the test did not reach its state";
  const bool before_sync = row.from == start::syn_sent;
  std::uint32_t seq =
      static_cast<std::uint32_t>((before_sync ? peer_iss : at.rcv_nxt) + row.segment.seq_offset);
  std::uint32_t ack = row.segment.old_ack ? at.snd_una : at.snd_nxt;
  const tcp_header h = from_peer(row.segment.flags, seq, ack);
  const auto challenges = at.c->challenge_acks();
  at.c->input(h, {}, t0);
  std::vector<tcp_header> out;
  for (auto& o : at.c->take_output(t0)) out.push_back(o.header);

  // RCV.NXT after the segment: past the peer's SYN or FIN when it took them.
  std::uint32_t rcv_nxt_after = at.rcv_nxt;
  if (before_sync && row.after != start::syn_sent) rcv_nxt_after = peer_iss + 1;
  if (!peer_has_ended(row.from) && peer_has_ended(row.after) && !row.closed) rcv_nxt_after += 1;
  expect_reply(row, h, out, at.snd_nxt, rcv_nxt_after);
  EXPECT_EQ(at.c->challenge_acks() - challenges, row.answer == reply::challenge_ack ? 1u : 0u)
      << "challenge ACKs counted";

  if (row.closed) {
    EXPECT_EQ(to_string(at.c->state()), std::string(to_string(tcp_state::closed)));
  } else {
    EXPECT_EQ(to_string(at.c->state()), std::string(to_string(state_of(row.after))));
  }
  switch (row.error) {
    case ending::none:
      EXPECT_FALSE(at.c->error()) << at.c->error().message();
      break;
    case ending::reset:
      EXPECT_EQ(at.c->error(), net::net_errc::reset);
      break;
    case ending::refused:
      EXPECT_EQ(at.c->error(), net::net_errc::refused);
      break;
  }
}

INSTANTIATE_TEST_SUITE_P(every_state_and_segment, tcp_state_matrix, testing::ValuesIn(table),
                         [](const testing::TestParamInfo<cell>& info) {
                           return std::string(name_of(info.param.from)) + "_" +
                                  info.param.segment.name;
                         });

// TIME-WAIT starts its 2 MSL again when the peer's FIN comes again (RFC 9293 §3.10.7.4).
TEST(tcp_state_matrix_time_wait, the_peers_fin_again_restarts_two_msl) {
  connection_in at(start::time_wait);
  const time_point later = t0 + 30s;
  at.c->input(from_peer(tcp_flag::fin | tcp_flag::ack, at.rcv_nxt - 1, at.snd_nxt), {}, later);
  EXPECT_EQ(at.c->next_deadline(), later + 60s);
}

}  // namespace
}  // namespace flowstack::stack
