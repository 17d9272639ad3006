// The flow contract (flow_contract.hpp): half-close, the read-closed, write-closed and closed
// states.
#include "conformance/flow_contract.hpp"

namespace flowstack::conformance {
namespace {

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

TEST_P(flow_contract, half_close_request_then_whole_answer_from_a_to_b) {
  run_on_pair(GetParam(), [](asio::any_io_executor ex, flow& a, flow& b) -> asio::awaitable<void> {
    co_await request_then_answer(ex, a, b,
                                 std::min<std::size_t>(1 << 20, GetParam().bulk_bytes / 4));
  });
}

TEST_P(flow_contract, half_close_request_then_whole_answer_from_b_to_a) {
  run_on_pair(GetParam(), [](asio::any_io_executor ex, flow& a, flow& b) -> asio::awaitable<void> {
    co_await request_then_answer(ex, b, a,
                                 std::min<std::size_t>(1 << 20, GetParam().bulk_bytes / 4));
  });
}

// ---- read-closed -------------------------------------------------------------------------------

TEST_P(flow_contract, read_closed_flow_still_writes) {
  run_on_pair(GetParam(), [](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
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

TEST_P(flow_contract, shutdown_read_on_read_closed_flow_is_a_no_op) {
  run_on_pair(GetParam(), [](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
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

TEST_P(flow_contract, shutdown_write_on_read_closed_flow_closes_both_directions) {
  run_on_pair(GetParam(), [](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
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

TEST_P(flow_contract, close_on_read_closed_flow_fails_later_operations_closed) {
  run_on_pair(GetParam(), [](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
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

TEST_P(flow_contract, write_closed_flow_still_reads) {
  run_on_pair(GetParam(), [](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
    co_await a.shutdown(shutdown_mode::write);
    auto w = co_await write_string(b, "answer");
    EXPECT_TRUE(w);
    co_await b.shutdown(shutdown_mode::write);
    auto got = co_await read_all(a);
    EXPECT_EQ(got.value_or("<error>"), "answer");
  });
}

TEST_P(flow_contract, shutdown_read_on_write_closed_flow_closes_both_directions) {
  run_on_pair(GetParam(), [](asio::any_io_executor, flow& a, flow&) -> asio::awaitable<void> {
    co_await a.shutdown(shutdown_mode::write);
    co_await a.shutdown(shutdown_mode::read);
    auto r = co_await a.read();
    EXPECT_EQ(describe(r), "<eof>");
    auto w = co_await write_string(a, "x");
    EXPECT_EQ(error_of(w), flow_errc::closed);
  });
}

TEST_P(flow_contract, close_on_write_closed_flow_fails_later_operations_closed) {
  run_on_pair(GetParam(), [](asio::any_io_executor, flow& a, flow&) -> asio::awaitable<void> {
    co_await a.shutdown(shutdown_mode::write);
    co_await a.close();
    auto r = co_await a.read();
    EXPECT_EQ(error_of(r), flow_errc::closed);
    auto w = co_await write_string(a, "x");
    EXPECT_EQ(error_of(w), flow_errc::closed);
  });
}

// ---- closed ------------------------------------------------------------------------------------

TEST_P(flow_contract, read_after_close_fails_closed) {
  run_on_pair(GetParam(), [](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
    auto w = co_await write_string(b, "unread");
    EXPECT_TRUE(w);
    co_await a.close();
    auto r = co_await a.read();
    EXPECT_EQ(error_of(r), flow_errc::closed);
  });
}

TEST_P(flow_contract, write_after_close_fails_closed) {
  run_on_pair(GetParam(), [](asio::any_io_executor, flow& a, flow&) -> asio::awaitable<void> {
    co_await a.close();
    auto w = co_await write_string(a, "x");
    EXPECT_EQ(error_of(w), flow_errc::closed);
    std::vector<buffer> wv_parts{buffer::of_string("x")};
    auto wv = co_await a.writev(wv_parts);
    EXPECT_EQ(error_of(wv), flow_errc::closed);
  });
}

TEST_P(flow_contract, close_twice_is_harmless) {
  run_on_pair(GetParam(), [](asio::any_io_executor, flow& a, flow& b) -> asio::awaitable<void> {
    co_await a.close();
    co_await a.close();
    auto r = co_await a.read();
    EXPECT_EQ(error_of(r), flow_errc::closed);
    auto peer = co_await b.read();
    EXPECT_EQ(describe(peer), "<eof>");
  });
}

TEST_P(flow_contract, shutdown_after_close_is_a_no_op) {
  run_on_pair(GetParam(), [](asio::any_io_executor, flow& a, flow&) -> asio::awaitable<void> {
    co_await a.close();
    co_await a.shutdown(shutdown_mode::read);
    co_await a.shutdown(shutdown_mode::write);
    co_await a.shutdown(shutdown_mode::read_write);
    auto r = co_await a.read();
    EXPECT_EQ(error_of(r), flow_errc::closed);
  });
}

TEST_P(flow_contract, close_while_a_read_is_pending_ends_that_read_closed) {
  run_on_pair(GetParam(), [](asio::any_io_executor ex, flow& a, flow&) -> asio::awaitable<void> {
    background<read_result> pending(ex, a.read());
    co_await test::yield(3);
    co_await a.close();
    auto r = co_await pending.get();
    EXPECT_EQ(error_of(r), flow_errc::closed);
  });
}

TEST_P(flow_contract, close_while_a_write_is_pending_ends_that_write_closed) {
  run_on_pair(GetParam(), [](asio::any_io_executor ex, flow& a, flow&) -> asio::awaitable<void> {
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

TEST_P(flow_contract, close_does_not_wait_for_the_peer) {
  run_on_pair(GetParam(), [](asio::any_io_executor, flow& a, flow&) -> asio::awaitable<void> {
    auto w = co_await write_string(a, "never read by the peer");
    EXPECT_TRUE(w);
    co_await a.close();  // returns although the peer neither reads nor closes
    EXPECT_TRUE(a.impl().is_closed());
  });
}

TEST_P(flow_contract, peer_close_gives_eof_after_all_in_flight_data) {
  run_on_pair(GetParam(), [](asio::any_io_executor ex, flow& a, flow& b) -> asio::awaitable<void> {
    auto sent = random_bytes(std::min<std::size_t>(1 << 20, GetParam().bulk_bytes / 4), 9);
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

}  // namespace
}  // namespace flowstack::conformance
