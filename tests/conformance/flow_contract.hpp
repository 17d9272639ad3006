// The flow contract (DESIGN.md §1.1 operations, §1.2 states, §1.3 layering), run against every
// flow kind of kinds.hpp: the fixture and the helpers of the flow_contract_*_test.cpp files. Each
// test states one cell or one rule; `a` and `b` are the two ends of a fresh connection.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <flowstack/core/combinators.hpp>
#include <flowstack/core/flow.hpp>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "support/async.hpp"
#include "support/record_flow.hpp"
#include "support/run.hpp"
#include "support/virtual_time.hpp"

namespace flowstack::conformance {

using namespace std::chrono_literals;
using test::background;
using test::describe;
using test::error_of;
using test::read_all;
using test::read_string;
using test::write_string;

// A flow kind of kinds.hpp as a value: the suite's tests are compiled once and run for each kind,
// rather than compiled once per kind (as a typed suite they were one translation unit that kept a
// core busy for minutes).
struct kind_info {
  const char* name;
  asio::awaitable<std::pair<flow, flow>> (*make_pair)(asio::any_io_executor);
  std::size_t bulk_bytes;         // how many bytes the bulk tests move
  bool abort_needs_unread_bytes;  // see the abort cells
};

inline void PrintTo(const kind_info& kind, std::ostream* out) {
  *out << kind.name;
}

// The suite; `GetParam()` is the kind under test. Its tests are spread over the
// flow_contract_*_test.cpp files, and flow_contract_kinds_test.cpp runs them for every kind.
class flow_contract : public ::testing::TestWithParam<kind_info> {};

template <typename Body>
asio::awaitable<void> on_pair(asio::any_io_executor ex, const kind_info& kind, Body body) {
  auto ends = co_await kind.make_pair(ex);
  co_await body(ex, ends.first, ends.second);
  co_await ends.first.close();
  co_await ends.second.close();
}

// Runs `body(executor, a, b)` on a fresh connection of `kind`, then closes both ends. The body
// must collect every background operation it starts.
template <typename Body>
void run_on_pair(const kind_info& kind, Body body) {
  test::run([body, &kind](asio::any_io_executor ex) { return on_pair(ex, kind, body); }, 30s);
}

// The same for the cells about time: `body(executor, a, b, time)` runs with a manual clock that
// jumps to the next deadline whenever nothing else can run (support/virtual_time.hpp), so a
// timeout falls due only once the transport has nothing left to do, in no wall time.
template <typename Body>
void run_on_pair_in_virtual_time(const kind_info& kind, Body body) {
  manual_clock time;
  auto with_time = [body, &time](asio::any_io_executor ex, flow& a, flow& b) {
    return body(ex, a, b, time);
  };
  test::run_virtual(
      time, [with_time, &kind](asio::any_io_executor ex) { return on_pair(ex, kind, with_time); },
      std::chrono::hours(24), 30s);
}

// The same with both ends wrapped in a record_flow, for the layering rules.
template <typename Body>
asio::awaitable<void> on_layered_pair(asio::any_io_executor ex, const kind_info& kind, Body body) {
  auto ends = co_await kind.make_pair(ex);
  flow a = test::layer_records(std::move(ends.first));
  flow b = test::layer_records(std::move(ends.second));
  co_await body(ex, a, b);
  co_await a.close();
  co_await b.close();
}

template <typename Body>
void run_on_layered_pair(const kind_info& kind, Body body) {
  test::run([body, &kind](asio::any_io_executor ex) { return on_layered_pair(ex, kind, body); },
            30s);
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

inline buffer random_bytes(std::size_t n, std::uint64_t seed) {
  auto b = buffer::create_uninitialized(n);
  xorshift rng(seed);
  for (std::size_t at = 0; at < n; at += 8) {
    std::uint64_t word = rng.next();
    std::memcpy(b.data() + at, &word, std::min<std::size_t>(8, n - at));
  }
  return b;
}

inline std::string text_of(std::size_t n, std::uint64_t seed) {
  return random_bytes(n, seed).to_string();
}

// Writes `data` then shuts the write side down.
inline asio::awaitable<write_result> write_then_shutdown(flow& f, buffer data) {
  auto w = co_await f.write(std::move(data));
  co_await f.shutdown(shutdown_mode::write);
  co_return w;
}

// Writes `data` in pieces of seeded random sizes (each a fresh buffer), then shuts down.
inline asio::awaitable<write_result> write_in_random_chunks(flow& f, buffer data,
                                                            std::uint64_t seed) {
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
inline asio::awaitable<bulk_check> read_and_compare(flow& f, buffer expected) {
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

}  // namespace flowstack::conformance
