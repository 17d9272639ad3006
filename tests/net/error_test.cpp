#include <gtest/gtest.h>

#include <flowstack/net/error.hpp>
#include <string>

namespace flowstack::net {
namespace {

constexpr net_errc every_net_errc[] = {
    net_errc::refused,        net_errc::timeout,         net_errc::unreachable,   net_errc::reset,
    net_errc::address_in_use, net_errc::invalid_address, net_errc::host_not_found};

TEST(net_category, is_named_net_and_every_code_has_a_sentence) {
  EXPECT_STREQ(net_category().name(), "net");
  for (auto e : every_net_errc) {
    auto text = make_error_code(e).message();
    EXPECT_GT(text.size(), 15u) << text;
    EXPECT_EQ(text.find("unknown"), std::string::npos) << text;
  }
}

TEST(net_category, a_connect_timeout_compares_equal_to_every_other_timeout) {
  std::error_code ec = net_errc::timeout;
  EXPECT_EQ(ec, flow_condition::timeout);
  EXPECT_EQ(make_error_code(flow_errc::timeout), flow_condition::timeout);
  EXPECT_NE(ec, flow_condition::refused);
}

TEST(net_category, connection_errors_mean_their_conditions) {
  EXPECT_EQ(make_error_code(net_errc::refused), flow_condition::refused);
  EXPECT_EQ(make_error_code(net_errc::reset), flow_condition::reset);
  EXPECT_EQ(make_error_code(net_errc::unreachable), flow_condition::unreachable);
  EXPECT_NE(make_error_code(net_errc::address_in_use), flow_condition::closed);
  EXPECT_NE(make_error_code(net_errc::invalid_address), flow_condition::timeout);
}

}  // namespace
}  // namespace flowstack::net
