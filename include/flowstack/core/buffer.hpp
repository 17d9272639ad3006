// buffer: a view over reference-counted memory (the C++ form of mirage's Cstruct).
//
// A buffer is (block, offset, length). Copying a buffer, `sub`, `shift` and `split` share the
// block and never copy bytes; the block is freed when the last buffer viewing it goes away.
// Out-of-range offsets are a program bug and throw std::out_of_range, as Cstruct raises
// Invalid_argument; I/O paths never take a range from the outside unchecked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace flowstack {

class buffer {
 public:
  // An empty buffer: size() == 0, no block.
  buffer() = default;

  // A fresh block of `size` bytes, all zero.
  static buffer create(std::size_t size);
  // A fresh block of `size` bytes whose contents are unspecified (for filling by a read).
  static buffer create_uninitialized(std::size_t size);
  // A fresh block holding a copy of `bytes`.
  static buffer copy_of(std::span<const std::byte> bytes);
  static buffer of_string(std::string_view text);
  // One fresh block holding every buffer's bytes in order.
  static buffer concat(std::span<const buffer> parts);

  std::size_t size() const noexcept { return length_; }
  bool empty() const noexcept { return length_ == 0; }
  std::byte* data() const noexcept { return block_.get() + offset_; }
  std::span<std::byte> bytes() const noexcept { return {data(), length_}; }
  // The bytes as octets, for wire formats that read and write them as numbers.
  std::span<std::uint8_t> octets() const noexcept {
    return {reinterpret_cast<std::uint8_t*>(data()), length_};
  }
  std::string_view as_string_view() const noexcept {
    return {reinterpret_cast<const char*>(data()), length_};
  }
  std::string to_string() const { return std::string(as_string_view()); }

  // Views sharing this buffer's memory.
  buffer sub(std::size_t offset, std::size_t length) const;  // [offset, offset + length)
  buffer shift(std::size_t count) const;                     // drops the first `count` bytes
  std::pair<buffer, buffer> split(std::size_t at) const;     // [0, at) and [at, size)
  // A fresh block with the same bytes (never shares memory with this one).
  buffer clone() const;

  // Byte access with bounds checks; multi-byte values in network (big-endian) order.
  std::uint8_t get_u8(std::size_t offset) const;
  std::uint16_t get_be16(std::size_t offset) const;
  std::uint32_t get_be32(std::size_t offset) const;
  void set_u8(std::size_t offset, std::uint8_t value) const;
  void set_be16(std::size_t offset, std::uint16_t value) const;
  void set_be32(std::size_t offset, std::uint32_t value) const;

  // Fills [0, size) with `value`.
  void fill(std::byte value) const noexcept;

  // Classic `hexdump -C` layout: offset, 16 bytes in hex, the printable characters.
  std::string hexdump() const;

  // Equality of contents, not of memory.
  friend bool operator==(const buffer& a, const buffer& b) noexcept;

  // True when both views share a block (for tests of the no-copy rules).
  bool shares_memory_with(const buffer& other) const noexcept {
    return block_ != nullptr && block_ == other.block_;
  }

 private:
  buffer(std::shared_ptr<std::byte[]> block, std::size_t offset, std::size_t length)
      : block_(std::move(block)), offset_(offset), length_(length) {}
  void check_range(std::size_t offset, std::size_t length, const char* what) const;

  std::shared_ptr<std::byte[]> block_;
  std::size_t offset_ = 0;
  std::size_t length_ = 0;
};

// Total number of bytes in a list of buffers.
std::size_t total_size(std::span<const buffer> buffers) noexcept;

// Prints the bytes as a string when they are printable text, else as a hexdump.
std::ostream& operator<<(std::ostream& out, const buffer& b);

}  // namespace flowstack
