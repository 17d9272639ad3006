// Transfers between two direct stacks over the in-memory switch, on the virtual clock (100
// Mbit/s and 5 ms each way), for a table of buffer sizes and loss rates (the idea of smoltcp's
// netsim): throughput is bytes over virtual seconds, so each cell is the same on every run and on
// any machine. Without loss a transfer runs at what the window allows, min(rate, buffer / RTT);
// with loss it is slower, and slower the more is lost.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <cstdio>
#include <flowstack/stack/direct_stack.hpp>
#include <flowstack/stack/memory_switch.hpp>
#include <memory>
#include <sstream>
#include <string>

#include "support/run.hpp"
#include "support/virtual_time.hpp"

namespace flowstack::stack {
namespace {

using namespace std::chrono_literals;
using asio::ip::address_v4;

const mac_address mac_a{{2, 0, 0, 0, 0, 0xa}};
const mac_address mac_b{{2, 0, 0, 0, 0, 0xb}};
const address_v4 ip_a = asio::ip::make_address_v4("10.0.0.1");
const address_v4 ip_b = asio::ip::make_address_v4("10.0.0.2");

constexpr std::uint64_t rate = 100'000'000;  // bits per second, each way
constexpr clock::duration one_way = 5ms;     // so the RTT is 10 ms
constexpr std::array<std::size_t, 3> buffers = {16 * 1024, 64 * 1024, 256 * 1024};
constexpr std::array<double, 4> losses = {0, 0.001, 0.01, 0.05};

direct_stack_config config_for(const address_v4& a, std::size_t buffer) {
  direct_stack_config c;
  c.ipv4.address = a;
  c.ipv4.prefix_length = 24;
  c.tcp.seed = a.to_uint();
  c.tcp.settings.send_buffer = buffer;
  c.tcp.settings.receive_buffer = buffer;
  return c;
}

// Reads to eof, then answers one byte: the sender's clock stops when it arrives.
asio::awaitable<void> sink(flow& f) {
  for (;;) {
    auto r = co_await f.read();
    if (!r || r->is_eof()) break;
  }
  co_await f.write(buffer::of_string("."));
  co_await f.shutdown(shutdown_mode::write);
}

// Bytes per virtual second of one transfer of `bytes` with `buffer`-sized windows.
double throughput(std::size_t buffer, double loss, std::size_t bytes) {
  manual_clock time;
  return test::run_virtual(
      time, [&time, buffer, loss, bytes](asio::any_io_executor ex) -> asio::awaitable<double> {
        link_faults faults;
        faults.loss = loss;
        faults.delay = one_way;
        faults.bits_per_second = rate;
        memory_switch net(ex, time, 11);
        auto a = std::make_unique<direct_stack>(ex, net.connect(mac_a, faults),
                                                config_for(ip_a, buffer), time);
        auto b = std::make_unique<direct_stack>(ex, net.connect(mac_b, faults),
                                                config_for(ip_b, buffer), time);
        double result = 0;
        auto l = a->listen({address_v4::any(), 9}, sink);
        auto f = co_await b->connect({ip_a, 9});
        if (l && f) {
          const auto start = time.now();
          auto w = co_await f->write(buffer::of_string(std::string(bytes, 'x')));
          EXPECT_TRUE(w);
          co_await f->shutdown(shutdown_mode::write);
          auto r = co_await f->read();
          EXPECT_TRUE(r && !r->is_eof()) << "the receiver did not answer";
          const double seconds = std::chrono::duration<double>(time.now() - start).count();
          result = static_cast<double>(bytes) / seconds;
          co_await f->close();
          l->unlisten();
        } else {
          ADD_FAILURE() << "no connection";
        }
        a.reset();
        b.reset();
        for (int i = 0; i < 16; ++i) co_await asio::post(asio::use_awaitable);
        co_return result;
      });
}

std::string kib(std::size_t n) {
  return std::to_string(n / 1024) + " KiB";
}

// One row of the table per buffer size, each its own test (a row is the most a sanitizer build
// should run in one test's time limit). Each prints its row of docs/stack.md's table.
class netsim : public testing::TestWithParam<std::size_t> {};

TEST_P(netsim, throughput_is_what_the_window_allows_without_loss_and_falls_with_loss) {
  const std::size_t buffer = GetParam();
  constexpr double rtt = 2 * std::chrono::duration<double>(one_way).count();
  const double bound = std::min(rate / 8.0, static_cast<double>(buffer) / rtt);
  // Enough round trips at the window's pace that slow start is a small part of the time, and
  // enough segments that 0.1 % loses some.
  const std::size_t bytes = std::max<std::size_t>(16 * buffer, 1024 * 1024);
  std::array<double, losses.size()> row{};
  for (std::size_t j = 0; j < losses.size(); ++j) row[j] = throughput(buffer, losses[j], bytes);

  std::ostringstream out;
  char cell[64];
  std::snprintf(cell, sizeof cell, "| %s | %.2f MB/s |", kib(buffer).c_str(), bound / 1e6);
  out << cell;
  for (double t : row) {
    std::snprintf(cell, sizeof cell, " %.2f MB/s |", t / 1e6);
    out << cell;
  }
  std::printf("%s\n", out.str().c_str());
  RecordProperty("row", out.str());

  EXPECT_GT(row[0], 0.7 * bound) << "without loss";
  EXPECT_LT(row[0], 1.3 * bound) << "without loss";
  for (std::size_t j = 1; j < losses.size(); ++j)
    EXPECT_LE(row[j], row[j - 1]) << "loss " << losses[j] << " against " << losses[j - 1];
  // A loss now and then costs a retransmission and a halved window, not the window's worth of
  // segments behind the hole.
  EXPECT_GT(row[1], 0.5 * row[0]) << "loss " << losses[1];
}

INSTANTIATE_TEST_SUITE_P(buffers, netsim, testing::ValuesIn(buffers),
                         [](const testing::TestParamInfo<std::size_t>& info) {
                           return std::to_string(info.param / 1024) + "_kib";
                         });

}  // namespace
}  // namespace flowstack::stack
