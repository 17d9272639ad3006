// Sequence numbers compare on the circle, across the wrap.
#include <gtest/gtest.h>

#include <flowstack/stack/sequence.hpp>

namespace flowstack::stack {
namespace {

TEST(seq32, order_holds_across_the_wrap) {
  seq32 before(0xfffffff0u), after(0x10u);
  EXPECT_LT(before, after);
  EXPECT_GT(after, before);
  EXPECT_EQ(after - before, 0x20u);
  EXPECT_EQ(before + 0x20, after);
}

TEST(seq32, half_the_circle_ahead_is_behind) {
  seq32 a(0);
  EXPECT_LT(a, a + 0x7fffffffu);
  EXPECT_GT(a, a + 0x80000001u);
}

TEST(seq32, window_tests_include_the_left_edge_only) {
  seq32 left(0xfffffffeu);
  EXPECT_TRUE(in_window(left, left, left + 4));
  EXPECT_TRUE(in_window(left + 3, left, left + 4));
  EXPECT_FALSE(in_window(left + 4, left, left + 4));
  EXPECT_FALSE(in_window(left - 1, left, left + 4));
  EXPECT_FALSE(in_window(left, left, left)) << "an empty window holds nothing";
}

}  // namespace
}  // namespace flowstack::stack
