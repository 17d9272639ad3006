// The ARP cache as a function of what arrives and of time: no clock runs, each test says `now`.
#include <gtest/gtest.h>

#include <flowstack/stack/arp_cache.hpp>

namespace flowstack::stack {
namespace {

using namespace std::chrono_literals;
using time_point = arp_cache::time_point;

const time_point t0 = time_point() + 1000h;
const mac_address their_mac{{0x02, 0, 0, 0, 0, 0x09}};
const mac_address our_mac{{0x02, 0, 0, 0, 0, 0x01}};

asio::ip::address_v4 ip(const char* text) {
  return asio::ip::make_address_v4(text);
}

buffer packet(const char* text) {
  return buffer::of_string(text);
}

TEST(arp_cache, an_unknown_address_asks_once_and_holds_the_packets_until_the_answer) {
  arp_cache cache;
  EXPECT_FALSE(cache.lookup(ip("10.0.0.9"), t0));
  EXPECT_EQ(cache.hold(ip("10.0.0.9"), packet("one"), t0), arp_cache::held::ask);
  EXPECT_EQ(cache.hold(ip("10.0.0.9"), packet("two"), t0 + 1ms), arp_cache::held::waiting);
  auto released = cache.learn(ip("10.0.0.9"), their_mac, true, t0 + 2ms);
  ASSERT_EQ(released.size(), 2u);
  EXPECT_EQ(released[0].to_string(), "one");
  EXPECT_EQ(released[1].to_string(), "two");
  EXPECT_EQ(cache.lookup(ip("10.0.0.9"), t0 + 3ms), their_mac);
}

TEST(arp_cache, an_answer_is_trusted_for_the_reachable_time_only) {
  arp_cache cache({.reachable = 60s});
  cache.hold(ip("10.0.0.9"), packet("x"), t0);
  cache.learn(ip("10.0.0.9"), their_mac, true, t0);
  EXPECT_TRUE(cache.lookup(ip("10.0.0.9"), t0 + 60s - 1ns));
  EXPECT_FALSE(cache.lookup(ip("10.0.0.9"), t0 + 60s));
  EXPECT_EQ(cache.next_deadline(), t0 + 60s);
  cache.poll(t0 + 60s);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.hold(ip("10.0.0.9"), packet("y"), t0 + 61s), arp_cache::held::ask);
}

TEST(arp_cache, requests_repeat_once_per_retry_then_the_address_is_given_up_with_its_packets) {
  arp_cache cache({.retry = 1s, .max_requests = 3});
  ASSERT_EQ(cache.hold(ip("10.0.0.9"), packet("lost"), t0), arp_cache::held::ask);
  EXPECT_EQ(cache.next_deadline(), t0 + 1s);
  EXPECT_TRUE(cache.poll(t0 + 999ms).ask.empty()) << "a request before its retry time";
  auto second = cache.poll(t0 + 1s);
  ASSERT_EQ(second.ask.size(), 1u);
  EXPECT_EQ(second.ask[0], ip("10.0.0.9"));
  EXPECT_EQ(cache.poll(t0 + 2s).ask.size(), 1u);
  auto gone = cache.poll(t0 + 3s);
  EXPECT_TRUE(gone.ask.empty());
  ASSERT_EQ(gone.given_up.size(), 1u);
  EXPECT_EQ(gone.given_up[0].first, ip("10.0.0.9"));
  ASSERT_EQ(gone.given_up[0].second.size(), 1u);
  EXPECT_EQ(gone.given_up[0].second[0].to_string(), "lost");
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_FALSE(cache.next_deadline());
}

TEST(arp_cache, packets_waiting_for_one_address_are_bounded_and_the_oldest_goes) {
  arp_cache cache({.max_waiting = 2});
  cache.hold(ip("10.0.0.9"), packet("1"), t0);
  cache.hold(ip("10.0.0.9"), packet("2"), t0);
  cache.hold(ip("10.0.0.9"), packet("3"), t0);
  auto released = cache.learn(ip("10.0.0.9"), their_mac, true, t0);
  ASSERT_EQ(released.size(), 2u);
  EXPECT_EQ(released[0].to_string(), "2");
  EXPECT_EQ(released[1].to_string(), "3");
}

TEST(arp_cache, unsolicited_answers_create_nothing_but_update_what_is_known) {
  arp_cache cache;
  cache.learn(ip("10.0.0.9"), their_mac, false, t0);
  EXPECT_FALSE(cache.lookup(ip("10.0.0.9"), t0)) << "a gratuitous reply filled the table";
  EXPECT_EQ(cache.size(), 0u);
  cache.learn(ip("10.0.0.9"), their_mac, true, t0);
  const mac_address moved{{0x02, 0, 0, 0, 0, 0x0a}};
  cache.learn(ip("10.0.0.9"), moved, false, t0 + 1s);  // the host moved: merge (RFC 826)
  EXPECT_EQ(cache.lookup(ip("10.0.0.9"), t0 + 1s), moved);
}

TEST(arp_cache, broadcast_multicast_and_zero_addresses_are_never_learned) {
  arp_cache cache;
  cache.learn(ip("0.0.0.0"), their_mac, true, t0);
  cache.learn(ip("255.255.255.255"), their_mac, true, t0);
  cache.learn(ip("224.0.0.1"), their_mac, true, t0);
  cache.learn(ip("10.0.0.9"), mac_address::broadcast(), true, t0);
  cache.learn(ip("10.0.0.9"), mac_address{}, true, t0);
  EXPECT_EQ(cache.size(), 0u);
}

TEST(arp_cache, a_full_table_forgets_the_answer_that_expires_first) {
  arp_cache cache({.max_entries = 2});
  cache.learn(ip("10.0.0.1"), their_mac, true, t0);
  cache.learn(ip("10.0.0.2"), their_mac, true, t0 + 1s);
  cache.learn(ip("10.0.0.3"), their_mac, true, t0 + 2s);
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_FALSE(cache.lookup(ip("10.0.0.1"), t0 + 2s));
  EXPECT_TRUE(cache.lookup(ip("10.0.0.2"), t0 + 2s));
  EXPECT_TRUE(cache.lookup(ip("10.0.0.3"), t0 + 2s));
}

TEST(arp_cache, a_table_full_of_questions_refuses_new_ones) {
  arp_cache cache({.max_entries = 2});
  EXPECT_EQ(cache.hold(ip("10.0.0.1"), packet("a"), t0), arp_cache::held::ask);
  EXPECT_EQ(cache.hold(ip("10.0.0.2"), packet("b"), t0), arp_cache::held::ask);
  EXPECT_EQ(cache.hold(ip("10.0.0.3"), packet("c"), t0), arp_cache::held::refused);
  EXPECT_EQ(cache.size(), 2u);
}

TEST(arp_messages, a_request_for_our_address_gets_a_reply_and_others_do_not) {
  auto request = request_for(ip("10.0.0.1"), ip("10.0.0.9"), their_mac);
  auto reply = reply_to(request, ip("10.0.0.1"), our_mac);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->operation, arp_operation::reply);
  EXPECT_EQ(reply->sender_mac, our_mac);
  EXPECT_EQ(reply->sender_ip, ip("10.0.0.1"));
  EXPECT_EQ(reply->target_mac, their_mac);
  EXPECT_EQ(reply->target_ip, ip("10.0.0.9"));
  EXPECT_FALSE(reply_to(request, ip("10.0.0.2"), our_mac));
  EXPECT_FALSE(reply_to(*reply, ip("10.0.0.9"), their_mac)) << "a reply is not answered";
}

TEST(arp_messages, an_announcement_names_our_address_as_sender_and_target) {
  auto a = announcement(ip("10.0.0.1"), our_mac);
  EXPECT_EQ(a.operation, arp_operation::request);
  EXPECT_EQ(a.sender_ip, ip("10.0.0.1"));
  EXPECT_EQ(a.target_ip, ip("10.0.0.1"));
  EXPECT_EQ(a.sender_mac, our_mac);
}

}  // namespace
}  // namespace flowstack::stack
