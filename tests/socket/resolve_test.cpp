#include <gtest/gtest.h>

#include <flowstack/socket/address.hpp>

#include "support/run.hpp"

namespace flowstack::socket {
namespace {

using net::host_port;
using net::tcp_endpoint;
using net::to_string;

TEST(resolve, localhost_resolves_to_a_loopback_address) {
  auto r =
      test::run([](asio::any_io_executor) -> asio::awaitable<result<std::vector<tcp_endpoint>>> {
        host_port where{"localhost", 8080};
        co_return co_await resolve(where);
      });
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_FALSE(r->empty());
  for (const auto& endpoint : *r) {
    EXPECT_TRUE(endpoint.address().is_loopback()) << to_string(endpoint);
    EXPECT_EQ(endpoint.port(), 8080);
  }
}

TEST(resolve, an_ip_literal_resolves_to_itself) {
  auto r =
      test::run([](asio::any_io_executor) -> asio::awaitable<result<std::vector<tcp_endpoint>>> {
        host_port where{"::1", 53};
        co_return co_await resolve(where);
      });
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(to_string(r->front()), "[::1]:53");
}

}  // namespace
}  // namespace flowstack::socket
