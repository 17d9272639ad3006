// Fuzz target for vchan's header and index validation (include/flowstack/vchan/ring.hpp).
//
// The input is a hostile peer: its first 24 bytes are the shared header, the next byte picks
// the size of the shared memory and which end we play, and every later group of bytes is one
// step: we read, we write, or the peer overwrites an index, an order or a flag. Whatever it
// does, validation must give a value or vchan_errc::corrupt, never read or write outside the
// memory (the sanitizers check) nor report more bytes than a ring holds.
//
// With clang this is a libFuzzer target; with g++ it is linked with replay_main.cpp, which runs
// it over the files and directories named on the command line (the corpus).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <flowstack/vchan/ring.hpp>
#include <memory>
#include <vector>

namespace {

using namespace flowstack::vchan;

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "vchan_header_fuzz: invariant broken: %s\n", what);
  std::abort();
}

constexpr std::size_t memory_sizes[] = {100, 4096, 4096 + 64 * 1024, 4096 + 128 * 1024};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < layout::header_size + 1) return 0;
  std::uint8_t choice = data[layout::header_size];
  std::size_t memory_size = memory_sizes[choice % 4];
  // Page-aligned, as a mapping is; exactly memory_size bytes usable so ASan sees overruns.
  std::unique_ptr<std::byte, decltype(&std::free)> owner(
      static_cast<std::byte*>(std::aligned_alloc(
          layout::page_size,
          (memory_size + layout::page_size - 1) / layout::page_size * layout::page_size)),
      &std::free);
  std::byte* memory = owner.get();
  std::memset(memory, 0, memory_size);
  std::memcpy(memory, data, std::min(memory_size, layout::header_size));
  auto l = validate_header({memory, memory_size});
  if (!l) {
    check(l.error() == vchan_errc::corrupt, "validation fails only as corrupt");
    return 0;
  }
  check(l->total_size <= memory_size, "rings inside the memory");
  channel_end end(memory, *l, (choice & 4) ? role::client : role::server);
  std::vector<std::byte> scratch(4096);
  for (std::size_t at = layout::header_size + 1; at + 5 <= size; at += 5) {
    std::uint8_t op = data[at];
    std::uint32_t value;
    std::memcpy(&value, data + at + 1, sizeof value);
    switch (op % 5) {
      case 0: {
        auto ready = end.readable();
        if (!ready) break;
        check(*ready <= end.read_ring_size(), "never more readable than the ring holds");
        std::size_t n = std::min<std::size_t>(*ready, value % 4096 + 1);
        end.read({scratch.data(), n});
        break;
      }
      case 1: {
        auto space = end.writable();
        if (!space) break;
        check(*space <= end.write_ring_size(), "never more space than the ring has");
        std::size_t n = std::min<std::size_t>(*space, value % 4096 + 1);
        end.write({scratch.data(), n});
        break;
      }
      case 2:  // the peer writes any of the four indices
        std::memcpy(memory + (op / 5 % 4) * 4, &value, sizeof value);
        break;
      case 3: {  // the peer writes an order
        auto order = static_cast<std::uint16_t>(value);
        std::memcpy(memory + layout::left_order + (op / 5 % 2) * 2, &order, sizeof order);
        break;
      }
      case 4:  // the peer writes a live or notify byte
        memory[layout::cli_live + op / 5 % 4] = static_cast<std::byte>(value);
        (void)end.peer_live();
        (void)end.peer_shut_write();
        break;
    }
  }
  return 0;
}
