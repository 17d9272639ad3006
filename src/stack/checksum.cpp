#include <bit>
#include <cstring>
#include <flowstack/stack/checksum.hpp>

namespace flowstack::stack {
namespace {

std::uint16_t fold(std::uint64_t s) noexcept {
  s = (s & 0xffffffff) + (s >> 32);
  s = (s & 0xffffffff) + (s >> 32);
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return static_cast<std::uint16_t>(s);
}

// The folded sum of `bytes` read as big-endian words from an even offset. Summing words in the
// machine's own order and swapping once at the end gives the same sum (RFC 1071 §2(B)), so the
// loop adds 32-bit halves of eight-byte loads into 64-bit sums, which no packet can overflow
// (that would take 2^32 of them), with no carry to propagate until the fold; two sums let the
// processor run the additions side by side.
std::uint16_t sum_of(std::span<const std::uint8_t> bytes) noexcept {
  std::uint64_t acc = 0, acc2 = 0;
  std::size_t i = 0;
  const std::size_t n = bytes.size();
  for (; i + 16 <= n; i += 16) {
    std::uint64_t w, v;
    std::memcpy(&w, bytes.data() + i, 8);
    std::memcpy(&v, bytes.data() + i + 8, 8);
    acc += (w & 0xffffffff) + (w >> 32);
    acc2 += (v & 0xffffffff) + (v >> 32);
  }
  for (; i + 8 <= n; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, bytes.data() + i, 8);
    acc += (w & 0xffffffff) + (w >> 32);
  }
  acc += acc2;
  acc += acc < acc2;  // the end-around carry
  for (; i + 2 <= n; i += 2) {
    std::uint16_t w;
    std::memcpy(&w, bytes.data() + i, 2);
    acc += w;
    acc += acc < w;
  }
  if (i < n) {
    const std::uint8_t last[2] = {bytes[i], 0};  // an odd end is padded with a zero octet
    std::uint16_t w;
    std::memcpy(&w, last, 2);
    acc += w;
    acc += acc < w;
  }
  std::uint16_t native = fold(acc);
  if constexpr (std::endian::native == std::endian::little) native = std::byteswap(native);
  return native;
}

}  // namespace

void checksum::add(std::span<const std::uint8_t> bytes) noexcept {
  std::uint16_t s = sum_of(bytes);
  // A piece that starts in the middle of a word has its bytes in the other halves of the words.
  if (odd_) s = std::byteswap(s);
  sum_ += s;
  if (bytes.size() % 2 == 1) odd_ = !odd_;
}

std::uint16_t checksum::value() const noexcept {
  return static_cast<std::uint16_t>(~fold(sum_));
}

std::uint16_t internet_checksum(std::span<const std::uint8_t> bytes) noexcept {
  checksum c;
  c.add(bytes);
  return c.value();
}

}  // namespace flowstack::stack
