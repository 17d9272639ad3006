// The flow contract (flow_contract.hpp): abort, and the layering rules with a record_flow over each
// kind.
#include "conformance/flow_contract.hpp"

namespace flowstack::conformance {
namespace {

// ---- abort -------------------------------------------------------------------------------------
//
// An abort is a close that the peer can tell from an end: its read fails (condition reset)
// instead of giving eof. A kind whose transport can only say it while bytes from the peer are
// unread (a Unix socket: the kernel has no reset for it) declares `abort_needs_unread_bytes`.

TEST_P(flow_contract, abort_wakes_the_peers_pending_read_with_reset_not_eof) {
  run_on_pair(GetParam(), [](asio::any_io_executor ex, flow& a, flow& b) -> asio::awaitable<void> {
    auto w = co_await write_string(b, "never read");
    EXPECT_TRUE(w);
    background<read_result> pending(ex, b.read());
    co_await test::yield(3);
    co_await a.abort();
    auto r = co_await pending.get();
    EXPECT_EQ(error_of(r), flow_condition::reset) << describe(r);
  });
}

TEST_P(flow_contract, abort_is_seen_by_the_peer_after_the_bytes_it_already_had) {
  run_on_pair(GetParam(), [](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
    auto w = co_await write_string(a, "before the cut");
    EXPECT_TRUE(w);
    auto got = co_await read_string(b, 14);
    EXPECT_EQ(got.value_or("<error>"), "before the cut");
    co_await a.abort();
    auto r = co_await with_timeout(b.read(), 10s);
    if (GetParam().abort_needs_unread_bytes) {
      EXPECT_EQ(describe(r), "<eof>") << "nothing of b's was unread at a, so no reset to send";
    } else {
      EXPECT_EQ(error_of(r), flow_condition::reset) << describe(r);
    }
  });
}

TEST_P(flow_contract, abort_ends_pending_and_later_operations_closed_like_close) {
  run_on_pair(GetParam(), [](asio::any_io_executor ex, flow& a, flow&) -> asio::awaitable<void> {
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

TEST_P(flow_contract, abort_after_close_does_nothing_and_the_peer_keeps_its_eof) {
  run_on_pair(GetParam(), [](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
    co_await a.close();
    co_await a.abort();
    auto r = co_await b.read();
    EXPECT_EQ(describe(r), "<eof>");
  });
}

// ---- layering (§1.3), with a record_flow over each kind ---------------------------------------

TEST_P(flow_contract, layered_underlying_returns_the_inner_flow) {
  test::run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto ends = co_await GetParam().make_pair(ex);
    flow_impl* inner = &ends.first.impl();
    flow a = test::layer_records(std::move(ends.first));
    EXPECT_EQ(a.underlying(), inner);
    co_await a.close();
    co_await ends.second.close();
  });
}

TEST_P(flow_contract, layered_close_closes_the_inner_flow) {
  run_on_layered_pair(GetParam(),
                      [](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
                        co_await a.close();
                        EXPECT_TRUE(a.underlying()->is_closed());
                        auto peer = co_await b.read();
                        EXPECT_EQ(describe(peer), "<eof>");
                      });
}

TEST_P(flow_contract, layered_abort_aborts_the_inner_flow) {
  run_on_layered_pair(GetParam(),
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

TEST_P(flow_contract, layered_shutdown_write_leaves_the_inner_write_side_open) {
  run_on_layered_pair(GetParam(),
                      [](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
                        co_await a.shutdown(shutdown_mode::write);
                        EXPECT_FALSE(a.underlying()->is_closed());
                        auto w = co_await a.underlying()->write(buffer::of_string("raw"));
                        EXPECT_TRUE(w) << "the inner write side was shut down";
                        // The peer's inner flow sees the outer protocol's end (an empty record),
                        // then the bytes written below it.
                        auto got = co_await read_string(*b.underlying(), 7);
                        EXPECT_EQ(got.value_or("<error>"), std::string("\0\0\0\0raw", 7));
                      });
}

TEST_P(flow_contract, layered_flow_closes_the_inner_once_both_halves_are_closed) {
  run_on_layered_pair(GetParam(),
                      [](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
                        co_await a.shutdown(shutdown_mode::write);
                        EXPECT_FALSE(a.underlying()->is_closed());
                        co_await b.shutdown(shutdown_mode::write);
                        auto end = co_await a.read();
                        EXPECT_EQ(describe(end), "<eof>");
                        EXPECT_TRUE(a.underlying()->is_closed());
                      });
}

TEST_P(flow_contract, layered_inner_eof_is_outer_eof) {
  run_on_layered_pair(GetParam(),
                      [](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
                        co_await b.underlying()->shutdown(shutdown_mode::write);
                        for (int i = 0; i < 2; ++i) {
                          auto r = co_await a.read();
                          EXPECT_EQ(describe(r), "<eof>") << "read " << i;
                        }
                      });
}

TEST_P(flow_contract, layered_inner_write_closed_closes_only_the_outer_write_side) {
  run_on_layered_pair(GetParam(),
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
