// Against a real DNS client: kdig (Knot DNS) sends its queries to a UDP socket of the test on
// loopback; the test decodes them and answers with messages this codec encodes.
#include <gtest/gtest.h>

#include <flowstack/dns/message.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <optional>
#include <string>

#include "wire.hpp"

namespace flowstack::dns {
namespace {

using test::bytes;
using test::dname;
using test::ipv4;
using test::make_record;

struct exchange {
  std::optional<message> query;  // what kdig sent, decoded
  std::string output;            // what kdig printed
};

// Runs `kdig <args>` against a UDP socket on 127.0.0.1 and answers its first query with
// `answer(query)` (nothing when it returns nullopt). kdig gives up after 2 s without an answer.
exchange run_kdig(const std::string& args,
                  const std::function<std::optional<bytes>(const message&)>& answer) {
  exchange result;
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  std::string command = "kdig @127.0.0.1 -p " + std::to_string(ntohs(addr.sin_port)) +
                        " +time=2 +retry=0 " + args + " 2>&1";
  FILE* kdig = ::popen(command.c_str(), "r");
  EXPECT_NE(kdig, nullptr);
  if (!kdig) {
    ::close(fd);
    return result;
  }
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 5000) == 1) {
    std::uint8_t datagram[65536];
    sockaddr_in peer{};
    socklen_t peer_len = sizeof peer;
    auto n =
        ::recvfrom(fd, datagram, sizeof datagram, 0, reinterpret_cast<sockaddr*>(&peer), &peer_len);
    if (n > 0) {
      auto q =
          decode_detailed(std::span<const std::uint8_t>(datagram, static_cast<std::size_t>(n)));
      EXPECT_TRUE(q) << (q ? "" : q.error().detail);
      if (q) {
        result.query = *q;
        if (auto reply = answer(*q))
          ::sendto(fd, reply->data(), reply->size(), 0, reinterpret_cast<sockaddr*>(&peer),
                   peer_len);
      }
    }
  } else {
    ADD_FAILURE() << "kdig sent no query";
  }
  char chunk[4096];
  std::size_t got;
  while ((got = std::fread(chunk, 1, sizeof chunk, kdig)) > 0) result.output.append(chunk, got);
  ::pclose(kdig);
  ::close(fd);
  return result;
}

message reply_to(const message& q) {
  message r;
  r.header = q.header;
  r.header.qr = r.header.ra = true;
  r.header.ad = false;
  r.questions = q.questions;
  if (q.edns) {
    r.edns.emplace();
    r.edns->udp_payload_size = 1232;
    r.edns->dnssec_ok = q.edns->dnssec_ok;
  }
  return r;
}

TEST(dns_kdig, query_decodes_with_its_edns_settings) {
  auto x = run_kdig(
      "+bufsize=1400 +dnssec www.Example.com AAAA",
      [](const message& q) -> std::optional<bytes> { return encode(reply_to(q)).value(); });
  ASSERT_TRUE(x.query);
  const message& q = *x.query;
  EXPECT_FALSE(q.header.qr);
  EXPECT_TRUE(q.header.rd);
  ASSERT_EQ(q.questions.size(), 1u);
  EXPECT_EQ(q.questions[0].qname, dname("www.example.com"));
  EXPECT_EQ(q.questions[0].qtype, rr_type::aaaa);
  ASSERT_TRUE(q.edns);
  EXPECT_EQ(q.edns->udp_payload_size, 1400);
  EXPECT_TRUE(q.edns->dnssec_ok);
}

TEST(dns_kdig, reads_our_compressed_answer) {
  auto x =
      run_kdig("+noall +answer www.example.com A", [](const message& q) -> std::optional<bytes> {
        message r = reply_to(q);
        r.answers.push_back(make_record("www.example.com", rr_type::cname, 300,
                                        rdata_name{dname("edge.example.net")}));
        r.answers.push_back(make_record("edge.example.net", rr_type::a, 60, ipv4(192, 0, 2, 7)));
        r.answers.push_back(
            make_record("edge.example.net", rr_type::txt, 60, rdata_txt{{"say \"hi\""}}));
        return encode(r).value();
      });
  EXPECT_NE(x.output.find("www.example.com."), std::string::npos) << x.output;
  EXPECT_NE(x.output.find("CNAME\tedge.example.net."), std::string::npos) << x.output;
  EXPECT_NE(x.output.find("A\t192.0.2.7"), std::string::npos) << x.output;
  EXPECT_NE(x.output.find("TXT\t\"say \\\"hi\\\"\""), std::string::npos) << x.output;
}

TEST(dns_kdig, sees_tc_on_an_answer_truncated_to_512) {
  auto x =
      run_kdig("+ignore +noedns www.example.com A", [](const message& q) -> std::optional<bytes> {
        message r = reply_to(q);
        for (int i = 0; i < 64; ++i)
          r.answers.push_back(make_record("www.example.com", rr_type::a, 60,
                                          ipv4(10, 0, 0, static_cast<std::uint8_t>(i))));
        return encode(r, {.max_size = 512}).value();
      });
  EXPECT_NE(x.output.find("Flags: qr tc rd ra"), std::string::npos) << x.output;
  EXPECT_NE(x.output.find("ANSWER: 29"), std::string::npos) << x.output;
}

}  // namespace
}  // namespace flowstack::dns
