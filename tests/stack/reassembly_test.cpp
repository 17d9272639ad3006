// IPv4 reassembly as a function of fragments and `now`, including what hostile senders do with
// fragments: overlaps, endless datagrams, floods.
#include <gtest/gtest.h>

#include <deque>
#include <flowstack/stack/reassembly.hpp>
#include <string>

namespace flowstack::stack {
namespace {

using namespace std::chrono_literals;
using time_point = reassembly::time_point;

const time_point t0 = time_point() + 1000h;

// Fragments whose payload bytes live as long as the test.
class fragments {
 public:
  ipv4_packet make(std::uint16_t id, std::size_t offset, std::string payload, bool more,
                   const char* source = "10.0.0.1") {
    storage_.push_back(std::move(payload));
    ipv4_packet p;
    p.header.identification = id;
    p.header.fragment_offset = static_cast<std::uint16_t>(offset);
    p.header.more_fragments = more;
    p.header.protocol = static_cast<std::uint8_t>(ip_protocol::udp);
    p.header.source = asio::ip::make_address_v4(source);
    p.header.destination = asio::ip::make_address_v4("10.0.0.2");
    const std::string& s = storage_.back();
    p.payload = std::span(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
    return p;
  }

 private:
  std::deque<std::string> storage_;
};

const std::string eight_a(8, 'a'), eight_b(8, 'b'), tail = "end";

TEST(reassembly, fragments_in_order_make_the_datagram_with_the_first_header) {
  reassembly r;
  fragments f;
  EXPECT_FALSE(r.add(f.make(1, 0, eight_a, true), t0));
  EXPECT_FALSE(r.add(f.make(1, 8, eight_b, true), t0));
  auto d = r.add(f.make(1, 16, tail, false), t0);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->payload.to_string(), eight_a + eight_b + tail);
  EXPECT_FALSE(d->header.is_fragment());
  EXPECT_EQ(d->header.total_length, 20 + 19);
  EXPECT_EQ(d->header.identification, 1);
  EXPECT_EQ(r.in_progress(), 0u);
  EXPECT_EQ(r.bytes_held(), 0u);
}

TEST(reassembly, fragments_in_any_order_make_the_same_datagram) {
  reassembly r;
  fragments f;
  EXPECT_FALSE(r.add(f.make(1, 16, tail, false), t0));
  EXPECT_FALSE(r.add(f.make(1, 0, eight_a, true), t0));
  auto d = r.add(f.make(1, 8, eight_b, true), t0);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->payload.to_string(), eight_a + eight_b + tail);
}

TEST(reassembly, datagrams_are_kept_apart_by_source_and_identification) {
  reassembly r;
  fragments f;
  r.add(f.make(1, 0, eight_a, true), t0);
  r.add(f.make(2, 0, eight_b, true), t0);
  r.add(f.make(1, 0, eight_b, true, "10.0.0.3"), t0);
  EXPECT_EQ(r.in_progress(), 3u);
  auto d = r.add(f.make(2, 8, tail, false), t0);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->payload.to_string(), eight_b + tail);
}

TEST(reassembly, an_exact_duplicate_is_ignored) {
  reassembly r;
  fragments f;
  r.add(f.make(1, 0, eight_a, true), t0);
  EXPECT_FALSE(r.add(f.make(1, 0, eight_a, true), t0));
  EXPECT_TRUE(r.add(f.make(1, 8, tail, false), t0));
  EXPECT_EQ(r.dropped().overlapping, 0u);
}

TEST(reassembly, an_overlapping_fragment_drops_the_whole_datagram) {
  reassembly r;
  fragments f;
  r.add(f.make(1, 0, eight_a + eight_a, true), t0);
  EXPECT_FALSE(r.add(f.make(1, 8, eight_b, true), t0));  // rewrites bytes 8-15
  EXPECT_EQ(r.dropped().overlapping, 1u);
  EXPECT_EQ(r.in_progress(), 0u);
  // What follows starts a new datagram that never completes from these pieces alone.
  EXPECT_FALSE(r.add(f.make(1, 16, tail, false), t0));
}

TEST(reassembly, the_same_offset_with_other_bytes_is_an_overlap) {
  reassembly r;
  fragments f;
  r.add(f.make(1, 0, eight_a, true), t0);
  EXPECT_FALSE(r.add(f.make(1, 0, eight_b, true), t0));
  EXPECT_EQ(r.dropped().overlapping, 1u);
}

TEST(reassembly, an_overlap_with_the_piece_before_is_found_too) {
  reassembly r;
  fragments f;
  r.add(f.make(1, 8, eight_a + eight_a, true), t0);  // bytes 8-23
  EXPECT_FALSE(r.add(f.make(1, 16, tail, false), t0));
  EXPECT_EQ(r.dropped().overlapping, 1u);
}

TEST(reassembly, a_datagram_not_complete_in_time_is_dropped) {
  reassembly r({.timeout = 30s});
  fragments f;
  r.add(f.make(1, 0, eight_a, true), t0);
  EXPECT_EQ(r.next_deadline(), t0 + 30s);
  r.poll(t0 + 30s - 1ns);
  EXPECT_EQ(r.in_progress(), 1u);
  r.poll(t0 + 30s);
  EXPECT_EQ(r.in_progress(), 0u);
  EXPECT_EQ(r.dropped().timed_out, 1u);
  EXPECT_FALSE(r.next_deadline());
  EXPECT_FALSE(r.add(f.make(1, 8, tail, false), t0 + 31s)) << "completed by a late fragment";
}

TEST(reassembly, a_datagram_longer_than_ipv4_allows_is_dropped) {
  reassembly r;
  fragments f;
  r.add(f.make(1, 0, eight_a, true), t0);
  // The largest offset the field holds, with 16 bytes: past 65,535 (the ping of death).
  EXPECT_FALSE(r.add(f.make(1, 8191 * 8, eight_a + eight_a, false), t0));
  EXPECT_EQ(r.dropped().malformed, 1u);
  EXPECT_EQ(r.in_progress(), 0u);
}

TEST(reassembly, a_non_final_fragment_must_be_a_multiple_of_eight) {
  reassembly r;
  fragments f;
  EXPECT_FALSE(r.add(f.make(1, 0, "seven!!", true), t0));
  EXPECT_EQ(r.dropped().malformed, 1u);
}

TEST(reassembly, two_different_ends_or_a_piece_past_the_end_drop_the_datagram) {
  reassembly r;
  fragments f;
  r.add(f.make(1, 16, tail, false), t0);
  EXPECT_FALSE(r.add(f.make(1, 24, tail, false), t0));
  EXPECT_EQ(r.dropped().malformed, 1u);
  r.add(f.make(2, 8, tail, false), t0);
  EXPECT_FALSE(r.add(f.make(2, 16, eight_a, true), t0));
  EXPECT_EQ(r.dropped().malformed, 2u);
  r.add(f.make(3, 16, eight_a, true), t0);
  EXPECT_FALSE(r.add(f.make(3, 8, "x", false), t0)) << "an end before a piece already held";
  EXPECT_EQ(r.dropped().malformed, 3u);
}

TEST(reassembly, fragments_per_datagram_are_bounded) {
  reassembly r({.max_fragments = 4});
  fragments f;
  for (std::size_t i = 0; i < 4; ++i) r.add(f.make(1, 8 + i * 8, eight_a, true), t0);
  EXPECT_FALSE(r.add(f.make(1, 40, eight_a, true), t0));
  EXPECT_EQ(r.dropped().malformed, 1u);
  EXPECT_EQ(r.in_progress(), 0u);
}

TEST(reassembly, held_bytes_are_bounded_by_dropping_the_oldest_datagrams) {
  reassembly r({.max_bytes = 32});
  fragments f;
  r.add(f.make(1, 0, eight_a + eight_a, true), t0);
  r.add(f.make(2, 0, eight_a + eight_a, true), t0 + 1ms);
  EXPECT_EQ(r.bytes_held(), 32u);
  r.add(f.make(3, 0, eight_a, true), t0 + 2ms);
  EXPECT_EQ(r.dropped().evicted, 1u);
  EXPECT_EQ(r.bytes_held(), 24u);
  EXPECT_FALSE(r.add(f.make(1, 16, tail, false), t0 + 3ms)) << "datagram 1 was dropped";
  auto d2 = r.add(f.make(2, 16, tail, false), t0 + 3ms);
  EXPECT_TRUE(d2) << "the datagram of the fragment that made room is kept";
}

TEST(reassembly, a_fragment_larger_than_the_whole_budget_is_refused) {
  reassembly r({.max_bytes = 8});
  fragments f;
  EXPECT_FALSE(r.add(f.make(1, 0, eight_a + eight_a, true), t0));
  EXPECT_EQ(r.in_progress(), 0u);
  EXPECT_EQ(r.dropped().evicted, 1u);
}

TEST(reassembly, datagrams_in_progress_are_bounded) {
  reassembly r({.max_datagrams = 2});
  fragments f;
  r.add(f.make(1, 0, eight_a, true), t0);
  r.add(f.make(2, 0, eight_a, true), t0 + 1ms);
  r.add(f.make(3, 0, eight_a, true), t0 + 2ms);
  EXPECT_EQ(r.in_progress(), 2u);
  EXPECT_EQ(r.dropped().evicted, 1u);
  EXPECT_FALSE(r.add(f.make(1, 8, tail, false), t0 + 3ms));
  EXPECT_TRUE(r.add(f.make(3, 8, tail, false), t0 + 3ms));
}

}  // namespace
}  // namespace flowstack::stack
