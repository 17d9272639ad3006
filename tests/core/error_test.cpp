#include <gtest/gtest.h>

#include <cerrno>
#include <flowstack/core/error.hpp>
#include <string>

namespace flowstack {
namespace {

constexpr flow_errc every_flow_errc[] = {
    flow_errc::closed,    flow_errc::read_in_progress, flow_errc::timeout,
    flow_errc::cancelled, flow_errc::unexpected_eof,   flow_errc::invalid_argument,
};

TEST(flow_errc, every_code_prints_a_sentence) {
  for (auto e : every_flow_errc) {
    std::string message = make_error_code(e).message();
    SCOPED_TRACE(static_cast<int>(e));
    EXPECT_EQ(message.find("unknown"), std::string::npos) << message;
    EXPECT_NE(message.find(' '), std::string::npos) << "not a sentence: " << message;
  }
}

TEST(flow_errc, every_code_prints_a_different_sentence) {
  for (auto e : every_flow_errc) {
    for (auto f : every_flow_errc) {
      if (e != f) {
        EXPECT_NE(make_error_code(e).message(), make_error_code(f).message());
      }
    }
  }
}

TEST(flow_errc, closed_does_not_say_write_since_reads_get_it_too) {
  auto message = make_error_code(flow_errc::closed).message();
  EXPECT_NE(message.find("closed"), std::string::npos) << message;
  EXPECT_EQ(message.find("write"), std::string::npos) << message;
}

TEST(flow_errc, category_is_named_flow) {
  EXPECT_STREQ(flow_category().name(), "flow");
  EXPECT_EQ(make_error_code(flow_errc::timeout).category(), flow_category());
}

TEST(flow_errc, converts_to_and_compares_with_error_code) {
  std::error_code ec = flow_errc::timeout;
  EXPECT_EQ(ec, flow_errc::timeout);
  EXPECT_NE(ec, flow_errc::closed);
  EXPECT_TRUE(ec);
}

TEST(flow_errc, an_unknown_code_still_prints_something_useful) {
  std::error_code ec(99, flow_category());
  EXPECT_EQ(ec.message(), "unknown flow error 99");
}

TEST(flow_condition, the_flow_codes_mean_their_conditions) {
  EXPECT_EQ(make_error_code(flow_errc::timeout), flow_condition::timeout);
  EXPECT_EQ(make_error_code(flow_errc::closed), flow_condition::closed);
  EXPECT_EQ(make_error_code(flow_errc::cancelled), flow_condition::cancelled);
  EXPECT_NE(make_error_code(flow_errc::timeout), flow_condition::closed);
  EXPECT_NE(make_error_code(flow_errc::read_in_progress), flow_condition::closed);
}

TEST(flow_condition, kernel_errnos_mean_the_same_conditions) {
  EXPECT_EQ(std::error_code(ETIMEDOUT, std::system_category()), flow_condition::timeout);
  EXPECT_EQ(std::error_code(ECONNREFUSED, std::system_category()), flow_condition::refused);
  EXPECT_EQ(std::error_code(ECONNRESET, std::generic_category()), flow_condition::reset);
  EXPECT_EQ(std::error_code(EPIPE, std::system_category()), flow_condition::closed);
  EXPECT_EQ(std::error_code(ENETUNREACH, std::system_category()), flow_condition::unreachable);
  EXPECT_NE(std::error_code(EIO, std::system_category()), flow_condition::timeout);
}

TEST(flow_condition, a_condition_names_itself) {
  EXPECT_EQ(make_error_condition(flow_condition::timeout).message(), "timed out");
  EXPECT_EQ(std::error_condition(flow_condition::reset).category(), flow_condition_category());
}

TEST(result, fail_makes_an_error_result) {
  result<int> r = fail(flow_errc::closed);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), flow_errc::closed);
  result<void> v = fail(std::make_error_code(std::errc::io_error));
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error(), std::errc::io_error);
}

TEST(failure, carries_the_code_and_the_sentence) {
  detailed<int> r = fail(flow_errc::invalid_argument, "line 3: unknown keyword 'srever'");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, flow_errc::invalid_argument);
  EXPECT_EQ(r.error().message(), "line 3: unknown keyword 'srever'");
}

TEST(failure, made_from_a_bare_code_says_what_the_code_says) {
  detailed<void> r = fail(flow_errc::timeout);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, flow_condition::timeout);
  EXPECT_EQ(r.error().message(), make_error_code(flow_errc::timeout).message());
}

}  // namespace
}  // namespace flowstack
