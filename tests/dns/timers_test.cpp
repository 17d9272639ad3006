// The forwarder's timers on their own (src/dns/timers.hpp): plain objects fed plain time points,
// no io_context and no clock.
#include <gtest/gtest.h>

#include "timers.hpp"

namespace flowstack::dns::detail {
namespace {

using namespace std::chrono_literals;

const clock::time_point t0 = clock::time_point() + 1000h;

TEST(dns_resend_schedule, first_resend_is_due_one_interval_after_the_send) {
  resend_schedule s(t0, 1s);
  EXPECT_EQ(s.next_deadline(), t0 + 1s);
  EXPECT_FALSE(s.due(t0 + 1s - 1ns)) << "resent before the interval";
  EXPECT_EQ(s.next_deadline(), t0 + 1s);
  EXPECT_TRUE(s.due(t0 + 1s));
  EXPECT_EQ(s.next_deadline(), t0 + 2s);
  EXPECT_EQ(s.resends(), 1u);
}

TEST(dns_resend_schedule, a_late_wake_up_sends_once_and_counts_from_then) {
  resend_schedule s(t0, 1s);
  EXPECT_TRUE(s.due(t0 + 10s + 300ms));
  EXPECT_FALSE(s.due(t0 + 10s + 300ms)) << "the missed resends are not made up in a burst";
  EXPECT_EQ(s.next_deadline(), t0 + 11s + 300ms);
  EXPECT_EQ(s.resends(), 1u);
}

TEST(dns_resend_schedule, an_interval_under_a_millisecond_counts_as_one) {
  resend_schedule s(t0, 0s);
  EXPECT_EQ(s.next_deadline(), t0 + 1ms);
}

TEST(dns_idle_timer, a_new_connection_is_idle_from_its_start) {
  idle_timer t(10s, t0);
  EXPECT_TRUE(t.is_idle());
  EXPECT_EQ(t.deadline(), t0 + 10s);
  EXPECT_FALSE(t.expired(t0 + 10s - 1ns));
  EXPECT_TRUE(t.expired(t0 + 10s));
}

TEST(dns_idle_timer, a_busy_connection_never_expires) {
  idle_timer t(10s, t0);
  t.busy();
  EXPECT_FALSE(t.is_idle());
  EXPECT_FALSE(t.deadline());
  EXPECT_FALSE(t.expired(t0 + 1000h));
}

TEST(dns_idle_timer, idle_time_counts_from_when_the_last_work_ended) {
  idle_timer t(10s, t0);
  t.busy();
  t.idle(t0 + 25s);
  EXPECT_EQ(t.deadline(), t0 + 35s);
  EXPECT_FALSE(t.expired(t0 + 35s - 1ns));
  EXPECT_TRUE(t.expired(t0 + 35s));
}

}  // namespace
}  // namespace flowstack::dns::detail
