// The flow contract (flow_contract.hpp): the open state: read, write and writev, shutdown.
#include "conformance/flow_contract.hpp"

namespace flowstack::conformance {
namespace {

// ---- open: read ------------------------------------------------------------------------------

TEST_P(flow_contract, read_returns_the_data_then_eof_after_peer_shutdown_write) {
  run_on_pair(GetParam(), [](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
    auto w = co_await write_string(a, "hello, flow");
    EXPECT_TRUE(w);
    co_await a.shutdown(shutdown_mode::write);
    auto got = co_await read_string(b, 11);
    EXPECT_EQ(got.value_or("<error>"), "hello, flow");
    auto end = co_await b.read();
    EXPECT_EQ(describe(end), "<eof>");
  });
}

TEST_P(flow_contract, eof_is_sticky) {
  run_on_pair(GetParam(), [](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
    co_await a.shutdown(shutdown_mode::write);
    for (int i = 0; i < 3; ++i) {
      auto r = co_await b.read();
      EXPECT_EQ(describe(r), "<eof>") << "read " << i;
    }
  });
}

TEST_P(flow_contract, read_never_returns_an_empty_buffer) {
  run_on_pair(GetParam(), [](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
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

TEST_P(flow_contract, read_buffers_belong_to_the_caller) {
  run_on_pair(GetParam(), [](asio::any_io_executor ex, flow& a, flow& b) -> asio::awaitable<void> {
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

TEST_P(flow_contract, a_buffer_written_twice_arrives_twice_although_the_reader_changed_it) {
  run_on_pair(GetParam(), [](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
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

TEST_P(flow_contract, second_concurrent_read_fails_at_once_with_read_in_progress) {
  run_on_pair(GetParam(), [](asio::any_io_executor ex, flow& a, flow& b) -> asio::awaitable<void> {
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

TEST_P(flow_contract, a_read_cancelled_by_a_timeout_leaves_the_flow_usable) {
  run_on_pair_in_virtual_time(
      GetParam(),
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

TEST_P(flow_contract, writev_sends_its_buffers_in_order_skipping_empty_ones) {
  run_on_pair(GetParam(), [](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
    std::vector<buffer> parts{buffer{}, buffer::of_string("ab"), buffer{}, buffer::of_string("cde"),
                              buffer{}};
    auto w = co_await a.writev(parts);
    EXPECT_TRUE(w);
    co_await a.shutdown(shutdown_mode::write);
    auto got = co_await read_all(b);
    EXPECT_EQ(got.value_or("<error>"), "abcde");
  });
}

TEST_P(flow_contract, writev_of_only_empty_buffers_succeeds_and_sends_nothing) {
  run_on_pair(GetParam(), [](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
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

TEST_P(flow_contract, concurrent_writers_are_served_in_fifo_order_each_write_contiguous) {
  run_on_pair(GetParam(), [](asio::any_io_executor ex, flow& a, flow& b) -> asio::awaitable<void> {
    constexpr int writers = 4;
    const std::size_t each = std::min<std::size_t>(300 * 1024, GetParam().bulk_bytes / 8);
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

TEST_P(flow_contract, both_ends_write_and_read_at_once) {
  run_on_pair(GetParam(), [](asio::any_io_executor ex, flow& a, flow& b) -> asio::awaitable<void> {
    // Full duplex: neither end may need the other to stop writing before it can read.
    const std::size_t size = std::min<std::size_t>(4 << 20, GetParam().bulk_bytes / 16);
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

TEST_P(flow_contract, bulk_data_in_random_chunks_arrives_byte_exact) {
  run_on_pair(GetParam(), [](asio::any_io_executor ex, flow& a, flow& b) -> asio::awaitable<void> {
    const std::size_t size = GetParam().bulk_bytes;
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

TEST_P(flow_contract, write_after_shutdown_write_fails_closed) {
  run_on_pair(GetParam(), [](asio::any_io_executor, flow& a, flow&) -> asio::awaitable<void> {
    co_await a.shutdown(shutdown_mode::write);
    auto w = co_await write_string(a, "late");
    EXPECT_EQ(error_of(w), flow_errc::closed);
    std::vector<buffer> wv_parts{buffer::of_string("late")};
    auto wv = co_await a.writev(wv_parts);
    EXPECT_EQ(error_of(wv), flow_errc::closed);
  });
}

TEST_P(flow_contract, shutdown_write_flushes_writes_queued_before_it) {
  run_on_pair(GetParam(), [](asio::any_io_executor ex, flow& a, flow& b) -> asio::awaitable<void> {
    auto sent = random_bytes(std::min<std::size_t>(2 << 20, GetParam().bulk_bytes / 4), 5);
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

TEST_P(flow_contract, shutdown_is_idempotent_and_never_fails) {
  run_on_pair(GetParam(), [](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
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

TEST_P(flow_contract, shutdown_after_the_peer_closed_does_not_fail) {
  run_on_pair(GetParam(), [](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
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

TEST_P(flow_contract, shutdown_read_makes_later_reads_eof) {
  run_on_pair(GetParam(), [](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
    auto w = co_await write_string(a, "dropped or not, never read");
    EXPECT_TRUE(w);
    co_await b.shutdown(shutdown_mode::read);
    for (int i = 0; i < 2; ++i) {
      auto r = co_await b.read();
      EXPECT_EQ(describe(r), "<eof>") << "read " << i;
    }
  });
}

TEST_P(flow_contract, shutdown_read_ends_a_pending_read_with_eof) {
  run_on_pair(GetParam(), [](asio::any_io_executor ex, flow&, flow& b) -> asio::awaitable<void> {
    background<read_result> pending(ex, b.read());
    co_await test::yield(3);
    co_await b.shutdown(shutdown_mode::read);
    auto r = co_await pending.get();
    EXPECT_EQ(describe(r), "<eof>");
  });
}

}  // namespace
}  // namespace flowstack::conformance
