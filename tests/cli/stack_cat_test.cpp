// `flowstack stack` and `flowstack cat`'s stack addresses end to end: the built program on a TAP
// device in a network namespace the test makes, against Linux's ping and socat on the kernel's
// side of the device. Nothing leaves the namespace.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "process.hpp"
#include "support/netns.hpp"

namespace flowstack::test {
namespace {

const std::string flowstack_binary = FLOWSTACK_BINARY;
const std::string socat_binary = SOCAT_BINARY;
const std::string tshark_binary = TSHARK_BINARY;

std::string pattern(std::size_t size, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(size, '\0');
  for (auto& c : s) c = static_cast<char>(gen() & 0xff);
  return s;
}

// A namespace with the program's TAP device in it: the stack's end is ADDRESS.2/24, the kernel's
// ADDRESS.1/24 once configure() ran (after the program made the device).
class tap_namespace {
 public:
  tap_namespace(const std::string& tag, std::string subnet)
      : ns_(tag), subnet_(std::move(subnet)) {}

  bool ok() const { return ns_.ok(); }
  std::string stack_ip() const { return subnet_ + ".2"; }
  std::vector<std::string> stack_options() const {
    return {"--stack-tap", "fs0", "--stack-address", stack_ip() + "/24"};
  }
  // `argv` run inside the namespace.
  std::vector<std::string> inside(std::vector<std::string> argv) const {
    argv.insert(argv.begin(), {"ip", "netns", "exec", ns_.name()});
    return argv;
  }
  bool make_device() const { return ns_.ip("tuntap add dev fs0 mode tap"); }
  bool configure() const {
    return ns_.ip("link set fs0 up") && ns_.ip("addr add " + subnet_ + ".1/24 dev fs0");
  }

 private:
  network_namespace ns_;
  std::string subnet_;
};

TEST(stack_command, answers_ping_from_the_kernel_side_and_counts_frames_with_verbose) {
  tap_namespace ns("cli-ping", "10.213.30");
  ASSERT_TRUE(ns.ok());
  child stack(ns.inside({flowstack_binary, "stack", "--tap", "fs0", "--address",
                         ns.stack_ip() + "/24", "-v"}),
              "/dev/null");
  ASSERT_TRUE(stack.wait_for_stderr("answering until")) << stack.err();
  ASSERT_TRUE(ns.configure());

  child ping(ns.inside({"ping", "-c", "3", "-i", "0.2", "-W", "2", ns.stack_ip()}), "/dev/null");
  EXPECT_EQ(ping.wait(), 0) << ping.out() << ping.err();
  EXPECT_NE(ping.out().find("3 received"), std::string::npos) << ping.out();

  stack.signal(SIGINT);
  EXPECT_EQ(stack.wait(), 0) << stack.err();
  for (const char* text : {"frames: ", "drops: ", "segments: ", "tcp: ", "connections: 0"})
    EXPECT_NE(stack.err().find(text), std::string::npos) << text << " in " << stack.err();
  EXPECT_EQ(stack.err().find("frames: 0 in"), std::string::npos) << stack.err();
}

TEST(stack_command, writes_a_capture_that_tshark_reads_with_the_echo_replies) {
  tap_namespace ns("cli-pcap", "10.213.31");
  ASSERT_TRUE(ns.ok());
  char dir_template[] = "/tmp/flowstack-stack-XXXXXX";
  const std::filesystem::path dir = ::mkdtemp(dir_template);
  const std::string capture = (dir / "run.pcap").string();
  {
    child stack(ns.inside({flowstack_binary, "stack", "--tap", "fs0", "--address",
                           ns.stack_ip() + "/24", "--pcap", capture}),
                "/dev/null");
    ASSERT_TRUE(stack.wait_for_stderr("answering until")) << stack.err();
    ASSERT_TRUE(ns.configure());
    child ping(ns.inside({"ping", "-c", "2", "-i", "0.2", "-W", "2", ns.stack_ip()}), "/dev/null");
    EXPECT_EQ(ping.wait(), 0) << ping.out() << ping.err();
    stack.signal(SIGTERM);
    EXPECT_EQ(stack.wait(), 0) << stack.err();
  }
  child read({tshark_binary, "-r", capture, "-Y", "icmp.type == 0"}, "/dev/null");
  EXPECT_EQ(read.wait(), 0) << read.err();
  EXPECT_NE(read.out().find("Echo (ping) reply"), std::string::npos) << read.out();
  std::filesystem::remove_all(dir);
}

// The kernel's client sends a request and shuts down its write side; the backend (a kernel
// socket inside the namespace) answers with the count once it has read eof, so the half-close
// crosses the userspace stack one way and the answer comes back the other.
TEST(stack_cat, a_stack_listener_relays_to_a_kernel_socket_passing_half_close_and_the_answer) {
  tap_namespace ns("cli-cat", "10.213.32");
  ASSERT_TRUE(ns.ok());
  child backend(ns.inside({socat_binary, "-d", "-d", "TCP-LISTEN:7001,bind=127.0.0.1,reuseaddr",
                           "SYSTEM:wc -c"}),
                "/dev/null");
  ASSERT_TRUE(backend.wait_for_stderr("listening on")) << backend.err();
  auto argv = ns.stack_options();
  argv.insert(argv.begin(), {flowstack_binary, "cat", "-v"});
  argv.insert(argv.end(), {"stack-listen:7000", "tcp:127.0.0.1:7001"});
  child relay(ns.inside(argv), "/dev/null");
  ASSERT_TRUE(relay.wait_for_stderr("listening on " + ns.stack_ip() + ":7000")) << relay.err();
  ASSERT_TRUE(ns.configure());

  child client(ns.inside({socat_binary, "-t", "10", "-", "TCP:" + ns.stack_ip() + ":7000"}));
  client.write_stdin(pattern(1'000'000, 7));
  client.close_stdin();
  EXPECT_EQ(client.wait(15000ms), 0) << client.err();
  EXPECT_EQ(client.out(), "1000000\n");
  EXPECT_EQ(relay.wait(), 0) << relay.err();
  EXPECT_EQ(backend.wait(), 0) << backend.err();
  EXPECT_NE(relay.err().find("userspace stack frames: "), std::string::npos) << relay.err();
}

// The other way: the backend writes a file and ends; the kernel's client, which sent nothing
// and shut down its write side at once, reads it whole through the userspace stack.
TEST(stack_cat, a_download_through_a_stack_listener_arrives_byte_for_byte_after_a_client_eof) {
  tap_namespace ns("cli-down", "10.213.33");
  ASSERT_TRUE(ns.ok());
  char dir_template[] = "/tmp/flowstack-stack-XXXXXX";
  const std::filesystem::path dir = ::mkdtemp(dir_template);
  const std::string file = (dir / "data").string();
  const std::string data = pattern(2'000'000, 8);
  if (std::FILE* f = std::fopen(file.c_str(), "wb")) {
    std::fwrite(data.data(), 1, data.size(), f);
    std::fclose(f);
  }
  child backend(ns.inside({socat_binary, "-d", "-d", "-u", "OPEN:" + file,
                           "TCP-LISTEN:7001,bind=127.0.0.1,reuseaddr"}),
                "/dev/null");
  ASSERT_TRUE(backend.wait_for_stderr("listening on")) << backend.err();
  auto argv = ns.stack_options();
  argv.insert(argv.begin(), {flowstack_binary, "cat", "-v"});
  argv.insert(argv.end(), {"stack-listen:7000", "tcp:127.0.0.1:7001"});
  child relay(ns.inside(argv), "/dev/null");
  ASSERT_TRUE(relay.wait_for_stderr("listening on " + ns.stack_ip() + ":7000")) << relay.err();
  ASSERT_TRUE(ns.configure());

  child client(ns.inside({socat_binary, "-t", "10", "-", "TCP:" + ns.stack_ip() + ":7000"}),
               "/dev/null");
  EXPECT_EQ(client.wait(15000ms), 0) << client.err();
  EXPECT_EQ(client.out().size(), data.size());
  EXPECT_TRUE(client.out() == data) << "the download differs from what the backend sent";
  EXPECT_EQ(relay.wait(), 0) << relay.err();
  EXPECT_EQ(backend.wait(), 0) << backend.err();
  std::filesystem::remove_all(dir);
}

// A connector on the stack: a kernel listener in the namespace, reached from the stack's side.
TEST(stack_cat, a_stack_connector_reaches_a_kernel_listener_behind_the_tap_device) {
  tap_namespace ns("cli-conn", "10.213.34");
  ASSERT_TRUE(ns.ok());
  // A persistent device made beforehand, configured before the stack attaches to it: the
  // connect goes out at once.
  ASSERT_TRUE(ns.make_device());
  ASSERT_TRUE(ns.configure());
  child backend(ns.inside({socat_binary, "-d", "-d", "TCP-LISTEN:7002,bind=10.213.34.1,reuseaddr",
                           "SYSTEM:wc -c"}),
                "/dev/null");
  ASSERT_TRUE(backend.wait_for_stderr("listening on")) << backend.err();
  auto argv = ns.stack_options();
  argv.insert(argv.begin(), {flowstack_binary, "cat"});
  argv.insert(argv.end(), {"-", "stack:10.213.34.1:7002,connect-timeout=5000"});
  child relay(ns.inside(argv));
  relay.write_stdin(pattern(100'000, 9));
  relay.close_stdin();
  EXPECT_EQ(relay.wait(15000ms), 0) << relay.err();
  EXPECT_EQ(relay.out(), "100000\n");
  EXPECT_EQ(backend.wait(), 0) << backend.err();
}

struct bad_options {
  std::vector<std::string> argv;
  std::string message;
};

TEST(stack_cat, bad_stack_options_exit_2_naming_the_option_and_what_was_expected) {
  const std::vector<bad_options> cases{
      {{"stack", "--address", "10.0.0.2/33"},
       "flowstack stack: --address \"10.0.0.2/33\": the prefix length is a number from 1 to 32, "
       "expected ADDRESS/PREFIX such as 10.0.0.2/24"},
      {{"stack", "--address", "10.0.0.256/24"},
       "flowstack stack: --address \"10.0.0.256/24\": not an IPv4 address, expected "
       "ADDRESS/PREFIX such as 10.0.0.2/24"},
      {{"stack", "--address", "10.0.0.255/24"}, "no host may have this address"},
      {{"stack", "--tap", "a-name-too-long-for-linux"},
       "flowstack stack: --tap \"a-name-too-long-for-linux\": a TAP device name is 1 to 15 "
       "characters, expected a shorter one such as flowstack0"},
      {{"cat", "--stack-tap", "a-name-too-long-for-linux", "stack-listen:80", "-"},
       "flowstack cat: --stack-tap \"a-name-too-long-for-linux\": a TAP device name"},
      {{"cat", "--stack-address", "10.0.0.2/24", "--stack-gateway", "10.0.1.1", "stack-listen:80",
        "-"},
       "flowstack cat: --stack-gateway 10.0.1.1: not another host of 10.0.0.2/24"},
      {{"cat", "-", "stack:example.org:80"},
       "flowstack cat: stack:example.org:80: HOST \"example.org\" is not an IPv4 address"},
      {{"stack", "--mtu", "100"}, "flowstack stack: --mtu: value 100 not in range"},
  };
  for (const auto& c : cases) {
    auto argv = c.argv;
    argv.insert(argv.begin(), flowstack_binary);
    child run(argv, "/dev/null");
    EXPECT_EQ(run.wait(), 2) << argv[1] << " " << argv[2] << ": " << run.err();
    EXPECT_NE(run.err().find(c.message), std::string::npos) << run.err();
  }
}

TEST(stack_cat, help_lists_the_stack_addresses_and_options) {
  child cat({flowstack_binary, "cat", "--help"}, "/dev/null");
  EXPECT_EQ(cat.wait(), 0);
  for (const char* text : {"stack:HOST:PORT", "stack-listen:[HOST:]PORT", "--stack-tap",
                           "--stack-address", "--stack-gateway", "--stack-mtu", "--stack-pcap"})
    EXPECT_NE(cat.out().find(text), std::string::npos) << text;
  child stack({flowstack_binary, "stack", "--help"}, "/dev/null");
  EXPECT_EQ(stack.wait(), 0);
  for (const char* text : {"--tap", "--address", "--gateway", "--mtu", "--pcap", "-v", "SIGINT"})
    EXPECT_NE(stack.out().find(text), std::string::npos) << text;
  child program({flowstack_binary, "--help"}, "/dev/null");
  EXPECT_EQ(program.wait(), 0);
  EXPECT_NE(program.out().find("stack [--tap NAME]"), std::string::npos) << program.out();
}

}  // namespace
}  // namespace flowstack::test
