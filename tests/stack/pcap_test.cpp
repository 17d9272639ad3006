// The pcap tap: what it writes is a capture that tshark reads, frame for frame, with nothing
// malformed in it.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <flowstack/stack/arp.hpp>
#include <flowstack/stack/ipv4.hpp>
#include <flowstack/stack/memory_switch.hpp>
#include <flowstack/stack/pcap.hpp>
#include <flowstack/stack/segment.hpp>
#include <string>

#include "support/virtual_time.hpp"

namespace flowstack::stack {
namespace {

using namespace std::chrono_literals;

const mac_address mac_a{{2, 0, 0, 0, 0, 0xa}};
const mac_address mac_b{{2, 0, 0, 0, 0, 0xb}};

std::span<std::uint8_t> bytes_of(const buffer& b) {
  return {reinterpret_cast<std::uint8_t*>(b.data()), b.size()};
}

buffer arp_request_frame() {
  buffer b = buffer::create(ethernet_header_size + arp_packet_size);
  write_ethernet_header(bytes_of(b), mac_address::broadcast(), mac_a, ethertype::arp);
  arp_packet a;
  a.sender_mac = mac_a;
  a.sender_ip = asio::ip::make_address_v4("10.0.0.1");
  a.target_ip = asio::ip::make_address_v4("10.0.0.2");
  write_arp(bytes_of(b).subspan(ethernet_header_size), a);
  return b;
}

buffer syn_frame() {
  tcp_header h;
  h.source_port = 40000;
  h.destination_port = 80;
  h.seq = 1;
  h.flags = tcp_flag::syn;
  h.window = 65535;
  h.options.mss = 1460;
  h.options.sack_permitted = true;
  h.options.window_scale = 7;
  h.options.timestamps = tcp_timestamps{1, 0};
  ipv4_header ip;
  ip.protocol = static_cast<std::uint8_t>(ip_protocol::tcp);
  ip.source = asio::ip::make_address_v4("10.0.0.1");
  ip.destination = asio::ip::make_address_v4("10.0.0.2");
  ip.total_length = static_cast<std::uint16_t>(ipv4_min_header_size + h.size());
  buffer b = buffer::create(ethernet_header_size + ip.total_length);
  auto bytes = bytes_of(b);
  write_ethernet_header(bytes, mac_b, mac_a, ethertype::ipv4);
  write_ipv4_header(bytes.subspan(ethernet_header_size), ip);
  write_tcp_header(bytes.subspan(ethernet_header_size + ipv4_min_header_size), h, 0,
                   ipv4_pseudo_header(ip.source, ip.destination, ip_protocol::tcp));
  return b;
}

std::string run(const std::string& command) {
  std::string out;
  std::FILE* p = ::popen(command.c_str(), "r");
  if (!p) return out;
  char chunk[4096];
  while (std::size_t n = std::fread(chunk, 1, sizeof chunk, p)) out.append(chunk, n);
  ::pclose(p);
  return out;
}

TEST(pcap_tap, tshark_reads_every_frame_sent_and_received_with_nothing_malformed) {
  auto path = std::filesystem::temp_directory_path() /
              ("flowstack-pcap-" + std::to_string(::getpid()) + ".pcap");
  manual_clock time;
  test::run_virtual(time, [&time, &path](asio::any_io_executor ex) -> asio::awaitable<void> {
    memory_switch s(ex, time);
    auto opened = pcap_tap::open(path.string(), s.connect(mac_a), time);
    CO_ASSERT_TRUE(opened);
    auto a = std::move(*opened);
    auto b = s.connect(mac_b);
    EXPECT_TRUE(a->send(arp_request_frame()));
    co_await time.wait_for(1500us);
    EXPECT_TRUE(a->send(syn_frame()));
    EXPECT_TRUE(b->send(syn_frame()));  // to b's own address: no other port has it, so a gets it
    auto back = co_await a->receive();
    EXPECT_TRUE(back);
    EXPECT_EQ(a->frames_written(), 3u);
    a->close();
  });
  std::string fields = run(std::string(TSHARK_BINARY) + " -r " + path.string() +
                           " -T fields -e frame.time_relative -e frame.protocols 2>/dev/null");
  EXPECT_NE(fields.find("0.000000000\teth:ethertype:arp"), std::string::npos) << fields;
  EXPECT_NE(fields.find("0.001500000\teth:ethertype:ip:tcp"), std::string::npos) << fields;
  EXPECT_EQ(std::count(fields.begin(), fields.end(), '\n'), 3) << fields;
  std::string bad = run(std::string(TSHARK_BINARY) + " -r " + path.string() +
                        " -Y '_ws.malformed || _ws.expert.severity >= warning' 2>/dev/null");
  EXPECT_EQ(bad, "") << "tshark found problems in the capture";
  std::filesystem::remove(path);
}

TEST(pcap_tap, a_file_that_cannot_be_created_is_an_error) {
  manual_clock time;
  asio::io_context io;
  memory_switch s(io.get_executor(), time);
  auto opened = pcap_tap::open("/nonexistent-dir/x.pcap", s.connect(mac_a), time);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error(), std::errc::no_such_file_or_directory);
}

}  // namespace
}  // namespace flowstack::stack
