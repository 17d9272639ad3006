// The relay of `flowstack cat` run in this process, with kinds made for the test: what it does
// when a kind misbehaves in ways no real endpoint can be made to.

#include <gtest/gtest.h>

#include <csignal>
#include <future>
#include <stdexcept>
#include <string>

#include "cat.hpp"
#include "kinds.hpp"
#include "process.hpp"

namespace flowstack::test {
namespace {

using cli::address;
using cli::endpoint;
using cli::kind_registry;
using cli::kind_role;
using cli::open_context;

asio::awaitable<result<flow>> connect_throwing(const endpoint&, const open_context&) {
  throw std::runtime_error("the connector threw");
  co_return fail(flow_errc::closed);  // never reached; makes this a coroutine
}

class throwing_layer final : public cli::layer {
 public:
  asio::awaitable<result<flow>> wrap(flow) override {
    throw std::runtime_error("the layer threw");
    co_return fail(flow_errc::closed);
  }
  std::string agreed(const flow&) const override { return ""; }
};

result<std::unique_ptr<cli::layer>> open_throwing_layer(const endpoint&, const open_context&) {
  return std::make_unique<throwing_layer>();
}

// The real transports, and kinds that throw where they should return an error: a bug in a kind,
// or a library that throws (Asio did, for a Unix path too long for a socket address).
const kind_registry& kinds_that_throw() {
  static const kind_registry kinds = [] {
    kind_registry k;
    cli::add_transport_kinds(k);
    k.add({.name = "throwing",
           .role = kind_role::connector,
           .usage = "throwing",
           .help = "a connector whose connect throws",
           .connect = connect_throwing});
    k.add({.name = "throwing-layer",
           .role = kind_role::layer,
           .usage = "throwing-layer|TRANSPORT",
           .help = "a layer whose wrap throws",
           .open_layer = open_throwing_layer});
    return k;
  }();
  return kinds;
}

address parsed(const std::string& text) {
  auto a = cli::parse_address(text, kinds_that_throw());
  if (!a) throw std::invalid_argument(text + ": " + a.error().detail);
  return *a;
}

// run_cat on a thread of its own; stopped with SIGTERM, as a person stops the program.
class relay_thread {
 public:
  relay_thread(const std::string& first, const std::string& second)
      : first_(parsed(first)), second_(parsed(second)) {
    testing::internal::CaptureStderr();
    running_ = std::async(std::launch::async, [this] { return cli::run_cat(first_, second_, {}); });
  }
  ~relay_thread() {
    if (running_.valid()) stop();
  }

  // The exit status; the relay's stderr is in err() afterwards.
  int stop() {
    ::kill(::getpid(), SIGTERM);  // the relay's signal_set takes it, on whatever thread
    if (running_.wait_for(10s) != std::future_status::ready) {
      ADD_FAILURE() << "the relay did not stop within 10 s of SIGTERM";
      std::abort();  // its thread still uses the addresses
    }
    int status = running_.get();
    err_ = testing::internal::GetCapturedStderr();
    return status;
  }
  const std::string& err() const { return err_; }

 private:
  address first_;
  address second_;
  std::future<int> running_;
  std::string err_;
};

// With max-children=1 a session that never gave its slot back would leave `second` unserved:
// connected in the backlog, never closed.
void each_peer_is_served_and_closed(unsigned short port) {
  for (const char* peer : {"first", "second", "third"}) {
    auto client = tcp_connect(port);
    ASSERT_TRUE(client) << peer << " peer could not connect";
    auto end = read_to_end(client, 3000ms);
    EXPECT_FALSE(end.timed_out) << "the " << peer << " peer was never served";
  }
}

TEST(relay, a_connector_that_throws_fails_its_session_and_the_relay_serves_the_next_peer) {
  auto port = free_port();
  relay_thread relay("tcp-listen:127.0.0.1:" + std::to_string(port) + ",fork,max-children=1",
                     "throwing");
  each_peer_is_served_and_closed(port);
  EXPECT_EQ(relay.stop(), 128 + SIGTERM);
  EXPECT_NE(relay.err().find("flowstack cat: relay of tcp 127.0.0.1:"), std::string::npos)
      << relay.err();
  EXPECT_NE(relay.err().find("failed: the connector threw"), std::string::npos) << relay.err();
  EXPECT_EQ(relay.err().find("internal error"), std::string::npos) << relay.err();
}

TEST(relay, a_layer_that_throws_on_the_listener_fails_its_session_and_the_relay_serves_the_next) {
  auto port = free_port();
  tcp_server backend;
  relay_thread relay(
      "throwing-layer|tcp-listen:127.0.0.1:" + std::to_string(port) + ",fork,max-children=1",
      "tcp:127.0.0.1:" + std::to_string(backend.port()));
  each_peer_is_served_and_closed(port);
  EXPECT_EQ(relay.stop(), 128 + SIGTERM);
  EXPECT_NE(relay.err().find("failed: the layer threw"), std::string::npos) << relay.err();
}

TEST(relay, a_connector_that_throws_without_fork_exits_1_naming_the_failure) {
  auto port = free_port();
  auto first = parsed("tcp-listen:127.0.0.1:" + std::to_string(port));
  auto second = parsed("throwing");
  testing::internal::CaptureStderr();
  auto running = std::async(std::launch::async, [&] { return cli::run_cat(first, second, {}); });
  auto client = tcp_connect(port);
  ASSERT_TRUE(client);
  EXPECT_FALSE(read_to_end(client, 3000ms).timed_out);
  ASSERT_EQ(running.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(running.get(), 1);
  auto err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("failed: the connector threw"), std::string::npos) << err;
}

}  // namespace
}  // namespace flowstack::test
