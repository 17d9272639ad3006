#include <algorithm>
#include <flowstack/net/error.hpp>
#include <flowstack/stack/tcp_layer.hpp>
#include <utility>

namespace flowstack::stack {

tcp_layer::tcp_layer(asio::ip::address_v4 local, options o)
    : local_(local),
      options_(o),
      isn_(isn_from(o.seed)),
      ports_(o.ephemeral_first, o.ephemeral_last, o.seed ^ 0x9e3779b97f4a7c15ull) {}

tcp_layer::~tcp_layer() = default;

isn_generator tcp_layer::isn_from(std::uint64_t seed) {
  std::mt19937_64 random(seed);
  std::array<std::byte, 16> secret;
  for (std::size_t i = 0; i < secret.size(); i += 8) {
    std::uint64_t word = random();
    for (std::size_t j = 0; j < 8; ++j) secret[i + j] = std::byte(word >> (8 * j));
  }
  return isn_generator(secret);
}

std::uint64_t tcp_layer::key_of(const asio::ip::address_v4& remote, std::uint16_t remote_port,
                                std::uint16_t local_port) noexcept {
  return (std::uint64_t{remote.to_uint()} << 32) | (std::uint64_t{remote_port} << 16) | local_port;
}

result<std::uint16_t> tcp_layer::listen(std::uint16_t port, std::size_t backlog) {
  if (port == 0) {
    auto free = ports_.allocate();
    if (!free) return fail(net::net_errc::address_in_use);
    port = *free;
  } else if (!ports_.reserve(port)) {
    return fail(net::net_errc::address_in_use);
  }
  listeners_.emplace(port, listener{std::max<std::size_t>(backlog, 1)});
  return port;
}

void tcp_layer::unlisten(std::uint16_t port, time_point now) {
  auto it = listeners_.find(port);
  if (it == listeners_.end()) return;
  listeners_.erase(it);
  ports_.release(port);
  // What the listener had not handed out yet has no one to read it: tell the peers.
  std::vector<socket*> orphans;
  for (auto& [key, s] : sockets_)
    if (s->listener == port) orphans.push_back(s.get());
  for (socket* s : orphans) {
    s->listener.reset();
    s->connection.abort();
    settle(s, now);
  }
}

tcp_layer::socket* tcp_layer::accept(std::uint16_t port) {
  auto it = listeners_.find(port);
  if (it == listeners_.end() || it->second.ready.empty()) return nullptr;
  socket* s = it->second.ready.front();
  it->second.ready.pop_front();
  s->listener.reset();
  s->held = true;
  return s;
}

result<tcp_layer::socket*> tcp_layer::connect(const asio::ip::address_v4& remote,
                                              std::uint16_t port, time_point now) {
  if (sockets_.size() >= options_.max_connections) {
    ++counters_.table_full;
    return fail(std::make_error_code(std::errc::no_buffer_space));
  }
  auto local_port = ports_.allocate();
  if (!local_port) return fail(net::net_errc::address_in_use);
  tcp_endpoints e{local_, *local_port, remote, port};
  socket* s = add(tcp_connection::open(e, isn_(e, now), options_.settings, now), true);
  s->held = true;
  settle(s, now);
  return s;
}

tcp_layer::socket* tcp_layer::add(tcp_connection c, bool ephemeral) {
  const auto& e = c.endpoints();
  auto key = key_of(e.remote_ip, e.remote_port, e.local_port);
  auto s = std::make_unique<socket>(std::move(c));
  s->key = key;
  s->ephemeral = ephemeral;
  socket* raw = s.get();
  sockets_.emplace(key, std::move(s));
  return raw;
}

void tcp_layer::input(const ipv4_header& ip, std::span<const std::uint8_t> segment,
                      bool checksum_verified, time_point now) {
  auto seg = parse_tcp(segment, ipv4_pseudo_header(ip.source, ip.destination, ip_protocol::tcp),
                       !checksum_verified);
  if (!seg) {
    ++counters_.malformed;
    return;
  }
  ++counters_.segments_in;
  // TCP is unicast (RFC 1122 §4.2.3.10): a segment to a broadcast or multicast address, or
  // from one, is never answered.
  if (ip.destination != local_ || ip.source.is_multicast() ||
      ip.source == asio::ip::address_v4::broadcast()) {
    ++counters_.not_for_us;
    return;
  }
  const tcp_header& h = seg->header;
  auto found = sockets_.find(key_of(ip.source, h.source_port, h.destination_port));
  if (found != sockets_.end()) {
    socket* s = found->second.get();
    const std::size_t budget = options_.buffer_budget;
    s->connection.set_shared_room(budget > buffered_ ? budget - buffered_ : 0);
    const std::uint64_t drops = s->connection.over_budget_drops();
    s->connection.input(h, seg->payload, now);
    counters_.over_budget += s->connection.over_budget_drops() - drops;
    settle(s, now);
    return;
  }
  auto l = listeners_.find(h.destination_port);
  if (l != listeners_.end()) {
    input_listener(l->second, ip, *seg, now);
    return;
  }
  reset_for(ip, h, seg->payload.size());
}

void tcp_layer::input_listener(listener& l, const ipv4_header& ip, const tcp_segment& seg,
                               time_point now) {
  const tcp_header& h = seg.header;
  if (h.has(tcp_flag::rst)) return;
  if (h.has(tcp_flag::ack)) {
    reset_for(ip, h, seg.payload.size());
    return;
  }
  if (!h.has(tcp_flag::syn)) return;  // RFC 9293 §3.10.7.2: anything else is dropped
  // SYN with FIN is no opening any real stack sends, only scanners do: dropped, as Linux does.
  if (h.has(tcp_flag::fin)) return;
  if (l.half_open + l.ready.size() >= l.backlog) {
    ++counters_.syns_dropped;
    return;
  }
  if (sockets_.size() >= options_.max_connections) {
    ++counters_.table_full;
    return;
  }
  tcp_endpoints e{local_, h.destination_port, ip.source, h.source_port};
  socket* s = add(tcp_connection::accept(e, h, isn_(e, now), options_.settings, now), false);
  s->listener = h.destination_port;
  ++l.half_open;
  // Data on the SYN is not acknowledged by the SYN-ACK: the peer sends it again once the
  // handshake is done (no TCP Fast Open).
  settle(s, now);
}

void tcp_layer::input_icmp_error(const asio::ip::address_v4& remote, std::uint16_t remote_port,
                                 std::uint16_t local_port, std::uint32_t seq, unreachable_code code,
                                 time_point now) {
  auto found = sockets_.find(key_of(remote, remote_port, local_port));
  if (found == sockets_.end()) return;
  socket* s = found->second.get();
  if (!s->connection.sent_unacknowledged(seq32(seq))) {
    ++counters_.icmp_ignored;
    return;
  }
  s->connection.input_icmp_error(code, now);
  settle(s, now);
}

void tcp_layer::next_hop_lost(const std::function<bool(const asio::ip::address_v4&)>& behind,
                              time_point now) {
  std::vector<socket*> concerned;
  for (auto& [key, s] : sockets_)
    if (behind(s->connection.endpoints().remote_ip)) concerned.push_back(s.get());
  for (socket* s : concerned) {
    s->connection.input_icmp_error(unreachable_code::host, now);
    settle(s, now);
  }
}

void tcp_layer::update(socket* s, time_point now) {
  settle(s, now);
}

void tcp_layer::release(socket* s, time_point now) {
  s->held = false;
  s->owner = nullptr;
  settle(s, now);
}

void tcp_layer::settle(socket* s, time_point now) {
  for (auto& o : s->connection.take_output(now))
    emit(s->connection.endpoints().remote_ip, o.header, o.payload);
  counters_.retransmissions +=
      s->connection.retransmissions() -
      std::exchange(s->retransmissions_counted, s->connection.retransmissions());
  counters_.fast_retransmits +=
      s->connection.fast_retransmits() -
      std::exchange(s->fast_retransmits_counted, s->connection.fast_retransmits());
  const std::size_t holds = s->connection.buffered_bytes();
  buffered_ = buffered_ - s->charged + holds;
  s->charged = holds;

  if (s->timer) {
    timers_.erase(*s->timer);
    s->timer.reset();
  }
  if (auto at = s->connection.next_deadline()) s->timer = timers_.emplace(*at, s);

  const tcp_state state = s->connection.state();
  if (s->listener) {
    auto& l = listeners_.at(*s->listener);
    auto queued = std::find(l.ready.begin(), l.ready.end(), s);
    const bool is_queued = queued != l.ready.end();
    if (state == tcp_state::closed) {
      // Reset or timed out before anyone accepted it.
      if (is_queued) {
        l.ready.erase(queued);
      } else {
        --l.half_open;
      }
      s->listener.reset();
    } else if (!is_queued && s->connection.established_once()) {
      --l.half_open;
      l.ready.push_back(s);
      ready_listeners_.push_back(*s->listener);
    }
  }

  if (s->held) {
    if (!s->changed) {
      s->changed = true;
      changed_.push_back(s);
    }
  } else if (state == tcp_state::closed && !s->listener) {
    free(s);
  }
}

void tcp_layer::free(socket* s) {
  if (s->timer) timers_.erase(*s->timer);
  if (s->changed) std::erase(changed_, s);
  if (s->ephemeral) ports_.release(s->connection.endpoints().local_port);
  buffered_ -= s->charged;
  sockets_.erase(s->key);
}

std::size_t tcp_layer::closing_or_open() const noexcept {
  return static_cast<std::size_t>(std::count_if(sockets_.begin(), sockets_.end(), [](auto& kv) {
    return kv.second->connection.state() != tcp_state::time_wait;
  }));
}

std::vector<tcp_layer::socket*> tcp_layer::take_changed() {
  auto changed = std::exchange(changed_, {});
  for (socket* s : changed) s->changed = false;
  return changed;
}

void tcp_layer::poll(time_point now) {
  // Each due connection runs once per poll, even if it is due again at once.
  std::vector<socket*> due;
  for (auto it = timers_.begin(); it != timers_.end() && it->first <= now; ++it)
    due.push_back(it->second);
  for (socket* s : due) {
    s->connection.poll(now);
    settle(s, now);
  }
}

void tcp_layer::abort_all(time_point now) {
  std::vector<socket*> all;
  for (auto& [key, s] : sockets_) all.push_back(s.get());
  for (socket* s : all) {
    s->connection.abort();
    settle(s, now);
  }
}

std::optional<tcp_layer::time_point> tcp_layer::next_deadline() const {
  if (timers_.empty()) return std::nullopt;
  return timers_.begin()->first;
}

void tcp_layer::reset_for(const ipv4_header& ip, const tcp_header& h, std::size_t payload_size) {
  if (h.has(tcp_flag::rst)) return;
  tcp_header r;
  r.source_port = h.destination_port;
  r.destination_port = h.source_port;
  if (h.has(tcp_flag::ack)) {
    r.seq = h.ack;
    r.flags = tcp_flag::rst;
  } else {
    std::uint32_t length = static_cast<std::uint32_t>(payload_size) +
                           (h.has(tcp_flag::syn) ? 1 : 0) + (h.has(tcp_flag::fin) ? 1 : 0);
    r.ack = h.seq + length;
    r.flags = tcp_flag::rst | tcp_flag::ack;
  }
  ++counters_.resets_sent;
  emit(ip.source, r, buffer());
}

void tcp_layer::emit(const asio::ip::address_v4& destination, const tcp_header& h,
                     const buffer& payload) {
  buffer segment = buffer::create(h.size() + payload.size());
  auto bytes = segment.octets();
  std::copy_n(payload.octets().data(), payload.size(), bytes.data() + h.size());
  checksum sum = ipv4_pseudo_header(local_, destination, ip_protocol::tcp);
  sum.add(bytes.subspan(h.size()));
  write_tcp_header(bytes, h, payload.size(), sum);
  output_.push_back({destination, std::move(segment)});
  ++counters_.segments_out;
}

}  // namespace flowstack::stack
