// The shared memory of a vchan: Xen libxenvchan's layout, read and written through atomics.
//
// The first page starts with a 24-byte little-endian header (xen/include/public/io/libxenvchan.h,
// struct vchan_interface):
//
//   offset  size  field
//        0     4  left.cons     left ring: the client writes, the server reads
//        4     4  left.prod
//        8     4  right.cons    right ring: the server writes, the client reads
//       12     4  right.prod
//       16     2  left_order    ring size is 1 << order
//       18     2  right_order
//       20     1  cli_live      0 closed, 1 live, 2 not yet connected
//       21     1  srv_live
//       22     1  cli_notify    what the client asks to be told about (bits below)
//       23     1  srv_notify    what the server asks to be told about
//
// A ring of order 10 (1 KiB) lives in the first page at offset 1024, one of order 11 (2 KiB) at
// offset 2048; larger rings live in further pages: the left ring at offset 4096, then the right
// ring. Xen stops at order 20 (1 MiB); flowstack ends accept up to order 28 (256 MiB), since both
// ends here are flowstack.
//
// Indices are free-running 32-bit counters: a ring holds prod - cons bytes, at offset
// index & (size - 1). Every index the peer writes is read once per decision and checked
// (prod - cons never above the ring size); a violation is vchan_errc::corrupt.
//
// Notification (libxenvchan's protocol): an end that waits sets a bit in its own notify byte
// (notify_write: "tell me when you write", notify_read: "tell me when you read"), re-checks the
// ring, then sleeps; the other end, after moving an index, clears that bit in the peer's byte
// and signals only when the bit was set.
//
// Half-close (flowstack's addition; Xen has none): bit 0x80 of an end's own notify byte means
// "this end has shut down its write side": the peer reads eof once its read ring is empty.
// Bit 0x40 means "this end has shut down its read side": nobody will read what the peer writes,
// so the peer's writes fail `closed` (as a write to a closed peer does) instead of filling the
// ring and then waiting forever. Xen's code only ever clears bits 0x1 and 0x2 of that byte, so
// both bits survive a Xen peer (which ignores them).
#pragma once

#include <flowstack/core/error.hpp>
#include <flowstack/vchan/error.hpp>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>

namespace flowstack::vchan {

static_assert(std::endian::native == std::endian::little,
              "the vchan header is little-endian and is accessed in place");

namespace layout {
inline constexpr std::size_t header_size = 24;
inline constexpr std::size_t left_cons = 0;
inline constexpr std::size_t left_prod = 4;
inline constexpr std::size_t right_cons = 8;
inline constexpr std::size_t right_prod = 12;
inline constexpr std::size_t left_order = 16;
inline constexpr std::size_t right_order = 18;
inline constexpr std::size_t cli_live = 20;
inline constexpr std::size_t srv_live = 21;
inline constexpr std::size_t cli_notify = 22;
inline constexpr std::size_t srv_notify = 23;

inline constexpr std::size_t page_size = 4096;
inline constexpr unsigned small_order = 10;  // 1 KiB, in the first page
inline constexpr unsigned large_order = 11;  // 2 KiB, in the first page
inline constexpr std::size_t small_ring_offset = 1024;
inline constexpr std::size_t large_ring_offset = 2048;
inline constexpr unsigned min_order = 10;
inline constexpr unsigned xen_max_order = 20;
inline constexpr unsigned max_order = 28;

inline constexpr std::uint8_t live_closed = 0;
inline constexpr std::uint8_t live_open = 1;
inline constexpr std::uint8_t live_waiting = 2;

inline constexpr std::uint8_t notify_write = 0x01;  // wake me when the peer writes
inline constexpr std::uint8_t notify_read = 0x02;   // wake me when the peer reads
inline constexpr std::uint8_t shut_write = 0x80;    // flowstack: my write side is shut down
inline constexpr std::uint8_t shut_read = 0x40;     // flowstack: my read side is shut down
}  // namespace layout

// Where one ring lives in the shared memory.
struct ring_geometry {
  unsigned order = 0;
  std::size_t offset = 0;
  std::uint32_t size = 0;
};

struct shared_layout {
  ring_geometry left;   // client -> server
  ring_geometry right;  // server -> client
  std::size_t total_size = 0;
};

// The ring order for at least `min_bytes` (a power of two, at least 1 KiB); invalid_ring_size
// for 0 or more than 1 << max_order.
result<unsigned> order_for_size(std::size_t min_bytes);

// The layout for two ring orders; corrupt when an order is out of range or both rings claim the
// same slot of the first page.
result<shared_layout> place_rings(unsigned left_order, unsigned right_order);

// The server's choice for two wanted orders: when both fit in the first page but want the same
// slot, the left ring moves up to the next slot or out of the page (sizes are minimums).
result<shared_layout> choose_layout(unsigned left_order, unsigned right_order);

// Writes the header of a fresh channel: indices 0, the orders, srv_live 1, cli_live 2.
void init_header(std::span<std::byte> memory, const shared_layout& layout);

// Checks a header the client is about to use: orders, the memory's size, live values.
result<shared_layout> validate_header(std::span<const std::byte> memory);

// Bytes a ring holds between `cons` and `prod`; corrupt when more than `size`.
result<std::uint32_t> ring_fill(std::uint32_t prod, std::uint32_t cons, std::uint32_t size);

enum class role { server, client };

// One end's side of the shared memory. Keeps its own index of each ring privately (it is the
// only writer of them) and reads only the peer's index from shared memory, once per decision.
class channel_end {
 public:
  channel_end() = default;
  channel_end(std::byte* memory, const shared_layout& layout, role r);

  std::uint32_t read_ring_size() const noexcept { return read_.size; }
  std::uint32_t write_ring_size() const noexcept { return write_.size; }

  // Bytes ready in the read ring, or corrupt.
  result<std::uint32_t> readable() const;
  // Copies `out.size()` bytes (at most what readable() gave) out of the read ring and frees
  // their space. Returns true when the peer asked to hear about it (signal it).
  bool read(std::span<std::byte> out);

  // Free space in the write ring, or corrupt.
  result<std::uint32_t> writable() const;
  // Copies `in` (at most what writable() gave) into the write ring and publishes it. Returns
  // true when the peer asked to hear about it (signal it).
  bool write(std::span<const std::byte> in);

  // Sets bits in this end's notify byte, then orders later loads after it (no lost wake-up).
  void request(std::uint8_t bits) const;

  // The peer's live byte (0, 1, 2) or corrupt.
  result<std::uint8_t> peer_live() const;
  bool peer_shut_write() const;
  bool peer_shut_read() const;
  void set_live(std::uint8_t value) const;
  void set_shut_write() const;
  void set_shut_read() const;

 private:
  struct ring {
    std::uint32_t* cons = nullptr;
    std::uint32_t* prod = nullptr;
    std::uint16_t* order_field = nullptr;
    std::byte* data = nullptr;
    std::uint32_t size = 0;
    std::uint16_t order = 0;
  };
  bool take_peer_request(std::uint8_t bit) const;

  ring read_;
  ring write_;
  std::uint32_t read_cons_ = 0;   // our copy of read_.cons
  std::uint32_t write_prod_ = 0;  // our copy of write_.prod
  std::uint8_t* own_live_ = nullptr;
  std::uint8_t* peer_live_ = nullptr;
  std::uint8_t* own_notify_ = nullptr;
  std::uint8_t* peer_notify_ = nullptr;
};

}  // namespace flowstack::vchan
