#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <flowstack/core/buffer.hpp>
#include <sstream>
#include <stdexcept>
#include <string>

namespace flowstack {
namespace {

using namespace std::string_literals;

TEST(buffer, create_gives_zeroed_bytes) {
  auto b = buffer::create(5);
  EXPECT_EQ(b.size(), 5u);
  EXPECT_EQ(b.to_string(), std::string(5, '\0'));
}

TEST(buffer, default_buffer_is_empty) {
  buffer b;
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.size(), 0u);
  EXPECT_EQ(b.to_string(), "");
}

TEST(buffer, of_string_and_to_string_round_trip_every_byte) {
  auto text = "with\0nul and \xff"s;
  EXPECT_EQ(buffer::of_string(text).to_string(), text);
}

TEST(buffer, of_string_copies_the_text) {
  std::string text = "abc";
  auto b = buffer::of_string(text);
  text[0] = 'X';
  EXPECT_EQ(b.to_string(), "abc");
}

TEST(buffer, sub_shares_memory_and_never_copies) {
  auto whole = buffer::of_string("0123456789");
  auto part = whole.sub(2, 5);
  EXPECT_TRUE(part.shares_memory_with(whole));
  EXPECT_EQ(part.data(), whole.data() + 2);
  EXPECT_EQ(part.to_string(), "23456");
  part.set_u8(0, 'X');
  EXPECT_EQ(whole.to_string(), "01X3456789");
}

TEST(buffer, shift_shares_memory_and_never_copies) {
  auto whole = buffer::of_string("0123456789");
  auto rest = whole.shift(7);
  EXPECT_TRUE(rest.shares_memory_with(whole));
  EXPECT_EQ(rest.data(), whole.data() + 7);
  EXPECT_EQ(rest.to_string(), "789");
}

TEST(buffer, split_shares_memory_and_never_copies) {
  auto whole = buffer::of_string("0123456789");
  auto [head, tail] = whole.split(4);
  EXPECT_TRUE(head.shares_memory_with(whole));
  EXPECT_TRUE(tail.shares_memory_with(whole));
  EXPECT_EQ(head.data(), whole.data());
  EXPECT_EQ(tail.data(), whole.data() + 4);
  EXPECT_EQ(head.to_string(), "0123");
  EXPECT_EQ(tail.to_string(), "456789");
}

TEST(buffer, views_keep_the_memory_alive_after_the_original_is_gone) {
  buffer part;
  {
    auto whole = buffer::of_string("0123456789");
    part = whole.sub(5, 5);
  }
  EXPECT_EQ(part.to_string(), "56789");
}

TEST(buffer, sub_of_a_sub_counts_from_the_view) {
  auto whole = buffer::of_string("0123456789");
  EXPECT_EQ(whole.sub(2, 6).sub(1, 3).to_string(), "345");
}

TEST(buffer, views_at_the_edges_are_allowed_and_empty) {
  auto whole = buffer::of_string("0123");
  EXPECT_TRUE(whole.sub(4, 0).empty());
  EXPECT_TRUE(whole.shift(4).empty());
  auto [all, none] = whole.split(4);
  EXPECT_EQ(all.to_string(), "0123");
  EXPECT_TRUE(none.empty());
}

TEST(buffer, out_of_range_sub_throws) {
  auto b = buffer::of_string("01234");
  EXPECT_THROW(b.sub(3, 3), std::out_of_range);
  EXPECT_THROW(b.sub(6, 0), std::out_of_range);
  EXPECT_THROW(b.sub(1, SIZE_MAX), std::out_of_range);  // offset + length wraps around
}

TEST(buffer, out_of_range_shift_and_split_throw) {
  auto b = buffer::of_string("01234");
  EXPECT_THROW(b.shift(6), std::out_of_range);
  EXPECT_THROW(b.split(6), std::out_of_range);
}

TEST(buffer, out_of_range_accessors_throw) {
  auto b = buffer::create(5);
  EXPECT_THROW(b.get_u8(5), std::out_of_range);
  EXPECT_THROW(b.get_be16(4), std::out_of_range);
  EXPECT_THROW(b.get_be32(2), std::out_of_range);
  EXPECT_THROW(b.set_u8(5, 0), std::out_of_range);
  EXPECT_THROW(b.set_be16(4, 0), std::out_of_range);
  EXPECT_THROW(b.set_be32(2, 0), std::out_of_range);
}

TEST(buffer, out_of_range_message_names_the_operation_and_the_range) {
  auto b = buffer::create(5);
  try {
    b.sub(3, 4);
    FAIL() << "no exception";
  } catch (const std::out_of_range& e) {
    EXPECT_EQ(std::string(e.what()), "buffer::sub: [3, +4) is outside a buffer of 5 bytes");
  }
}

TEST(buffer, multi_byte_values_are_big_endian) {
  auto b = buffer::create(6);
  b.set_be16(0, 0x1234);
  b.set_be32(2, 0xdeadbeef);
  EXPECT_EQ(b.get_u8(0), 0x12);
  EXPECT_EQ(b.get_u8(1), 0x34);
  EXPECT_EQ(b.get_u8(2), 0xde);
  EXPECT_EQ(b.get_u8(5), 0xef);
  EXPECT_EQ(b.get_be16(0), 0x1234);
  EXPECT_EQ(b.get_be32(2), 0xdeadbeefu);
  EXPECT_EQ(b.get_be16(1), 0x34de);
}

TEST(buffer, accessors_count_from_the_view) {
  auto whole = buffer::create(8);
  auto view = whole.shift(4);
  view.set_be32(0, 0x01020304);
  EXPECT_EQ(whole.get_be32(4), 0x01020304u);
}

TEST(buffer, concat_joins_parts_in_order_into_a_fresh_block) {
  std::array parts{buffer::of_string("ab"), buffer{}, buffer::of_string("cde")};
  auto joined = buffer::concat(parts);
  EXPECT_EQ(joined.to_string(), "abcde");
  EXPECT_FALSE(joined.shares_memory_with(parts[0]));
  EXPECT_FALSE(joined.shares_memory_with(parts[2]));
}

TEST(buffer, concat_of_nothing_is_empty) {
  EXPECT_TRUE(buffer::concat({}).empty());
}

TEST(buffer, clone_copies_into_a_fresh_block) {
  auto b = buffer::of_string("abc");
  auto c = b.clone();
  EXPECT_FALSE(c.shares_memory_with(b));
  c.set_u8(0, 'X');
  EXPECT_EQ(b.to_string(), "abc");
}

TEST(buffer, equality_compares_contents_not_memory) {
  EXPECT_EQ(buffer::of_string("same"), buffer::of_string("same"));
  EXPECT_FALSE(buffer::of_string("same") == buffer::of_string("diff"));
  EXPECT_FALSE(buffer::of_string("same") == buffer::of_string("sam"));
  EXPECT_EQ(buffer{}, buffer::of_string(""));
}

TEST(buffer, total_size_sums_every_buffer) {
  std::array parts{buffer::create(3), buffer{}, buffer::create(4)};
  EXPECT_EQ(total_size(parts), 7u);
}

TEST(buffer, hexdump_has_the_hexdump_c_layout) {
  auto b = buffer::of_string("0123456789abcdefXY\x01");
  EXPECT_EQ(b.hexdump(),
            "00000000  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  |0123456789abcdef|\n"
            "00000010  58 59 01                                          |XY.|\n");
}

TEST(buffer, hexdump_of_an_empty_buffer_is_empty) {
  EXPECT_EQ(buffer{}.hexdump(), "");
}

TEST(buffer, printing_shows_text_quoted_and_binary_as_a_hexdump) {
  std::ostringstream text;
  text << buffer::of_string("hello");
  EXPECT_EQ(text.str(), "\"hello\"");
  std::ostringstream binary;
  binary << buffer::of_string("\x01\x02");
  EXPECT_EQ(binary.str(), "\n00000000  01 02" + std::string(45, ' ') + "|..|\n");
}

}  // namespace
}  // namespace flowstack
