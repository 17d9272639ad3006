#include <flowstack/stack/reassembly.hpp>

namespace flowstack::stack {

namespace {
constexpr std::size_t max_datagram_payload = 65535 - ipv4_min_header_size;
}

void reassembly::drop(std::map<key, partial>::iterator it, std::size_t& reason) {
  bytes_ -= it->second.bytes;
  datagrams_.erase(it);
  ++reason;
}

bool reassembly::make_room(std::size_t bytes, const key& keeping, bool new_datagram) {
  if (bytes > options_.max_bytes) return false;
  auto full = [&] {
    return bytes_ + bytes > options_.max_bytes ||
           (new_datagram && datagrams_.size() >= options_.max_datagrams);
  };
  while (full()) {
    auto oldest = datagrams_.end();
    for (auto it = datagrams_.begin(); it != datagrams_.end(); ++it) {
      if (it->first != keeping &&
          (oldest == datagrams_.end() || it->second.deadline < oldest->second.deadline))
        oldest = it;
    }
    if (oldest == datagrams_.end()) return false;
    drop(oldest, dropped_.evicted);
  }
  return true;
}

std::optional<reassembly::datagram> reassembly::add(const ipv4_packet& fragment, time_point now) {
  const ipv4_header& h = fragment.header;
  const std::size_t offset = h.fragment_offset;
  const std::size_t size = fragment.payload.size();
  key k{h.source.to_uint(), h.destination.to_uint(), h.protocol, h.identification};
  const bool new_datagram = !datagrams_.contains(k);
  if (!make_room(size, k, new_datagram)) {
    auto it = datagrams_.find(k);
    if (it != datagrams_.end())
      drop(it, dropped_.evicted);
    else
      ++dropped_.evicted;
    return std::nullopt;
  }
  auto it = datagrams_.try_emplace(k, partial{.deadline = now + options_.timeout}).first;
  partial& d = it->second;

  const bool last = !h.more_fragments;
  if (offset + size > max_datagram_payload || (!last && size % 8 != 0) ||
      (last && d.end && *d.end != offset + size) || (d.end && offset + size > *d.end) ||
      d.pieces.size() >= options_.max_fragments) {
    drop(it, dropped_.malformed);
    return std::nullopt;
  }
  // The piece before and the piece after must end before, and start after, this one.
  auto after = d.pieces.lower_bound(offset);
  if (after != d.pieces.end() && after->first == offset && after->second.size() == size &&
      std::equal(after->second.bytes().begin(), after->second.bytes().end(),
                 reinterpret_cast<const std::byte*>(fragment.payload.data()))) {
    return std::nullopt;  // an exact duplicate
  }
  bool overlaps = after != d.pieces.end() && after->first < offset + size;
  if (after != d.pieces.begin()) {
    auto before = std::prev(after);
    overlaps = overlaps || before->first + before->second.size() > offset;
  }
  if (overlaps) {
    drop(it, dropped_.overlapping);
    return std::nullopt;
  }
  if (last) {
    d.end = offset + size;
    if (!d.pieces.empty() &&
        std::prev(d.pieces.end())->first + std::prev(d.pieces.end())->second.size() > *d.end) {
      drop(it, dropped_.malformed);
      return std::nullopt;
    }
  }
  if (offset == 0) d.first = h;
  d.pieces.emplace(offset, buffer::copy_of(std::as_bytes(fragment.payload)));
  d.bytes += size;
  bytes_ += size;
  return complete(it);
}

std::optional<reassembly::datagram> reassembly::complete(std::map<key, partial>::iterator it) {
  partial& d = it->second;
  if (!d.end || !d.first) return std::nullopt;
  std::size_t covered = 0;
  for (const auto& [offset, piece] : d.pieces) {
    if (offset != covered) return std::nullopt;  // a hole
    covered += piece.size();
  }
  if (covered != *d.end) return std::nullopt;
  std::vector<buffer> parts;
  parts.reserve(d.pieces.size());
  for (auto& [offset, piece] : d.pieces) parts.push_back(std::move(piece));
  datagram out;
  out.header = *d.first;
  out.header.more_fragments = false;
  out.header.fragment_offset = 0;
  out.header.header_length = ipv4_min_header_size;
  out.header.total_length = static_cast<std::uint16_t>(ipv4_min_header_size + covered);
  out.payload = buffer::concat(parts);
  bytes_ -= d.bytes;
  datagrams_.erase(it);
  return out;
}

void reassembly::poll(time_point now) {
  for (auto it = datagrams_.begin(); it != datagrams_.end();) {
    auto next = std::next(it);
    if (now >= it->second.deadline) drop(it, dropped_.timed_out);
    it = next;
  }
}

std::optional<reassembly::time_point> reassembly::next_deadline() const {
  std::optional<time_point> next;
  for (const auto& [k, d] : datagrams_) {
    if (!next || d.deadline < *next) next = d.deadline;
  }
  return next;
}

}  // namespace flowstack::stack
