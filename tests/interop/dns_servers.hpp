// Real DNS programs for tests: an `unbound` on a free loopback port that serves a small test zone
// authoritatively from its local data, and `kdig` as a client. Nothing leaves the machine:
// unbound refuses every name outside the test zone instead of recursing (local-zone "." refuse),
// has no root hints in use, no forwarders and no remote control. Every wait is bounded and the
// server is killed, its files removed, when the fixture goes away.
//
//   flowstack::test::unbound_server upstream;            // throws when it cannot start
//   auto out = flowstack::test::kdig(upstream.port(), {"a.test.flowstack.", "A"});
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/process.hpp"

namespace flowstack::test {

// The test zone. Every record has a TTL of 300 s except the SOA (its minimum, 300, is what
// negative answers are cached for, RFC 2308 §5).
namespace zone {
inline constexpr const char* origin = "test.flowstack.";
// A 192.0.2.1, AAAA 2001:db8::1, TXT "hello world"; no MX (a NODATA answer with the SOA).
inline constexpr const char* host = "a.test.flowstack.";
inline constexpr const char* host_a = "192.0.2.1";
inline constexpr const char* host_aaaa = "2001:db8::1";
inline constexpr const char* host_txt = "hello world";
// CNAME to `host`. unbound answers the CNAME alone from local data (it does not chase it).
inline constexpr const char* alias = "alias.test.flowstack.";
// 64 A records 198.51.100.1 .. 198.51.100.64: about 1 KB, over 512 (TC over UDP without EDNS)
// and under 1232.
inline constexpr const char* many = "many.test.flowstack.";
inline constexpr int many_count = 64;
// 200 A records 10.0.0.1 .. 10.0.0.200: over 3 KB, truncated over UDP even at 1232 or 2048.
inline constexpr const char* huge = "huge.test.flowstack.";
inline constexpr int huge_count = 200;
// Not in the zone: NXDOMAIN with the zone's SOA in the authority section.
inline constexpr const char* missing = "missing.test.flowstack.";
}  // namespace zone

namespace detail {

// A loopback port free for both UDP and TCP a moment ago; unbound listens on both.
inline unsigned short free_udp_tcp_port() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    int tcp = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int udp = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    unsigned short port = 0;
    if (::bind(tcp, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::getsockname(tcp, reinterpret_cast<sockaddr*>(&a), &len) == 0 &&
        ::bind(udp, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0)
      port = ntohs(a.sin_port);
    ::close(tcp);
    ::close(udp);
    if (port != 0) return port;
  }
  throw std::runtime_error("no loopback port is free for both UDP and TCP");
}

// Whether `pid` (a child not yet reaped) has exited: it is a zombie then.
inline bool has_exited(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  return close == std::string::npos || (close + 2 < text.size() && text[close + 2] == 'Z');
}

// Whether something has bound UDP 127.0.0.1:port (binding it ourselves fails then). A probe
// sent before that would wait for its whole timeout: kdig ignores port-unreachable errors.
inline bool udp_port_taken(unsigned short port) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  bool taken = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0;
  ::close(fd);
  return taken;
}

// Debian installs unbound in /usr/sbin, which is not in every user's PATH.
inline std::string unbound_program() {
  return ::access("/usr/sbin/unbound", X_OK) == 0 ? "/usr/sbin/unbound" : "unbound";
}

inline std::string quoted_local_data(const std::string& record) {
  return "  local-data: \"" + record + "\"\n";
}

}  // namespace detail

struct kdig_result {
  int exit_code = -1;  // -1: kdig did not finish in time (it was killed)
  std::string output;  // stdout and stderr
};

// Runs `kdig @127.0.0.1 -p PORT +time=2 +retry=0 ARGS…` and waits (bounded) for it to finish.
inline kdig_result kdig(unsigned short port, const std::vector<std::string>& args,
                        const std::string& server = "127.0.0.1") {
  std::vector<std::string> argv = {"kdig",    "@" + server, "-p", std::to_string(port),
                                   "+time=2", "+retry=0"};
  argv.insert(argv.end(), args.begin(), args.end());
  child k(argv);
  k.close_stdin();
  kdig_result r;
  r.exit_code = k.wait(std::chrono::milliseconds(15000));
  r.output = k.out() + k.err();
  return r;
}

struct unbound_options {
  // More `local-data` records for the test zone (or another local zone named in
  // `extra_config`), in zone-file form: "b.test.flowstack. 60 IN A 192.0.2.2".
  std::vector<std::string> extra_records;
  // More lines for unbound.conf's `server:` clause, e.g. "local-zone: \"other.\" static".
  std::vector<std::string> extra_config;
  // Also listen on [::1] at the same port.
  bool ipv6 = false;
};

// unbound serving `zone` on 127.0.0.1 (and [::1] when asked) at a free port, UDP and TCP.
class unbound_server {
 public:
  explicit unbound_server(unbound_options options = {}) {
    char dir_template[] = "/tmp/flowstack-unbound-XXXXXX";
    if (::mkdtemp(dir_template) == nullptr)
      throw std::runtime_error("cannot create a temporary directory for unbound's config");
    dir_ = dir_template;
    // A port found free can be taken before unbound binds it: try a few.
    std::string last_error;
    for (int attempt = 0; attempt < 3; ++attempt) {
      port_ = detail::free_udp_tcp_port();
      write_config(options);
      if (start(last_error)) return;
    }
    remove_dir();
    throw std::runtime_error("unbound did not start: " + last_error);
  }
  unbound_server(const unbound_server&) = delete;
  unbound_server& operator=(const unbound_server&) = delete;
  ~unbound_server() {
    process_.reset();  // SIGKILL and reap
    remove_dir();
  }

  unsigned short port() const { return port_; }
  // "127.0.0.1#PORT", the form of a `nameserver` line in ocaml-dns-forward's config.
  std::string nameserver() const { return "127.0.0.1#" + std::to_string(port_); }
  const std::string& config_file() const { return config_file_; }
  // What unbound wrote to stderr so far (errors only: verbosity 0).
  std::string log() const { return process_ ? process_->err() : std::string(); }

 private:
  void write_config(const unbound_options& options) {
    std::string p = std::to_string(port_);
    std::string c;
    c += "server:\n";
    c += "  interface: 127.0.0.1@" + p + "\n";
    if (options.ipv6) c += "  interface: ::1@" + p + "\n";
    c += "  port: " + p + "\n";
    c += "  do-ip6: " + std::string(options.ipv6 ? "yes" : "no") + "\n";
    c += "  do-daemonize: no\n";
    c += "  chroot: \"\"\n";
    c += "  username: \"\"\n";
    c += "  directory: \"" + dir_ + "\"\n";
    c += "  pidfile: \"\"\n";
    c += "  use-syslog: no\n";
    c += "  logfile: \"\"\n";
    c += "  verbosity: 0\n";
    c += "  num-threads: 1\n";
    c += "  so-reuseport: no\n";
    c += "  access-control: 127.0.0.0/8 allow\n";
    c += "  access-control: ::1/128 allow\n";
    // No validator: it would want a trust anchor; the zone is answered from local data only.
    c += "  module-config: \"iterator\"\n";
    c += "  do-not-query-localhost: yes\n";
    // Everything outside the local zones is refused, so nothing is ever sent to the Internet.
    c += "  local-zone: \".\" refuse\n";
    c += "  local-zone: \"" + std::string(zone::origin) + "\" static\n";
    const std::string o = zone::origin;
    c += detail::quoted_local_data(o + " 3600 IN SOA ns." + o + " hostmaster." + o +
                                   " 1 3600 600 86400 300");
    c += detail::quoted_local_data(o + " 3600 IN NS ns." + o);
    c += detail::quoted_local_data("ns." + o + " 300 IN A 192.0.2.53");
    const std::string h = zone::host;
    c += detail::quoted_local_data(h + " 300 IN A " + zone::host_a);
    c += detail::quoted_local_data(h + " 300 IN AAAA " + zone::host_aaaa);
    c += "  local-data: '" + h + " 300 IN TXT \"" + zone::host_txt + "\"'\n";
    c += detail::quoted_local_data(std::string(zone::alias) + " 300 IN CNAME " + h);
    for (int i = 1; i <= zone::many_count; ++i)
      c += detail::quoted_local_data(std::string(zone::many) + " 300 IN A 198.51.100." +
                                     std::to_string(i));
    for (int i = 1; i <= zone::huge_count; ++i)
      c += detail::quoted_local_data(std::string(zone::huge) + " 300 IN A 10.0.0." +
                                     std::to_string(i));
    for (const auto& r : options.extra_records) c += detail::quoted_local_data(r);
    for (const auto& line : options.extra_config) c += "  " + line + "\n";
    c += "remote-control:\n";
    c += "  control-enable: no\n";
    config_file_ = dir_ + "/unbound.conf";
    std::ofstream(config_file_) << c;
  }

  // Starts unbound and waits (bounded) until it answers a query for the zone's host.
  bool start(std::string& error) {
    process_ = std::make_unique<child>(
        std::vector<std::string>{detail::unbound_program(), "-d", "-c", config_file_});
    process_->close_stdin();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (detail::udp_port_taken(port_)) {
        auto probe = kdig(port_, {"+time=1", zone::host, "A"});
        if (probe.output.find("status: NOERROR") != std::string::npos) return true;
      }
      // An exited unbound (a bad config, a port taken) said why on stderr.
      if (detail::has_exited(process_->pid())) {
        process_->wait(std::chrono::milliseconds(2000));
        error = process_->err();
        process_.reset();
        return false;
      }
      process_->wait_for_stderr("\x01", std::chrono::milliseconds(50));  // collect its stderr
    }
    error = "no answer within 10 s; its log: " + process_->err();
    process_.reset();
    return false;
  }

  void remove_dir() {
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }

  std::string dir_;
  std::string config_file_;
  unsigned short port_ = 0;
  std::unique_ptr<child> process_;
};

}  // namespace flowstack::test
