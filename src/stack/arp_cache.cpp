#include <algorithm>
#include <flowstack/stack/arp_cache.hpp>

namespace flowstack::stack {

std::optional<mac_address> arp_cache::lookup(const asio::ip::address_v4& ip, time_point now) const {
  auto it = entries_.find(ip.to_uint());
  if (it == entries_.end() || !it->second.mac || now >= it->second.deadline) return std::nullopt;
  return it->second.mac;
}

bool arp_cache::make_room() {
  if (entries_.size() < options_.max_entries) return true;
  auto oldest = entries_.end();
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->second.mac &&
        (oldest == entries_.end() || it->second.deadline < oldest->second.deadline))
      oldest = it;
  }
  if (oldest == entries_.end()) return false;
  entries_.erase(oldest);
  return true;
}

arp_cache::held arp_cache::hold(const asio::ip::address_v4& ip, buffer packet, time_point now) {
  auto it = entries_.find(ip.to_uint());
  if (it != entries_.end() && it->second.mac && now >= it->second.deadline) {
    entries_.erase(it);  // a forgotten answer: ask again
    it = entries_.end();
  }
  if (it == entries_.end()) {
    if (!make_room()) return held::refused;
    entry e;
    e.requests = 1;
    e.deadline = now + options_.retry;
    e.waiting.push_back(std::move(packet));
    entries_.emplace(ip.to_uint(), std::move(e));
    return held::ask;
  }
  entry& e = it->second;
  if (e.waiting.size() >= options_.max_waiting) e.waiting.erase(e.waiting.begin());
  e.waiting.push_back(std::move(packet));
  return held::waiting;
}

std::vector<buffer> arp_cache::learn(const asio::ip::address_v4& ip, const mac_address& mac,
                                     bool for_us, time_point now) {
  // Addresses no neighbour may claim: they would divert traffic nowhere or everywhere.
  if (ip.is_unspecified() || ip == asio::ip::address_v4::broadcast() || ip.is_multicast() ||
      mac.is_multicast() || mac.is_zero())
    return {};
  auto it = entries_.find(ip.to_uint());
  if (it == entries_.end()) {
    if (!for_us || !make_room()) return {};
    it = entries_.emplace(ip.to_uint(), entry{}).first;
  }
  entry& e = it->second;
  e.mac = mac;
  e.deadline = now + options_.reachable;
  e.requests = 0;
  return std::exchange(e.waiting, {});
}

arp_cache::due arp_cache::poll(time_point now) {
  due out;
  for (auto it = entries_.begin(); it != entries_.end();) {
    entry& e = it->second;
    auto ip = asio::ip::address_v4(it->first);
    if (now < e.deadline) {
      ++it;
    } else if (e.mac) {
      it = entries_.erase(it);
    } else if (e.requests >= options_.max_requests) {
      out.given_up.emplace_back(ip, std::move(e.waiting));
      it = entries_.erase(it);
    } else {
      ++e.requests;
      e.deadline = now + options_.retry;
      out.ask.push_back(ip);
      ++it;
    }
  }
  return out;
}

std::optional<arp_cache::time_point> arp_cache::next_deadline() const {
  std::optional<time_point> next;
  for (const auto& [ip, e] : entries_) {
    if (!next || e.deadline < *next) next = e.deadline;
  }
  return next;
}

std::optional<arp_packet> reply_to(const arp_packet& request, const asio::ip::address_v4& our_ip,
                                   const mac_address& our_mac) {
  if (request.operation != arp_operation::request || request.target_ip != our_ip)
    return std::nullopt;
  // A probe (RFC 5227 §2.1.1) has sender address 0: it is answered like any request.
  arp_packet reply;
  reply.operation = arp_operation::reply;
  reply.sender_mac = our_mac;
  reply.sender_ip = our_ip;
  reply.target_mac = request.sender_mac;
  reply.target_ip = request.sender_ip;
  return reply;
}

arp_packet request_for(const asio::ip::address_v4& target, const asio::ip::address_v4& our_ip,
                       const mac_address& our_mac) {
  arp_packet p;
  p.operation = arp_operation::request;
  p.sender_mac = our_mac;
  p.sender_ip = our_ip;
  p.target_ip = target;
  return p;
}

arp_packet announcement(const asio::ip::address_v4& our_ip, const mac_address& our_mac) {
  return request_for(our_ip, our_ip, our_mac);
}

}  // namespace flowstack::stack
