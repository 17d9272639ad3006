// Behaviours that need a peer that does not answer or goes away: built in network namespaces
// and veth pairs the tests make themselves (tests/support/netns.hpp).
#include "support/netns.hpp"

#include <flowstack/socket/tcp.hpp>

#include "helpers.hpp"
#include "support/async.hpp"
#include "support/run.hpp"
#include "support/virtual_time.hpp"

namespace flowstack::socket {
namespace {

using namespace std::chrono_literals;
using namespace test;

tcp_endpoint at(const char* address, unsigned short port) {
  return {asio::ip::make_address(address), port};
}

// Whether the namespace has a connection in SYN-SENT to `address`: the kernel sent its SYN and
// waits for an answer.
bool syn_sent_to(const network_namespace& ns, const std::string& address) {
  const std::string command = "ip netns exec " + ns.name() + " ss -Htn state syn-sent dst " +
                              address + " | grep -q " + address;
  return std::system(command.c_str()) == 0;
}

struct connect_outcome {
  bool pending_before_the_timeout = false;
  std::error_code error;
  clock::duration took{};
};

asio::awaitable<std::error_code> connect_within_300ms(manual_clock* time) {
  connect_options options;
  options.timeout = 300ms;
  options.clock = time;
  auto r = co_await connect(at("10.213.0.2", 80), options);
  co_return error_of(r);
}

// Connects to 10.213.0.2 with a 300 ms timeout on `time`, and looks at the kernel's side 1 ns
// before the timeout.
asio::awaitable<connect_outcome> connect_to_blackhole(asio::any_io_executor ex, manual_clock& time,
                                                      const network_namespace* ns) {
  const auto start = time.now();
  background<std::error_code> connected(ex, connect_within_300ms(&time));
  co_await time.wait_until(start + 300ms - 1ns);
  connect_outcome out;
  out.pending_before_the_timeout = !connected.ready() && syn_sent_to(*ns, "10.213.0.2");
  out.error = co_await connected.get();
  out.took = time.now() - start;
  co_return out;
}

TEST(tcp_netns, connect_times_out_when_syn_is_dropped) {
  // 10.213.0.2 sits behind a veth whose neighbour entry names a MAC no interface has: the SYN
  // goes out on the link and nobody takes it.
  network_namespace ns("syn-drop");
  ASSERT_TRUE(ns.ok());
  ASSERT_TRUE(ns.ip("link add v0 type veth peer name v1"));
  ASSERT_TRUE(ns.ip("addr add 10.213.0.1/24 dev v0"));
  ASSERT_TRUE(ns.ip("link set v0 up"));
  ASSERT_TRUE(ns.ip("link set v1 up"));
  ASSERT_TRUE(ns.ip("neigh replace 10.213.0.2 lladdr 02:00:00:00:00:01 dev v0 nud permanent"));
  // The timeout runs on a manual clock: the connect is really under way in the kernel, and it
  // ends because the clock reaches 300 ms, not because 300 ms of real time pass.
  auto outcome = ns.enter([&ns] {
    return run_on_manual_clock([&ns](asio::any_io_executor ex, manual_clock& time) {
      return connect_to_blackhole(ex, time, &ns);
    });
  });
  EXPECT_TRUE(outcome.pending_before_the_timeout);
  EXPECT_EQ(outcome.error, net::net_errc::timeout) << outcome.error.message();
  EXPECT_EQ(outcome.took, 300ms);
}

TEST(tcp_netns, connect_without_a_route_is_unreachable) {
  // A fresh namespace has only loopback: no route to anywhere else, and no packet is sent.
  network_namespace ns("no-route");
  ASSERT_TRUE(ns.ok());
  auto error = ns.enter([] {
    return run([](asio::any_io_executor) -> asio::awaitable<std::error_code> {
      auto r = co_await connect(at("10.213.0.2", 80));
      co_return error_of(r);
    });
  });
  EXPECT_EQ(error, net::net_errc::unreachable) << error.message();
}

struct held {
  explicit held(asio::any_io_executor ex) : release(ex) {}
  gate release;
};

asio::awaitable<void> hold(std::shared_ptr<held> h, flow& f) {
  (void)co_await write_string(f, "in");
  co_await h->release.wait();
}

asio::awaitable<read_result> read_of(flow& f) {
  co_return co_await f.read();
}

TEST(tcp_netns, keepalive_notices_a_dead_peer) {
  // The client lives in `near`, the server in `far`, joined by a veth pair. Once the connection
  // is idle the far end's link goes down: keepalive probes go unanswered and the read fails.
  network_namespace near("keepalive-near");
  network_namespace far("keepalive-far");
  ASSERT_TRUE(near.ok() && far.ok());
  ASSERT_TRUE(near.ip("link add a0 type veth peer name b0 netns " + far.name()));
  ASSERT_TRUE(near.ip("addr add 10.213.1.1/24 dev a0"));
  ASSERT_TRUE(far.ip("addr add 10.213.1.2/24 dev b0"));
  ASSERT_TRUE(near.ip("link set a0 up"));
  ASSERT_TRUE(far.ip("link set b0 up"));

  auto outcome = near.enter([&far] {
    return run([&far](asio::any_io_executor ex) -> asio::awaitable<std::error_code> {
      auto h = std::make_shared<held>(ex);
      flow_handler handler = [h](flow& f) { return hold(h, f); };
      auto l = far.enter([&] { return listen(ex, at("10.213.1.2", 0), handler); });
      EXPECT_TRUE(l) << error_of(l).message();
      if (!l) co_return std::error_code{};
      connect_options options;
      options.timeout = 2s;
      options.keepalive = keepalive{std::chrono::seconds(1), std::chrono::seconds(1), 2};
      auto f = co_await must_connect(at("10.213.1.2", l->local_port()), options);
      if (!f) co_return std::error_code{};
      auto hello = co_await read_string(f, 2);
      EXPECT_EQ(hello.value_or("<error>"), "in");

      EXPECT_TRUE(far.ip("link set b0 down"));
      auto start = std::chrono::steady_clock::now();
      auto r = co_await with_timeout(read_of(f), 10s);
      auto took = std::chrono::steady_clock::now() - start;
      EXPECT_LT(took, 8s);
      h->release.open();
      co_await f.close();
      // The released handler returns and the listener closes its flow before the loop ends.
      bool drained = co_await yield_until([&l] { return l->active_connections() == 0; });
      EXPECT_TRUE(drained);
      co_return error_of(r);
    });
  });
  EXPECT_EQ(outcome, net::net_errc::timeout) << outcome.message();
}

}  // namespace
}  // namespace flowstack::socket
