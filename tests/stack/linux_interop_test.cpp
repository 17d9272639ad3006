// The userspace stack against Linux's own TCP/IP: a direct_stack on a TAP device in a network
// namespace the test makes, and the kernel's tools (ping, socat, curl, iperf3) on the other side
// of it.
#include <gtest/gtest.h>

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <cstdio>
#include <filesystem>
#include <flowstack/core/combinators.hpp>
#include <flowstack/net/error.hpp>
#include <flowstack/socket/stack.hpp>
#include <flowstack/stack/direct_stack.hpp>
#include <flowstack/stack/pcap.hpp>
#include <flowstack/stack/tap.hpp>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "support/netns.hpp"
#include "support/netns_command.hpp"
#include "support/run.hpp"

namespace flowstack::stack {
namespace {

using namespace std::chrono_literals;
using asio::ip::address_v4;

const mac_address ours{{0x02, 0, 0, 0, 0x42, 0x02}};
const address_v4 our_ip = asio::ip::make_address_v4("10.213.10.2");
const address_v4 linux_ip = asio::ip::make_address_v4("10.213.10.1");
const address_v4 nobody_ip = asio::ip::make_address_v4("10.213.10.99");
const std::string our_address = "10.213.10.2";

// Bytes no two offsets of which are likely to repeat in step, so that a lost, doubled or
// misplaced segment shows in a comparison.
std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  std::uint32_t x = 0x2545f491;
  for (auto& c : s) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

std::string file_contents(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

asio::awaitable<std::string> read_all(flow& f) {
  std::string got;
  for (;;) {
    auto r = co_await f.read();
    if (!r || r->is_eof()) co_return got;
    got += r->data().to_string();
  }
}

asio::awaitable<void> pause(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  t.expires_after(d);
  co_await t.async_wait(asio::use_awaitable);
}

// A connect to a kernel listener that a command is still starting: refusals are retried for a
// few seconds.
asio::awaitable<result<flow>> connect_when_listening(direct_stack& net, std::uint16_t port) {
  for (int i = 0;; ++i) {
    auto f = co_await net.connect({linux_ip, port}, {.timeout = 2000ms});
    if (f || f.error() != net::net_errc::refused || i == 50) co_return f;
    co_await pause(100ms);
  }
}

// A scratch directory for one test's files, removed afterwards.
struct scratch {
  explicit scratch(const std::string& tag)
      : dir(std::filesystem::temp_directory_path() /
            ("flowstack-interop-" + tag + "-" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(dir);
  }
  ~scratch() { std::filesystem::remove_all(dir); }
  std::filesystem::path dir;
};

// The setting of every test: a namespace, the TAP device fs0 in it with Linux at 10.213.10.1/24,
// and the stack at 10.213.10.2 on the device (through a pcap tap when `capture` names a file).
// `body` runs with the stack and the namespace; the stack goes once it returns.
struct setting {
  std::filesystem::path capture;
  ipv4_layer::options network;
};

template <typename Body>
void with_linux(const std::string& tag, Body body, const setting& how = {}) {
  const auto& capture = how.capture;
  test::network_namespace ns(tag);
  ASSERT_TRUE(ns.ok());
  ns.enter([&] {
    test::run(
        [&](asio::any_io_executor ex) -> asio::awaitable<void> {
          auto opened = open_tap(ex, {.name = "fs0", .address = ours});
          CO_ASSERT_TRUE(opened.has_value());
          std::unique_ptr<device> dev = std::move(*opened);
          if (!capture.empty()) {
            auto tapped = pcap_tap::open(capture.string(), std::move(dev), clock::steady());
            CO_ASSERT_TRUE(tapped.has_value());
            dev = std::move(*tapped);
          }
          EXPECT_TRUE(ns.ip("link set fs0 up"));
          EXPECT_TRUE(ns.ip("addr add 10.213.10.1/24 dev fs0"));
          direct_stack_config config;
          config.ipv4 = {our_ip, 24, std::nullopt, 1500};
          config.network = how.network;
          auto net = std::make_unique<direct_stack>(ex, std::move(dev), config);
          co_await body(*net, ns);
          net.reset();
          co_await pause(50ms);  // the stack's loop ends and closes the device
        },
        20s);
  });
}

TEST(linux_interop, the_kernel_pings_the_stack_and_learns_its_address_by_arp) {
  with_linux("ping", [](direct_stack& net, test::network_namespace& ns) -> asio::awaitable<void> {
    test::kernel_command ping(ns, "ping -c 3 -i 0.2 -W 2 -s 1200 " + our_address);
    bool answered = co_await ping.succeeded();
    EXPECT_TRUE(answered) << ping.output();
    EXPECT_NE(ping.output().find("3 received"), std::string::npos) << ping.output();
    test::kernel_command neigh(ns, "ip neigh show " + our_address);
    bool shown = co_await neigh.succeeded();
    EXPECT_TRUE(shown);
    EXPECT_NE(neigh.output().find("lladdr 02:00:00:00:42:02"), std::string::npos) << neigh.output();
    EXPECT_EQ(net.network().drops(ipv4_layer::drop_reason::bad_packet), 0u);
  });
}

TEST(linux_interop, socat_sends_megabytes_to_a_stack_listener_byte_for_byte) {
  scratch files("to-stack");
  const std::string sent = pattern(3 * 1024 * 1024 + 17);
  std::ofstream(files.dir / "in", std::ios::binary) << sent;
  with_linux(
      "to-stack", [&](direct_stack& net, test::network_namespace& ns) -> asio::awaitable<void> {
        std::string received;
        bool ended = false;
        auto l = net.listen({address_v4::any(), 5001}, [&](flow& f) -> asio::awaitable<void> {
          received = co_await read_all(f);
          co_await f.close();
          ended = true;
        });
        CO_ASSERT_TRUE(l.has_value());
        test::kernel_command socat(
            ns, "socat -u FILE:" + (files.dir / "in").string() + " TCP:" + our_address + ":5001");
        bool sent_all = co_await socat.succeeded();
        EXPECT_TRUE(sent_all) << socat.output();
        for (int i = 0; i < 200 && !ended; ++i) co_await pause(10ms);
        EXPECT_TRUE(ended);
        EXPECT_EQ(received.size(), sent.size());
        EXPECT_TRUE(received == sent) << "the bytes differ";
        EXPECT_EQ(net.tcp().stats().malformed, 0u);
      });
}

TEST(linux_interop, the_stack_sends_megabytes_to_a_socat_listener_byte_for_byte) {
  scratch files("from-stack");
  const std::string sent = pattern(3 * 1024 * 1024 + 5);
  with_linux("from-stack",
             [&](direct_stack& net, test::network_namespace& ns) -> asio::awaitable<void> {
               test::kernel_command socat(
                   ns, "socat -u TCP-LISTEN:5002,reuseaddr CREATE:" + (files.dir / "out").string());
               auto f = co_await connect_when_listening(net, 5002);
               CO_ASSERT_TRUE(f.has_value());
               auto w = co_await f->write(buffer::of_string(sent));
               EXPECT_TRUE(w);
               co_await f->shutdown(shutdown_mode::write);
               auto rest = co_await read_all(*f);  // socat closes once it has read the FIN
               EXPECT_EQ(rest, "");
               co_await f->close();
               bool wrote = co_await socat.succeeded();
               EXPECT_TRUE(wrote) << socat.output();
               const std::string received = file_contents(files.dir / "out");
               EXPECT_EQ(received.size(), sent.size());
               EXPECT_TRUE(received == sent) << "the bytes differ";
               // The device hands runs of segments to the kernel as one (TSO): far fewer
               // frames than the 2,155 segments of 1460 bytes the data takes.
               test::kernel_command frames(ns, "cat /sys/class/net/fs0/statistics/rx_packets");
               bool counted = co_await frames.succeeded();
               EXPECT_TRUE(counted) << frames.output();
               const int count = std::atoi(frames.output().c_str());
               EXPECT_GT(count, 10) << frames.output();
               EXPECT_LT(count, 1000) << frames.output();
             });
}

TEST(linux_interop, the_stack_answers_after_the_kernel_has_shut_its_writing_half) {
  with_linux("half-in",
             [](direct_stack& net, test::network_namespace& ns) -> asio::awaitable<void> {
               auto l = net.listen({address_v4::any(), 5003}, [](flow& f) -> asio::awaitable<void> {
                 auto got = co_await read_all(f);  // to the kernel's FIN
                 auto w = co_await f.write(buffer::of_string("after your FIN: " + got));
                 EXPECT_TRUE(w);
                 co_await f.close();
               });
               CO_ASSERT_TRUE(l.has_value());
               test::kernel_command socat(
                   ns, "printf question | socat -t 5 - TCP:" + our_address + ":5003");
               bool ok = co_await socat.succeeded();
               EXPECT_TRUE(ok) << socat.output();
               EXPECT_EQ(socat.output(), "after your FIN: question");
             });
}

TEST(linux_interop, the_kernel_answers_after_the_stack_has_shut_its_writing_half) {
  with_linux("half-out",
             [](direct_stack& net, test::network_namespace& ns) -> asio::awaitable<void> {
               test::kernel_command socat(ns, "socat TCP-LISTEN:5004,reuseaddr EXEC:\"wc -c\"");
               auto f = co_await connect_when_listening(net, 5004);
               CO_ASSERT_TRUE(f.has_value());
               auto w = co_await f->write(buffer::of_string(pattern(100000)));
               EXPECT_TRUE(w);
               co_await f->shutdown(shutdown_mode::write);
               auto answer = co_await read_all(*f);  // wc counts once it has read the stack's FIN
               EXPECT_EQ(answer, "100000\n");
               co_await f->close();
               bool ok = co_await socat.succeeded();
               EXPECT_TRUE(ok) << socat.output();
             });
}

TEST(linux_interop, curl_fetches_a_page_from_an_http_responder_on_the_stack) {
  with_linux("curl", [](direct_stack& net, test::network_namespace& ns) -> asio::awaitable<void> {
    std::string request;
    auto l = net.listen({address_v4::any(), 8080}, [&](flow& f) -> asio::awaitable<void> {
      while (request.find("\r\n\r\n") == std::string::npos && request.size() < 65536) {
        auto r = co_await f.read();
        if (!r || r->is_eof()) break;
        request += r->data().to_string();
      }
      const std::string body = pattern(200000);
      auto w = co_await f.write(buffer::of_string(
          "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
          std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body));
      EXPECT_TRUE(w);
      co_await f.close();
    });
    CO_ASSERT_TRUE(l.has_value());
    test::kernel_command curl(
        ns,
        "curl -sS --max-time 5 -o /dev/null -w \"%{http_code} %{size_download}\" "
        "http://" +
            our_address + ":8080/page");
    bool ok = co_await curl.succeeded();
    EXPECT_TRUE(ok) << curl.output();
    EXPECT_EQ(curl.output(), "200 200000");
    EXPECT_EQ(request.rfind("GET /page HTTP/1.1\r\n", 0), 0u) << request;
  });
}

TEST(linux_interop, a_connect_to_a_closed_kernel_port_is_refused) {
  with_linux("refused", [](direct_stack& net, test::network_namespace&) -> asio::awaitable<void> {
    auto f = co_await net.connect({linux_ip, 9}, {.timeout = 3000ms});
    EXPECT_FALSE(f.has_value());
    if (!f) {
      EXPECT_EQ(f.error(), net::net_errc::refused);
    }
  });
}

TEST(linux_interop, a_connect_to_an_address_nobody_answers_arp_for_fails_in_its_timeout) {
  with_linux("nobody", [](direct_stack& net, test::network_namespace&) -> asio::awaitable<void> {
    const auto start = std::chrono::steady_clock::now();
    auto f = co_await net.connect({nobody_ip, 80}, {.timeout = 1500ms});
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_FALSE(f.has_value());
    if (!f) {
      EXPECT_EQ(f.error(), flow_condition::timeout);
    }
    EXPECT_LT(took, 2500ms);
    EXPECT_EQ(net.tcp().connections(), 0u);
  });
}

std::string run_command(const std::string& command) {
  std::string out;
  std::FILE* p = ::popen(command.c_str(), "r");
  if (!p) return out;
  char chunk[4096];
  while (std::size_t n = std::fread(chunk, 1, sizeof chunk, p)) out.append(chunk, n);
  ::pclose(p);
  return out;
}

TEST(linux_interop, a_capture_of_a_transfer_with_linux_has_nothing_malformed_for_tshark) {
  scratch files("pcap");
  const auto capture = files.dir / "transfer.pcap";
  const std::string sent = pattern(512 * 1024);
  std::ofstream(files.dir / "in", std::ios::binary) << sent;
  with_linux("pcap",
             [&](direct_stack& net, test::network_namespace& ns) -> asio::awaitable<void> {
               std::string received;
               auto l =
                   net.listen({address_v4::any(), 5005}, [&](flow& f) -> asio::awaitable<void> {
                     received = co_await read_all(f);
                     auto w = co_await f.write(buffer::of_string(received.substr(0, 100000)));
                     EXPECT_TRUE(w);
                     co_await f.close();
                   });
               CO_ASSERT_TRUE(l.has_value());
               test::kernel_command socat(ns, "socat -t 5 FILE:" + (files.dir / "in").string() +
                                                  " TCP:" + our_address + ":5005 > /dev/null");
               bool ok = co_await socat.succeeded();
               EXPECT_TRUE(ok) << socat.output();
               EXPECT_EQ(received.size(), sent.size());
             },
             {.capture = capture});
  const std::string tshark = std::string(TSHARK_BINARY) + " -o tcp.check_checksum:TRUE -o " +
                             "ip.check_checksum:TRUE -r " + capture.string();
  auto count = [&tshark](const std::string& filter) {
    return std::stoi(run_command(tshark + " -Y '" + filter + "' 2>/dev/null | wc -l"));
  };
  const int all = count("frame");
  EXPECT_GT(count("tcp"), 100);
  // With the device's offloads the kernel hands over runs of segments whole, its checksums left
  // for the device to complete: the checks below read those completed checksums.
  EXPECT_GT(count("frame.len > 1514 && ip.src == 10.213.10.1"), 0)
      << "no segment from Linux was larger than the MTU";
  // Counted as the frames that pass, so that a filter tshark rejects fails rather than passes.
  EXPECT_EQ(count("not (_ws.malformed || tcp.checksum.status == 0 || ip.checksum.status == 0 || "
                  "_ws.expert.severity >= error)"),
            all)
      << "tshark found problems in the capture";
}

// The number after `"bytes":` in the object `key` of iperf3's -J report (its end's "sum_sent"
// or "sum_received"), or -1.
long long iperf3_bytes(const std::string& report, const std::string& key) {
  auto at = report.find("\"" + key + "\"");
  if (at == std::string::npos) return -1;
  at = report.find("\"bytes\":", at);
  if (at == std::string::npos) return -1;
  return std::atoll(report.c_str() + at + 8);
}

// One way of a relay between a flow on the stack and one on the kernel's TCP: what `from` gives
// goes to `to`, whose writing half is shut at `from`'s end. `moved` counts what `from` gave, read
// to its end even once `to` takes no more.
asio::awaitable<void> relay_one_way(flow& from, flow& to, std::uint64_t& moved) {
  bool writing = true;
  for (;;) {
    auto r = co_await from.read();
    if (!r || r->is_eof()) break;
    moved += r->data().size();
    if (writing) {
      auto w = co_await to.write(r->data());
      writing = w.has_value();
    }
  }
  if (writing) co_await to.shutdown(shutdown_mode::write);
}

// iperf3 through the stack: the kernel's `iperf3 -c` in the namespace connects to a listener on
// the stack, which relays each connection (iperf3's control connection and its data stream) to
// `iperf3 -s` on the namespace's loopback over the kernel's TCP. So iperf3's bytes cross Linux's
// TCP, the TAP device and the stack's TCP: towards the stack, or with -R away from it.
//
// The receiving iperf3 counts what it has read when the control connection says the test ended,
// which can be before the relay has passed on the last of the stream, and then closes: so what
// the stack took from Linux is counted by the relay, and iperf3's receiving count is checked
// where it reads from the stack directly (-R).
void iperf3_through_the_stack(const std::string& tag, bool reverse) {
  using namespace asio::experimental::awaitable_operators;
  scratch files(tag);
  const auto report = files.dir / "report.json";
  const std::uint64_t twenty_mib = 20ull << 20;
  std::uint64_t most_from_linux = 0, most_to_linux = 0;
  with_linux(tag, [&](direct_stack& net, test::network_namespace& ns) -> asio::awaitable<void> {
    socket::stack kernel(net.get_executor());
    int relayed = 0;
    auto l = net.listen({address_v4::any(), 5201}, [&](flow& f) -> asio::awaitable<void> {
      result<flow> server = fail(net::net_errc::refused);
      for (int i = 0; i < 50 && !server; ++i) {  // while iperf3 -s starts
        server = co_await kernel.connect({asio::ip::address_v4::loopback(), 5202});
        if (!server) co_await pause(100ms);
      }
      CO_ASSERT_TRUE(server.has_value());
      ++relayed;
      std::uint64_t from_linux = 0, to_linux = 0;
      co_await (relay_one_way(f, *server, from_linux) && relay_one_way(*server, f, to_linux));
      co_await f.close();
      co_await server->close();
      most_from_linux = std::max(most_from_linux, from_linux);
      most_to_linux = std::max(most_to_linux, to_linux);
    });
    CO_ASSERT_TRUE(l.has_value());
    test::kernel_command server(ns, "iperf3 -s -1 -B 127.0.0.1 -p 5202", 15s);
    test::kernel_command client(ns,
                                "iperf3 -c " + our_address +
                                    " -p 5201 -n 20M -J --connect-timeout " + "3000" +
                                    (reverse ? " -R" : "") + " > " + report.string(),
                                15s);
    bool ran = co_await client.succeeded();
    EXPECT_TRUE(ran) << client.output() << file_contents(report);
    bool served = co_await server.succeeded();
    EXPECT_TRUE(served) << server.output();
    for (int i = 0; i < 200 && most_from_linux < twenty_mib && most_to_linux < twenty_mib; ++i)
      co_await pause(10ms);  // the relay's last bytes
    EXPECT_EQ(relayed, 2);   // the control connection and one stream
  });
  const std::string json = file_contents(report);
  EXPECT_EQ(iperf3_bytes(json, "sum_sent"), static_cast<long long>(twenty_mib)) << json;
  if (reverse) {
    EXPECT_EQ(iperf3_bytes(json, "sum_received"), static_cast<long long>(twenty_mib)) << json;
    EXPECT_GE(most_to_linux, twenty_mib);
  } else {
    EXPECT_EQ(most_from_linux, twenty_mib + 37);  // iperf3's cookie, then the 20 MiB
  }
}

TEST(linux_interop, iperf3_sends_twenty_mebibytes_from_linux_through_the_stack) {
  iperf3_through_the_stack("iperf3", false);
}

TEST(linux_interop, iperf3_reversed_sends_twenty_mebibytes_through_the_stack_to_linux) {
  iperf3_through_the_stack("iperf3-reverse", true);
}

// Crafted packets from the kernel's side, by scapy: each is something a stack must not take.
// argv[1] is the stack's port of the connection from it to the kernel's port 5006.
const char* const bad_packets = R"(
import sys
from scapy.config import conf
from scapy.layers.inet import IP, ICMP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.sendrecv import sendp
conf.verb = 0
us, port = "10.213.10.2", int(sys.argv[1])
def send(p):
    sendp(Ether(dst="02:00:00:00:42:02") / p, iface="fs0")
send(IP(dst=us, chksum=0x1234) / ICMP())                              # IPv4 header checksum
send(IP(dst=us) / TCP(sport=40001, dport=7000, flags="S", chksum=0x1234))  # TCP checksum
send(IP(dst=us) / TCP(sport=40002, dport=7000, flags="S", dataofs=6) / Raw(b"\x02\x08\x05\xb4"))
send(IP(dst=us) / TCP(sport=40003, dport=7000, flags="S", dataofs=4))    # header shorter than 20
send(IP(dst=us, len=30) / TCP(sport=40004, dport=7000, flags="S"))       # segment cut short
send(IP(dst=us) / TCP(sport=5006, dport=port, flags="R", seq=0x7fff0000))  # RST out of window
send(IP(dst=us) / TCP(sport=5006, dport=port, flags="PA", seq=0x7fff0000) / Raw(b"junk"))
send(IP(dst=us) / TCP(sport=40005, dport=7000, flags="SF"))
send(IP(dst=us, id=777, flags="MF", frag=0, proto=17) / Raw(b"a" * 24))  # overlapping
send(IP(dst=us, id=777, frag=2, proto=17) / Raw(b"b" * 16))
send(IP(dst=us, id=778, flags="MF", frag=0, proto=17) / Raw(b"c" * 16))  # never completed
)";

TEST(linux_interop, crafted_bad_packets_from_scapy_are_dropped_and_a_connection_outlives_them) {
  scratch files("scapy");
  std::ofstream(files.dir / "bad.py") << bad_packets;
  ipv4_layer::options network;
  network.fragments.timeout = std::chrono::seconds(1);
  with_linux(
      "scapy",
      [&](direct_stack& net, test::network_namespace& ns) -> asio::awaitable<void> {
        auto l = net.listen({address_v4::any(), 7000},
                            [](flow& f) -> asio::awaitable<void> { co_await f.close(); });
        CO_ASSERT_TRUE(l.has_value());
        // Scapy starts slowly on a loaded machine: the echo outlives it by a wide margin.
        test::kernel_command echo(ns, "socat TCP-LISTEN:5006,reuseaddr EXEC:cat", 15s);
        auto f = co_await connect_when_listening(net, 5006);
        CO_ASSERT_TRUE(f.has_value());
        auto w = co_await f->write(buffer::of_string("before"));
        EXPECT_TRUE(w);
        auto before = co_await read_exactly(*f, 6);
        CO_ASSERT_TRUE(before.has_value());
        EXPECT_EQ(before->to_string(), "before");

        const auto tcp_before = net.tcp().stats();
        const auto bad_before = net.network().drops(ipv4_layer::drop_reason::bad_packet);
        const auto port = f->as<net::tcp_flow>()->src().port();
        test::kernel_command scapy(
            ns, "/usr/bin/python3 " + (files.dir / "bad.py").string() + " " + std::to_string(port));
        bool sent = co_await scapy.succeeded();
        EXPECT_TRUE(sent) << scapy.output();
        co_await pause(1500ms);  // past the fragment timeout

        EXPECT_EQ(net.network().drops(ipv4_layer::drop_reason::bad_packet) - bad_before, 1u);
        // The bad checksum, the option running past the header, the data offset below 5 and
        // the segment longer than its packet.
        EXPECT_EQ(net.tcp().stats().malformed - tcp_before.malformed, 4u);
        EXPECT_EQ(net.tcp().stats().resets_sent, tcp_before.resets_sent);
        EXPECT_EQ(net.network().fragments_dropped().overlapping, 1u);
        EXPECT_EQ(net.network().fragments_dropped().timed_out, 1u);

        // Neither the RST nor the data out of the window touched the connection (RFC 5961,
        // RFC 9293 §3.10.7.4).
        w = co_await f->write(buffer::of_string("after"));
        EXPECT_TRUE(w);
        auto after = co_await read_exactly(*f, 5);
        CO_ASSERT_TRUE(after.has_value());
        EXPECT_EQ(after->to_string(), "after");
        co_await f->shutdown(shutdown_mode::write);
        auto rest = co_await read_all(*f);
        EXPECT_EQ(rest, "");
        co_await f->close();
        bool ended = co_await echo.succeeded();
        EXPECT_TRUE(ended) << echo.output();
      },
      {.network = network});
}

}  // namespace
}  // namespace flowstack::stack
