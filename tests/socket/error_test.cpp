#include <gtest/gtest.h>

#include <asio/error.hpp>
#include <cerrno>
#include <flowstack/socket/error.hpp>

namespace flowstack::socket {
namespace {

std::error_code system_error(int e) {
  return {e, std::system_category()};
}

TEST(map_system_error, maps_the_conditions_the_seeds_name) {
  EXPECT_EQ(map_system_error(system_error(ECONNREFUSED)), net::net_errc::refused);
  EXPECT_EQ(map_system_error(system_error(ETIMEDOUT)), net::net_errc::timeout);
  EXPECT_EQ(map_system_error(system_error(EHOSTUNREACH)), net::net_errc::unreachable);
  EXPECT_EQ(map_system_error(system_error(ENETUNREACH)), net::net_errc::unreachable);
  EXPECT_EQ(map_system_error(system_error(ECONNRESET)), net::net_errc::reset);
  EXPECT_EQ(map_system_error(system_error(EADDRINUSE)), net::net_errc::address_in_use);
}

TEST(map_system_error, a_name_that_resolves_to_nothing_is_host_not_found_in_our_words) {
  std::error_code ec = map_system_error(asio::error::host_not_found);
  EXPECT_EQ(ec, net::net_errc::host_not_found);
  EXPECT_EQ(map_system_error(asio::error::no_data), net::net_errc::host_not_found);
  EXPECT_EQ(ec.message().rfind("host not found", 0), 0u) << ec.message();
}

TEST(socket_category, is_named_socket_and_says_what_to_do_about_a_path_that_is_no_socket) {
  std::error_code ec = socket_errc::not_a_socket;
  EXPECT_STREQ(ec.category().name(), "socket");
  EXPECT_NE(ec.message().find("is not a socket"), std::string::npos) << ec.message();
}

TEST(map_system_error, the_mapped_codes_mean_the_flow_conditions) {
  EXPECT_EQ(map_system_error(system_error(ETIMEDOUT)), flow_condition::timeout);
  EXPECT_EQ(map_system_error(system_error(ECONNREFUSED)), flow_condition::refused);
  EXPECT_EQ(map_system_error(system_error(ECONNRESET)), flow_condition::reset);
  EXPECT_EQ(map_system_error(system_error(EHOSTUNREACH)), flow_condition::unreachable);
}

TEST(map_system_error, broken_pipe_is_the_flow_contracts_closed) {
  EXPECT_EQ(map_system_error(system_error(EPIPE)), flow_errc::closed);
}

TEST(map_system_error, asio_errors_map_like_system_errors) {
  EXPECT_EQ(map_system_error(asio::error::connection_refused), net::net_errc::refused);
  EXPECT_EQ(map_system_error(asio::error::connection_reset), net::net_errc::reset);
}

TEST(map_system_error, leaves_other_errors_and_success_alone) {
  EXPECT_EQ(map_system_error(system_error(EACCES)), system_error(EACCES));
  EXPECT_EQ(map_system_error(asio::error::eof), asio::error::make_error_code(asio::error::eof));
  EXPECT_FALSE(map_system_error(std::error_code{}));
}

}  // namespace
}  // namespace flowstack::socket
