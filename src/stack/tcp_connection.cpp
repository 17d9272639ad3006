#include <algorithm>
#include <flowstack/net/error.hpp>
#include <flowstack/stack/tcp_connection.hpp>

namespace flowstack::stack {
namespace {

constexpr std::uint8_t max_window_scale = 14;    // RFC 7323 §2.3
constexpr std::uint16_t default_peer_mss = 536;  // RFC 9293 §3.7.1
constexpr clock::duration clock_granularity = std::chrono::milliseconds(1);
// The send buffer's blocks: large enough that few segments straddle two of them.
constexpr std::size_t send_block_size = 64 * 1024;

bool synchronized(tcp_state s) {
  return s != tcp_state::closed && s != tcp_state::syn_sent && s != tcp_state::syn_received;
}

}  // namespace

const char* to_string(tcp_state s) noexcept {
  switch (s) {
    case tcp_state::closed:
      return "CLOSED";
    case tcp_state::syn_sent:
      return "SYN-SENT";
    case tcp_state::syn_received:
      return "SYN-RECEIVED";
    case tcp_state::established:
      return "ESTABLISHED";
    case tcp_state::fin_wait_1:
      return "FIN-WAIT-1";
    case tcp_state::fin_wait_2:
      return "FIN-WAIT-2";
    case tcp_state::close_wait:
      return "CLOSE-WAIT";
    case tcp_state::closing:
      return "CLOSING";
    case tcp_state::last_ack:
      return "LAST-ACK";
    case tcp_state::time_wait:
      return "TIME-WAIT";
  }
  return "?";
}

tcp_connection::tcp_connection(const tcp_endpoints& e, seq32 iss, const tcp_settings& s,
                               time_point now)
    : endpoints_(e),
      settings_(s),
      iss_(iss),
      snd_una_(iss),
      snd_nxt_(iss),
      snd_max_(iss),
      peer_mss_(default_peer_mss),
      last_heard_(now),
      rto_(s.rto_initial) {
  // The smallest scale at which the whole receive buffer can be advertised.
  while (rcv_scale_ < max_window_scale && (settings_.receive_buffer >> rcv_scale_) > 0xffff)
    ++rcv_scale_;
}

tcp_connection tcp_connection::open(const tcp_endpoints& e, seq32 iss, const tcp_settings& s,
                                    time_point now) {
  tcp_connection c(e, iss, s, now);
  c.state_ = tcp_state::syn_sent;
  c.syn_pending_ = true;
  return c;
}

tcp_connection tcp_connection::accept(const tcp_endpoints& e, const tcp_header& syn, seq32 iss,
                                      const tcp_settings& s, time_point now) {
  tcp_connection c(e, iss, s, now);
  c.irs_ = seq32(syn.seq);
  c.rcv_nxt_ = c.irs_ + 1;
  c.take_syn_options(syn);
  c.snd_wnd_ = syn.window;  // never scaled on a SYN (RFC 7323 §2.2)
  c.state_ = tcp_state::syn_received;
  c.syn_pending_ = true;
  return c;
}

void tcp_connection::take_syn_options(const tcp_header& h) {
  peer_mss_ = h.options.mss.value_or(default_peer_mss);
  // RFC 6928's initial window: 10 segments, at most 14,600 octets unless 2 segments are more.
  const std::uint32_t mss = smss();
  cwnd_ = std::min(10 * mss, std::max(2 * mss, 14600u));
  // Scaling holds only when both SYNs carry the option; a scale above 14 is taken as 14.
  scaling_ = h.options.window_scale.has_value();
  if (scaling_) {
    snd_scale_ = std::min(*h.options.window_scale, max_window_scale);
  } else {
    snd_scale_ = 0;
    rcv_scale_ = 0;
  }
}

std::uint32_t tcp_connection::receive_window() const noexcept {
  std::size_t used = received_.size();
  std::size_t room = settings_.receive_buffer > used ? settings_.receive_buffer - used : 0;
  std::size_t largest = std::size_t(0xffff) << rcv_scale_;
  return static_cast<std::uint32_t>(std::min(room, largest));
}

std::size_t tcp_connection::writable() const noexcept {
  bool open = state_ == tcp_state::syn_sent || state_ == tcp_state::syn_received ||
              state_ == tcp_state::established || state_ == tcp_state::close_wait;
  if (!open || fin_queued_ || send_buffered_ >= settings_.send_buffer) return 0;
  return settings_.send_buffer - send_buffered_;
}

bool tcp_connection::all_acknowledged() const noexcept {
  return snd_una_ == snd_max_ && send_buffer_.empty() && (!fin_queued_ || fin_sent_);
}

// ---- the application's side ----------------------------------------------------------------

std::size_t tcp_connection::write(std::span<const std::byte> bytes, time_point) {
  const std::size_t n = std::min(bytes.size(), writable());
  for (std::size_t done = 0; done < n;) {
    if (send_block_used_ == send_block_.size()) {
      send_block_ = buffer::create_uninitialized(send_block_size);
      send_block_used_ = 0;
    }
    const std::size_t k = std::min(n - done, send_block_.size() - send_block_used_);
    std::byte* at = send_block_.data() + send_block_used_;
    std::copy_n(bytes.data() + done, k, at);
    // Bytes that continue the last slice in the same block grow it: one slice per block.
    buffer* last = send_buffer_.empty() ? nullptr : &send_buffer_.back();
    if (last && send_block_used_ > 0 && last->data() + last->size() == at)
      *last = send_block_.sub(static_cast<std::size_t>(last->data() - send_block_.data()),
                              last->size() + k);
    else
      send_buffer_.push_back(send_block_.sub(send_block_used_, k));
    send_block_used_ += k;
    done += k;
  }
  send_buffered_ += n;
  return n;
}

buffer tcp_connection::read(std::size_t max) {
  std::size_t n = std::min(max, received_.size());
  if (n == 0) return {};
  buffer out = buffer::create_uninitialized(n);
  std::copy_n(received_.begin(), n, out.data());
  received_.erase(received_.begin(), received_.begin() + n);
  // Tell the peer about the room when the window's right edge has moved past what it was told
  // by a segment's worth (RFC 9293 §3.8.6.2.2: at least one MSS, or half the buffer), not for
  // every byte read. Counted from the edge the peer knows, not from the room before this read:
  // with few large segments (a TAP device's offloads) no ACK may come to carry it otherwise.
  const std::uint32_t grown = (rcv_nxt_.value() + receive_window()) - advertised_edge_;
  std::size_t worth = std::min<std::size_t>(settings_.mss, settings_.receive_buffer / 2);
  if (synchronized(state_) && grown >= worth && grown < 0x80000000u) queue_ack();
  return out;
}

void tcp_connection::shutdown_write(time_point) {
  if (state_ == tcp_state::closed || fin_queued_) return;
  fin_queued_ = true;
}

void tcp_connection::close(time_point now) {
  orphaned_ = true;
  if (!received_.empty()) {
    abort();
    return;
  }
  shutdown_write(now);
  if (state_ == tcp_state::fin_wait_2) close_at_ = now + settings_.fin_wait_2;
}

void tcp_connection::abort() {
  if (state_ != tcp_state::closed && state_ != tcp_state::syn_sent &&
      state_ != tcp_state::time_wait) {
    rst_pending_ = true;
    rst_seq_ = snd_nxt_;
    rst_with_ack_ = true;
  }
  state_ = tcp_state::closed;
  send_buffer_.clear();
  send_buffered_ = 0;
  send_block_ = {};
  send_block_used_ = 0;
  received_.clear();
  out_of_order_.clear();
  out_of_order_bytes_ = 0;
  retransmit_at_.reset();
  delayed_ack_at_.reset();
  close_at_.reset();
  syn_pending_ = false;
  ack_now_ = false;
}

void tcp_connection::set_keepalive(clock::duration idle, clock::duration interval,
                                   unsigned count) noexcept {
  settings_.keepalive_idle = idle;
  settings_.keepalive_interval = interval;
  settings_.keepalive_count = count;
}

void tcp_connection::input_icmp_error(unreachable_code code, time_point) {
  if (state_ == tcp_state::closed || code == unreachable_code::fragmentation_needed) return;
  const std::error_code ec = error_of(code);
  if (state_ == tcp_state::syn_sent)
    fail(ec);
  else
    soft_error_ = ec;
}

void tcp_connection::time_out() {
  // As Linux does: the ICMP error that explains the silence, if one came.
  fail(soft_error_ ? soft_error_ : std::error_code(net::net_errc::timeout));
}

void tcp_connection::fail(std::error_code ec) {
  error_ = ec;
  abort();
  rst_pending_ = false;  // the peer reset, or is gone: nothing to tell it
}

// ---- segments in ---------------------------------------------------------------------------

bool tcp_connection::acceptable(const tcp_header& h, std::size_t length) const {
  // RFC 9293 §3.10.7.4, the four cases of segment length and receive window.
  const seq32 seq(h.seq);
  const std::uint32_t window = receive_window();
  if (length == 0) {
    if (window == 0) return seq == rcv_nxt_;
    return in_window(seq, rcv_nxt_, rcv_nxt_ + window);
  }
  if (window == 0) return false;
  return in_window(seq, rcv_nxt_, rcv_nxt_ + window) ||
         in_window(seq + static_cast<std::uint32_t>(length - 1), rcv_nxt_, rcv_nxt_ + window);
}

void tcp_connection::challenge_ack(time_point now) {
  // RFC 5961 §7: at most so many per second, so that the ACKs cannot be used as a side channel
  // or an amplifier.
  if (now - challenge_window_start_ >= std::chrono::seconds(1)) {
    challenge_window_start_ = now;
    challenge_acks_in_window_ = 0;
  }
  if (challenge_acks_in_window_ >= settings_.challenge_acks_per_second) return;
  ++challenge_acks_in_window_;
  ++challenge_acks_sent_;
  queue_ack();
}

void tcp_connection::ack_out_of_window(time_point now) {
  // Two ends that disagree on the numbers (a forged segment moved one of them) would answer each
  // other's ACKs with ACKs for ever, at the speed of the link: an empty segment out of the window
  // is answered once per invalid_ack_interval at most, as Linux's tcp_invalid_ratelimit does.
  if (last_out_of_window_ack_ && now - *last_out_of_window_ack_ < settings_.invalid_ack_interval)
    return;
  last_out_of_window_ack_ = now;
  queue_ack();
}

void tcp_connection::input(const tcp_header& h, std::span<const std::uint8_t> payload,
                           time_point now) {
  if (state_ == tcp_state::closed) return;
  if (state_ == tcp_state::syn_sent) {
    input_syn_sent(h, payload, now);
    return;
  }
  const seq32 seq(h.seq);
  // The peer's SYN again: our SYN-ACK was lost. Answer it again.
  if (state_ == tcp_state::syn_received && h.has(tcp_flag::syn) && !h.has(tcp_flag::ack) &&
      seq == irs_) {
    syn_pending_ = true;
    return;
  }
  const std::size_t length =
      payload.size() + (h.has(tcp_flag::syn) ? 1 : 0) + (h.has(tcp_flag::fin) ? 1 : 0);
  // Simultaneous open: the peer's SYN-ACK repeats the SYN we have (so it fails the window test)
  // and acknowledges ours.
  if (state_ == tcp_state::syn_received && h.has(tcp_flag::syn) && h.has(tcp_flag::ack) &&
      seq == irs_ && snd_una_ < seq32(h.ack) && seq32(h.ack) <= snd_nxt_) {
    establish(seq, seq32(h.ack), h.window);  // a SYN's window is never scaled
    process_ack(h, 0, now);
    queue_ack();
    return;
  }
  // RFC 9293 §3.10.7.4: in TIME-WAIT only the peer's FIN can come again (our ACK was lost):
  // acknowledge it and wait 2 MSL again.
  if (state_ == tcp_state::time_wait && h.has(tcp_flag::fin) && !h.has(tcp_flag::rst) &&
      seq + static_cast<std::uint32_t>(payload.size() + 1) == rcv_nxt_) {
    enter_time_wait(now);
    queue_ack();
    return;
  }
  if (!acceptable(h, length)) {
    if (!h.has(tcp_flag::rst)) {
      if (length == 0)
        ack_out_of_window(now);
      else
        queue_ack();  // old data sent again: the peer needs to hear where we are
    }
    return;
  }
  heard(now);
  if (h.has(tcp_flag::rst)) {
    if (seq != rcv_nxt_) {
      challenge_ack(now);  // RFC 5961 §3.2: in the window but not exact
      return;
    }
    // RFC 1337: a RST does not end TIME-WAIT early (it would let old duplicates in).
    if (state_ == tcp_state::time_wait) return;
    bool orderly = state_ == tcp_state::closing || state_ == tcp_state::last_ack;
    fail(orderly ? std::error_code() : std::error_code(net::net_errc::reset));
    return;
  }
  if (h.has(tcp_flag::syn)) {
    challenge_ack(now);  // RFC 5961 §4.2: a SYN in a synchronized state
    return;
  }
  if (!h.has(tcp_flag::ack)) return;

  if (state_ == tcp_state::syn_received) {
    const seq32 ack(h.ack);
    if (!(snd_una_ < ack && ack <= snd_nxt_)) {
      rst_pending_ = true;  // RFC 9293: an unacceptable ACK in SYN-RECEIVED gets a RST
      rst_seq_ = ack;
      rst_with_ack_ = false;
      return;
    }
    establish(seq, ack, std::uint32_t(h.window) << snd_scale_);
  }
  process_ack(h, payload.size(), now);
  if (state_ == tcp_state::closed) return;
  if (!payload.empty() || h.has(tcp_flag::fin)) process_data(h, payload, now);
}

void tcp_connection::heard(time_point now) {
  // The peer is there: the keepalive count starts again and an ICMP error is old news.
  last_heard_ = now;
  keepalive_probes_ = 0;
  soft_error_.clear();
}

void tcp_connection::establish(seq32 seq, seq32 ack, std::uint32_t window) {
  state_ = tcp_state::established;
  established_once_ = true;
  snd_wnd_ = window;
  snd_wl1_ = seq;
  snd_wl2_ = ack;
}

void tcp_connection::input_syn_sent(const tcp_header& h, std::span<const std::uint8_t> payload,
                                    time_point now) {
  const seq32 ack(h.ack);
  const bool has_ack = h.has(tcp_flag::ack);
  if (has_ack && (ack <= iss_ || ack > snd_nxt_)) {
    if (!h.has(tcp_flag::rst)) {
      rst_pending_ = true;
      rst_seq_ = ack;
      rst_with_ack_ = false;
    }
    return;
  }
  if (h.has(tcp_flag::rst)) {
    if (has_ack) fail(net::net_errc::refused);  // RFC 9293: only a RST that ACKs our SYN counts
    return;
  }
  if (!h.has(tcp_flag::syn)) return;
  heard(now);
  irs_ = seq32(h.seq);
  rcv_nxt_ = irs_ + 1;
  take_syn_options(h);
  snd_wl1_ = seq32(h.seq);
  snd_wl2_ = ack;
  snd_wnd_ = h.window;  // never scaled on a SYN
  if (has_ack) {
    if (timing_ && !retransmitting_) sample_rtt(now - timing_->second);
    timing_.reset();
    snd_una_ = ack;
    syn_acked_ = true;
    backoffs_ = 0;
    retransmitting_ = false;
    retransmit_at_.reset();
    state_ = tcp_state::established;
    established_once_ = true;
    queue_ack();
    if (!payload.empty() || h.has(tcp_flag::fin)) {
      tcp_header rest = h;
      rest.seq = (irs_ + 1).value();
      process_data(rest, payload, now);
    }
  } else {
    // Simultaneous open (RFC 9293 §3.5): answer with SYN-ACK, the same ISS.
    state_ = tcp_state::syn_received;
    syn_pending_ = true;
  }
}

std::uint32_t tcp_connection::smss() const noexcept {
  return std::min<std::uint32_t>(peer_mss_, settings_.mss);
}

void tcp_connection::on_new_ack(std::uint32_t acked, time_point) {
  const std::uint32_t mss = smss();
  if (in_recovery_) {
    if (snd_una_ >= recover_) {
      // A full acknowledgement ends recovery (RFC 6582 §3.2 step 3).
      in_recovery_ = false;
      cwnd_ = std::min(ssthresh_, std::max(flight_size(), mss) + mss);
    } else {
      // A partial one: the next hole is lost too. Resend it and deflate by what was acknowledged
      // (RFC 6582 §3.2 step 4).
      retransmit_first_ = true;
      cwnd_ = cwnd_ > acked ? cwnd_ - acked : 0;
      if (acked >= mss) cwnd_ += mss;
      cwnd_ = std::max(cwnd_, mss);
    }
  } else if (cwnd_ < ssthresh_) {
    cwnd_ += std::min(acked, 2 * mss);  // slow start, counting bytes (RFC 3465, L = 2 SMSS)
  } else {
    cwnd_ += std::max<std::uint32_t>(1, mss * mss / cwnd_);  // congestion avoidance
  }
  dupacks_ = 0;
}

void tcp_connection::on_duplicate_ack() {
  const std::uint32_t mss = smss();
  ++dupacks_;
  if (in_recovery_) {
    cwnd_ += mss;  // each duplicate says a segment left the network (RFC 5681 §3.2 step 4)
    return;
  }
  if (dupacks_ == 3 && snd_una_ >= recover_) {
    // Fast retransmit (RFC 5681 §3.2, RFC 6582 §3.2 step 2).
    ssthresh_ = std::max(flight_size() / 2, 2 * mss);
    recover_ = snd_nxt_;
    cwnd_ = ssthresh_ + 3 * mss;
    in_recovery_ = true;
    retransmit_first_ = true;
    ++fast_retransmits_;
  }
}

void tcp_connection::process_ack(const tcp_header& h, std::size_t payload_size, time_point now) {
  const seq32 seq(h.seq), ack(h.ack);
  if (ack > snd_max_) {
    ack_out_of_window(now);  // it acknowledges what we never sent
    return;
  }
  const std::uint32_t new_window = std::uint32_t(h.window) << snd_scale_;
  if (ack == snd_una_ && flight_size() > 0 && payload_size == 0 && !h.has(tcp_flag::fin) &&
      new_window == snd_wnd_ && syn_acked_) {
    on_duplicate_ack();  // RFC 5681 §2's definition of a duplicate
  }
  if (ack > snd_una_) {
    std::uint32_t acked = ack - snd_una_;
    const std::uint32_t acked_in_sequence = acked;
    if (!syn_acked_) {
      syn_acked_ = true;
      --acked;
    }
    const bool fin_acked = fin_sent_ && ack == fin_seq_ + 1;
    if (fin_acked) --acked;
    drop_sent(std::min<std::size_t>(acked, send_buffered_));
    if (timing_ && ack > timing_->first && !retransmitting_) sample_rtt(now - timing_->second);
    if (timing_ && ack > timing_->first) timing_.reset();
    snd_una_ = ack;
    if (snd_nxt_ < snd_una_) snd_nxt_ = snd_una_;  // after a go-back, the peer had more
    backoffs_ = 0;
    retransmitting_ = false;
    probe_due_ = false;
    on_new_ack(acked_in_sequence, now);
    if (srtt_) rto_ = rto_from_estimates();  // the backoff ends with new data acknowledged
    retransmit_at_.reset();
    if (snd_una_ != snd_max_) retransmit_at_ = now + rto_;
    if (fin_acked) {
      switch (state_) {
        case tcp_state::fin_wait_1:
          state_ = tcp_state::fin_wait_2;
          if (orphaned_) close_at_ = now + settings_.fin_wait_2;
          break;
        case tcp_state::closing:
          enter_time_wait(now);
          break;
        case tcp_state::last_ack:
          state_ = tcp_state::closed;
          retransmit_at_.reset();
          return;
        default:
          break;
      }
    }
  }
  // The window, from the newest segment only (RFC 9293 §3.10.7.4, SND.WL1 and SND.WL2).
  if (snd_wl1_ < seq || (snd_wl1_ == seq && snd_wl2_ <= ack)) {
    snd_wnd_ = new_window;
    snd_wl1_ = seq;
    snd_wl2_ = ack;
    if (snd_wnd_ > 0) probe_due_ = false;
  }
}

void tcp_connection::process_data(const tcp_header& h, std::span<const std::uint8_t> payload,
                                  time_point now) {
  const bool takes_data = state_ == tcp_state::established || state_ == tcp_state::fin_wait_1 ||
                          state_ == tcp_state::fin_wait_2;
  seq32 seq(h.seq);
  if (!takes_data) return;
  if (orphaned_ && !payload.empty()) {
    abort();  // nobody will read it: tell the peer (RFC 9293 §3.10.7.4 / RFC 2525 §2.17)
    return;
  }
  // Trim what was received already, and what lies past the window.
  std::span<const std::uint8_t> data = payload;
  if (seq < rcv_nxt_) {
    std::uint32_t old = rcv_nxt_ - seq;
    if (old >= data.size() && !(h.has(tcp_flag::fin) && old == data.size())) {
      queue_ack();
      return;
    }
    data = data.subspan(std::min<std::size_t>(old, data.size()));
    seq = rcv_nxt_;
  }
  const std::uint32_t window = receive_window();
  bool fin = h.has(tcp_flag::fin);
  if (data.size() > window - std::min(window, seq - rcv_nxt_)) {
    data = data.first(window - std::min(window, seq - rcv_nxt_));
    fin = false;  // the FIN lies past the window, after what was cut
  }
  if (seq != rcv_nxt_) {
    // Ahead of a hole: kept if there is room, and acknowledged at once (RFC 5681 §4.2) so that
    // the peer's fast retransmit can work.
    // Overlapping segments are kept apart, so the bytes are bounded as well as the segments.
    const bool room = out_of_order_.size() < settings_.max_out_of_order &&
                      out_of_order_bytes_ + data.size() <= settings_.receive_buffer;
    if (!data.empty() && data.size() > shared_room_) {
      ++over_budget_drops_;
    } else if (room && !data.empty() &&
               out_of_order_.emplace(seq, std::vector<std::uint8_t>(data.begin(), data.end()))
                   .second) {
      out_of_order_bytes_ += data.size();
      shared_room_ -= data.size();
    }
    ++duplicate_acks_owed_;  // one each: the sender counts them (RFC 5681 §3.2)
    return;
  }
  if (data.size() > shared_room_) {
    ++over_budget_drops_;  // not acknowledged: the peer sends it again once there is room
    return;
  }
  shared_room_ -= data.size();
  const bool filled_a_hole = !out_of_order_.empty();
  take_in_order(data);
  drain_out_of_order();
  if (fin) {
    process_fin(now);
    return;
  }
  if (data.empty()) return;
  // RFC 1122 §4.2.3.2 / RFC 5681 §4.2: ACK every second full segment, and at once when a hole
  // was filled; otherwise within delayed_ack.
  if (filled_a_hole || ++unacked_full_segments_ >= 2 || settings_.delayed_ack.count() == 0) {
    queue_ack();
  } else if (!delayed_ack_at_) {
    delayed_ack_at_ = now + settings_.delayed_ack;
  }
}

void tcp_connection::take_in_order(std::span<const std::uint8_t> data) {
  auto bytes = std::as_bytes(data);
  received_.insert(received_.end(), bytes.begin(), bytes.end());
  rcv_nxt_ += static_cast<std::uint32_t>(data.size());
}

void tcp_connection::drain_out_of_order() {
  while (!out_of_order_.empty()) {
    auto it = out_of_order_.begin();
    if (it->first > rcv_nxt_) break;
    std::uint32_t overlap = rcv_nxt_ - it->first;
    if (overlap < it->second.size()) take_in_order(std::span(it->second).subspan(overlap));
    out_of_order_bytes_ -= it->second.size();
    out_of_order_.erase(it);
  }
}

void tcp_connection::process_fin(time_point now) {
  rcv_nxt_ += 1;
  fin_received_ = true;
  queue_ack();
  switch (state_) {
    case tcp_state::established:
      state_ = tcp_state::close_wait;
      break;
    case tcp_state::fin_wait_1:
      state_ = tcp_state::closing;  // ours is not acknowledged yet
      break;
    case tcp_state::fin_wait_2:
      enter_time_wait(now);
      break;
    default:
      break;
  }
}

void tcp_connection::enter_time_wait(time_point now) {
  // No ACK of its own: the FIN that leads here is acknowledged where it is taken, and an ACK
  // of our FIN in CLOSING needs no answer (RFC 9293 §3.10.7.4).
  state_ = tcp_state::time_wait;
  close_at_ = now + settings_.time_wait;
  retransmit_at_.reset();
}

// ---- time ----------------------------------------------------------------------------------

void tcp_connection::sample_rtt(clock::duration rtt) {
  // RFC 6298 §2.2 and §2.3.
  if (!srtt_) {
    srtt_ = rtt;
    rttvar_ = rtt / 2;
  } else {
    auto error = *srtt_ > rtt ? *srtt_ - rtt : rtt - *srtt_;
    rttvar_ = (3 * *rttvar_ + error) / 4;
    srtt_ = (7 * *srtt_ + rtt) / 8;
  }
  rto_ = rto_from_estimates();
}

clock::duration tcp_connection::rto_from_estimates() const noexcept {
  return std::clamp(*srtt_ + std::max(clock_granularity, 4 * *rttvar_), settings_.rto_min,
                    settings_.rto_max);
}

void tcp_connection::poll(time_point now) {
  if (close_at_ && now >= *close_at_) {
    close_at_.reset();
    state_ = tcp_state::closed;
    retransmit_at_.reset();
    delayed_ack_at_.reset();
    return;
  }
  if (delayed_ack_at_ && now >= *delayed_ack_at_) queue_ack();
  if (retransmit_at_ && now >= *retransmit_at_) retransmit(now);
  if (const auto at = keepalive_deadline(); at && now >= *at) {
    if (keepalive_probes_ >= settings_.keepalive_count) {
      time_out();
      return;
    }
    ++keepalive_probes_;
    keepalive_probe_due_ = true;
  }
}

std::optional<tcp_connection::time_point> tcp_connection::keepalive_deadline() const noexcept {
  // Only an idle connection is probed: with data outstanding or waiting, retransmissions and
  // zero-window probes already find out whether the peer is there. FIN-WAIT-2 is idle (our FIN
  // is acknowledged) and may last as long as the application reads, so it is probed too.
  const bool idle = ((state_ == tcp_state::established || state_ == tcp_state::close_wait) &&
                     snd_una_ == snd_max_ && send_buffer_.empty() && !fin_queued_) ||
                    state_ == tcp_state::fin_wait_2;
  if (settings_.keepalive_idle <= clock::duration::zero() || !idle) return std::nullopt;
  return last_heard_ + settings_.keepalive_idle + keepalive_probes_ * settings_.keepalive_interval;
}

void tcp_connection::retransmit(time_point now) {
  retransmit_at_.reset();
  const bool handshaking = state_ == tcp_state::syn_sent || state_ == tcp_state::syn_received;
  const bool probing =
      !handshaking && snd_una_ == snd_nxt_ && snd_wnd_ == 0 && !send_buffer_.empty();
  if (!probing) {
    unsigned limit =
        handshaking ? settings_.max_syn_retransmissions : settings_.max_retransmissions;
    if (backoffs_ >= limit) {
      time_out();
      return;
    }
  }
  ++backoffs_;
  ++retransmissions_;
  rto_ = std::min(rto_ * 2, settings_.rto_max);  // RFC 6298 §5.5
  retransmitting_ = true;
  timing_.reset();  // Karn: no RTT from a segment sent twice
  if (handshaking) {
    syn_pending_ = true;
  } else if (probing) {
    probe_due_ = true;  // RFC 9293 §3.8.6.1: the window may have opened unseen
  } else {
    // The loss window (RFC 5681 §3.1, RFC 6582 §3.2 step 6), then go back to the oldest
    // unacknowledged byte.
    ssthresh_ = std::max(flight_size() / 2, 2 * smss());
    cwnd_ = smss();
    recover_ = snd_nxt_;
    in_recovery_ = false;
    dupacks_ = 0;
    retransmit_first_ = false;
    snd_nxt_ = snd_una_;
    if (fin_sent_ && snd_una_ <= fin_seq_) fin_sent_ = false;
  }
  retransmit_at_ = now + rto_;
}

std::optional<tcp_connection::time_point> tcp_connection::next_deadline() const {
  std::optional<time_point> next;
  for (const auto& t : {retransmit_at_, delayed_ack_at_, close_at_, keepalive_deadline()}) {
    if (t && (!next || *t < *next)) next = t;
  }
  return next;
}

// ---- segments out --------------------------------------------------------------------------

tcp_header tcp_connection::header(std::uint8_t flags, seq32 seq) const {
  tcp_header h;
  h.source_port = endpoints_.local_port;
  h.destination_port = endpoints_.remote_port;
  h.seq = seq.value();
  h.flags = flags;
  if (flags & tcp_flag::ack) h.ack = rcv_nxt_.value();
  if (flags & tcp_flag::syn) {
    h.window = static_cast<std::uint16_t>(std::min<std::size_t>(receive_window(), 0xffff));
    h.options.mss = settings_.mss;
    // Offered on our SYN; on a SYN-ACK only when the peer offered it (RFC 7323 §1.3).
    if (state_ == tcp_state::syn_sent || scaling_) h.options.window_scale = rcv_scale_;
  } else {
    h.window = static_cast<std::uint16_t>(receive_window() >> rcv_scale_);
  }
  return h;
}

tcp_output tcp_connection::segment(std::uint8_t flags, seq32 seq, std::size_t offset,
                                   std::size_t size) const {
  tcp_output o{header(flags, seq), {}};
  if (size == 0) return o;
  auto it = send_buffer_.begin();
  while (offset >= it->size()) offset -= (it++)->size();
  if (offset + size <= it->size()) {
    o.payload = it->sub(offset, size);
    return o;
  }
  std::vector<buffer> parts;
  for (std::size_t left = size; left > 0; ++it, offset = 0) {
    const std::size_t k = std::min(left, it->size() - offset);
    parts.push_back(it->sub(offset, k));
    left -= k;
  }
  o.payload = buffer::concat(parts);
  return o;
}

void tcp_connection::drop_sent(std::size_t count) {
  send_buffered_ -= count;
  while (count > 0) {
    buffer& front = send_buffer_.front();
    if (front.size() > count) {
      front = front.shift(count);
      return;
    }
    count -= front.size();
    send_buffer_.pop_front();
  }
}

void tcp_connection::arm_retransmission(time_point now) {
  if (!retransmit_at_) retransmit_at_ = now + rto_;
}

void tcp_connection::send_data(time_point now, std::vector<tcp_output>& out) {
  const std::size_t mss = smss();
  if (retransmit_first_ && flight_size() > 0) {
    // Fast retransmit: the oldest unacknowledged segment again, alone.
    retransmit_first_ = false;
    std::size_t size = std::min({mss, send_buffered_, std::size_t(flight_size())});
    std::uint8_t flags = tcp_flag::ack;
    if (fin_sent_ && snd_una_ + static_cast<std::uint32_t>(size) == fin_seq_)
      flags |= tcp_flag::fin;
    out.push_back(segment(flags, snd_una_, 0, size));
    ++retransmissions_;
    timing_.reset();  // Karn
    ack_now_ = false;
    delayed_ack_at_.reset();
  }
  for (;;) {
    const std::uint32_t in_flight = snd_nxt_ - snd_una_;
    const std::size_t unsent = send_buffered_ > in_flight ? send_buffered_ - in_flight : 0;
    // The peer's window and the congestion window, whichever is smaller; limited transmit lets
    // the first two duplicate ACKs each send one new segment (RFC 3042).
    std::uint32_t allowed = cwnd_;
    if (!in_recovery_ && dupacks_ > 0 && dupacks_ < 3)
      allowed += dupacks_ * static_cast<std::uint32_t>(mss);
    const std::uint32_t limit = std::min(snd_wnd_, allowed);
    const std::uint32_t window_end_room = limit > in_flight ? limit - in_flight : 0;
    std::size_t size = std::min<std::size_t>({unsent, mss, window_end_room});
    if (size == 0 && unsent > 0 && probe_due_ && in_flight == 0) size = 1;
    const bool fin_now = fin_queued_ && !fin_sent_ && unsent == size;
    if (size == 0 && !fin_now) {
      // A closed window with data waiting: probe when the timer says so.
      if (unsent > 0 && snd_wnd_ == 0 && in_flight == 0) arm_retransmission(now);
      return;
    }
    // Nagle (RFC 9293 §3.7.4): a small segment waits while data is in flight.
    if (!settings_.nodelay && size < mss && in_flight > 0 && !fin_now && !probe_due_) return;
    probe_due_ = false;
    std::uint8_t flags = tcp_flag::ack;
    if (size > 0 && size == unsent) flags |= tcp_flag::psh;
    if (fin_now) flags |= tcp_flag::fin;
    tcp_output o = segment(flags, snd_nxt_, in_flight, size);
    if (!timing_ && !retransmitting_ && size > 0) timing_ = std::pair(snd_nxt_, now);
    snd_nxt_ += static_cast<std::uint32_t>(size);
    if (snd_max_ < snd_nxt_) snd_max_ = snd_nxt_;
    if (fin_now) {
      fin_seq_ = snd_nxt_;
      snd_nxt_ += 1;
      if (snd_max_ < snd_nxt_) snd_max_ = snd_nxt_;
      fin_sent_ = true;
      if (state_ == tcp_state::established) state_ = tcp_state::fin_wait_1;
      if (state_ == tcp_state::close_wait) state_ = tcp_state::last_ack;
    }
    out.push_back(std::move(o));
    arm_retransmission(now);
    ack_now_ = false;
    delayed_ack_at_.reset();
    unacked_full_segments_ = 0;
    if (fin_now) return;
  }
}

std::vector<tcp_output> tcp_connection::take_output(time_point now) {
  std::vector<tcp_output> out;
  if (rst_pending_) {
    rst_pending_ = false;
    std::uint8_t flags = tcp_flag::rst | (rst_with_ack_ ? tcp_flag::ack : 0);
    tcp_output o{header(flags, rst_seq_), {}};
    o.header.window = 0;
    out.push_back(std::move(o));
  }
  if (state_ == tcp_state::closed) return out;
  if (syn_pending_) {
    syn_pending_ = false;
    std::uint8_t flags = tcp_flag::syn | (state_ == tcp_state::syn_received ? tcp_flag::ack : 0);
    out.push_back({header(flags, iss_), {}});
    if (snd_nxt_ == iss_) snd_nxt_ = snd_max_ = iss_ + 1;
    if (!timing_ && !retransmitting_) timing_ = std::pair(iss_, now);
    arm_retransmission(now);
    ack_now_ = false;
  }
  if (keepalive_probe_due_) {
    // RFC 9293 §3.8.4: a segment the peer has seen already (SEG.SEQ = SND.UNA - 1), no data;
    // it must answer it with an ACK.
    keepalive_probe_due_ = false;
    out.push_back({header(tcp_flag::ack, snd_una_ - 1), {}});
  }
  const bool can_send = state_ == tcp_state::established || state_ == tcp_state::close_wait ||
                        state_ == tcp_state::fin_wait_1 || state_ == tcp_state::closing ||
                        state_ == tcp_state::last_ack;
  if (can_send) send_data(now, out);
  if (delayed_ack_at_ && now >= *delayed_ack_at_) ack_now_ = true;
  if (state_ != tcp_state::syn_sent) {
    // A segment sent above carried one of the duplicates owed; the others go alone.
    std::size_t acks = duplicate_acks_owed_;
    if (acks > 0 && !out.empty()) --acks;
    if (ack_now_ && acks == 0 && out.empty()) acks = 1;
    for (std::size_t i = 0; i < acks; ++i) out.push_back({header(tcp_flag::ack, snd_nxt_), {}});
    if (acks > 0) {
      ack_now_ = false;
      delayed_ack_at_.reset();
      unacked_full_segments_ = 0;
    }
  }
  duplicate_acks_owed_ = 0;
  if (!out.empty()) advertised_edge_ = rcv_nxt_.value() + receive_window();
  return out;
}

}  // namespace flowstack::stack
