#include <algorithm>
#include <flowstack/net/error.hpp>
#include <flowstack/stack/error.hpp>
#include <flowstack/stack/ipv4_layer.hpp>
#include <random>

namespace flowstack::stack {
namespace {

// RFC 1812 §4.3.2.3: an ICMP error should quote as much of the packet as fits in 576 octets.
constexpr std::size_t icmp_error_max = 576;
constexpr std::size_t max_ip_payload = 65535 - ipv4_min_header_size;

void set_destination(const buffer& frame, const mac_address& to) {
  std::copy(to.bytes.begin(), to.bytes.end(), frame.octets().begin());
}

}  // namespace

std::string_view ipv4_layer::name_of(drop_reason r) {
  switch (r) {
    case drop_reason::not_for_us:
      return "not_for_us";
    case drop_reason::bad_frame:
      return "bad_frame";
    case drop_reason::bad_packet:
      return "bad_packet";
    case drop_reason::source_routed:
      return "source_routed";
    case drop_reason::bad_source:
      return "bad_source";
    case drop_reason::icmp_rate_limited:
      return "icmp_rate_limited";
    case drop_reason::no_route:
      return "no_route";
    case drop_reason::arp_unanswered:
      return "arp_unanswered";
    case drop_reason::arp_refused:
      return "arp_refused";
    case drop_reason::count_:
      break;
  }
  return "unknown";
}

ipv4_layer::ipv4_layer(mac_address mac, ipv4_config config, time_point now, options o)
    : mac_(mac),
      config_(config),
      options_(o),
      arp_(o.arp),
      reassembly_(o.fragments),
      // A random first identification, so that datagrams of a restarted stack are not taken for
      // fragments of its earlier ones.
      next_id_(static_cast<std::uint16_t>(std::random_device()())),
      icmp_tokens_(o.icmp_error_burst),
      icmp_refilled_(now) {}

bool ipv4_layer::on_link(const asio::ip::address_v4& a) const noexcept {
  if (config_.prefix_length == 0) return true;
  std::uint32_t mask = ~std::uint32_t(0) << (32 - std::min(config_.prefix_length, 32u));
  return ((a.to_uint() ^ config_.address.to_uint()) & mask) == 0;
}

bool ipv4_layer::is_broadcast(const asio::ip::address_v4& a) const noexcept {
  if (a == asio::ip::address_v4::broadcast()) return true;
  // The subnet's broadcast address; /31 and /32 have none (RFC 3021).
  if (config_.prefix_length >= 31 || !on_link(a)) return false;
  std::uint32_t host = ~(~std::uint32_t(0) << (32 - config_.prefix_length));
  return (a.to_uint() & host) == host;
}

buffer ipv4_layer::arp_frame(const arp_packet& a, const mac_address& to) const {
  buffer b = buffer::create(ethernet_header_size + arp_packet_size);
  write_ethernet_header(b.octets(), to, mac_, ethertype::arp);
  write_arp(b.octets().subspan(ethernet_header_size), a);
  return b;
}

void ipv4_layer::announce(std::vector<buffer>& out) const {
  out.push_back(arp_frame(announcement(config_.address, mac_), mac_address::broadcast()));
}

std::optional<ipv4_delivery> ipv4_layer::input(const frame& f, time_point now,
                                               std::vector<buffer>& out) {
  auto e = parse_ethernet(f.data.octets());
  if (!e) {
    drop(drop_reason::bad_frame);
    return std::nullopt;
  }
  if (e->destination != mac_ && !e->destination.is_multicast()) {
    drop(drop_reason::not_for_us);
    return std::nullopt;
  }
  switch (static_cast<ethertype>(e->type)) {
    case ethertype::arp:
      input_arp(e->payload, now, out);
      return std::nullopt;
    case ethertype::ipv4:
      return input_ipv4(f, e->payload, now, out);
    default:
      drop(drop_reason::not_for_us);
      return std::nullopt;
  }
}

void ipv4_layer::input_arp(std::span<const std::uint8_t> payload, time_point now,
                           std::vector<buffer>& out) {
  auto a = parse_arp(payload);
  if (!a) {
    drop(drop_reason::bad_frame);
    return;
  }
  // A neighbour claiming our own address is a conflict, not a mapping to learn.
  if (a->sender_ip == config_.address) {
    drop(drop_reason::bad_source);
    return;
  }
  const bool for_us = a->target_ip == config_.address;
  for (auto& waiting : arp_.learn(a->sender_ip, a->sender_mac, for_us, now)) {
    set_destination(waiting, a->sender_mac);
    out.push_back(std::move(waiting));
  }
  if (auto reply = reply_to(*a, config_.address, mac_))
    out.push_back(arp_frame(*reply, a->sender_mac));
}

std::optional<ipv4_delivery> ipv4_layer::input_ipv4(const frame& f,
                                                    std::span<const std::uint8_t> payload,
                                                    time_point now, std::vector<buffer>& out) {
  auto p = parse_ipv4(payload, !f.checksums_verified);
  if (!p) {
    drop(p.error() == stack_errc::source_routed ? drop_reason::source_routed
                                                : drop_reason::bad_packet);
    return std::nullopt;
  }
  const ipv4_header& h = p->header;
  if (h.destination != config_.address && !is_broadcast(h.destination)) {
    drop(drop_reason::not_for_us);  // a host does not forward
    return std::nullopt;
  }
  if (h.source == config_.address || is_broadcast(h.source) || h.source.is_multicast()) {
    drop(drop_reason::bad_source);
    return std::nullopt;
  }

  ipv4_delivery d;
  d.checksums_verified = f.checksums_verified;
  if (h.is_fragment()) {
    auto whole = reassembly_.add(*p, now);
    if (!whole) return std::nullopt;
    d.header = whole->header;
    d.packet = buffer::create(ipv4_min_header_size + whole->payload.size());
    write_ipv4_header(d.packet.octets(), d.header);
    std::copy_n(whole->payload.data(), whole->payload.size(),
                d.packet.data() + ipv4_min_header_size);
    d.payload = d.packet.shift(ipv4_min_header_size);
    d.checksums_verified = false;  // the device saw fragments, not this datagram
  } else {
    d.header = h;
    d.packet = f.data.sub(ethernet_header_size, h.total_length);
    d.payload = d.packet.shift(h.header_length);
  }

  if (d.header.protocol == static_cast<std::uint8_t>(ip_protocol::icmp)) {
    auto m = parse_icmp(d.payload.octets(), !d.checksums_verified);
    if (!m) {
      drop(drop_reason::bad_packet);
      return std::nullopt;
    }
    if (m->type == static_cast<std::uint8_t>(icmp_type::echo_request)) {
      // Echo to a broadcast address is not answered (RFC 1122 §3.2.2.6 allows silence; it
      // makes the host useless as a smurf amplifier).
      if (is_broadcast(d.header.destination))
        drop(drop_reason::not_for_us);
      else
        answer_echo(d, *m, now, out);
      return std::nullopt;
    }
  }
  return d;
}

void ipv4_layer::answer_echo(const ipv4_delivery& request, const icmp_message& m, time_point now,
                             std::vector<buffer>& out) {
  buffer reply = buffer::create(icmp_header_size + m.body.size());
  auto bytes = reply.octets();
  std::copy(m.body.begin(), m.body.end(), bytes.begin() + icmp_header_size);
  checksum body;
  body.add(m.body);
  write_icmp_header(bytes, static_cast<std::uint8_t>(icmp_type::echo_reply), 0, m.rest, body);
  (void)send(request.header.source, ip_protocol::icmp, reply, now, out);
}

bool ipv4_layer::take_icmp_token(time_point now) {
  double elapsed = std::chrono::duration<double>(now - icmp_refilled_).count();
  icmp_refilled_ = now;
  icmp_tokens_ =
      std::min(options_.icmp_error_burst, icmp_tokens_ + elapsed * options_.icmp_errors_per_second);
  if (icmp_tokens_ < 1) return false;
  icmp_tokens_ -= 1;
  return true;
}

void ipv4_layer::send_unreachable(const ipv4_delivery& cause, unreachable_code code, time_point now,
                                  std::vector<buffer>& out) {
  const ipv4_header& h = cause.header;
  // RFC 1122 §3.2.2: no error about an ICMP error (nor any ICMP: only the transports ask), a
  // broadcast or multicast, a later fragment, or a source that names no single host.
  if (h.protocol == static_cast<std::uint8_t>(ip_protocol::icmp) || is_broadcast(h.destination) ||
      h.destination.is_multicast() || h.fragment_offset != 0 || h.source.is_unspecified() ||
      is_broadcast(h.source) || h.source.is_multicast())
    return;
  if (!take_icmp_token(now)) {
    drop(drop_reason::icmp_rate_limited);
    return;
  }
  std::size_t quoted =
      std::min(cause.packet.size(), icmp_error_max - ipv4_min_header_size - icmp_header_size);
  buffer message = buffer::create(icmp_header_size + quoted);
  std::copy_n(cause.packet.data(), quoted, message.data() + icmp_header_size);
  checksum body;
  body.add(message.octets().subspan(icmp_header_size));
  write_icmp_header(message.octets(), static_cast<std::uint8_t>(icmp_type::destination_unreachable),
                    static_cast<std::uint8_t>(code), 0, body);
  (void)send(h.source, ip_protocol::icmp, message, now, out);
}

result<void> ipv4_layer::send(const asio::ip::address_v4& destination, ip_protocol protocol,
                              const buffer& payload, time_point now, std::vector<buffer>& out) {
  if (payload.size() > max_ip_payload) return fail(std::make_error_code(std::errc::message_size));
  auto hop = hop_for(destination);
  if (!hop) {
    drop(drop_reason::no_route);
    return fail(net::net_errc::unreachable);
  }
  ipv4_header h;
  h.identification = next_id_++;
  h.ttl = options_.ttl;
  h.protocol = static_cast<std::uint8_t>(protocol);
  h.source = config_.address;
  h.destination = destination;
  // Every fragment but the last carries a multiple of 8 octets (RFC 791 §3.2).
  const std::size_t chunk =
      payload.size() <= max_payload() ? payload.size() : max_payload() / 8 * 8;
  std::size_t offset = 0;
  do {
    std::size_t size = std::min(payload.size() - offset, chunk);
    h.fragment_offset = static_cast<std::uint16_t>(offset);
    h.more_fragments = offset + size < payload.size();
    h.total_length = static_cast<std::uint16_t>(ipv4_min_header_size + size);
    buffer f = buffer::create(ethernet_header_size + h.total_length);
    auto bytes = f.octets();
    write_ethernet_header(bytes, mac_address{}, mac_, ethertype::ipv4);
    write_ipv4_header(bytes.subspan(ethernet_header_size), h);
    std::copy_n(payload.data() + offset, size,
                f.data() + ethernet_header_size + ipv4_min_header_size);
    transmit(*hop, std::move(f), now, out);
    offset += size;
  } while (offset < payload.size());
  return {};
}

std::optional<asio::ip::address_v4> ipv4_layer::hop_for(
    const asio::ip::address_v4& destination) const {
  if (on_link(destination) || destination == asio::ip::address_v4::broadcast()) return destination;
  return config_.gateway;
}

void ipv4_layer::transmit(const asio::ip::address_v4& hop, buffer frame, time_point now,
                          std::vector<buffer>& out) {
  if (is_broadcast(hop)) {
    set_destination(frame, mac_address::broadcast());
    out.push_back(std::move(frame));
    return;
  }
  if (auto mac = arp_.lookup(hop, now)) {
    set_destination(frame, *mac);
    out.push_back(std::move(frame));
    return;
  }
  switch (arp_.hold(hop, std::move(frame), now)) {
    case arp_cache::held::ask:
      out.push_back(arp_frame(request_for(hop, config_.address, mac_), mac_address::broadcast()));
      break;
    case arp_cache::held::waiting:
      break;
    case arp_cache::held::refused:
      drop(drop_reason::arp_refused);
      break;
  }
}

std::vector<asio::ip::address_v4> ipv4_layer::poll(time_point now, std::vector<buffer>& out) {
  auto due = arp_.poll(now);
  for (const auto& ip : due.ask)
    out.push_back(arp_frame(request_for(ip, config_.address, mac_), mac_address::broadcast()));
  std::vector<asio::ip::address_v4> unreachable;
  for (auto& [ip, packets] : due.given_up) {
    drops_[static_cast<std::size_t>(drop_reason::arp_unanswered)] += packets.size();
    unreachable.push_back(ip);
  }
  reassembly_.poll(now);
  return unreachable;
}

std::optional<ipv4_layer::time_point> ipv4_layer::next_deadline() const {
  auto a = arp_.next_deadline();
  auto r = reassembly_.next_deadline();
  if (a && r) return std::min(*a, *r);
  return a ? a : r;
}

}  // namespace flowstack::stack
