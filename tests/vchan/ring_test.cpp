#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <flowstack/vchan/ring.hpp>
#include <numeric>
#include <vector>

namespace flowstack::vchan {
namespace {

// Page-aligned memory standing in for the shared mapping.
struct fake_shared_memory {
  explicit fake_shared_memory(std::size_t size) : bytes(size + layout::page_size) {
    auto address = reinterpret_cast<std::uintptr_t>(bytes.data());
    auto aligned = (address + layout::page_size - 1) & ~(layout::page_size - 1);
    base = bytes.data() + (aligned - address);
    span = {base, size};
  }
  std::vector<std::byte> bytes;
  std::byte* base;
  std::span<std::byte> span;
};

void poke32(std::byte* memory, std::size_t offset, std::uint32_t value) {
  std::memcpy(memory + offset, &value, sizeof value);
}
void poke16(std::byte* memory, std::size_t offset, std::uint16_t value) {
  std::memcpy(memory + offset, &value, sizeof value);
}

TEST(vchan_ring, order_for_size_rounds_up_to_a_power_of_two_of_at_least_1_kib) {
  EXPECT_EQ(*order_for_size(1), 10u);
  EXPECT_EQ(*order_for_size(1024), 10u);
  EXPECT_EQ(*order_for_size(1023), 10u);
  EXPECT_EQ(*order_for_size(1025), 11u);
  EXPECT_EQ(*order_for_size(65535), 16u);
  EXPECT_EQ(*order_for_size(std::size_t{1} << 28), 28u);
}

TEST(vchan_ring, order_for_size_rejects_zero_and_too_large) {
  EXPECT_EQ(order_for_size(0).error(), vchan_errc::invalid_ring_size);
  EXPECT_EQ(order_for_size((std::size_t{1} << 28) + 1).error(), vchan_errc::invalid_ring_size);
}

TEST(vchan_ring, small_rings_live_in_the_first_page_at_xen_offsets) {
  auto l = place_rings(11, 10);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->left.offset, 2048u);
  EXPECT_EQ(l->right.offset, 1024u);
  EXPECT_EQ(l->total_size, layout::page_size);
}

TEST(vchan_ring, large_rings_follow_the_first_page_left_then_right) {
  auto l = place_rings(16, 12);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->left.offset, 4096u);
  EXPECT_EQ(l->right.offset, 4096u + 65536u);
  EXPECT_EQ(l->total_size, 4096u + 65536u + 4096u);
}

TEST(vchan_ring, two_rings_in_one_page_slot_are_corrupt) {
  EXPECT_EQ(place_rings(10, 10).error(), vchan_errc::corrupt);
  EXPECT_EQ(place_rings(11, 11).error(), vchan_errc::corrupt);
}

TEST(vchan_ring, orders_out_of_range_are_corrupt) {
  EXPECT_EQ(place_rings(9, 12).error(), vchan_errc::corrupt);
  EXPECT_EQ(place_rings(12, 29).error(), vchan_errc::corrupt);
  EXPECT_EQ(place_rings(65535, 12).error(), vchan_errc::corrupt);
}

TEST(vchan_ring, server_moves_the_left_ring_when_both_want_one_slot) {
  auto both_small = choose_layout(10, 10);
  ASSERT_TRUE(both_small);
  EXPECT_EQ(both_small->left.order, 11u);
  EXPECT_EQ(both_small->right.order, 10u);
  auto both_large = choose_layout(11, 11);
  ASSERT_TRUE(both_large);
  EXPECT_EQ(both_large->left.order, 12u);
  EXPECT_EQ(both_large->left.offset, 4096u);
  EXPECT_EQ(both_large->right.offset, 2048u);
}

TEST(vchan_ring, header_bytes_after_setup_match_the_libxenvchan_layout) {
  auto l = place_rings(18, 11);  // left 256 KiB (order 0x12), right 2 KiB (order 0x0b)
  ASSERT_TRUE(l);
  fake_shared_memory memory(l->total_size);
  std::fill(memory.span.begin(), memory.span.end(), std::byte{0xee});
  init_header(memory.span, *l);
  const std::array<std::uint8_t, 24> expected = {
      0,    0, 0,    0, 0, 0, 0, 0,  // left cons, prod
      0,    0, 0,    0, 0, 0, 0, 0,  // right cons, prod
      0x12, 0, 0x0b, 0,              // left_order, right_order (little-endian)
      2,    1,                       // cli_live: not yet connected; srv_live: live
      0,    0};                      // cli_notify, srv_notify
  std::array<std::uint8_t, 24> actual{};
  std::memcpy(actual.data(), memory.base, actual.size());
  EXPECT_EQ(actual, expected);
  EXPECT_EQ(static_cast<std::uint8_t>(memory.base[24]), 0xee) << "the header is 24 bytes";
}

TEST(vchan_ring, ring_fill_counts_across_index_wrap_around) {
  EXPECT_EQ(*ring_fill(5, 0xfffffffbu, 1024), 10u);
  EXPECT_EQ(*ring_fill(1024, 0, 1024), 1024u);
}

TEST(vchan_ring, ring_fill_above_the_ring_size_is_corrupt) {
  EXPECT_EQ(ring_fill(1025, 0, 1024).error(), vchan_errc::corrupt);
  EXPECT_EQ(ring_fill(0, 1, 1024).error(), vchan_errc::corrupt);
}

struct connected_ends {
  explicit connected_ends(unsigned left, unsigned right)
      : l(*place_rings(left, right)), memory(l.total_size) {
    init_header(memory.span, l);
    server = channel_end(memory.base, l, role::server);
    client = channel_end(memory.base, l, role::client);
    client.set_live(layout::live_open);
  }
  shared_layout l;
  fake_shared_memory memory;
  channel_end server;
  channel_end client;
};

TEST(vchan_ring, bytes_written_wrap_around_the_ring_and_read_back_in_order) {
  connected_ends ends(10, 11);  // client writes the 1 KiB left ring
  std::vector<std::byte> sent(700), got(700);
  for (int round = 0; round < 10; ++round) {
    std::iota(reinterpret_cast<unsigned char*>(sent.data()),
              reinterpret_cast<unsigned char*>(sent.data()) + sent.size(),
              static_cast<unsigned char>(round));
    ASSERT_EQ(*ends.client.writable(), 1024u);
    ends.client.write(sent);
    ASSERT_EQ(*ends.server.readable(), 700u);
    ends.server.read(got);
    EXPECT_EQ(got, sent) << "round " << round;
  }
}

TEST(vchan_ring, writer_signals_only_when_the_reader_asked) {
  connected_ends ends(10, 11);
  std::array<std::byte, 10> some{};
  EXPECT_FALSE(ends.client.write(some));
  ends.server.request(layout::notify_write);
  EXPECT_TRUE(ends.client.write(some));
  EXPECT_FALSE(ends.client.write(some)) << "the request bit is used up by one signal";
}

TEST(vchan_ring, reader_signals_a_writer_waiting_for_space) {
  connected_ends ends(10, 11);
  std::array<std::byte, 1024> full{};
  ends.client.write(full);
  EXPECT_EQ(*ends.client.writable(), 0u);
  ends.client.request(layout::notify_read);
  std::array<std::byte, 10> some{};
  EXPECT_TRUE(ends.server.read(some));
  EXPECT_EQ(*ends.client.writable(), 10u);
}

TEST(vchan_ring, producer_index_a_ring_ahead_is_corrupt) {
  connected_ends ends(10, 11);
  poke32(ends.memory.base, layout::left_prod, 1025);
  EXPECT_EQ(ends.server.readable().error(), vchan_errc::corrupt);
}

TEST(vchan_ring, consumer_index_beyond_the_producer_is_corrupt) {
  connected_ends ends(10, 11);
  poke32(ends.memory.base, layout::right_cons, 7);  // the client "consumed" unwritten bytes
  EXPECT_EQ(ends.server.writable().error(), vchan_errc::corrupt);
}

TEST(vchan_ring, an_order_changed_after_setup_is_corrupt) {
  connected_ends ends(10, 11);
  poke16(ends.memory.base, layout::left_order, 20);
  EXPECT_EQ(ends.server.readable().error(), vchan_errc::corrupt);
  EXPECT_EQ(ends.client.writable().error(), vchan_errc::corrupt);
}

TEST(vchan_ring, unknown_live_value_is_corrupt) {
  connected_ends ends(10, 11);
  ends.memory.base[layout::cli_live] = std::byte{7};
  EXPECT_EQ(ends.server.peer_live().error(), vchan_errc::corrupt);
}

TEST(vchan_ring, shut_write_bit_survives_a_peer_clearing_its_notify_bits) {
  connected_ends ends(10, 11);
  ends.client.set_shut_write();
  ends.client.request(layout::notify_write);
  std::array<std::byte, 1> one{};
  EXPECT_TRUE(ends.server.write(one));  // clears the client's notify_write bit
  EXPECT_TRUE(ends.server.peer_shut_write());
}

TEST(vchan_ring, shut_read_bit_is_seen_by_the_peer_and_survives_it_clearing_notify_bits) {
  connected_ends ends(10, 11);
  EXPECT_FALSE(ends.client.peer_shut_read());
  ends.server.set_shut_read();
  ends.server.request(layout::notify_write);
  std::array<std::byte, 1> one{};
  EXPECT_TRUE(ends.client.write(one));  // clears the server's notify_write bit
  EXPECT_TRUE(ends.client.peer_shut_read());
  EXPECT_FALSE(ends.client.peer_shut_write());
}

TEST(vchan_ring, validate_header_rejects_memory_smaller_than_its_rings) {
  auto l = place_rings(16, 12);
  fake_shared_memory memory(l->total_size);
  init_header(memory.span, *l);
  EXPECT_TRUE(validate_header(memory.span));
  EXPECT_EQ(validate_header(memory.span.first(l->total_size - 1)).error(), vchan_errc::corrupt);
  EXPECT_EQ(validate_header(memory.span.first(100)).error(), vchan_errc::corrupt);
}

TEST(vchan_ring, validate_header_rejects_bad_orders_and_live_values) {
  auto l = place_rings(11, 10);
  fake_shared_memory memory(l->total_size);
  init_header(memory.span, *l);
  poke16(memory.base, layout::right_order, 11);
  EXPECT_EQ(validate_header(memory.span).error(), vchan_errc::corrupt);
  init_header(memory.span, *l);
  memory.base[layout::srv_live] = std::byte{3};
  EXPECT_EQ(validate_header(memory.span).error(), vchan_errc::corrupt);
}

}  // namespace
}  // namespace flowstack::vchan
