#include <algorithm>
#include <bit>
#include <flowstack/stack/isn.hpp>

namespace flowstack::stack {
namespace {

std::uint64_t load_le64(const std::byte* p) noexcept {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | std::to_integer<std::uint64_t>(p[i]);
  return v;
}

struct sip_state {
  std::uint64_t v0, v1, v2, v3;

  void round() noexcept {
    v0 += v1;
    v1 = std::rotl(v1, 13);
    v1 ^= v0;
    v0 = std::rotl(v0, 32);
    v2 += v3;
    v3 = std::rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = std::rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = std::rotl(v1, 17);
    v1 ^= v2;
    v2 = std::rotl(v2, 32);
  }

  void compress(std::uint64_t m) noexcept {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
};

}  // namespace

std::uint64_t siphash_2_4(std::span<const std::byte, 16> key,
                          std::span<const std::byte> message) noexcept {
  const std::uint64_t k0 = load_le64(key.data()), k1 = load_le64(key.data() + 8);
  // The paper's initialisation constants: "somepseudorandomlygeneratedbytes".
  sip_state s{k0 ^ 0x736f6d6570736575, k1 ^ 0x646f72616e646f6d, k0 ^ 0x6c7967656e657261,
              k1 ^ 0x7465646279746573};
  const std::size_t whole = message.size() / 8 * 8;
  for (std::size_t i = 0; i < whole; i += 8) s.compress(load_le64(message.data() + i));
  // The last word: the remaining bytes, and the message length mod 256 in the top byte.
  std::array<std::byte, 8> last{};
  std::copy(message.begin() + static_cast<std::ptrdiff_t>(whole), message.end(), last.begin());
  last[7] = static_cast<std::byte>(message.size() & 0xff);
  s.compress(load_le64(last.data()));
  s.v2 ^= 0xff;
  for (int i = 0; i < 4; ++i) s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

isn_generator::isn_generator(std::span<const std::byte, 16> seed) noexcept {
  std::copy(seed.begin(), seed.end(), key_.begin());
}

seq32 isn_generator::operator()(const tcp_endpoints& e, clock::time_point now) const noexcept {
  // The 4-tuple in network order: 4 + 2 + 4 + 2 bytes.
  std::array<std::byte, 12> tuple{};
  auto put = [&tuple](std::size_t at, std::uint32_t value, int size) {
    for (int i = 0; i < size; ++i)
      tuple[at + static_cast<std::size_t>(i)] =
          static_cast<std::byte>(value >> (8 * (size - 1 - i)));
  };
  put(0, e.local_ip.to_uint(), 4);
  put(4, e.local_port, 2);
  put(6, e.remote_ip.to_uint(), 4);
  put(10, e.remote_port, 2);
  const auto ticks =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() /
      4;  // RFC 6528 §3: M, a 4-microsecond timer
  const auto m = static_cast<std::uint32_t>(ticks);
  return seq32(m + static_cast<std::uint32_t>(siphash_2_4(key_, tuple)));
}

}  // namespace flowstack::stack
