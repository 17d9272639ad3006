// Fuzz target for a whole direct stack: frames from a hostile host on the same switch reach a
// stack that has a listener and an open connection, on a manual clock.
//
// Stack a (10.0.0.2) listens on port 80 and echoes; stack b (10.0.0.1) has connected to it and
// sent a line. The input is a list of steps, each a kind byte and its bytes:
//   0 LEN(2) FRAME   a frame, sent from a third port (checksums fixed when the kind's 0x80 bit
//                    is set, so that the input reaches TCP rather than a checksum test);
//   1 AT N BYTES     b's last TCP segment to a again, with N bytes from AT in its TCP header
//                    replaced (checksums fixed): a segment of the open connection, damaged;
//   2 TICKS          TICKS × 10 ms of time.
// Then time runs on ten minutes, the connection is closed and the stacks are destroyed. The
// stack must not crash (the sanitizers check), hang, hold more than its buffer budget, or leak.
//
// With clang this is a libFuzzer target; with g++ it is linked with replay_main.cpp, which runs
// it over the files and directories named on the command line (the corpus).
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <flowstack/stack/checksum.hpp>
#include <flowstack/stack/direct_stack.hpp>
#include <flowstack/stack/memory_switch.hpp>
#include <memory>
#include <span>
#include <vector>

namespace {

using namespace flowstack;
using namespace flowstack::stack;
using namespace std::chrono_literals;
using bytes = std::span<const std::uint8_t>;

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "stack_whole_fuzz: invariant broken: %s\n", what);
  std::abort();
}

const mac_address mac_a{{2, 0, 0, 0, 0, 2}};
const mac_address mac_b{{2, 0, 0, 0, 0, 1}};
const mac_address mac_host{{2, 0, 0, 0, 0, 3}};
const asio::ip::address_v4 ip_a = asio::ip::make_address_v4("10.0.0.2");
const asio::ip::address_v4 ip_b = asio::ip::make_address_v4("10.0.0.1");

direct_stack_config config_for(const asio::ip::address_v4& address) {
  direct_stack_config c;
  c.ipv4.address = address;
  c.ipv4.prefix_length = 24;
  c.tcp.seed = address.to_uint();
  c.tcp.buffer_budget = 1024 * 1024;
  return c;
}

// b's device, keeping the last TCP segment b sent to a.
class recording_device final : public device {
 public:
  recording_device(std::unique_ptr<device> inner, std::vector<std::uint8_t>& last)
      : inner_(std::move(inner)), last_(last) {}
  asio::awaitable<result<frame>> receive() override { return inner_->receive(); }
  result<void> send(buffer f) override {
    auto o = f.octets();
    // Ethernet, IPv4, TCP.
    if (o.size() >= 14 + 20 + 20 && o[12] == 0x08 && o[13] == 0x00 && o[14 + 9] == 6)
      last_.assign(o.begin(), o.end());
    return inner_->send(std::move(f));
  }
  std::size_t mtu() const noexcept override { return inner_->mtu(); }
  mac_address address() const noexcept override { return inner_->address(); }
  void close() override { inner_->close(); }

 private:
  std::unique_ptr<device> inner_;
  std::vector<std::uint8_t>& last_;
};

void put16(std::vector<std::uint8_t>& f, std::size_t at, std::uint16_t v) {
  f[at] = static_cast<std::uint8_t>(v >> 8);
  f[at + 1] = static_cast<std::uint8_t>(v);
}

// Makes the IPv4 header's checksum, and a whole TCP or UDP datagram's, right.
void fix_checksums(std::vector<std::uint8_t>& f) {
  if (f.size() < 14 + 20 || f[12] != 0x08 || f[13] != 0x00) return;
  const std::size_t ihl = (f[14] & 0x0f) * 4u;
  if (ihl < 20 || f.size() < 14 + ihl) return;
  put16(f, 14 + 10, 0);
  put16(f, 14 + 10, internet_checksum(bytes(f).subspan(14, ihl)));
  const std::size_t total = std::min<std::size_t>(f.size() - 14, (f[16] << 8) | f[17]);
  const bool fragment = ((f[20] & 0x3f) | f[21]) != 0;
  if (total < ihl || fragment) return;
  const std::uint8_t protocol = f[14 + 9];
  const std::size_t at = 14 + ihl, length = total - ihl;
  const std::size_t field = protocol == 6 ? 16 : protocol == 17 ? 6 : 0;
  if (field == 0 || length < field + 2) return;
  put16(f, at + field, 0);
  checksum sum;
  sum.add(bytes(f).subspan(14 + 12, 8));  // the addresses
  sum.add_u16(protocol);
  sum.add_u16(static_cast<std::uint16_t>(length));
  sum.add(bytes(f).subspan(at, length));
  put16(f, at + field, sum.value());
}

asio::awaitable<void> echo(flow& f) {
  for (;;) {
    auto r = co_await f.read();
    if (!r || r->is_eof()) break;
    auto w = co_await f.write(r->data());
    if (!w) break;
  }
  co_await f.shutdown(shutdown_mode::write);
}

asio::awaitable<void> run(manual_clock& time, bytes input) {
  auto ex = co_await asio::this_coro::executor;
  std::vector<std::uint8_t> last;
  memory_switch net(ex, time, 5);
  auto a = std::make_unique<direct_stack>(ex, net.connect(mac_a), config_for(ip_a), time);
  auto b = std::make_unique<direct_stack>(
      ex, std::make_unique<recording_device>(net.connect(mac_b), last), config_for(ip_b), time);
  auto host = net.connect(mac_host);
  auto l = a->listen({asio::ip::address_v4::any(), 80}, echo);
  check(l.has_value(), "a listens");
  auto f = co_await b->connect({ip_a, 80});
  check(f.has_value(), "b connects");
  auto w = co_await f->write(buffer::of_string("hello\n"));
  check(w.has_value(), "b writes");
  co_await time.wait_until(time.now() + 100ms);
  check(!last.empty() && a->tcp().connections() == 1, "the connection is open");

  std::size_t i = 0;
  auto next = [&]() -> int { return i < input.size() ? input[i++] : -1; };
  while (i < input.size()) {
    const int kind = next();
    if ((kind & 0x7f) == 0) {
      const int hi = next(), lo = next();
      if (lo < 0) break;
      const std::size_t n = std::min<std::size_t>((hi << 8) | lo, input.size() - i);
      std::vector<std::uint8_t> frame(input.begin() + i, input.begin() + i + n);
      i += n;
      if (kind & 0x80) fix_checksums(frame);
      (void)host->send(buffer::copy_of(std::as_bytes(std::span(frame))));
    } else if ((kind & 0x7f) == 1) {
      const int at = next(), n = next();
      if (n < 0) break;
      std::vector<std::uint8_t> frame = last;
      const std::size_t tcp = frame.empty() ? 0 : 14 + (frame[14] & 0x0f) * 4u;
      for (int k = 0; k < n && i < input.size(); ++k, ++i) {
        const std::size_t where = tcp + static_cast<std::size_t>(at + k);
        if (where < frame.size()) frame[where] = input[i];
      }
      if (frame.empty()) continue;
      fix_checksums(frame);
      (void)host->send(buffer::copy_of(std::as_bytes(std::span(frame))));
    } else {
      const int ticks = next();
      if (ticks < 0) break;
      co_await time.wait_until(time.now() + ticks * 10ms);
    }
    co_await time.wait_until(time.now() + 1ms);
    check(a->tcp().buffered_bytes() <= 1024 * 1024, "a holds more than its budget");
  }
  co_await time.wait_until(time.now() + 10min);
  co_await f->close();
  l->unlisten();
  host->close();
  a.reset();
  b.reset();
  for (int k = 0; k < 16; ++k) co_await asio::post(asio::use_awaitable);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  manual_clock time;
  asio::io_context io;
  bool finished = false;
  asio::co_spawn(io, run(time, bytes(data, size)), [&finished](std::exception_ptr e) {
    check(!e, "an exception escaped");
    finished = true;
  });
  // Virtual time: when nothing is ready, the clock jumps to the next deadline.
  const auto start = time.now();
  while (!finished) {
    io.restart();
    if (io.poll() != 0) continue;
    if (finished) break;
    auto at = time.next_deadline();
    check(at.has_value(), "the stack waits for what never comes");
    check(*at - start < std::chrono::hours(2), "virtual time ran past two hours");
    time.advance_to(*at);
  }
  return 0;
}
