// The port allocator: random, never twice, never spinning, exhaustion an answer.
#include <gtest/gtest.h>

#include <flowstack/stack/ports.hpp>
#include <set>

namespace flowstack::stack {
namespace {

TEST(port_allocator, hands_out_every_port_of_the_range_once_then_says_none) {
  port_allocator ports(60000, 60099, 1);
  std::set<std::uint16_t> seen;
  for (int i = 0; i < 100; ++i) {
    auto p = ports.allocate();
    ASSERT_TRUE(p);
    EXPECT_GE(*p, 60000);
    EXPECT_LE(*p, 60099);
    EXPECT_TRUE(seen.insert(*p).second) << *p << " twice";
  }
  EXPECT_EQ(ports.ephemeral_free(), 0u);
  EXPECT_FALSE(ports.allocate());
  ports.release(60042);
  EXPECT_EQ(ports.allocate(), 60042);
}

TEST(port_allocator, the_first_port_is_not_predictable_from_the_range) {
  std::set<std::uint16_t> firsts;
  for (std::uint64_t seed = 0; seed < 20; ++seed)
    firsts.insert(*port_allocator(49152, 65535, seed).allocate());
  EXPECT_GT(firsts.size(), 15u);
}

TEST(port_allocator, ports_taken_by_number_are_not_handed_out) {
  port_allocator ports(1000, 1002, 3);
  EXPECT_TRUE(ports.reserve(1001));
  EXPECT_FALSE(ports.reserve(1001));
  EXPECT_TRUE(ports.reserve(80));  // outside the range: taken, the range unchanged
  EXPECT_EQ(ports.ephemeral_free(), 2u);
  std::set<std::uint16_t> got{*ports.allocate(), *ports.allocate()};
  EXPECT_EQ(got, (std::set<std::uint16_t>{1000, 1002}));
  EXPECT_FALSE(ports.allocate());
  EXPECT_FALSE(ports.reserve(0));
}

TEST(port_allocator, a_nearly_full_range_still_allocates_in_one_pass) {
  port_allocator ports(49152, 65535, 9);
  for (std::uint32_t p = 49152; p <= 65535; ++p)
    if (p != 50000) ports.reserve(static_cast<std::uint16_t>(p));
  EXPECT_EQ(ports.allocate(), 50000);
  EXPECT_FALSE(ports.allocate());
}

TEST(port_allocator, releasing_a_free_port_changes_nothing) {
  port_allocator ports(1000, 1001, 1);
  ports.release(1000);
  EXPECT_EQ(ports.ephemeral_free(), 2u);
}

}  // namespace
}  // namespace flowstack::stack
