#include <algorithm>
#include <atomic>
#include <cstring>
#include <flowstack/vchan/ring.hpp>

namespace flowstack::vchan {
namespace {

template <typename T>
std::atomic_ref<T> shared(T* field) {
  return std::atomic_ref<T>(*field);
}

template <typename T>
T* field_at(std::byte* memory, std::size_t offset) {
  return reinterpret_cast<T*>(memory + offset);
}

template <typename T>
T load_once(const std::byte* memory, std::size_t offset) {
  // Validation reads each field once; atomics because a peer may write them at any time.
  return shared(field_at<T>(const_cast<std::byte*>(memory), offset))
      .load(std::memory_order_acquire);
}

ring_geometry in_page_or_after(unsigned order, std::size_t& next_page_offset) {
  ring_geometry g;
  g.order = order;
  g.size = std::uint32_t{1} << order;
  if (order == layout::small_order) {
    g.offset = layout::small_ring_offset;
  } else if (order == layout::large_order) {
    g.offset = layout::large_ring_offset;
  } else {
    g.offset = next_page_offset;
    next_page_offset += g.size;
  }
  return g;
}

}  // namespace

result<unsigned> order_for_size(std::size_t min_bytes) {
  if (min_bytes == 0 || min_bytes > (std::size_t{1} << layout::max_order)) {
    return fail(vchan_errc::invalid_ring_size);
  }
  unsigned order = static_cast<unsigned>(std::bit_width(min_bytes - 1));
  return std::max(order, layout::min_order);
}

result<shared_layout> place_rings(unsigned left_order, unsigned right_order) {
  auto in_range = [](unsigned o) { return o >= layout::min_order && o <= layout::max_order; };
  if (!in_range(left_order) || !in_range(right_order)) return fail(vchan_errc::corrupt);
  if (left_order == right_order && left_order < 12) return fail(vchan_errc::corrupt);
  shared_layout l;
  std::size_t next = layout::page_size;
  l.left = in_page_or_after(left_order, next);
  l.right = in_page_or_after(right_order, next);
  l.total_size = next;
  return l;
}

result<shared_layout> choose_layout(unsigned left_order, unsigned right_order) {
  if (left_order == right_order && left_order < 12) ++left_order;
  if (left_order == right_order && left_order < 12) ++left_order;
  return place_rings(left_order, right_order);
}

void init_header(std::span<std::byte> memory, const shared_layout& l) {
  std::memset(memory.data(), 0, layout::header_size);
  auto* m = memory.data();
  shared(field_at<std::uint16_t>(m, layout::left_order))
      .store(static_cast<std::uint16_t>(l.left.order), std::memory_order_relaxed);
  shared(field_at<std::uint16_t>(m, layout::right_order))
      .store(static_cast<std::uint16_t>(l.right.order), std::memory_order_relaxed);
  shared(field_at<std::uint8_t>(m, layout::cli_live))
      .store(layout::live_waiting, std::memory_order_relaxed);
  shared(field_at<std::uint8_t>(m, layout::srv_live))
      .store(layout::live_open, std::memory_order_release);
}

result<shared_layout> validate_header(std::span<const std::byte> memory) {
  if (memory.size() < layout::page_size) return fail(vchan_errc::corrupt);
  auto left = load_once<std::uint16_t>(memory.data(), layout::left_order);
  auto right = load_once<std::uint16_t>(memory.data(), layout::right_order);
  auto l = place_rings(left, right);
  if (!l) return l;
  if (l->total_size > memory.size()) return fail(vchan_errc::corrupt);
  for (auto offset : {layout::cli_live, layout::srv_live}) {
    if (load_once<std::uint8_t>(memory.data(), offset) > layout::live_waiting) {
      return fail(vchan_errc::corrupt);
    }
  }
  return l;
}

result<std::uint32_t> ring_fill(std::uint32_t prod, std::uint32_t cons, std::uint32_t size) {
  std::uint32_t fill = prod - cons;  // free-running counters: wrap-around is intended
  if (fill > size) return fail(vchan_errc::corrupt);
  return fill;
}

channel_end::channel_end(std::byte* memory, const shared_layout& l, role r) {
  auto make_ring = [memory](std::size_t cons, std::size_t prod, std::size_t order,
                            const ring_geometry& g) {
    ring x;
    x.cons = field_at<std::uint32_t>(memory, cons);
    x.prod = field_at<std::uint32_t>(memory, prod);
    x.order_field = field_at<std::uint16_t>(memory, order);
    x.data = memory + g.offset;
    x.size = g.size;
    x.order = static_cast<std::uint16_t>(g.order);
    return x;
  };
  ring left = make_ring(layout::left_cons, layout::left_prod, layout::left_order, l.left);
  ring right = make_ring(layout::right_cons, layout::right_prod, layout::right_order, l.right);
  auto* cli_live = field_at<std::uint8_t>(memory, layout::cli_live);
  auto* srv_live = field_at<std::uint8_t>(memory, layout::srv_live);
  auto* cli_notify = field_at<std::uint8_t>(memory, layout::cli_notify);
  auto* srv_notify = field_at<std::uint8_t>(memory, layout::srv_notify);
  if (r == role::server) {
    read_ = left;
    write_ = right;
    own_live_ = srv_live;
    peer_live_ = cli_live;
    own_notify_ = srv_notify;
    peer_notify_ = cli_notify;
  } else {
    read_ = right;
    write_ = left;
    own_live_ = cli_live;
    peer_live_ = srv_live;
    own_notify_ = cli_notify;
    peer_notify_ = srv_notify;
  }
  // Our own indices, read once: from here on we are their only writer.
  read_cons_ = shared(read_.cons).load(std::memory_order_acquire);
  write_prod_ = shared(write_.prod).load(std::memory_order_acquire);
}

result<std::uint32_t> channel_end::readable() const {
  if (shared(read_.order_field).load(std::memory_order_relaxed) != read_.order) {
    return fail(vchan_errc::corrupt);
  }
  std::uint32_t prod = shared(read_.prod).load(std::memory_order_acquire);
  return ring_fill(prod, read_cons_, read_.size);
}

bool channel_end::read(std::span<std::byte> out) {
  std::uint32_t mask = read_.size - 1;
  std::uint32_t at = read_cons_ & mask;
  std::size_t first = std::min<std::size_t>(out.size(), read_.size - at);
  std::memcpy(out.data(), read_.data + at, first);
  std::memcpy(out.data() + first, read_.data, out.size() - first);
  read_cons_ += static_cast<std::uint32_t>(out.size());
  // Release: the writer may reuse the space only after our copy is done.
  shared(read_.cons).store(read_cons_, std::memory_order_release);
  return take_peer_request(layout::notify_read);
}

result<std::uint32_t> channel_end::writable() const {
  if (shared(write_.order_field).load(std::memory_order_relaxed) != write_.order) {
    return fail(vchan_errc::corrupt);
  }
  std::uint32_t cons = shared(write_.cons).load(std::memory_order_acquire);
  auto fill = ring_fill(write_prod_, cons, write_.size);
  if (!fill) return fill;
  return write_.size - *fill;
}

bool channel_end::write(std::span<const std::byte> in) {
  std::uint32_t mask = write_.size - 1;
  std::uint32_t at = write_prod_ & mask;
  std::size_t first = std::min<std::size_t>(in.size(), write_.size - at);
  std::memcpy(write_.data + at, in.data(), first);
  std::memcpy(write_.data, in.data() + first, in.size() - first);
  write_prod_ += static_cast<std::uint32_t>(in.size());
  // Release: the reader sees the bytes before the index that covers them.
  shared(write_.prod).store(write_prod_, std::memory_order_release);
  return take_peer_request(layout::notify_write);
}

bool channel_end::take_peer_request(std::uint8_t bit) const {
  // The index store above must be visible before we look at the peer's request bit, and the
  // peer sets its bit before it re-checks the index: a full fence on both sides, so one of us
  // always sees the other (no lost wake-up).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  auto notify = shared(peer_notify_);
  if ((notify.load(std::memory_order_relaxed) & bit) == 0) return false;
  return (notify.fetch_and(static_cast<std::uint8_t>(~bit), std::memory_order_seq_cst) & bit) != 0;
}

void channel_end::request(std::uint8_t bits) const {
  shared(own_notify_).fetch_or(bits, std::memory_order_seq_cst);
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

result<std::uint8_t> channel_end::peer_live() const {
  std::uint8_t live = shared(peer_live_).load(std::memory_order_acquire);
  if (live > layout::live_waiting) return fail(vchan_errc::corrupt);
  return live;
}

bool channel_end::peer_shut_write() const {
  return (shared(peer_notify_).load(std::memory_order_acquire) & layout::shut_write) != 0;
}

bool channel_end::peer_shut_read() const {
  return (shared(peer_notify_).load(std::memory_order_acquire) & layout::shut_read) != 0;
}

void channel_end::set_live(std::uint8_t value) const {
  shared(own_live_).store(value, std::memory_order_release);
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

void channel_end::set_shut_write() const {
  shared(own_notify_).fetch_or(layout::shut_write, std::memory_order_seq_cst);
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

void channel_end::set_shut_read() const {
  shared(own_notify_).fetch_or(layout::shut_read, std::memory_order_seq_cst);
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

}  // namespace flowstack::vchan
