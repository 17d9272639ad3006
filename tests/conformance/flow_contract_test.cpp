// The flow contract (DESIGN.md §1.1 operations, §1.2 states, §1.3 layering), run against every
// flow kind of kinds.hpp. Each test states one cell or one rule; `a` and `b` are the two ends of
// a fresh connection.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <flowstack/core/combinators.hpp>
#include <flowstack/core/flow.hpp>
#include <string>
#include <vector>

#include "conformance/kinds.hpp"
#include "support/async.hpp"
#include "support/record_flow.hpp"
#include "support/run.hpp"
#include "support/virtual_time.hpp"

namespace flowstack::conformance {
namespace {

using namespace std::chrono_literals;
using test::background;
using test::describe;
using test::error_of;
using test::read_all;
using test::read_string;
using test::write_string;

template <typename Kind, typename Body>
asio::awaitable<void> on_pair(asio::any_io_executor ex, Body body) {
  auto ends = co_await Kind::make_pair(ex);
  co_await body(ex, ends.first, ends.second);
  co_await ends.first.close();
  co_await ends.second.close();
}

// Runs `body(executor, a, b)` on a fresh connection of `Kind`, then closes both ends. The body
// must collect every background operation it starts.
template <typename Kind, typename Body>
void run_on_pair(Body body) {
  test::run([body](asio::any_io_executor ex) { return on_pair<Kind>(ex, body); }, 30s);
}

// The same for the cells about time: `body(executor, a, b, time)` runs with a manual clock that
// jumps to the next deadline whenever nothing else can run (support/virtual_time.hpp), so a
// timeout falls due only once the transport has nothing left to do, in no wall time.
template <typename Kind, typename Body>
void run_on_pair_in_virtual_time(Body body) {
  manual_clock time;
  auto with_time = [body, &time](asio::any_io_executor ex, flow& a, flow& b) {
    return body(ex, a, b, time);
  };
  test::run_virtual(
      time, [with_time](asio::any_io_executor ex) { return on_pair<Kind>(ex, with_time); },
      std::chrono::hours(24), 30s);
}

// The same with both ends wrapped in a record_flow, for the layering rules.
template <typename Kind, typename Body>
asio::awaitable<void> on_layered_pair(asio::any_io_executor ex, Body body) {
  auto ends = co_await Kind::make_pair(ex);
  flow a = test::layer_records(std::move(ends.first));
  flow b = test::layer_records(std::move(ends.second));
  co_await body(ex, a, b);
  co_await a.close();
  co_await b.close();
}

template <typename Kind, typename Body>
void run_on_layered_pair(Body body) {
  test::run([body](asio::any_io_executor ex) { return on_layered_pair<Kind>(ex, body); }, 30s);
}

// Bytes from a seeded generator: the same seed gives the same bytes.
class xorshift {
 public:
  explicit xorshift(std::uint64_t seed) : state_(seed | 1) {}
  std::uint64_t next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return state_;
  }

 private:
  std::uint64_t state_;
};

buffer random_bytes(std::size_t n, std::uint64_t seed) {
  auto b = buffer::create_uninitialized(n);
  xorshift rng(seed);
  for (std::size_t at = 0; at < n; at += 8) {
    std::uint64_t word = rng.next();
    std::memcpy(b.data() + at, &word, std::min<std::size_t>(8, n - at));
  }
  return b;
}

std::string text_of(std::size_t n, std::uint64_t seed) {
  return random_bytes(n, seed).to_string();
}

// Writes `data` then shuts the write side down.
asio::awaitable<write_result> write_then_shutdown(flow& f, buffer data) {
  auto w = co_await f.write(std::move(data));
  co_await f.shutdown(shutdown_mode::write);
  co_return w;
}

// Writes `data` in pieces of seeded random sizes (each a fresh buffer), then shuts down.
asio::awaitable<write_result> write_in_random_chunks(flow& f, buffer data, std::uint64_t seed) {
  xorshift rng(seed);
  std::size_t at = 0;
  while (at < data.size()) {
    // Mostly large writes, some tiny ones, so both kinds of boundary appear.
    std::uint64_t roll = rng.next();
    std::size_t limit = roll % 4 == 0 ? 16 : 128 * 1024;
    std::size_t n = std::min<std::size_t>(1 + (roll >> 8) % limit, data.size() - at);
    auto w = co_await f.write(data.sub(at, n).clone());
    if (!w) co_return w;
    at += n;
  }
  co_await f.shutdown(shutdown_mode::write);
  co_return write_result{};
}

struct bulk_check {
  std::size_t received = 0;
  std::size_t first_difference = SIZE_MAX;  // SIZE_MAX: none
  std::error_code error;
};

// Reads until eof and compares every byte with `expected` as it arrives.
asio::awaitable<bulk_check> read_and_compare(flow& f, buffer expected) {
  bulk_check check;
  for (;;) {
    auto r = co_await f.read();
    if (!r) {
      check.error = r.error();
      co_return check;
    }
    if (r->is_eof()) co_return check;
    const auto& data = r->data();
    std::size_t n =
        std::min(data.size(), expected.size() - std::min(expected.size(), check.received));
    if (check.first_difference == SIZE_MAX &&
        (n != data.size() || std::memcmp(data.data(), expected.data() + check.received, n) != 0)) {
      std::size_t i = 0;
      while (i < n && data.data()[i] == expected.data()[check.received + i]) ++i;
      check.first_difference = check.received + i;
    }
    check.received += data.size();
  }
}

template <typename Kind>
class flow_contract : public ::testing::Test {};
TYPED_TEST_SUITE(flow_contract, all_kinds, kind_names);

// ---- open: read ------------------------------------------------------------------------------

TYPED_TEST(flow_contract, read_returns_the_data_then_eof_after_peer_shutdown_write) {
  run_on_pair<TypeParam>([](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
    auto w = co_await write_string(a, "hello, flow");
    EXPECT_TRUE(w);
    co_await a.shutdown(shutdown_mode::write);
    auto got = co_await read_string(b, 11);
    EXPECT_EQ(got.value_or("<error>"), "hello, flow");
    auto end = co_await b.read();
    EXPECT_EQ(describe(end), "<eof>");
  });
}

TYPED_TEST(flow_contract, eof_is_sticky) {
  run_on_pair<TypeParam>([](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
    co_await a.shutdown(shutdown_mode::write);
    for (int i = 0; i < 3; ++i) {
      auto r = co_await b.read();
      EXPECT_EQ(describe(r), "<eof>") << "read " << i;
    }
  });
}

TYPED_TEST(flow_contract, read_never_returns_an_empty_buffer) {
  run_on_pair<TypeParam>([](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
    // Empty writes must neither reach the reader as an empty read nor look like eof.
    auto w1 = co_await a.write(buffer{});
    std::vector<buffer> w2_parts{buffer{}, buffer{}};
    auto w2 = co_await a.writev(w2_parts);
    auto w3 = co_await write_string(a, "x");
    EXPECT_TRUE(w1 && w2 && w3);
    co_await a.shutdown(shutdown_mode::write);
    auto first = co_await b.read();
    EXPECT_EQ(describe(first), "x");
    auto end = co_await b.read();
    EXPECT_EQ(describe(end), "<eof>");
  });
}

TYPED_TEST(flow_contract, read_buffers_belong_to_the_caller) {
  run_on_pair<TypeParam>([](asio::any_io_executor ex, flow& a, flow& b) -> asio::awaitable<void> {
    auto sent = text_of(64 * 1024, 11);
    // Written while the reader reads: a flow need not buffer all of it (vchan's 1 KiB rings).
    background<write_result> write(ex, write_then_shutdown(a, buffer::of_string(sent)));
    // Scribble over each buffer as soon as it is read, and keep it: the flow must neither hand
    // the same memory out again nor write into a buffer it has returned.
    std::vector<buffer> kept;
    std::string received;
    for (;;) {
      auto r = co_await b.read();
      EXPECT_TRUE(r);
      if (!r || r->is_eof()) break;
      auto data = std::move(*r).data();
      received += data.as_string_view();
      data.fill(std::byte{0xa5});
      kept.push_back(std::move(data));
    }
    auto w = co_await write.get();
    EXPECT_TRUE(w);
    EXPECT_TRUE(received == sent) << "received " << received.size() << " bytes";
    for (const auto& k : kept) {
      bool untouched = std::all_of(k.bytes().begin(), k.bytes().end(),
                                   [](std::byte c) { return c == std::byte{0xa5}; });
      EXPECT_TRUE(untouched) << "the flow wrote into a buffer it had returned";
    }
  });
}

TYPED_TEST(flow_contract, a_buffer_written_twice_arrives_twice_although_the_reader_changed_it) {
  run_on_pair<TypeParam>([](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
    auto once = buffer::of_string("the same bytes twice;");
    auto w1 = co_await a.write(once);
    auto w2 = co_await a.write(once);
    EXPECT_TRUE(w1 && w2);
    co_await a.shutdown(shutdown_mode::write);
    std::string received;
    for (;;) {
      auto r = co_await b.read();
      if (!r || r->is_eof()) break;
      received += r->data().as_string_view();
      r->data().fill(std::byte{'#'});
    }
    EXPECT_EQ(received, "the same bytes twice;the same bytes twice;");
    EXPECT_EQ(once.to_string(), "the same bytes twice;")
        << "the reader changed the writer's buffer";
  });
}

TYPED_TEST(flow_contract, second_concurrent_read_fails_at_once_with_read_in_progress) {
  run_on_pair<TypeParam>([](asio::any_io_executor ex, flow& a, flow& b) -> asio::awaitable<void> {
    background<read_result> first(ex, b.read());
    co_await test::yield(3);
    EXPECT_FALSE(first.ready());
    auto second = co_await b.read();
    EXPECT_EQ(error_of(second), flow_errc::read_in_progress);
    // The first read is unharmed.
    auto w = co_await write_string(a, "z");
    EXPECT_TRUE(w);
    auto r = co_await first.get();
    EXPECT_EQ(describe(r), "z");
  });
}

TYPED_TEST(flow_contract, a_read_cancelled_by_a_timeout_leaves_the_flow_usable) {
  run_on_pair_in_virtual_time<TypeParam>(
      [](asio::any_io_executor, flow& a, flow& b, clock& time) -> asio::awaitable<void> {
        auto timed_out = co_await with_timeout(b.read(), 50ms, time);
        EXPECT_EQ(error_of(timed_out), flow_errc::timeout);
        auto w = co_await write_string(a, "later");
        EXPECT_TRUE(w);
        auto got = co_await read_string(b, 5);
        EXPECT_EQ(got.value_or("<error>"), "later");
      });
}

// ---- open: write / writev ----------------------------------------------------------------------

TYPED_TEST(flow_contract, writev_sends_its_buffers_in_order_skipping_empty_ones) {
  run_on_pair<TypeParam>([](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
    std::vector<buffer> parts{buffer{}, buffer::of_string("ab"), buffer{}, buffer::of_string("cde"),
                              buffer{}};
    auto w = co_await a.writev(parts);
    EXPECT_TRUE(w);
    co_await a.shutdown(shutdown_mode::write);
    auto got = co_await read_all(b);
    EXPECT_EQ(got.value_or("<error>"), "abcde");
  });
}

TYPED_TEST(flow_contract, writev_of_only_empty_buffers_succeeds_and_sends_nothing) {
  run_on_pair<TypeParam>([](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
    std::vector<buffer> w1_parts{buffer{}, buffer{}};
    auto w1 = co_await a.writev(w1_parts);
    auto w2 = co_await a.writev(std::span<const buffer>{});
    EXPECT_TRUE(w1);
    EXPECT_TRUE(w2);
    co_await a.shutdown(shutdown_mode::write);
    auto got = co_await read_all(b);
    EXPECT_EQ(got.value_or("<error>"), "");
  });
}

TYPED_TEST(flow_contract, concurrent_writers_are_served_in_fifo_order_each_write_contiguous) {
  run_on_pair<TypeParam>([](asio::any_io_executor ex, flow& a, flow& b) -> asio::awaitable<void> {
    constexpr int writers = 4;
    const std::size_t each = std::min<std::size_t>(300 * 1024, bulk_bytes_of<TypeParam>() / 8);
    background<result<std::string>> reader(ex, read_all(b));
    std::vector<background<write_result>> writes;
    for (int i = 0; i < writers; ++i) {
      auto part = buffer::create(each);
      part.fill(std::byte('a' + i));
      writes.emplace_back(ex, a.write(std::move(part)));
    }
    for (auto& w : writes) {
      auto r = co_await w.get();
      EXPECT_TRUE(r);
    }
    co_await a.shutdown(shutdown_mode::write);
    auto got = co_await reader.get();
    std::string expected;
    for (int i = 0; i < writers; ++i) expected.append(each, static_cast<char>('a' + i));
    EXPECT_TRUE(got.value_or("") == expected) << "the writes were reordered or interleaved";
  });
}

TYPED_TEST(flow_contract, both_ends_write_and_read_at_once) {
  run_on_pair<TypeParam>([](asio::any_io_executor ex, flow& a, flow& b) -> asio::awaitable<void> {
    // Full duplex: neither end may need the other to stop writing before it can read.
    const std::size_t size = std::min<std::size_t>(4 << 20, bulk_bytes_of<TypeParam>() / 16);
    auto from_a = random_bytes(size, 21);
    auto from_b = random_bytes(size, 22);
    background<result<std::string>> read_a(ex, read_all(a));
    background<result<std::string>> read_b(ex, read_all(b));
    background<write_result> write_a(ex, write_then_shutdown(a, from_a));
    background<write_result> write_b(ex, write_then_shutdown(b, from_b));
    auto wa = co_await write_a.get();
    auto wb = co_await write_b.get();
    EXPECT_TRUE(wa && wb);
    auto ra = co_await read_a.get();
    auto rb = co_await read_b.get();
    EXPECT_TRUE(ra.value_or("") == from_b.to_string());
    EXPECT_TRUE(rb.value_or("") == from_a.to_string());
  });
}

TYPED_TEST(flow_contract, bulk_data_in_random_chunks_arrives_byte_exact) {
  run_on_pair<TypeParam>([](asio::any_io_executor ex, flow& a, flow& b) -> asio::awaitable<void> {
    const std::size_t size = bulk_bytes_of<TypeParam>();
    auto sent = random_bytes(size, 0x5eed);
    background<bulk_check> reader(ex, read_and_compare(b, sent));
    auto w = co_await write_in_random_chunks(a, sent, 0xc0ffee);
    EXPECT_TRUE(w) << w.error().message();
    auto check = co_await reader.get();
    EXPECT_FALSE(check.error) << check.error.message();
    EXPECT_EQ(check.received, size);
    EXPECT_EQ(check.first_difference, SIZE_MAX) << "first wrong byte at " << check.first_difference;
  });
}

// ---- open: shutdown ----------------------------------------------------------------------------

TYPED_TEST(flow_contract, write_after_shutdown_write_fails_closed) {
  run_on_pair<TypeParam>([](asio::any_io_executor, flow& a, flow&) -> asio::awaitable<void> {
    co_await a.shutdown(shutdown_mode::write);
    auto w = co_await write_string(a, "late");
    EXPECT_EQ(error_of(w), flow_errc::closed);
    std::vector<buffer> wv_parts{buffer::of_string("late")};
    auto wv = co_await a.writev(wv_parts);
    EXPECT_EQ(error_of(wv), flow_errc::closed);
  });
}

TYPED_TEST(flow_contract, shutdown_write_flushes_writes_queued_before_it) {
  run_on_pair<TypeParam>([](asio::any_io_executor ex, flow& a, flow& b) -> asio::awaitable<void> {
    auto sent = random_bytes(std::min<std::size_t>(2 << 20, bulk_bytes_of<TypeParam>() / 4), 5);
    background<result<std::string>> reader(ex, read_all(b));
    background<write_result> write(ex, a.write(sent));
    co_await test::yield();
    co_await a.shutdown(shutdown_mode::write);
    auto w = co_await write.get();
    EXPECT_TRUE(w);
    auto got = co_await reader.get();
    EXPECT_TRUE(got.value_or("") == sent.to_string());
  });
}

TYPED_TEST(flow_contract, shutdown_is_idempotent_and_never_fails) {
  run_on_pair<TypeParam>([](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
    co_await a.shutdown(shutdown_mode::write);
    co_await a.shutdown(shutdown_mode::write);
    co_await a.shutdown(shutdown_mode::read);
    co_await a.shutdown(shutdown_mode::read);
    co_await a.shutdown(shutdown_mode::read_write);
    auto w = co_await write_string(a, "x");
    EXPECT_EQ(error_of(w), flow_errc::closed);
    auto r = co_await a.read();
    EXPECT_EQ(describe(r), "<eof>");
    auto peer = co_await b.read();
    EXPECT_EQ(describe(peer), "<eof>");
  });
}

TYPED_TEST(flow_contract, shutdown_after_the_peer_closed_does_not_fail) {
  run_on_pair<TypeParam>([](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
    co_await b.close();
    // Wait for the close to reach `a` (a FIN, a close_notify, a ring's closed flag): the read
    // that says eof is that event, for every kind. So `a` is read-closed by a closed peer, and
    // its shutdown still sends (a FIN, a close_notify) to a peer that is gone.
    auto seen = co_await a.read();
    EXPECT_EQ(describe(seen), "<eof>");
    co_await a.shutdown(shutdown_mode::read_write);
    auto r = co_await a.read();
    EXPECT_EQ(describe(r), "<eof>");
  });
}

TYPED_TEST(flow_contract, shutdown_read_makes_later_reads_eof) {
  run_on_pair<TypeParam>([](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
    auto w = co_await write_string(a, "dropped or not, never read");
    EXPECT_TRUE(w);
    co_await b.shutdown(shutdown_mode::read);
    for (int i = 0; i < 2; ++i) {
      auto r = co_await b.read();
      EXPECT_EQ(describe(r), "<eof>") << "read " << i;
    }
  });
}

TYPED_TEST(flow_contract, shutdown_read_ends_a_pending_read_with_eof) {
  run_on_pair<TypeParam>([](asio::any_io_executor ex, flow&, flow& b) -> asio::awaitable<void> {
    background<read_result> pending(ex, b.read());
    co_await test::yield(3);
    co_await b.shutdown(shutdown_mode::read);
    auto r = co_await pending.get();
    EXPECT_EQ(describe(r), "<eof>");
  });
}

// ---- half-close ------------------------------------------------------------------------------

// The request/answer exchange over a half-closed connection, e.g. a client that sends its whole
// request, shuts its write side down, and then reads the whole answer.
asio::awaitable<void> request_then_answer(asio::any_io_executor ex, flow& client, flow& server,
                                          std::size_t answer_size) {
  auto w = co_await write_string(client, "the whole request");
  EXPECT_TRUE(w);
  co_await client.shutdown(shutdown_mode::write);

  auto request = co_await read_all(server);
  EXPECT_EQ(request.value_or("<error>"), "the whole request");
  auto answer = random_bytes(answer_size, 7);
  background<result<std::string>> reader(ex, read_all(client));
  auto wa = co_await write_then_shutdown(server, answer);
  EXPECT_TRUE(wa);
  auto got = co_await reader.get();
  EXPECT_TRUE(got.value_or("") == answer.to_string()) << "answer lost or changed";
}

TYPED_TEST(flow_contract, half_close_request_then_whole_answer_from_a_to_b) {
  run_on_pair<TypeParam>([](asio::any_io_executor ex, flow& a, flow& b) -> asio::awaitable<void> {
    co_await request_then_answer(ex, a, b,
                                 std::min<std::size_t>(1 << 20, bulk_bytes_of<TypeParam>() / 4));
  });
}

TYPED_TEST(flow_contract, half_close_request_then_whole_answer_from_b_to_a) {
  run_on_pair<TypeParam>([](asio::any_io_executor ex, flow& a, flow& b) -> asio::awaitable<void> {
    co_await request_then_answer(ex, b, a,
                                 std::min<std::size_t>(1 << 20, bulk_bytes_of<TypeParam>() / 4));
  });
}

// ---- read-closed -------------------------------------------------------------------------------

TYPED_TEST(flow_contract, read_closed_flow_still_writes) {
  run_on_pair<TypeParam>([](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
    co_await b.shutdown(shutdown_mode::write);
    auto end = co_await a.read();
    EXPECT_EQ(describe(end), "<eof>");
    auto w = co_await write_string(a, "still talking");
    EXPECT_TRUE(w);
    co_await a.shutdown(shutdown_mode::write);
    auto got = co_await read_all(b);
    EXPECT_EQ(got.value_or("<error>"), "still talking");
  });
}

TYPED_TEST(flow_contract, shutdown_read_on_read_closed_flow_is_a_no_op) {
  run_on_pair<TypeParam>([](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
    co_await b.shutdown(shutdown_mode::write);
    auto end = co_await a.read();
    EXPECT_EQ(describe(end), "<eof>");
    co_await a.shutdown(shutdown_mode::read);
    auto again = co_await a.read();
    EXPECT_EQ(describe(again), "<eof>");
    auto w = co_await write_string(a, "ok");
    EXPECT_TRUE(w);
  });
}

TYPED_TEST(flow_contract, shutdown_write_on_read_closed_flow_closes_both_directions) {
  run_on_pair<TypeParam>([](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
    co_await b.shutdown(shutdown_mode::write);
    auto end = co_await a.read();
    EXPECT_EQ(describe(end), "<eof>");
    co_await a.shutdown(shutdown_mode::write);
    auto r = co_await a.read();
    EXPECT_EQ(describe(r), "<eof>");
    auto w = co_await write_string(a, "x");
    EXPECT_EQ(error_of(w), flow_errc::closed);
    auto peer = co_await b.read();
    EXPECT_EQ(describe(peer), "<eof>");
  });
}

TYPED_TEST(flow_contract, close_on_read_closed_flow_fails_later_operations_closed) {
  run_on_pair<TypeParam>([](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
    co_await b.shutdown(shutdown_mode::write);
    auto end = co_await a.read();
    EXPECT_EQ(describe(end), "<eof>");
    co_await a.close();
    auto r = co_await a.read();
    EXPECT_EQ(error_of(r), flow_errc::closed);
    auto w = co_await write_string(a, "x");
    EXPECT_EQ(error_of(w), flow_errc::closed);
  });
}

// ---- write-closed ------------------------------------------------------------------------------

TYPED_TEST(flow_contract, write_closed_flow_still_reads) {
  run_on_pair<TypeParam>([](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
    co_await a.shutdown(shutdown_mode::write);
    auto w = co_await write_string(b, "answer");
    EXPECT_TRUE(w);
    co_await b.shutdown(shutdown_mode::write);
    auto got = co_await read_all(a);
    EXPECT_EQ(got.value_or("<error>"), "answer");
  });
}

TYPED_TEST(flow_contract, shutdown_read_on_write_closed_flow_closes_both_directions) {
  run_on_pair<TypeParam>([](asio::any_io_executor, flow& a, flow&) -> asio::awaitable<void> {
    co_await a.shutdown(shutdown_mode::write);
    co_await a.shutdown(shutdown_mode::read);
    auto r = co_await a.read();
    EXPECT_EQ(describe(r), "<eof>");
    auto w = co_await write_string(a, "x");
    EXPECT_EQ(error_of(w), flow_errc::closed);
  });
}

TYPED_TEST(flow_contract, close_on_write_closed_flow_fails_later_operations_closed) {
  run_on_pair<TypeParam>([](asio::any_io_executor, flow& a, flow&) -> asio::awaitable<void> {
    co_await a.shutdown(shutdown_mode::write);
    co_await a.close();
    auto r = co_await a.read();
    EXPECT_EQ(error_of(r), flow_errc::closed);
    auto w = co_await write_string(a, "x");
    EXPECT_EQ(error_of(w), flow_errc::closed);
  });
}

// ---- closed ------------------------------------------------------------------------------------

TYPED_TEST(flow_contract, read_after_close_fails_closed) {
  run_on_pair<TypeParam>([](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
    auto w = co_await write_string(b, "unread");
    EXPECT_TRUE(w);
    co_await a.close();
    auto r = co_await a.read();
    EXPECT_EQ(error_of(r), flow_errc::closed);
  });
}

TYPED_TEST(flow_contract, write_after_close_fails_closed) {
  run_on_pair<TypeParam>([](asio::any_io_executor, flow& a, flow&) -> asio::awaitable<void> {
    co_await a.close();
    auto w = co_await write_string(a, "x");
    EXPECT_EQ(error_of(w), flow_errc::closed);
    std::vector<buffer> wv_parts{buffer::of_string("x")};
    auto wv = co_await a.writev(wv_parts);
    EXPECT_EQ(error_of(wv), flow_errc::closed);
  });
}

TYPED_TEST(flow_contract, close_twice_is_harmless) {
  run_on_pair<TypeParam>([](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
    co_await a.close();
    co_await a.close();
    auto r = co_await a.read();
    EXPECT_EQ(error_of(r), flow_errc::closed);
    auto peer = co_await b.read();
    EXPECT_EQ(describe(peer), "<eof>");
  });
}

TYPED_TEST(flow_contract, shutdown_after_close_is_a_no_op) {
  run_on_pair<TypeParam>([](asio::any_io_executor, flow& a, flow&) -> asio::awaitable<void> {
    co_await a.close();
    co_await a.shutdown(shutdown_mode::read);
    co_await a.shutdown(shutdown_mode::write);
    co_await a.shutdown(shutdown_mode::read_write);
    auto r = co_await a.read();
    EXPECT_EQ(error_of(r), flow_errc::closed);
  });
}

TYPED_TEST(flow_contract, close_while_a_read_is_pending_ends_that_read_closed) {
  run_on_pair<TypeParam>([](asio::any_io_executor ex, flow& a, flow&) -> asio::awaitable<void> {
    background<read_result> pending(ex, a.read());
    co_await test::yield(3);
    co_await a.close();
    auto r = co_await pending.get();
    EXPECT_EQ(error_of(r), flow_errc::closed);
  });
}

TYPED_TEST(flow_contract, close_while_a_write_is_pending_ends_that_write_closed) {
  run_on_pair<TypeParam>([](asio::any_io_executor ex, flow& a, flow&) -> asio::awaitable<void> {
    // More than any transport buffers while nobody reads, so the write is still pending.
    background<write_result> pending(ex, a.write(buffer::create(32 << 20)));
    // Let the write start and fill what the transport buffers: it then waits for a reader that
    // never comes, so it is pending whenever the test looks, however long it waited.
    co_await test::yield(3);
    EXPECT_FALSE(pending.ready());
    co_await a.close();
    auto w = co_await pending.get();
    EXPECT_EQ(error_of(w), flow_errc::closed);
  });
}

TYPED_TEST(flow_contract, close_does_not_wait_for_the_peer) {
  run_on_pair<TypeParam>([](asio::any_io_executor, flow& a, flow&) -> asio::awaitable<void> {
    auto w = co_await write_string(a, "never read by the peer");
    EXPECT_TRUE(w);
    co_await a.close();  // returns although the peer neither reads nor closes
    EXPECT_TRUE(a.impl().is_closed());
  });
}

TYPED_TEST(flow_contract, peer_close_gives_eof_after_all_in_flight_data) {
  run_on_pair<TypeParam>([](asio::any_io_executor ex, flow& a, flow& b) -> asio::awaitable<void> {
    auto sent = random_bytes(std::min<std::size_t>(1 << 20, bulk_bytes_of<TypeParam>() / 4), 9);
    background<result<std::string>> reader(ex, read_all(b));
    auto w = co_await a.write(sent);
    EXPECT_TRUE(w);
    co_await a.close();
    auto got = co_await reader.get();
    EXPECT_TRUE(got);
    EXPECT_TRUE(got.value_or("") == sent.to_string())
        << "received " << got.value_or("").size() << " of " << sent.size() << " bytes";
  });
}

// ---- abort -------------------------------------------------------------------------------------
//
// An abort is a close that the peer can tell from an end: its read fails (condition reset)
// instead of giving eof. A kind whose transport can only say it while bytes from the peer are
// unread (a Unix socket: the kernel has no reset for it) declares `abort_needs_unread_bytes`.

template <typename Kind>
constexpr bool abort_needs_unread_bytes() {
  if constexpr (requires { Kind::abort_needs_unread_bytes; }) {
    return Kind::abort_needs_unread_bytes;
  } else {
    return false;
  }
}

TYPED_TEST(flow_contract, abort_wakes_the_peers_pending_read_with_reset_not_eof) {
  run_on_pair<TypeParam>([](asio::any_io_executor ex, flow& a, flow& b) -> asio::awaitable<void> {
    auto w = co_await write_string(b, "never read");
    EXPECT_TRUE(w);
    background<read_result> pending(ex, b.read());
    co_await test::yield(3);
    co_await a.abort();
    auto r = co_await pending.get();
    EXPECT_EQ(error_of(r), flow_condition::reset) << describe(r);
  });
}

TYPED_TEST(flow_contract, abort_is_seen_by_the_peer_after_the_bytes_it_already_had) {
  run_on_pair<TypeParam>([](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
    auto w = co_await write_string(a, "before the cut");
    EXPECT_TRUE(w);
    auto got = co_await read_string(b, 14);
    EXPECT_EQ(got.value_or("<error>"), "before the cut");
    co_await a.abort();
    auto r = co_await with_timeout(b.read(), 10s);
    if (abort_needs_unread_bytes<TypeParam>()) {
      EXPECT_EQ(describe(r), "<eof>") << "nothing of b's was unread at a, so no reset to send";
    } else {
      EXPECT_EQ(error_of(r), flow_condition::reset) << describe(r);
    }
  });
}

TYPED_TEST(flow_contract, abort_ends_pending_and_later_operations_closed_like_close) {
  run_on_pair<TypeParam>([](asio::any_io_executor ex, flow& a, flow&) -> asio::awaitable<void> {
    background<read_result> pending(ex, a.read());
    co_await test::yield(3);
    co_await a.abort();
    auto r = co_await pending.get();
    EXPECT_EQ(error_of(r), flow_errc::closed);
    EXPECT_TRUE(a.impl().is_closed());
    auto w = co_await write_string(a, "x");
    EXPECT_EQ(error_of(w), flow_errc::closed);
    co_await a.abort();  // a second abort, and a close after it, do nothing
    co_await a.close();
    auto again = co_await a.read();
    EXPECT_EQ(error_of(again), flow_errc::closed);
  });
}

TYPED_TEST(flow_contract, abort_after_close_does_nothing_and_the_peer_keeps_its_eof) {
  run_on_pair<TypeParam>([](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
    co_await a.close();
    co_await a.abort();
    auto r = co_await b.read();
    EXPECT_EQ(describe(r), "<eof>");
  });
}

// ---- layering (§1.3), with a record_flow over each kind ---------------------------------------

TYPED_TEST(flow_contract, layered_underlying_returns_the_inner_flow) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto ends = co_await TypeParam::make_pair(ex);
    flow_impl* inner = &ends.first.impl();
    flow a = test::layer_records(std::move(ends.first));
    EXPECT_EQ(a.underlying(), inner);
    co_await a.close();
    co_await ends.second.close();
  });
}

TYPED_TEST(flow_contract, layered_close_closes_the_inner_flow) {
  run_on_layered_pair<TypeParam>(
      [](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
        co_await a.close();
        EXPECT_TRUE(a.underlying()->is_closed());
        auto peer = co_await b.read();
        EXPECT_EQ(describe(peer), "<eof>");
      });
}

TYPED_TEST(flow_contract, layered_abort_aborts_the_inner_flow) {
  run_on_layered_pair<TypeParam>(
      [](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
        auto w = co_await write_string(b, "never read");
        EXPECT_TRUE(w);
        co_await test::yield(3);
        co_await a.abort();
        EXPECT_TRUE(a.underlying()->is_closed());
        auto r = co_await with_timeout(b.read(), 10s);
        EXPECT_EQ(error_of(r), flow_condition::reset) << describe(r);
      });
}

TYPED_TEST(flow_contract, layered_shutdown_write_leaves_the_inner_write_side_open) {
  run_on_layered_pair<TypeParam>(
      [](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
        co_await a.shutdown(shutdown_mode::write);
        EXPECT_FALSE(a.underlying()->is_closed());
        auto w = co_await a.underlying()->write(buffer::of_string("raw"));
        EXPECT_TRUE(w) << "the inner write side was shut down";
        // The peer's inner flow sees the outer protocol's end (an empty record), then the bytes
        // written below it.
        auto got = co_await read_string(*b.underlying(), 7);
        EXPECT_EQ(got.value_or("<error>"), std::string("\0\0\0\0raw", 7));
      });
}

TYPED_TEST(flow_contract, layered_flow_closes_the_inner_once_both_halves_are_closed) {
  run_on_layered_pair<TypeParam>(
      [](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
        co_await a.shutdown(shutdown_mode::write);
        EXPECT_FALSE(a.underlying()->is_closed());
        co_await b.shutdown(shutdown_mode::write);
        auto end = co_await a.read();
        EXPECT_EQ(describe(end), "<eof>");
        EXPECT_TRUE(a.underlying()->is_closed());
      });
}

TYPED_TEST(flow_contract, layered_inner_eof_is_outer_eof) {
  run_on_layered_pair<TypeParam>(
      [](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
        co_await b.underlying()->shutdown(shutdown_mode::write);
        for (int i = 0; i < 2; ++i) {
          auto r = co_await a.read();
          EXPECT_EQ(describe(r), "<eof>") << "read " << i;
        }
      });
}

TYPED_TEST(flow_contract, layered_inner_write_closed_closes_only_the_outer_write_side) {
  run_on_layered_pair<TypeParam>(
      [](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
        co_await a.underlying()->shutdown(shutdown_mode::write);
        auto w1 = co_await write_string(a, "x");
        EXPECT_EQ(error_of(w1), flow_errc::closed);
        auto w2 = co_await write_string(a, "x");
        EXPECT_EQ(error_of(w2), flow_errc::closed);
        auto wb = co_await write_string(b, "reads still work");
        EXPECT_TRUE(wb);
        auto got = co_await read_string(a, 16);
        EXPECT_EQ(got.value_or("<error>"), "reads still work");
      });
}

}  // namespace
}  // namespace flowstack::conformance
