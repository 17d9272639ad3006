#include <flowstack/core/buffer.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <ostream>
#include <stdexcept>

namespace flowstack {

buffer buffer::create(std::size_t size) {
  auto b = create_uninitialized(size);
  b.fill(std::byte{0});
  return b;
}

buffer buffer::create_uninitialized(std::size_t size) {
  if (size == 0) return {};
  return buffer(std::make_shared_for_overwrite<std::byte[]>(size), 0, size);
}

buffer buffer::copy_of(std::span<const std::byte> bytes) {
  auto b = create_uninitialized(bytes.size());
  if (!bytes.empty()) std::memcpy(b.data(), bytes.data(), bytes.size());
  return b;
}

buffer buffer::of_string(std::string_view text) {
  return copy_of(std::as_bytes(std::span(text.data(), text.size())));
}

buffer buffer::concat(std::span<const buffer> parts) {
  auto out = create_uninitialized(total_size(parts));
  std::size_t at = 0;
  for (const auto& part : parts) {
    if (part.empty()) continue;
    std::memcpy(out.data() + at, part.data(), part.size());
    at += part.size();
  }
  return out;
}

void buffer::check_range(std::size_t offset, std::size_t length, const char* what) const {
  if (offset > length_ || length > length_ - offset) {
    throw std::out_of_range(std::string("buffer::") + what + ": [" + std::to_string(offset) +
                            ", +" + std::to_string(length) + ") is outside a buffer of " +
                            std::to_string(length_) + " bytes");
  }
}

buffer buffer::sub(std::size_t offset, std::size_t length) const {
  check_range(offset, length, "sub");
  if (length == 0) return {};
  return buffer(block_, offset_ + offset, length);
}

buffer buffer::shift(std::size_t count) const {
  check_range(count, 0, "shift");
  return sub(count, length_ - count);
}

std::pair<buffer, buffer> buffer::split(std::size_t at) const {
  check_range(at, 0, "split");
  return {sub(0, at), sub(at, length_ - at)};
}

buffer buffer::clone() const {
  return copy_of(bytes());
}

std::uint8_t buffer::get_u8(std::size_t offset) const {
  check_range(offset, 1, "get_u8");
  return std::to_integer<std::uint8_t>(data()[offset]);
}

std::uint16_t buffer::get_be16(std::size_t offset) const {
  check_range(offset, 2, "get_be16");
  const auto* p = data() + offset;
  return static_cast<std::uint16_t>(std::to_integer<unsigned>(p[0]) << 8 |
                                    std::to_integer<unsigned>(p[1]));
}

std::uint32_t buffer::get_be32(std::size_t offset) const {
  check_range(offset, 4, "get_be32");
  const auto* p = data() + offset;
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = v << 8 | std::to_integer<std::uint32_t>(p[i]);
  return v;
}

void buffer::set_u8(std::size_t offset, std::uint8_t value) const {
  check_range(offset, 1, "set_u8");
  data()[offset] = std::byte{value};
}

void buffer::set_be16(std::size_t offset, std::uint16_t value) const {
  check_range(offset, 2, "set_be16");
  data()[offset] = std::byte(value >> 8);
  data()[offset + 1] = std::byte(value & 0xff);
}

void buffer::set_be32(std::size_t offset, std::uint32_t value) const {
  check_range(offset, 4, "set_be32");
  for (int i = 0; i < 4; ++i) data()[offset + i] = std::byte((value >> (24 - 8 * i)) & 0xff);
}

void buffer::fill(std::byte value) const noexcept {
  if (length_ != 0) std::memset(data(), std::to_integer<int>(value), length_);
}

std::string buffer::hexdump() const {
  std::string out;
  char line[96];
  for (std::size_t row = 0; row < length_; row += 16) {
    int n = std::snprintf(line, sizeof line, "%08zx ", row);
    out.append(line, static_cast<std::size_t>(n));
    std::string text;
    for (std::size_t i = 0; i < 16; ++i) {
      if (i == 8) out += ' ';
      if (row + i < length_) {
        auto c = std::to_integer<unsigned char>(data()[row + i]);
        n = std::snprintf(line, sizeof line, " %02x", c);
        out.append(line, static_cast<std::size_t>(n));
        text += std::isprint(c) ? static_cast<char>(c) : '.';
      } else {
        out += "   ";
      }
    }
    out += "  |" + text + "|\n";
  }
  return out;
}

bool operator==(const buffer& a, const buffer& b) noexcept {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

std::size_t total_size(std::span<const buffer> buffers) noexcept {
  std::size_t n = 0;
  for (const auto& b : buffers) n += b.size();
  return n;
}

std::ostream& operator<<(std::ostream& out, const buffer& b) {
  auto text = b.as_string_view();
  bool printable = std::all_of(text.begin(), text.end(), [](char c) {
    return std::isprint(static_cast<unsigned char>(c)) || c == '\n' || c == '\t';
  });
  if (printable) return out << '"' << text << '"';
  return out << '\n' << b.hexdump();
}

}  // namespace flowstack
