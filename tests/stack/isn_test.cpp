// RFC 6528 initial sequence numbers and the SipHash-2-4 they are keyed with.
#include <gtest/gtest.h>

#include <array>
#include <flowstack/stack/isn.hpp>

namespace flowstack::stack {
namespace {

using namespace std::chrono_literals;

std::array<std::byte, 16> counting_key() {
  std::array<std::byte, 16> k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::byte>(i);
  return k;
}

tcp_endpoints tuple(std::uint16_t local_port = 40000) {
  return {asio::ip::make_address_v4("10.0.0.1"), local_port, asio::ip::make_address_v4("10.0.0.2"),
          80};
}

const clock::time_point t0 = clock::time_point() + 1000h;

TEST(siphash, the_papers_test_vector_hashes_to_its_published_value) {
  // Appendix A of the SipHash paper: key 00..0f, message 00..0e.
  std::array<std::byte, 15> message{};
  for (std::size_t i = 0; i < message.size(); ++i) message[i] = static_cast<std::byte>(i);
  EXPECT_EQ(siphash_2_4(counting_key(), message), 0xa129ca6149be45e5u);
}

TEST(siphash, the_empty_message_and_a_whole_word_match_the_reference_vectors) {
  // The first and ninth entries of the reference implementation's table (messages 00..i-1).
  EXPECT_EQ(siphash_2_4(counting_key(), {}), 0x726fdb47dd0e0e31u);
  std::array<std::byte, 8> word{};
  for (std::size_t i = 0; i < word.size(); ++i) word[i] = static_cast<std::byte>(i);
  EXPECT_EQ(siphash_2_4(counting_key(), word), 0x93f5f5799a932462u);
}

TEST(isn, the_same_tuple_and_time_give_the_same_number_and_another_port_another) {
  const auto key = counting_key();
  isn_generator isn(key);
  EXPECT_EQ(isn(tuple(), t0), isn(tuple(), t0));
  EXPECT_NE(isn(tuple(), t0), isn(tuple(40001), t0));
}

TEST(isn, another_secret_gives_another_number_for_the_same_tuple) {
  auto other = counting_key();
  other[0] = std::byte{0xff};
  EXPECT_NE(isn_generator(counting_key())(tuple(), t0), isn_generator(other)(tuple(), t0));
}

TEST(isn, the_number_moves_forward_one_every_four_microseconds) {
  isn_generator isn(counting_key());
  const seq32 first = isn(tuple(), t0);
  EXPECT_EQ(isn(tuple(), t0 + 3us), first);
  EXPECT_EQ(isn(tuple(), t0 + 4us), first + 1);
  EXPECT_EQ(isn(tuple(), t0 + 4s), first + 1'000'000);
}

}  // namespace
}  // namespace flowstack::stack
