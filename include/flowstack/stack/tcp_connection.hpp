// One TCP connection, sans I/O (RFC 9293; DESIGN.md §5): a value driven by the segments that
// arrive, the bytes the application writes and reads, and `now`. It never sleeps and never
// sends by itself: take_output() gives the segments to send, next_deadline() when poll() must run
// next. The stack's driver does the I/O; tests drive a connection directly with time points.
//
// What it implements now:
// - the whole state machine, simultaneous open and close included; TIME-WAIT of
//   settings::time_wait and a FIN-WAIT-2 timeout, after which it is closed;
// - the acceptability test of RFC 9293 §3.10.7.4 and RFC 5961's defences: a RST or SYN that is
//   in the window but not exact gets a challenge ACK (rate-limited), not obedience; the ACKs
//   that answer empty segments out of the window are rate-limited too;
// - MSS and window scaling (RFC 7323) negotiated on the SYNs;
// - a send buffer and a receive buffer of the sizes given, the receive window advertised from
//   the room left, out-of-order segments kept in a queue bounded in segments and in bytes (the
//   receive buffer's size), and no data taken beyond the share of a stack-wide budget the
//   driver grants (set_shared_room);
// - RFC 6298 retransmission: SRTT/RTTVAR from segments sent once (Karn), the timeout doubled on
//   each expiry up to rto_max, and the connection failed with `timeout` after max_retransmissions
//   (max_syn_retransmissions for the SYN);
// - delayed ACKs (every second full segment at once, otherwise after delayed_ack) and Nagle's
//   algorithm unless nodelay; zero-window probes when the peer's window is closed;
// - congestion control: slow start and congestion avoidance (RFC 5681) from an initial window of
//   10 segments (RFC 6928), limited transmit (RFC 3042), fast retransmit and NewReno's fast
//   recovery (RFC 6582), and the loss window after a retransmission timeout;
// - keepalive (RFC 9293 §3.8.4, RFC 1122 §4.2.3.6) with Linux's TCP_KEEPIDLE, TCP_KEEPINTVL and
//   TCP_KEEPCNT meanings, off unless asked for;
// - ICMP errors (RFC 1122 §4.2.3.9): hard in SYN-SENT, soft otherwise, a soft one becoming the
//   error of a connection that later times out.
#pragma once

#include <asio/ip/address_v4.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <flowstack/core/buffer.hpp>
#include <flowstack/core/clock.hpp>
#include <flowstack/core/error.hpp>
#include <flowstack/stack/icmp.hpp>
#include <flowstack/stack/segment.hpp>
#include <flowstack/stack/sequence.hpp>
#include <map>
#include <optional>
#include <span>
#include <vector>

namespace flowstack::stack {

enum class tcp_state {
  closed,
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

const char* to_string(tcp_state s) noexcept;

struct tcp_settings {
  std::uint16_t mss = 1460;  // the largest segment we take: the MTU less 40
  std::size_t send_buffer = 256 * 1024;
  std::size_t receive_buffer = 256 * 1024;
  // Segments kept ahead of a hole (receive_buffer bytes at most): a window's worth, so that one
  // loss costs one retransmission.
  std::size_t max_out_of_order = 1024;
  clock::duration rto_initial = std::chrono::seconds(1);
  clock::duration rto_min = std::chrono::seconds(1);  // RFC 6298 §2.4
  clock::duration rto_max = std::chrono::seconds(60);
  unsigned max_retransmissions = 8;
  unsigned max_syn_retransmissions = 6;
  clock::duration time_wait = std::chrono::seconds(60);  // 2·MSL with an MSL of 30 s
  clock::duration fin_wait_2 = std::chrono::seconds(60);
  clock::duration delayed_ack = std::chrono::milliseconds(40);
  bool nodelay = false;
  std::uint32_t challenge_acks_per_second = 10;  // RFC 5961 §7
  // An empty segment outside the window, or one acknowledging what was never sent, is answered
  // with an ACK once per this at most (so two confused ends cannot trade ACKs without end).
  clock::duration invalid_ack_interval = std::chrono::milliseconds(500);
  // Keepalive: after keepalive_idle with nothing heard from the peer and nothing of ours
  // outstanding, a probe every keepalive_interval; keepalive_count unanswered ones end the
  // connection with `timeout`. An idle time of zero means no keepalive.
  clock::duration keepalive_idle = clock::duration::zero();
  clock::duration keepalive_interval = std::chrono::seconds(75);
  unsigned keepalive_count = 9;
};

struct tcp_endpoints {
  asio::ip::address_v4 local_ip;
  std::uint16_t local_port = 0;
  asio::ip::address_v4 remote_ip;
  std::uint16_t remote_port = 0;
  friend bool operator==(const tcp_endpoints&, const tcp_endpoints&) = default;
};

// A segment to send: the header (ports, numbers, flags, window, options) and the payload, a slice
// of the send buffer shared with it.
struct tcp_output {
  tcp_header header;
  buffer payload;
};

class tcp_connection {
 public:
  using time_point = clock::time_point;

  // Active open: a SYN is queued and the state is syn_sent.
  static tcp_connection open(const tcp_endpoints& e, seq32 iss, const tcp_settings& s,
                             time_point now);
  // Passive open from a SYN a listener took: a SYN-ACK is queued and the state is syn_received.
  static tcp_connection accept(const tcp_endpoints& e, const tcp_header& syn, seq32 iss,
                               const tcp_settings& s, time_point now);

  // A segment for this connection (its addresses and ports matched), with its payload.
  void input(const tcp_header& h, std::span<const std::uint8_t> payload, time_point now);

  // Takes as many bytes as the send buffer has room for; returns how many. Nothing once the
  // write side is shut or the connection failed.
  std::size_t write(std::span<const std::byte> bytes, time_point now);
  // Up to `max` bytes received in order; empty when there are none.
  buffer read(std::size_t max = SIZE_MAX);
  // Sends FIN after what is queued. Idempotent.
  void shutdown_write(time_point now);
  // The application is done with the connection: FIN after what is queued, nothing more will be
  // read. With unread data it aborts instead (RFC 2525 §2.17: the peer must learn that data was
  // lost); in FIN-WAIT-2 it waits settings::fin_wait_2 at most for the peer's FIN.
  void close(time_point now);
  // Ends the connection at once with RST (when it has a peer to tell); the state is closed.
  void abort();

  // Nagle's algorithm off (true) or on; what is queued goes by the new rule from the next
  // take_output().
  void set_nodelay(bool on) noexcept { settings_.nodelay = on; }
  // Keepalive as tcp_settings describes it; an idle time of zero turns it off. The idle time
  // counts from the last segment heard, so it applies to a connection already quiet.
  void set_keepalive(clock::duration idle, clock::duration interval, unsigned count) noexcept;

  // A destination unreachable that quotes a segment of this connection. In SYN-SENT the connect
  // fails: refused for a port unreachable, unreachable for the others. Later it is soft (RFC
  // 1122 §4.2.3.9): kept, and given as error() if the connection times out. Fragmentation
  // needed is path MTU discovery's business, not an error.
  void input_icmp_error(unreachable_code code, time_point now);

  // Bytes more this connection may take in from the peer, received or out of order, beyond what
  // it holds now: the stack's budget of buffered bytes less what all its connections hold. A
  // data segment that does not fit is dropped unacknowledged (the peer sends it again later);
  // unlimited unless set. Each byte taken lowers it until it is set again.
  void set_shared_room(std::size_t room) noexcept { shared_room_ = room; }

  void poll(time_point now);
  std::optional<time_point> next_deadline() const;
  // The segments to send now, in order.
  std::vector<tcp_output> take_output(time_point now);

  tcp_state state() const noexcept { return state_; }
  const tcp_endpoints& endpoints() const noexcept { return endpoints_; }
  // Bytes that read() would give now.
  std::size_t readable() const noexcept { return received_.size(); }
  // The peer's FIN has come and every byte before it was read.
  bool at_eof() const noexcept { return fin_received_ && received_.empty(); }
  // Room left in the send buffer.
  std::size_t writable() const noexcept;
  bool established_once() const noexcept { return established_once_; }
  // Why the connection ended, if it failed: net_errc::refused (RST to our SYN), reset (RST
  // later), timeout (retransmissions or keepalive gave up; the soft error instead when an ICMP
  // error came since the peer was last heard), unreachable (ICMP in SYN-SENT). None after an
  // orderly close.
  std::error_code error() const noexcept { return error_; }
  // The last ICMP error since the peer was last heard.
  std::error_code soft_error() const noexcept { return soft_error_; }
  // Every byte written was acknowledged (and the FIN, once shut).
  bool all_acknowledged() const noexcept;
  // `seq` is a number this connection has sent and the peer has not acknowledged.
  bool sent_unacknowledged(seq32 seq) const noexcept { return in_window(seq, snd_una_, snd_max_); }

  // For tests and counters.
  clock::duration rto() const noexcept { return rto_; }
  std::uint64_t retransmissions() const noexcept { return retransmissions_; }
  std::uint64_t challenge_acks() const noexcept { return challenge_acks_sent_; }
  std::size_t out_of_order_segments() const noexcept { return out_of_order_.size(); }
  std::size_t out_of_order_bytes() const noexcept { return out_of_order_bytes_; }
  // What the connection holds in memory for its peer and its application: bytes received and
  // not read, out of order, and written and not acknowledged.
  std::size_t buffered_bytes() const noexcept {
    return received_.size() + out_of_order_bytes_ + send_buffered_;
  }
  // Data segments dropped because the shared room was spent.
  std::uint64_t over_budget_drops() const noexcept { return over_budget_drops_; }
  std::uint32_t send_window() const noexcept { return snd_wnd_; }
  std::uint32_t congestion_window() const noexcept { return cwnd_; }
  std::uint32_t slow_start_threshold() const noexcept { return ssthresh_; }
  std::uint64_t fast_retransmits() const noexcept { return fast_retransmits_; }
  unsigned keepalive_probes() const noexcept { return keepalive_probes_; }
  bool in_recovery() const noexcept { return in_recovery_; }

 private:
  tcp_connection(const tcp_endpoints& e, seq32 iss, const tcp_settings& s, time_point now);

  // Receiving.
  bool acceptable(const tcp_header& h, std::size_t length) const;
  void input_syn_sent(const tcp_header& h, std::span<const std::uint8_t> payload, time_point now);
  void process_ack(const tcp_header& h, std::size_t payload_size, time_point now);
  void on_new_ack(std::uint32_t acked, time_point now);
  void on_duplicate_ack();
  std::uint32_t smss() const noexcept;
  std::uint32_t flight_size() const noexcept { return snd_max_ - snd_una_; }
  void process_data(const tcp_header& h, std::span<const std::uint8_t> payload, time_point now);
  void process_fin(time_point now);
  void take_in_order(std::span<const std::uint8_t> data);
  void drain_out_of_order();
  void challenge_ack(time_point now);
  void ack_out_of_window(time_point now);
  void fail(std::error_code ec);
  // Retransmissions or keepalive gave up.
  void time_out();
  std::optional<time_point> keepalive_deadline() const noexcept;
  void enter_time_wait(time_point now);
  // An acceptable segment from the peer came.
  void heard(time_point now);
  // The handshake is done: the peer's window as the segment (seq, ack) gave it.
  void establish(seq32 seq, seq32 ack, std::uint32_t window);
  void take_syn_options(const tcp_header& h);

  // Sending.
  std::uint32_t receive_window() const noexcept;
  tcp_header header(std::uint8_t flags, seq32 seq) const;
  void queue_ack() { ack_now_ = true; }
  void send_data(time_point now, std::vector<tcp_output>& out);
  void arm_retransmission(time_point now);
  void retransmit(time_point now);
  void sample_rtt(clock::duration rtt);
  // RFC 6298 §2.3 from SRTT and RTTVAR (which must exist), within rto_min and rto_max.
  clock::duration rto_from_estimates() const noexcept;
  // Drops the first `count` bytes of the send buffer (they were acknowledged).
  void drop_sent(std::size_t count);
  // A segment of `size` bytes from `offset` in the send buffer, at `seq`.
  tcp_output segment(std::uint8_t flags, seq32 seq, std::size_t offset, std::size_t size) const;

  tcp_endpoints endpoints_;
  tcp_settings settings_;
  tcp_state state_ = tcp_state::closed;
  std::error_code error_;
  std::error_code soft_error_;
  bool established_once_ = false;

  // Send sequence space (RFC 9293 §3.3.1).
  seq32 iss_;
  seq32 snd_una_;                 // oldest unacknowledged
  seq32 snd_nxt_;                 // next to send
  seq32 snd_max_;                 // the highest sent: snd_nxt_ goes back below it to retransmit
  std::uint32_t snd_wnd_ = 0;     // the peer's window, scaled
  seq32 snd_wl1_, snd_wl2_;       // the segment that last updated it
  std::uint8_t snd_scale_ = 0;    // the peer's window scale
  std::uint16_t peer_mss_ = 536;  // RFC 9293 §3.7.1: without the option
  // Bytes written and not yet acknowledged, starting at snd_una_ (after the SYN): slices of
  // blocks that write() copies into, so that a segment is a slice too and the bytes are copied
  // once on the way out (twice only for a segment across two blocks).
  std::deque<buffer> send_buffer_;
  std::size_t send_buffered_ = 0;  // their total size
  buffer send_block_;              // the block write() fills
  std::size_t send_block_used_ = 0;
  bool syn_acked_ = false;
  bool fin_queued_ = false;  // shutdown_write called
  bool fin_sent_ = false;
  seq32 fin_seq_;

  // Receive sequence space.
  seq32 irs_;
  seq32 rcv_nxt_;
  std::uint8_t rcv_scale_ = 0;  // ours, offered on our SYN
  bool scaling_ = false;        // both sides offered it
  std::deque<std::byte> received_;
  std::map<seq32, std::vector<std::uint8_t>> out_of_order_;
  std::size_t out_of_order_bytes_ = 0;  // their total size
  std::size_t shared_room_ = SIZE_MAX;
  std::uint64_t over_budget_drops_ = 0;
  bool fin_received_ = false;
  std::uint32_t advertised_edge_ = 0;  // RCV.NXT + RCV.WND as last sent

  // Timers and what is owed.
  bool syn_pending_ = false;  // our SYN (or SYN-ACK) must be (re)sent
  bool ack_now_ = false;
  std::size_t duplicate_acks_owed_ = 0;  // out-of-order segments not yet acknowledged
  bool rst_pending_ = false;
  seq32 rst_seq_;
  bool rst_with_ack_ = false;
  bool orphaned_ = false;   // close() was called
  bool probe_due_ = false;  // the window is closed: send one byte beyond it
  std::optional<time_point> delayed_ack_at_;
  unsigned unacked_full_segments_ = 0;
  std::optional<time_point> retransmit_at_;
  std::optional<time_point> close_at_;  // TIME-WAIT or FIN-WAIT-2 ends
  time_point last_heard_;               // the last acceptable segment from the peer
  unsigned keepalive_probes_ = 0;       // sent since then
  bool keepalive_probe_due_ = false;
  clock::duration rto_;
  std::optional<clock::duration> srtt_, rttvar_;
  unsigned backoffs_ = 0;
  std::optional<std::pair<seq32, time_point>> timing_;  // the segment being timed (Karn)
  bool retransmitting_ = false;
  // Congestion control (RFC 5681, RFC 6582).
  std::uint32_t cwnd_ = 0;
  std::uint32_t ssthresh_ = 0xffffffff;
  unsigned dupacks_ = 0;
  bool in_recovery_ = false;
  seq32 recover_;
  bool retransmit_first_ = false;  // fast retransmit: the oldest unacknowledged segment, now
  std::uint64_t fast_retransmits_ = 0;
  std::uint64_t retransmissions_ = 0;
  std::uint64_t challenge_acks_sent_ = 0;
  time_point challenge_window_start_{};
  std::uint32_t challenge_acks_in_window_ = 0;
  std::optional<time_point> last_out_of_window_ack_;
};

}  // namespace flowstack::stack
