#include <gtest/gtest.h>

#include <asio/error.hpp>
#include <cerrno>
#include <flowstack/socket/error.hpp>

namespace flowstack::socket {
namespace {

std::error_code system_error(int e) {
  return {e, std::system_category()};
}

TEST(socket_category, is_named_tcp_and_every_code_has_a_sentence) {
  EXPECT_STREQ(socket_category().name(), "tcp");
  for (auto e : {socket_errc::refused, socket_errc::timeout, socket_errc::unreachable,
                 socket_errc::reset, socket_errc::address_in_use, socket_errc::invalid_address}) {
    auto text = make_error_code(e).message();
    EXPECT_GT(text.size(), 15u) << text;
    EXPECT_EQ(text.find("unknown"), std::string::npos) << text;
  }
}

TEST(map_system_error, maps_the_conditions_the_seeds_name) {
  EXPECT_EQ(map_system_error(system_error(ECONNREFUSED)), socket_errc::refused);
  EXPECT_EQ(map_system_error(system_error(ETIMEDOUT)), socket_errc::timeout);
  EXPECT_EQ(map_system_error(system_error(EHOSTUNREACH)), socket_errc::unreachable);
  EXPECT_EQ(map_system_error(system_error(ENETUNREACH)), socket_errc::unreachable);
  EXPECT_EQ(map_system_error(system_error(ECONNRESET)), socket_errc::reset);
  EXPECT_EQ(map_system_error(system_error(EADDRINUSE)), socket_errc::address_in_use);
}

TEST(map_system_error, broken_pipe_is_the_flow_contracts_closed) {
  EXPECT_EQ(map_system_error(system_error(EPIPE)), flow_errc::closed);
}

TEST(map_system_error, asio_errors_map_like_system_errors) {
  EXPECT_EQ(map_system_error(asio::error::connection_refused), socket_errc::refused);
  EXPECT_EQ(map_system_error(asio::error::connection_reset), socket_errc::reset);
}

TEST(map_system_error, leaves_other_errors_and_success_alone) {
  EXPECT_EQ(map_system_error(system_error(EACCES)), system_error(EACCES));
  EXPECT_EQ(map_system_error(asio::error::eof), asio::error::make_error_code(asio::error::eof));
  EXPECT_FALSE(map_system_error(std::error_code{}));
}

}  // namespace
}  // namespace flowstack::socket
