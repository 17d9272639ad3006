// The forwarder on the userspace stack: the server and the resolver run on a direct_stack over a
// TAP device in a network namespace the test makes, kdig asks it from the kernel's side of the
// device over UDP and TCP, and its upstream is a small responder on the kernel's side too.
#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <filesystem>
#include <flowstack/core/combinators.hpp>
#include <flowstack/dns/resolver.hpp>
#include <flowstack/dns/server.hpp>
#include <flowstack/stack/direct_stack.hpp>
#include <flowstack/stack/tap.hpp>
#include <fstream>
#include <memory>
#include <string>

#include "support/netns.hpp"
#include "support/netns_command.hpp"
#include "support/run.hpp"

namespace flowstack::dns {
namespace {

using namespace std::chrono_literals;
using asio::ip::address_v4;

// Answers every question, over UDP and over TCP (the forwarder asks over the protocol it was
// asked over), with one A record, 192.0.2.7; ends after 2 s without a question.
const char* const upstream_script = R"(
import select, socket
def answer(q):
    end = 12
    while q[end] != 0:
        end += 1 + q[end]
    rr = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x00\x02\x07"
    return q[:2] + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + q[12:end + 5] + rr
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("10.213.11.1", 53))
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("10.213.11.1", 53))
t.listen()
while True:
    ready, _, _ = select.select([u, t], [], [], 2)
    if not ready:
        break
    if u in ready:
        q, peer = u.recvfrom(4096)
        u.sendto(answer(q), peer)
    if t in ready:
        c, _ = t.accept()
        c.settimeout(2)
        q = c.recv(2)
        q = c.recv(q[0] << 8 | q[1], socket.MSG_WAITALL)
        a = answer(q)
        c.sendall(len(a).to_bytes(2, "big") + a)
        c.close()
)";

TEST(userspace_stack, kdig_gets_answers_over_udp_and_tcp_from_the_forwarder_on_a_tap_device) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("flowstack-dns-stack-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "upstream.py") << upstream_script;
  test::network_namespace ns("dns-stack");
  ASSERT_TRUE(ns.ok());
  ns.enter([&] {
    test::run(
        [&](asio::any_io_executor ex) -> asio::awaitable<void> {
          auto tap = stack::open_tap(ex, {.name = "fs0"});
          CO_ASSERT_TRUE(tap.has_value());
          EXPECT_TRUE(ns.ip("link set fs0 up"));
          EXPECT_TRUE(ns.ip("addr add 10.213.11.1/24 dev fs0"));
          stack::direct_stack_config sc;
          sc.ipv4 = {asio::ip::make_address_v4("10.213.11.2"), 24, std::nullopt, 1500};
          auto net = std::make_unique<stack::direct_stack>(ex, std::move(*tap), sc);

          test::kernel_command upstream(
              ns, "timeout 6 /usr/bin/python3 " + (dir / "upstream.py").string());
          config c;
          c.servers.push_back(
              server_config{{asio::ip::make_address("10.213.11.1"), 53}, {}, 1000ms, 0});
          resolver r(ex, c, *net);
          server s(r);
          auto udp = net->udp_bind({address_v4::any(), 53});
          CO_ASSERT_TRUE(udp.has_value());
          asio::co_spawn(ex, s.serve_udp(**udp), asio::detached);
          auto tcp = net->listen({address_v4::any(), 53}, [&s](flow& f) -> asio::awaitable<void> {
            co_await s.serve_tcp(std::move(f));
          });
          CO_ASSERT_TRUE(tcp.has_value());

          // The upstream may still be starting: kdig asks again on UDP (the forwarder's
          // SERVFAIL is an answer, so the loop looks for the address).
          std::string over_udp;
          for (int i = 0; i < 20 && over_udp.find("192.0.2.7") == std::string::npos; ++i) {
            test::kernel_command kdig(ns, "kdig @10.213.11.2 +time=1 +retry=0 www.example.com A");
            co_await kdig.succeeded();
            over_udp = kdig.output();
          }
          EXPECT_NE(over_udp.find("192.0.2.7"), std::string::npos) << over_udp;
          test::kernel_command kdig_tcp(
              ns, "kdig @10.213.11.2 +tcp +time=2 +retry=0 mail.example.com A");
          bool asked = co_await kdig_tcp.succeeded();
          EXPECT_TRUE(asked) << kdig_tcp.output();
          EXPECT_NE(kdig_tcp.output().find("192.0.2.7"), std::string::npos) << kdig_tcp.output();
          EXPECT_NE(kdig_tcp.output().find("@53(TCP)"), std::string::npos) << kdig_tcp.output();

          s.stop();
          tcp->unlisten();
          (*udp)->close();
          co_await with_timeout(s.drain(), 2s);
          udp->reset();
          net.reset();
          bool upstream_ended = co_await upstream.succeeded();
          EXPECT_TRUE(upstream_ended) << upstream.output();
        },
        20s);
  });
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace flowstack::dns
