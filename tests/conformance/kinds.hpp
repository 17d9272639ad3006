// The flow kinds the conformance suite runs against. A kind is a type with
//
//   static constexpr const char* name;
//   static asio::awaitable<std::pair<flow, flow>> make_pair(asio::any_io_executor);
//
// giving two connected ends; optionally `static constexpr std::size_t bulk_bytes` when the
// kind cannot move the default 64 MiB of the bulk test in a few seconds. A new flow kind (TLS,
// vchan, the userspace stack) joins the suite with one more struct here and one more entry in
// `all_kinds` (flow_contract_kinds_test.cpp).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <flowstack/core/flow.hpp>
#include <flowstack/core/function_flow.hpp>
#include <flowstack/core/memory_flow.hpp>
#include <flowstack/core/wait_queue.hpp>
#include <flowstack/socket/tcp.hpp>
#include <flowstack/socket/unix.hpp>
#include <flowstack/stack/direct_stack.hpp>
#include <flowstack/stack/memory_switch.hpp>
#include <string>
#include <utility>

#include "conformance/tls_kinds.hpp"
#include "conformance/vchan_kinds.hpp"
#include "support/record_flow.hpp"

namespace flowstack::conformance {

struct memory_kind {
  static constexpr const char* name = "memory";
  static asio::awaitable<std::pair<flow, flow>> make_pair(asio::any_io_executor ex) {
    co_return memory_pair(ex);
  }
};

// Every read delivers 1..7 bytes: a delivery that cuts the stream anywhere.
struct memory_cut_kind {
  static constexpr const char* name = "memory_cut_reads";
  static constexpr std::size_t bulk_bytes = 1 << 20;  // reads of 4 bytes on average
  static asio::awaitable<std::pair<flow, flow>> make_pair(asio::any_io_executor ex) {
    auto ends = memory_pair(ex);
    ends.first.as<memory_flow>()->cut_reads(7, 1);
    ends.second.as<memory_flow>()->cut_reads(7, 2);
    co_return std::move(ends);
  }
};

// A layered flow (records, test/support/record_flow.hpp) over a memory pair that cuts reads,
// so record headers arrive in pieces.
struct layered_memory_kind {
  static constexpr const char* name = "records_over_memory_cut_reads";
  static constexpr std::size_t bulk_bytes = 1 << 20;
  static asio::awaitable<std::pair<flow, flow>> make_pair(asio::any_io_executor ex) {
    auto ends = memory_pair(ex);
    ends.first.as<memory_flow>()->cut_reads(7, 3);
    ends.second.as<memory_flow>()->cut_reads(7, 4);
    co_return std::pair{test::layer_records(std::move(ends.first)),
                        test::layer_records(std::move(ends.second))};
  }
};

// ---- kernel sockets ----------------------------------------------------------------------------
//
// A listener runs a handler per accepted flow and closes that flow when the handler returns.
// The handler here takes the accepted flow out of the listener's hands (leaving a placeholder
// for the listener to close) and passes it to the factory through a slot, so the test owns
// both ends and decides when they close; the listener itself goes away once the connection is
// made.

struct accepted_slot {
  explicit accepted_slot(asio::any_io_executor ex) : arrived(std::move(ex)) {}
  flow accepted;
  wait_queue arrived;
};

inline asio::awaitable<void> hand_over(std::shared_ptr<accepted_slot> slot, flow& f) {
  slot->accepted = std::exchange(f, string_flow(f.get_executor(), ""));
  slot->arrived.notify_all();
  co_return;
}

inline net::flow_handler handing_over_to(std::shared_ptr<accepted_slot> slot) {
  return [slot](flow& f) { return hand_over(slot, f); };
}

inline asio::awaitable<flow> wait_for_accepted(std::shared_ptr<accepted_slot> slot) {
  while (!slot->accepted) co_await slot->arrived.wait();
  co_return std::move(slot->accepted);
}

// The failure of a test's setup: the test fails with this message.
[[noreturn]] inline void setup_failed(const std::string& what, std::error_code ec) {
  throw std::runtime_error(what + ": " + ec.message());
}

inline asio::awaitable<std::pair<flow, flow>> tcp_pair(asio::any_io_executor ex, const char* host) {
  auto address = asio::ip::make_address(host);
  auto slot = std::make_shared<accepted_slot>(ex);
  auto listening = socket::listen(ex, net::tcp_endpoint(address, 0), handing_over_to(slot));
  if (!listening) setup_failed(std::string("listen on ") + host, listening.error());
  net::tcp_endpoint there(address, listening->local_port());
  auto connected = co_await socket::connect(there);
  if (!connected) setup_failed("connect to " + net::to_string(there), connected.error());
  flow accepted = co_await wait_for_accepted(slot);
  co_return std::pair{std::move(*connected), std::move(accepted)};
}

struct tcp_v4_kind {
  static constexpr const char* name = "tcp_v4";
  static asio::awaitable<std::pair<flow, flow>> make_pair(asio::any_io_executor ex) {
    return tcp_pair(std::move(ex), "127.0.0.1");
  }
};

struct tcp_v6_kind {
  static constexpr const char* name = "tcp_v6";
  static asio::awaitable<std::pair<flow, flow>> make_pair(asio::any_io_executor ex) {
    return tcp_pair(std::move(ex), "::1");
  }
};

// A Unix stream socket in a fresh temporary directory; the listener removes the socket file
// once the connection is made, and the directory goes with it.
struct unix_kind {
  static constexpr const char* name = "unix";
  // AF_UNIX stream sockets have no reset: a close with bytes from the peer still unread is the
  // only one the peer sees (ECONNRESET); otherwise it reads eof.
  static constexpr bool abort_needs_unread_bytes = true;
  static asio::awaitable<std::pair<flow, flow>> make_pair(asio::any_io_executor ex) {
    std::string dir = "/tmp/flowstack-conformance-XXXXXX";
    if (::mkdtemp(dir.data()) == nullptr) {
      setup_failed("mkdtemp", std::error_code(errno, std::system_category()));
    }
    std::string path = dir + "/flow.sock";
    auto slot = std::make_shared<accepted_slot>(ex);
    auto listening = socket::unix_listen(ex, path, handing_over_to(slot));
    if (!listening) setup_failed("listen on " + path, listening.error());
    auto connected = co_await socket::unix_connect(path);
    if (!connected) setup_failed("connect to " + path, connected.error());
    flow accepted = co_await wait_for_accepted(slot);
    listening->unlisten();
    ::rmdir(dir.c_str());
    co_return std::pair{std::move(*connected), std::move(accepted)};
  }
};

// ---- the userspace stack -----------------------------------------------------------------------
//
// TCP between two direct stacks on an in-memory switch, and TLS over it. The stacks are let go
// once the pair is made: their flows keep them running, and each stack's device keeps the switch
// alive (owning_port), so the pair outlives its setup.

// A port of a switch that the port keeps alive.
class owning_port final : public stack::device {
 public:
  owning_port(std::shared_ptr<stack::memory_switch> net, const stack::mac_address& address)
      : net_(std::move(net)), port_(net_->connect(address)) {}

  asio::awaitable<result<stack::frame>> receive() override { return port_->receive(); }
  result<void> send(buffer frame) override { return port_->send(std::move(frame)); }
  std::size_t mtu() const noexcept override { return port_->mtu(); }
  stack::mac_address address() const noexcept override { return port_->address(); }
  void close() override { port_->close(); }

 private:
  std::shared_ptr<stack::memory_switch> net_;  // declared first: the port goes before the switch
  std::unique_ptr<stack::device> port_;
};

inline asio::awaitable<std::pair<flow, flow>> direct_tcp_pair(asio::any_io_executor ex) {
  auto net = std::make_shared<stack::memory_switch>(ex, clock::steady());
  auto host = [&](std::uint8_t n) {
    stack::direct_stack_config c;
    c.ipv4.address = asio::ip::address_v4({10, 0, 0, n});
    return std::make_unique<stack::direct_stack>(
        ex, std::make_unique<owning_port>(net, stack::mac_address{{2, 0, 0, 0, 0, n}}), c);
  };
  auto server = host(1);
  auto client = host(2);
  auto slot = std::make_shared<accepted_slot>(ex);
  auto listening = server->listen({asio::ip::address_v4::any(), 7}, handing_over_to(slot));
  if (!listening) setup_failed("listen on the direct stack", listening.error());
  auto connected = co_await client->connect({asio::ip::address_v4({10, 0, 0, 1}), 7});
  if (!connected) setup_failed("connect on the direct stack", connected.error());
  flow accepted = co_await wait_for_accepted(slot);
  listening->unlisten();
  co_return std::pair{std::move(*connected), std::move(accepted)};
}

struct direct_tcp_kind {
  static constexpr const char* name = "direct_tcp";
  static constexpr std::size_t bulk_bytes = 16 << 20;
  static asio::awaitable<std::pair<flow, flow>> make_pair(asio::any_io_executor ex) {
    return direct_tcp_pair(std::move(ex));
  }
};

struct tls_direct_tcp_kind {
  static constexpr const char* name = "tls_over_direct_tcp";
  static constexpr std::size_t bulk_bytes = 4 << 20;
  static asio::awaitable<std::pair<flow, flow>> make_pair(asio::any_io_executor ex) {
    auto ends = co_await direct_tcp_pair(ex);
    co_return co_await tls_over(ex, std::move(ends));
  }
};

template <typename Kind>
constexpr std::size_t bulk_bytes_of() {
  if constexpr (requires { Kind::bulk_bytes; }) {
    return Kind::bulk_bytes;
  } else {
    return std::size_t{64} << 20;
  }
}

// A kind whose transport can tell an abort from an end only while bytes from the peer are unread
// (a Unix socket: the kernel has no reset for it) declares `abort_needs_unread_bytes`.
template <typename Kind>
constexpr bool abort_needs_unread_bytes_of() {
  if constexpr (requires { Kind::abort_needs_unread_bytes; }) {
    return Kind::abort_needs_unread_bytes;
  } else {
    return false;
  }
}

}  // namespace flowstack::conformance
