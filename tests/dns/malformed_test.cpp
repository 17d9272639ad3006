// Malformed input: every class is rejected with an error that says what was wrong.
#include <gtest/gtest.h>

#include <flowstack/dns/message.hpp>

#include "wire.hpp"

namespace flowstack::dns {
namespace {

using test::bytes;
using test::wire_builder;

// Decodes `wire`, expects both decoders to fail with `code`, and returns the detailed sentence
// without its " (at offset N)".
std::string rejected(const bytes& wire, dns_errc code) {
  auto plain = decode(wire);
  EXPECT_FALSE(plain);
  if (plain) return {};
  EXPECT_EQ(plain.error(), code) << plain.error().message();
  EXPECT_EQ(plain.error().category().name(), std::string("dns"));
  auto m = decode_detailed(wire);
  EXPECT_FALSE(m);
  if (m) return {};
  EXPECT_EQ(m.error().code, code) << m.error().detail;
  const std::string& detail = m.error().detail;
  auto at = detail.rfind(" (at offset ");
  EXPECT_NE(at, std::string::npos) << detail;
  return detail.substr(0, at);
}

wire_builder question_header(std::uint16_t an = 0) {
  wire_builder w;
  w.header(1, 0x8180, 1, an, 0, 0);
  return w;
}

TEST(dns_malformed, message_shorter_than_header) {
  bytes wire{0, 1, 0, 0, 0, 0};
  EXPECT_EQ(rejected(wire, dns_errc::truncated_header),
            "message of 6 octets is shorter than the 12-octet DNS header");
}

TEST(dns_malformed, pointer_to_itself_is_a_loop) {
  auto w = question_header();
  w.pointer(12).u16(1).u16(1);
  EXPECT_EQ(make_error_code(dns_errc::pointer_loop).message(), "compression pointer loop");
  EXPECT_EQ(rejected(w.out, dns_errc::pointer_loop),
            "compression pointer loop: offset 12 is part of the name being read");
}

TEST(dns_malformed, pointer_back_into_the_same_name_is_a_loop) {
  auto w = question_header();
  w.u8(1).text("a").pointer(12).u16(1).u16(1);
  rejected(w.out, dns_errc::pointer_loop);
}

TEST(dns_malformed, pointer_forward_is_rejected) {
  auto w = question_header();
  w.pointer(20).u16(1).u16(1).name("example.com");
  auto what = rejected(w.out, dns_errc::pointer_forward);
  EXPECT_EQ(what, "compression pointer points forward, to offset 20");
  EXPECT_EQ(make_error_code(dns_errc::pointer_forward).message(),
            "compression pointer points forward");
}

TEST(dns_malformed, pointer_into_the_header_is_rejected) {
  auto w = question_header();
  w.pointer(2).u16(1).u16(1);
  rejected(w.out, dns_errc::pointer_bad_target);
}

TEST(dns_malformed, pointer_into_the_middle_of_a_label_is_rejected) {
  auto w = question_header(1);
  w.name("example.com").u16(1).u16(1);
  w.pointer(14).u16(1).u16(1).u32(60).u16(4).raw({192, 0, 2, 1});
  auto what = rejected(w.out, dns_errc::pointer_bad_target);
  EXPECT_EQ(what, "compression pointer to offset 14, where no earlier name has a label");
}

TEST(dns_malformed, pointer_chain_longer_than_the_cap_is_a_loop) {
  // Each question's name is a pointer to the previous question's name: 66 questions make a
  // chain of 65 jumps in the last one.
  wire_builder w;
  w.header(1, 0, 66, 0, 0, 0);
  std::size_t previous = w.size();
  w.u8(1).text("a").u8(0).u16(1).u16(1);
  for (int i = 1; i < 66; ++i) {
    std::size_t here = w.size();
    w.pointer(static_cast<std::uint16_t>(previous)).u16(1).u16(1);
    previous = here;
  }
  EXPECT_EQ(rejected(w.out, dns_errc::pointer_loop),
            "compression pointer loop: more than 64 jumps in one name");
}

TEST(dns_malformed, name_longer_than_255_octets) {
  auto w = question_header();
  for (int i = 0; i < 5; ++i) w.u8(63).text(std::string(63, 'x'));  // 5 * 64 = 320 octets
  w.u8(0).u16(1).u16(1);
  EXPECT_EQ(rejected(w.out, dns_errc::name_too_long), "name longer than 255 octets");
}

TEST(dns_malformed, name_longer_than_255_octets_through_pointers) {
  // 4 labels of 63 octets (256 with the root) reached partly through a pointer.
  wire_builder w;
  w.header(1, 0, 2, 0, 0, 0);
  std::size_t first = w.size();
  for (int i = 0; i < 3; ++i) w.u8(63).text(std::string(63, 'x'));
  w.u8(0).u16(1).u16(1);
  w.u8(63).text(std::string(63, 'y')).pointer(static_cast<std::uint16_t>(first)).u16(1).u16(1);
  rejected(w.out, dns_errc::name_too_long);
}

TEST(dns_malformed, label_longer_than_63_octets) {
  auto w = question_header();
  w.u8(64).text(std::string(64, 'x')).u8(0).u16(1).u16(1);
  EXPECT_EQ(rejected(w.out, dns_errc::label_too_long),
            "label longer than 63 octets (length octet 64)");
  EXPECT_EQ(make_error_code(dns_errc::label_too_long).message(), "label longer than 63 octets");
}

TEST(dns_malformed, answer_count_that_lies) {
  auto w = question_header(5);
  w.name("example.com").u16(1).u16(1);
  for (int i = 0; i < 2; ++i) w.pointer(12).u16(1).u16(1).u32(60).u16(4).raw({192, 0, 2, 1});
  EXPECT_EQ(rejected(w.out, dns_errc::count_mismatch),
            "record count says 5 answers but the message ends after 2");
}

TEST(dns_malformed, question_count_that_lies) {
  wire_builder w;
  w.header(1, 0, 3, 0, 0, 0).name("example.com").u16(1).u16(1);
  EXPECT_EQ(rejected(w.out, dns_errc::count_mismatch),
            "record count says 3 questions but the message ends after 1");
}

TEST(dns_malformed, name_cut_by_the_end_of_the_message) {
  auto w = question_header();
  w.u8(7).text("exam");
  EXPECT_EQ(rejected(w.out, dns_errc::truncated_name), "label runs past the end of the message");
}

TEST(dns_malformed, question_without_type_and_class) {
  auto w = question_header();
  w.name("example.com").u16(1);
  rejected(w.out, dns_errc::truncated_question);
}

TEST(dns_malformed, record_cut_inside_its_fixed_fields) {
  auto w = question_header(1);
  w.name("example.com").u16(1).u16(1).pointer(12).u16(1).u16(1);
  rejected(w.out, dns_errc::truncated_record);
}

TEST(dns_malformed, rdata_longer_than_the_rest_of_the_message) {
  auto w = question_header(1);
  w.name("example.com").u16(1).u16(1).pointer(12).u16(1).u16(1).u32(60).u16(4).raw({192, 0});
  EXPECT_EQ(rejected(w.out, dns_errc::truncated_rdata),
            "truncated record rdata: rdlength 4 but 2 octets left");
  EXPECT_EQ(make_error_code(dns_errc::truncated_rdata).message(), "truncated record rdata");
}

TEST(dns_malformed, a_record_with_five_octets) {
  auto w = question_header(1);
  w.name("example.com")
      .u16(1)
      .u16(1)
      .pointer(12)
      .u16(1)
      .u16(1)
      .u32(60)
      .u16(5)
      .raw({192, 0, 2, 1, 9});
  EXPECT_EQ(rejected(w.out, dns_errc::rdata_length_mismatch),
            "rdata length does not match record type A (5 octets)");
}

TEST(dns_malformed, cname_with_octets_after_its_name) {
  auto w = question_header(1);
  w.name("example.com").u16(1).u16(1).pointer(12).u16(5).u16(1).u32(60).u16(3).pointer(12).u8(0);
  rejected(w.out, dns_errc::rdata_length_mismatch);
}

TEST(dns_malformed, name_in_rdata_running_past_rdlength) {
  auto w = question_header(1);
  w.name("example.com").u16(1).u16(1).pointer(12).u16(5).u16(1).u32(60).u16(3);
  w.u8(3).text("www").pointer(12);
  EXPECT_EQ(rejected(w.out, dns_errc::truncated_name),
            "label runs past the end of the record rdata");
}

TEST(dns_malformed, txt_string_running_past_rdlength) {
  auto w = question_header(1);
  w.name("example.com").u16(1).u16(1).pointer(12).u16(16).u16(1).u32(60).u16(3).u8(5).text("ab");
  rejected(w.out, dns_errc::malformed_rdata);
}

TEST(dns_malformed, opt_record_in_the_answer_section) {
  auto w = question_header(1);
  w.name("example.com").u16(1).u16(1).u8(0).u16(41).u16(1232).u32(0).u16(0);
  rejected(w.out, dns_errc::misplaced_opt);
}

TEST(dns_malformed, two_opt_records) {
  wire_builder w;
  w.header(1, 0, 0, 0, 0, 2);
  for (int i = 0; i < 2; ++i) w.u8(0).u16(41).u16(1232).u32(0).u16(0);
  EXPECT_EQ(rejected(w.out, dns_errc::duplicate_opt), "more than one OPT record");
}

TEST(dns_malformed, edns_option_running_past_the_opt_rdata) {
  wire_builder w;
  w.header(1, 0, 0, 0, 0, 1).u8(0).u16(41).u16(1232).u32(0).u16(6).u16(10).u16(8).u16(0);
  rejected(w.out, dns_errc::malformed_rdata);
}

TEST(dns_malformed, every_prefix_of_a_valid_message_fails_cleanly) {
  auto w = question_header(2);
  w.name("www.example.com").u16(1).u16(1);
  w.pointer(12).u16(5).u16(1).u32(60).u16(6).u8(3).text("cdn").pointer(16);
  w.pointer(33).u16(1).u16(1).u32(60).u16(4).raw({192, 0, 2, 1});
  ASSERT_TRUE(decode(w.out));
  for (std::size_t n = 0; n < w.out.size(); ++n) {
    bytes prefix(w.out.begin(), w.out.begin() + static_cast<std::ptrdiff_t>(n));
    auto m = decode_detailed(prefix);
    ASSERT_FALSE(m) << n;
    EXPECT_FALSE(m.error().detail.empty());
  }
}

TEST(dns_malformed, the_detail_names_the_offset) {
  auto w = question_header();
  w.pointer(20).u16(1).u16(1);
  auto m = decode_detailed(w.out);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, dns_errc::pointer_forward);
  EXPECT_EQ(m.error().detail, "compression pointer points forward, to offset 20 (at offset 12)");
}

}  // namespace
}  // namespace flowstack::dns
