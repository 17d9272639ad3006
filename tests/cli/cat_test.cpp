// `flowstack cat` end to end: the built program against Debian's socat, on loopback only.

#include <gtest/gtest.h>
#include <sys/un.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <string>

#include "kinds.hpp"
#include "process.hpp"

namespace flowstack::test {
namespace {

const std::string flowstack_binary = FLOWSTACK_BINARY;
const std::string socat_binary = SOCAT_BINARY;
const std::string groff_binary = GROFF_BINARY;

std::string port_text(unsigned short port) {
  return std::to_string(port);
}

// The port in flowstack's "listening on 127.0.0.1:PORT" line (cat -v).
std::string reported_port(const child& c) {
  auto at = c.err().find("listening on ");
  if (at == std::string::npos) return "";
  auto line_end = c.err().find('\n', at);
  auto line = c.err().substr(at, line_end - at);
  return line.substr(line.rfind(':') + 1);
}

std::string pattern(std::size_t size, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(size, '\0');
  for (auto& c : s) c = static_cast<char>(gen() & 0xff);
  return s;
}

class scratch_dir {
 public:
  scratch_dir() {
    char tmpl[] = "/tmp/flowstack-cli-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~scratch_dir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

// A socat server on 127.0.0.1 that answers, once it has read eof, with the byte count it read.
std::vector<std::string> counting_server(unsigned short port) {
  return {socat_binary, "-d", "-d", "TCP-LISTEN:" + port_text(port) + ",bind=127.0.0.1,reuseaddr",
          "SYSTEM:wc -c"};
}

TEST(cat, relay_between_tcp_endpoints_passes_half_close_and_the_whole_answer_back) {
  auto backend = free_port();
  child server(counting_server(backend));
  ASSERT_TRUE(server.wait_for_stderr("listening on")) << server.err();

  child relay({flowstack_binary, "cat", "-v", "tcp-listen:127.0.0.1:0",
               "tcp:127.0.0.1:" + port_text(backend)});
  ASSERT_TRUE(relay.wait_for_stderr("listening on")) << relay.err();

  // The client sends its request and shuts down its write side; the answer comes after that.
  child client({socat_binary, "-t", "10", "-", "TCP:127.0.0.1:" + reported_port(relay)});
  client.write_stdin(pattern(300000, 1));
  client.close_stdin();

  EXPECT_EQ(client.wait(), 0) << client.err();
  EXPECT_EQ(client.out(), "300000\n");
  EXPECT_EQ(relay.wait(), 0) << relay.err();
  EXPECT_EQ(server.wait(), 0) << server.err();
}

TEST(cat, verbose_reports_bytes_and_duration_of_each_direction) {
  auto backend = free_port();
  child server(counting_server(backend));
  ASSERT_TRUE(server.wait_for_stderr("listening on")) << server.err();

  child cat({flowstack_binary, "cat", "-v", "-", "tcp:127.0.0.1:" + port_text(backend)});
  cat.write_stdin("hello\n");
  cat.close_stdin();

  EXPECT_EQ(cat.wait(), 0) << cat.err();
  EXPECT_EQ(cat.out(), "6\n");
  EXPECT_NE(cat.err().find("stdio => tcp"), std::string::npos) << cat.err();
  EXPECT_NE(cat.err().find(": 6 bytes"), std::string::npos) << cat.err();
  EXPECT_NE(cat.err().find("took "), std::string::npos) << cat.err();
}

TEST(cat, stdin_from_a_regular_file_reaches_a_tcp_listener_byte_for_byte) {
  scratch_dir dir;
  auto input = dir.file("input");
  auto output = dir.file("output");
  auto data = pattern(1 << 20, 2);
  write_file(input, data);

  auto port = free_port();
  child sink({socat_binary, "-d", "-d", "-u",
              "TCP-LISTEN:" + port_text(port) + ",bind=127.0.0.1,reuseaddr",
              "OPEN:" + output + ",creat,trunc"});
  ASSERT_TRUE(sink.wait_for_stderr("listening on")) << sink.err();

  child cat({flowstack_binary, "cat", "-", "tcp:127.0.0.1:" + port_text(port)}, input);
  EXPECT_EQ(cat.wait(), 0) << cat.err();
  EXPECT_EQ(sink.wait(), 0) << sink.err();
  EXPECT_TRUE(read_file(output) == data) << "the file arrived changed";
}

TEST(cat, stdin_from_a_pipe_reaches_a_tcp_listener_byte_for_byte) {
  scratch_dir dir;
  auto output = dir.file("output");
  auto data = pattern(700000, 3);

  auto port = free_port();
  child sink({socat_binary, "-d", "-d", "-u",
              "TCP-LISTEN:" + port_text(port) + ",bind=127.0.0.1,reuseaddr",
              "OPEN:" + output + ",creat,trunc"});
  ASSERT_TRUE(sink.wait_for_stderr("listening on")) << sink.err();

  child cat({flowstack_binary, "cat", "-", "tcp:127.0.0.1:" + port_text(port)});
  cat.write_stdin(data);
  cat.close_stdin();
  EXPECT_EQ(cat.wait(), 0) << cat.err();
  EXPECT_EQ(sink.wait(), 0) << sink.err();
  EXPECT_TRUE(read_file(output) == data) << "the stream arrived changed";
}

TEST(cat, tcp_to_stdout_redirected_to_a_regular_file_arrives_byte_for_byte) {
  scratch_dir dir;
  auto input = dir.file("input");
  auto output = dir.file("output");
  auto data = pattern(600000, 5);
  write_file(input, data);

  auto port = free_port();
  child source({socat_binary, "-d", "-d", "-u", "OPEN:" + input,
                "TCP-LISTEN:" + port_text(port) + ",bind=127.0.0.1,reuseaddr"});
  ASSERT_TRUE(source.wait_for_stderr("listening on")) << source.err();

  child cat({"/bin/sh", "-c", "exec \"$0\" cat tcp:127.0.0.1:" + port_text(port) + " - > \"$1\"",
             flowstack_binary, output},
            "/dev/null");
  EXPECT_EQ(cat.wait(), 0) << cat.err();
  EXPECT_EQ(source.wait(), 0) << source.err();
  EXPECT_TRUE(read_file(output) == data) << "the file written from stdout differs";
}

TEST(cat, stdin_from_dev_null_sends_eof_at_once) {
  auto backend = free_port();
  child server(counting_server(backend));
  ASSERT_TRUE(server.wait_for_stderr("listening on")) << server.err();

  child cat({flowstack_binary, "cat", "-", "tcp:127.0.0.1:" + port_text(backend)}, "/dev/null");
  EXPECT_EQ(cat.wait(), 0) << cat.err();
  EXPECT_EQ(cat.out(), "0\n");
}

TEST(cat, tcp_listen_with_fork_serves_several_clients_at_once) {
  auto backend = free_port();
  child echo({socat_binary, "-d", "-d",
              "TCP-LISTEN:" + port_text(backend) + ",bind=127.0.0.1,reuseaddr,fork", "EXEC:cat"});
  ASSERT_TRUE(echo.wait_for_stderr("listening on")) << echo.err();

  child relay({flowstack_binary, "cat", "-v", "tcp-listen:127.0.0.1:0,fork,max-children=8",
               "tcp:127.0.0.1:" + port_text(backend)});
  ASSERT_TRUE(relay.wait_for_stderr("listening on")) << relay.err();
  auto port = reported_port(relay);

  std::vector<std::unique_ptr<child>> clients;
  for (int i = 0; i < 3; ++i)
    clients.push_back(std::make_unique<child>(
        std::vector<std::string>{socat_binary, "-t", "10", "-", "TCP:127.0.0.1:" + port}));
  // Every client gets its echo while all three connections are open.
  for (int i = 0; i < 3; ++i) clients[i]->write_stdin("client " + std::to_string(i) + "\n");
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(clients[i]->wait_for_stdout(9)) << "client " << i << ": " << clients[i]->err();
  for (int i = 0; i < 3; ++i) {
    clients[i]->close_stdin();
    EXPECT_EQ(clients[i]->wait(), 0) << clients[i]->err();
    EXPECT_EQ(clients[i]->out(), "client " + std::to_string(i) + "\n");
  }

  relay.signal(SIGTERM);
  EXPECT_EQ(relay.wait(), 128 + SIGTERM) << relay.err();
}

TEST(cat, max_children_holds_later_peers_until_a_relay_ends) {
  auto backend = free_port();
  child echo({socat_binary, "-d", "-d",
              "TCP-LISTEN:" + port_text(backend) + ",bind=127.0.0.1,reuseaddr,fork", "EXEC:cat"});
  ASSERT_TRUE(echo.wait_for_stderr("listening on")) << echo.err();

  child relay({flowstack_binary, "cat", "-v", "tcp-listen:127.0.0.1:0,fork,max-children=1",
               "tcp:127.0.0.1:" + port_text(backend)});
  ASSERT_TRUE(relay.wait_for_stderr("listening on")) << relay.err();
  auto port = reported_port(relay);

  child first({socat_binary, "-t", "10", "-", "TCP:127.0.0.1:" + port});
  first.write_stdin("first\n");
  ASSERT_TRUE(first.wait_for_stdout(6)) << first.err();

  child second({socat_binary, "-t", "10", "-", "TCP:127.0.0.1:" + port});
  second.write_stdin("second\n");
  EXPECT_FALSE(second.wait_for_stdout(7, 300ms)) << "a second relay ran beside the first";

  first.close_stdin();
  EXPECT_EQ(first.wait(), 0) << first.err();
  EXPECT_TRUE(second.wait_for_stdout(7)) << second.err();
  second.close_stdin();
  EXPECT_EQ(second.wait(), 0) << second.err();
  EXPECT_EQ(second.out(), "second\n");

  relay.signal(SIGINT);
  EXPECT_EQ(relay.wait(), 128 + SIGINT) << relay.err();
}

TEST(cat, stdin_reaches_a_unix_socket_server) {
  scratch_dir dir;
  auto path = dir.file("server.sock");
  child server({socat_binary, "-d", "-d", "UNIX-LISTEN:" + path, "SYSTEM:wc -c"});
  ASSERT_TRUE(server.wait_for_stderr("listening on")) << server.err();

  child cat({flowstack_binary, "cat", "-", "unix:" + path});
  cat.write_stdin("over a unix socket\n");
  cat.close_stdin();
  EXPECT_EQ(cat.wait(), 0) << cat.err();
  EXPECT_EQ(cat.out(), "19\n");
  EXPECT_EQ(server.wait(), 0) << server.err();
}

TEST(cat, unix_listen_relays_a_client_to_tcp) {
  scratch_dir dir;
  auto path = dir.file("relay.sock");
  auto backend = free_port();
  child server(counting_server(backend));
  ASSERT_TRUE(server.wait_for_stderr("listening on")) << server.err();

  child relay({flowstack_binary, "cat", "-v", "unix-listen:" + path,
               "tcp:127.0.0.1:" + port_text(backend)});
  ASSERT_TRUE(relay.wait_for_stderr("listening on")) << relay.err();

  child client({socat_binary, "-t", "10", "-", "UNIX-CONNECT:" + path});
  client.write_stdin(pattern(50000, 4));
  client.close_stdin();
  EXPECT_EQ(client.wait(), 0) << client.err();
  EXPECT_EQ(client.out(), "50000\n");
  EXPECT_EQ(relay.wait(), 0) << relay.err();
  EXPECT_FALSE(std::filesystem::exists(path)) << "the socket file outlived the listener";
}

TEST(cat, ipv6_loopback_is_reachable_in_brackets) {
  auto port = free_port();
  child server({socat_binary, "-d", "-d",
                "TCP6-LISTEN:" + port_text(port) + ",bind=[::1],reuseaddr", "SYSTEM:wc -c"});
  ASSERT_TRUE(server.wait_for_stderr("listening on")) << server.err();

  child cat({flowstack_binary, "cat", "-", "tcp:[::1]:" + port_text(port)});
  cat.write_stdin("v6\n");
  cat.close_stdin();
  EXPECT_EQ(cat.wait(), 0) << cat.err();
  EXPECT_EQ(cat.out(), "3\n");
}

// ---- an abort crosses the relay as an abort
// ------------------------------------------------------

TEST(cat, a_client_reset_reaches_the_tcp_backend_as_a_reset_not_an_end) {
  tcp_server backend;
  auto port = free_port();
  child relay({flowstack_binary, "cat", "tcp-listen:127.0.0.1:" + port_text(port),
               "tcp:127.0.0.1:" + port_text(backend.port())});
  auto client = tcp_connect(port);
  ASSERT_TRUE(client) << relay.err();
  send_all(client, "half an upload");
  auto server = backend.accept();
  ASSERT_TRUE(server) << relay.err();
  // The bytes are at the backend before the reset, so the reset cannot overtake them.
  EXPECT_EQ(receive(server, 14), "half an upload");
  client.reset();
  auto end = read_to_end(server);
  EXPECT_EQ(end.error, ECONNRESET) << "the backend saw " << end.what();
  EXPECT_EQ(relay.wait(), 1) << relay.err();
  EXPECT_NE(relay.err().find("reset"), std::string::npos) << relay.err();
}

TEST(cat, a_backend_reset_reaches_the_client_as_a_reset_not_an_end) {
  tcp_server backend;
  auto port = free_port();
  child relay({flowstack_binary, "cat", "tcp-listen:127.0.0.1:" + port_text(port),
               "tcp:127.0.0.1:" + port_text(backend.port())});
  auto client = tcp_connect(port);
  ASSERT_TRUE(client) << relay.err();
  auto server = backend.accept();
  ASSERT_TRUE(server) << relay.err();
  send_all(server, "half an answer");
  EXPECT_EQ(receive(client, 14), "half an answer");
  server.reset();
  auto end = read_to_end(client);
  EXPECT_EQ(end.error, ECONNRESET) << "the client saw " << end.what();
  EXPECT_EQ(relay.wait(), 1) << relay.err();
}

// A Unix stream socket has no reset, but a close with bytes unread is one: the kernel gives the
// peer ECONNRESET, and the relay passes that on to TCP as RST.
TEST(cat, a_unix_client_that_closes_with_bytes_unread_reaches_the_tcp_backend_as_a_reset) {
  scratch_dir dir;
  auto path = dir.file("relay.sock");
  tcp_server backend;
  child relay({flowstack_binary, "cat", "-v", "unix-listen:" + path,
               "tcp:127.0.0.1:" + port_text(backend.port())});
  ASSERT_TRUE(relay.wait_for_stderr("listening on")) << relay.err();
  socket_fd client(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  ASSERT_EQ(::connect(client.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  auto server = backend.accept();
  ASSERT_TRUE(server) << relay.err();
  send_all(server, "greeting");
  pollfd arrived{client.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&arrived, 1, 5000), 1) << "the greeting never reached the client";
  send_all(client, "half an upload");
  EXPECT_EQ(receive(server, 14), "half an upload");
  client = socket_fd();  // closed with the greeting unread
  auto end = read_to_end(server);
  EXPECT_EQ(end.error, ECONNRESET) << "the backend saw " << end.what();
  EXPECT_EQ(relay.wait(), 1) << relay.err();
}

// Standard output cannot carry a reset: it is closed as at an end, and the exit status says.
TEST(cat, a_backend_reset_behind_stdio_exits_1_naming_the_reset) {
  tcp_server backend;
  child cat({flowstack_binary, "cat", "-", "tcp:127.0.0.1:" + port_text(backend.port())});
  auto server = backend.accept();
  ASSERT_TRUE(server) << cat.err();
  send_all(server, "half an answer");
  ASSERT_TRUE(cat.wait_for_stdout(14)) << cat.err();
  server.reset();
  EXPECT_EQ(cat.wait(), 1) << cat.err();
  EXPECT_EQ(cat.out(), "half an answer");
  EXPECT_NE(cat.err().find("connection reset by the peer"), std::string::npos) << cat.err();
}

TEST(cat, malformed_address_exits_2_with_what_was_expected) {
  child cat({flowstack_binary, "cat", "tcp:localhost", "-"}, "/dev/null");
  EXPECT_EQ(cat.wait(), 2);
  EXPECT_NE(cat.err().find("tcp:localhost: missing port, expected tcp:HOST:PORT"),
            std::string::npos)
      << cat.err();
}

TEST(cat, unix_path_too_long_for_a_socket_exits_2_before_opening_anything) {
  std::string path = "/tmp/" + std::string(200, 'x');
  for (const std::string& address : {"unix:" + path, "unix-listen:" + path}) {
    child cat({flowstack_binary, "cat", "-", address}, "/dev/null");
    EXPECT_EQ(cat.wait(), 2) << cat.err();
    EXPECT_NE(cat.err().find("PATH is 205 bytes, longer than the 107 a Unix socket address holds"),
              std::string::npos)
        << cat.err();
  }
}

TEST(cat, malformed_second_address_exits_2_before_opening_the_first) {
  child cat({flowstack_binary, "cat", "tcp-listen:127.0.0.1:0", "tcp:h:1,bogus"}, "/dev/null");
  EXPECT_EQ(cat.wait(), 2);
  EXPECT_NE(cat.err().find("unknown option 'bogus'"), std::string::npos) << cat.err();
}

TEST(cat, missing_address_exits_2) {
  child cat({flowstack_binary, "cat", "-"}, "/dev/null");
  EXPECT_EQ(cat.wait(), 2);
}

TEST(cat, refused_connect_exits_1_saying_refused) {
  auto port = free_port();  // nothing listens there now
  child cat({flowstack_binary, "cat", "tcp:127.0.0.1:" + port_text(port), "-"}, "/dev/null");
  EXPECT_EQ(cat.wait(), 1);
  EXPECT_NE(cat.err().find("refused"), std::string::npos) << cat.err();
}

TEST(cat, sigint_stops_a_waiting_listener) {
  child relay({flowstack_binary, "cat", "-v", "tcp-listen:127.0.0.1:0", "-"}, "/dev/null");
  ASSERT_TRUE(relay.wait_for_stderr("listening on")) << relay.err();
  relay.signal(SIGINT);
  EXPECT_EQ(relay.wait(), 128 + SIGINT) << relay.err();
}

TEST(cat, sigterm_stops_a_relay_in_progress) {
  auto backend = free_port();
  child echo({socat_binary, "-d", "-d",
              "TCP-LISTEN:" + port_text(backend) + ",bind=127.0.0.1,reuseaddr", "EXEC:cat"});
  ASSERT_TRUE(echo.wait_for_stderr("listening on")) << echo.err();

  child cat({flowstack_binary, "cat", "-", "tcp:127.0.0.1:" + port_text(backend)});
  cat.write_stdin("ping\n");
  ASSERT_TRUE(cat.wait_for_stdout(5)) << cat.err();
  cat.signal(SIGTERM);
  EXPECT_EQ(cat.wait(), 128 + SIGTERM) << cat.err();
  EXPECT_EQ(cat.out(), "ping\n");
}

TEST(cat, help_documents_addresses_options_and_exit_codes) {
  child help({flowstack_binary, "cat", "--help"}, "/dev/null");
  EXPECT_EQ(help.wait(), 0);
  for (const char* text :
       {"tcp:HOST:PORT", "tcp-listen:[HOST:]PORT", "unix-listen:PATH", "max-children=N",
        "--progress", "-v", "Exit codes", "half-close", "An abort is passed on as an abort"})
    EXPECT_NE(help.out().find(text), std::string::npos) << text;
}

TEST(cat, program_help_names_cat_and_exit_codes) {
  child help({flowstack_binary, "--help"}, "/dev/null");
  EXPECT_EQ(help.wait(), 0);
  EXPECT_NE(help.out().find("cat"), std::string::npos);
  EXPECT_NE(help.out().find("Exit codes"), std::string::npos);
}

// A shell pipeline: flowstack cat shares its stdin with the command after it (one open pipe).
// Once flowstack has exited, the next reader of that pipe must find it blocking again, or it
// fails at once with "Resource temporarily unavailable".
TEST(cat, stdin_is_left_blocking_for_the_next_command_of_a_pipeline) {
  auto backend = free_port();
  child server(counting_server(backend));
  ASSERT_TRUE(server.wait_for_stderr("listening on")) << server.err();
  const std::string script =
      "exec 3<&0; \"$0\" cat -v - tcp:127.0.0.1:" + port_text(backend) +
      " <&3 & echo \"pid=$!\" >&2; wait; echo exited >&2; cat <&3; echo \"next=$?\" >&2";
  child shell({"sh", "-c", script, flowstack_binary});
  ASSERT_TRUE(shell.wait_for_stderr("relaying")) << shell.err();
  auto at = shell.err().find("pid=");
  ASSERT_NE(at, std::string::npos) << shell.err();
  ::kill(std::stoi(shell.err().substr(at + 4)), SIGTERM);
  ASSERT_TRUE(shell.wait_for_stderr("exited")) << shell.err();
  // A non-blocking pipe makes the next `cat` fail at once; a blocking one makes it wait for us.
  if (shell.wait_for_stderr("next=", 300ms)) {
    ADD_FAILURE() << "the next command could not read the pipe: " << shell.err();
    shell.close_stdin();
    shell.wait();
    return;
  }
  shell.write_stdin("after\n");
  shell.close_stdin();
  EXPECT_EQ(shell.wait(), 0) << shell.err();
  EXPECT_NE(shell.err().find("next=0"), std::string::npos) << shell.err();
  EXPECT_EQ(shell.out(), "after\n") << shell.err();
}

TEST(command_line, version_prints_the_version_and_exits_0) {
  child c({flowstack_binary, "--version"});
  EXPECT_EQ(c.wait(), 0) << c.err();
  EXPECT_EQ(c.out().rfind("flowstack ", 0), 0u) << c.out();
}

TEST(command_line, an_unknown_command_is_named_in_the_error) {
  child c({flowstack_binary, "bogus"});
  EXPECT_EQ(c.wait(), 2);
  EXPECT_NE(c.err().find("unknown command 'bogus'"), std::string::npos) << c.err();
}

TEST(command_line, an_unknown_option_is_named_in_the_error) {
  child c({flowstack_binary, "--frobnicate"});
  EXPECT_EQ(c.wait(), 2);
  EXPECT_NE(c.err().find("unknown option '--frobnicate'"), std::string::npos) << c.err();
}

TEST(command_line, an_address_starting_with_a_dash_is_an_address_not_an_option) {
  child c({flowstack_binary, "cat", "-,fork", "tcp:127.0.0.1:1"});
  EXPECT_EQ(c.wait(), 2);
  EXPECT_NE(c.err().find("'-' takes no options"), std::string::npos) << c.err();
}

TEST(command_line, fork_with_stdio_is_refused_since_one_stdin_cannot_serve_many_peers) {
  child c({flowstack_binary, "cat", "tcp-listen:127.0.0.1:0,fork", "-"});
  EXPECT_EQ(c.wait(), 2);
  EXPECT_NE(c.err().find("fork serves many peers but '-' is one stdin and stdout"),
            std::string::npos)
      << c.err();
}

TEST(cat, a_listener_on_port_0_says_the_port_it_bound_without_verbose) {
  auto backend = free_port();
  child server(counting_server(backend));
  ASSERT_TRUE(server.wait_for_stderr("listening on")) << server.err();

  child relay(
      {flowstack_binary, "cat", "tcp-listen:127.0.0.1:0", "tcp:127.0.0.1:" + port_text(backend)});
  ASSERT_TRUE(relay.wait_for_stderr("flowstack cat: listening on 127.0.0.1:")) << relay.err();
  child client({socat_binary, "-t", "10", "-", "TCP:127.0.0.1:" + reported_port(relay)});
  client.write_stdin("found the port\n");
  client.close_stdin();
  EXPECT_EQ(client.wait(), 0) << client.err();
  EXPECT_EQ(client.out(), "15\n");
  EXPECT_EQ(relay.wait(), 0) << relay.err();
}

TEST(cat, a_listener_on_a_chosen_port_stays_quiet_without_verbose) {
  auto port = free_port();
  child relay({flowstack_binary, "cat", "tcp-listen:127.0.0.1:" + port_text(port), "-"},
              "/dev/null");
  EXPECT_FALSE(relay.wait_for_stderr("listening on", 300ms)) << relay.err();
  relay.signal(SIGTERM);
  EXPECT_EQ(relay.wait(), 128 + SIGTERM) << relay.err();
}

// --progress draws only on a terminal: script(1) gives it one, and copies what it draws.
TEST(cat, progress_names_the_addresses_of_each_direction) {
  auto backend = free_port();
  const std::string first = "tcp-listen:127.0.0.1:0";
  const std::string second = "tcp:127.0.0.1:" + port_text(backend);
  child terminal({"script", "-qfec", flowstack_binary + " cat --progress " + first + " " + second,
                  "/dev/null"});
  EXPECT_TRUE(terminal.wait_for_stdout(first + " => " + second + ": 0 B")) << terminal.out();
  EXPECT_TRUE(terminal.wait_for_stdout(second + " => " + first + ": 0 B")) << terminal.out();
  EXPECT_EQ(terminal.out().find(">>"), std::string::npos) << terminal.out();
}

// A reader that goes away: `head` takes one byte of an endless stream and exits.
TEST(cat, a_reader_that_went_away_is_a_broken_pipe_not_a_closed_flow) {
  auto port = free_port();
  child server({socat_binary, "-d", "-d", "-t", "5",
                "TCP-LISTEN:" + port_text(port) + ",bind=127.0.0.1,reuseaddr", "SYSTEM:yes"});
  ASSERT_TRUE(server.wait_for_stderr("listening on")) << server.err();
  const std::string script = "{ \"$0\" cat tcp:127.0.0.1:" + port_text(port) +
                             " - </dev/null; echo \"status=$?\" >&2; } | head -c 1 >/dev/null";
  child shell({"sh", "-c", script, flowstack_binary});
  EXPECT_EQ(shell.wait(), 0) << shell.err();
  EXPECT_NE(shell.err().find("status=1"), std::string::npos) << shell.err();
  EXPECT_NE(shell.err().find("failed writing to stdio: broken pipe: the reader went away"),
            std::string::npos)
      << shell.err();
  EXPECT_EQ(shell.err().find("flow is closed"), std::string::npos) << shell.err();
}

TEST(cat, unix_listen_on_a_file_that_is_not_a_socket_says_so_and_leaves_it_alone) {
  scratch_dir dir;
  auto path = dir.file("notes.txt");
  write_file(path, "keep me");
  child cat({flowstack_binary, "cat", "unix-listen:" + path, "-"}, "/dev/null");
  EXPECT_EQ(cat.wait(), 1);
  EXPECT_NE(cat.err().find("flowstack cat: unix-listen:" + path +
                           ": the path exists and is not a socket"),
            std::string::npos)
      << cat.err();
  EXPECT_EQ(cat.err().find("already in use"), std::string::npos) << cat.err();
  EXPECT_EQ(read_file(path), "keep me");
}

TEST(cat, a_system_error_reads_lower_case_after_the_address) {
  scratch_dir dir;
  auto path = dir.file("nobody-here.sock");
  child cat({flowstack_binary, "cat", "-", "unix:" + path}, "/dev/null");
  EXPECT_EQ(cat.wait(), 1);
  EXPECT_NE(cat.err().find("flowstack cat: unix:" + path + ": no such file or directory\n"),
            std::string::npos)
      << cat.err();
}

std::string abstract_name(const char* name) {
  return "flowstack-cli-test-" + std::to_string(::getpid()) + "-" + name;
}

TEST(cat, unix_connects_to_an_abstract_socket_written_with_an_at_sign) {
  auto name = abstract_name("connect");
  child server({socat_binary, "-d", "-d", "ABSTRACT-LISTEN:" + name, "SYSTEM:wc -c"});
  ASSERT_TRUE(server.wait_for_stderr("listening on")) << server.err();
  child cat({flowstack_binary, "cat", "-", "unix:@" + name});
  cat.write_stdin("abstract\n");
  cat.close_stdin();
  EXPECT_EQ(cat.wait(), 0) << cat.err();
  EXPECT_EQ(cat.out(), "9\n");
  EXPECT_EQ(server.wait(), 0) << server.err();
}

TEST(cat, unix_listen_on_an_abstract_name_relays_and_makes_no_file) {
  auto name = abstract_name("listen");
  auto backend = free_port();
  child server(counting_server(backend));
  ASSERT_TRUE(server.wait_for_stderr("listening on")) << server.err();
  child relay({flowstack_binary, "cat", "-v", "unix-listen:@" + name,
               "tcp:127.0.0.1:" + port_text(backend)});
  ASSERT_TRUE(relay.wait_for_stderr("listening on @" + name)) << relay.err();
  EXPECT_FALSE(std::filesystem::exists("@" + name)) << "a file was made for an abstract name";

  child client({socat_binary, "-t", "10", "-", "ABSTRACT-CONNECT:" + name});
  client.write_stdin(pattern(4000, 5));
  client.close_stdin();
  EXPECT_EQ(client.wait(), 0) << client.err();
  EXPECT_EQ(client.out(), "4000\n");
  EXPECT_EQ(relay.wait(), 0) << relay.err();
}

TEST(command_line, a_command_line_error_is_said_after_the_command_in_lower_case) {
  child cat({flowstack_binary, "cat", "-x", "-", "-"});
  EXPECT_EQ(cat.wait(), 2);
  EXPECT_EQ(cat.err().rfind("flowstack cat: the following argument was not expected: -x", 0), 0u)
      << cat.err();
  child forward({flowstack_binary, "dns-forward", "--bogus"});
  EXPECT_EQ(forward.wait(), 2);
  EXPECT_EQ(forward.err().rfind("flowstack dns-forward: the following argument was not expected: "
                                "--bogus",
                                0),
            0u)
      << forward.err();
  child nothing({flowstack_binary});
  EXPECT_EQ(nothing.wait(), 2);
  EXPECT_EQ(nothing.err().rfind("flowstack: a subcommand is required", 0), 0u) << nothing.err();
}

// Text as the manual page writes it: roff escapes every '-' (and '\').
std::string in_roff(const std::string& text) {
  std::string out;
  for (char c : text) out += c == '-' ? "\\-" : c == '\\' ? "\\e" : std::string(1, c);
  return out;
}

TEST(manual, names_every_kind_and_every_kind_option_of_the_registry) {
  child page({flowstack_binary, "--man-page"});
  ASSERT_EQ(page.wait(), 0) << page.err();
  auto kinds = cli::default_kinds();
  ASSERT_FALSE(kinds.kinds().empty());
  for (const auto& k : kinds.kinds()) {
    EXPECT_NE(page.out().find(in_roff(k->usage)), std::string::npos) << k->usage;
    EXPECT_NE(page.out().find(in_roff(k->help)), std::string::npos) << k->help;
    for (const auto& o : k->options)
      EXPECT_NE(page.out().find("\\fB," + in_roff(cli::option_usage(o)) + "\\fR"),
                std::string::npos)
          << k->name << " option " << o.name;
  }
}

TEST(manual, names_every_option_of_every_command_and_the_exit_codes) {
  child page({flowstack_binary, "--man-page"});
  ASSERT_EQ(page.wait(), 0) << page.err();
  const std::regex long_option("--[a-z][a-z-]*");
  for (const char* command : {"cat", "dns-forward", "stack"}) {
    child help({flowstack_binary, command, "--help"});
    ASSERT_EQ(help.wait(), 0) << help.err();
    EXPECT_NE(page.out().find(".SS " + in_roff(command)), std::string::npos) << command;
    const std::string& text = help.out();
    int options = 0;
    for (std::sregex_iterator it(text.begin(), text.end(), long_option), end; it != end; ++it) {
      ++options;
      EXPECT_NE(page.out().find("\\fB" + in_roff(it->str()) + "\\fR"), std::string::npos)
          << command << " " << it->str();
    }
    EXPECT_GT(options, 1) << command;
  }
  for (const char* section : {".SH EXIT STATUS", ".SH EXAMPLES", "128+N", ".SH ADDRESSES"})
    EXPECT_NE(page.out().find(section), std::string::npos) << section;
}

TEST(manual, renders_without_a_warning) {
  scratch_dir dir;
  child page({flowstack_binary, "--man-page"});
  ASSERT_EQ(page.wait(), 0) << page.err();
  write_file(dir.file("flowstack.1"), page.out());
  child groff({groff_binary, "-man", "-ww", "-z", dir.file("flowstack.1")}, "/dev/null");
  EXPECT_EQ(groff.wait(), 0) << groff.err();
  EXPECT_EQ(groff.err(), "");
}

TEST(manual, is_not_in_the_help_since_nobody_types_it) {
  child help({flowstack_binary, "--help"});
  EXPECT_EQ(help.wait(), 0);
  EXPECT_EQ(help.out().find("man-page"), std::string::npos) << help.out();
}

}  // namespace
}  // namespace flowstack::test
