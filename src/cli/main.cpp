// flowstack: the command-line program. Each subcommand is a class that builds its CLI11 app
// (which reads the command line into the object) and runs it; main() only dispatches.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <flowstack/core/text.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "address.hpp"
#include "cat.hpp"
#include "dns_forward.hpp"
#include "kinds.hpp"
#include "manual.hpp"
#include "userspace_stack.hpp"

namespace {

using namespace flowstack::cli;

const std::vector<help_entry> exit_codes{
    {"0", "success"},
    {"1",
     "an endpoint could not be opened (refused, unreachable, timeout, ...) or a relay failed; "
     "stderr says why"},
    {"2", "a malformed command line or address; stderr says what was expected"},
    {"128+N", "stopped by signal N (SIGINT 130, SIGTERM 143) after closing every flow"},
};

std::string exit_codes_text() {
  return help_text({"Exit codes", {}, exit_codes});
}

// The userspace stack's options, which `cat` (for its stack addresses) and `stack` share.
void add_stack_options(CLI::App& app, stack_options& o, const std::string& prefix) {
  const std::string group = "Userspace stack";
  app.add_option(prefix + "tap", o.tap, "the TAP device, created if absent (at most 15 characters)")
      ->capture_default_str()
      ->group(group);
  app.add_option(prefix + "address", o.address, "the stack's IPv4 address and prefix length")
      ->capture_default_str()
      ->group(group);
  app.add_option(prefix + "gateway", o.gateway,
                 "the router for addresses off the subnet; default none (the subnet only)")
      ->group(group);
  app.add_option(prefix + "mtu", o.mtu, "the largest IP packet, in bytes")
      ->capture_default_str()
      ->check(CLI::Range(576, 65535))
      ->group(group);
}

// A subcommand: `app` reads its part of the command line into the object, run() does the work.
// `sections` and `examples` are what --help and the manual say beyond the option tables.
class command {
 public:
  virtual ~command() = default;
  CLI::App_p app;
  std::vector<help_section> sections;
  std::vector<help_entry> examples;
  virtual int run() = 0;
  virtual const kind_registry* kinds() const { return nullptr; }

 protected:
  // The footer of the command's --help: `before`, its sections, its examples and the exit codes.
  void set_footer(const std::string& before = "") {
    std::string footer = before;
    for (const auto& s : sections) footer += help_text(s);
    footer += help_text({"Examples", {}, examples});
    app->footer(footer + exit_codes_text());
  }
};

class cat_command final : public command {
 public:
  explicit cat_command(const kind_registry& kinds) : kinds_(kinds) {
    app = std::make_shared<CLI::App>(
        "Relay bytes both ways between two endpoints, passing half-close on.", "cat");
    app->add_flag("-v,--verbose", options_.verbose,
                  "print the listening address (said without -v too for port 0), and at the end "
                  "the bytes and operations each way, the duration and the rate, to stderr");
    app->add_flag("--progress", options_.progress,
                  "show live byte counts and rates of each direction (FIRST => SECOND, SECOND => "
                  "FIRST) on stderr when it is a terminal");
    app->add_option("ADDRESS", addresses_, "the two endpoints, the first opened first")
        ->expected(2)
        ->required();
    add_stack_options(*app, stack_, "--stack-");
    app->add_option("--stack-pcap", stack_.pcap, "write every frame of the stack to a capture")
        ->group("Userspace stack");
    sections = {{"How it runs",
                 {"The first address is opened first. A listener waits for a peer; with `fork` it "
                  "serves every peer, each with its own opening of the second address (at most "
                  "max-children at once), and runs until stopped; without fork it serves one peer "
                  "and exits. The second address is opened when the first has a peer. Bytes are "
                  "relayed both ways; eof from one side is passed on as a write shutdown "
                  "(half-close) to the other, and the relay ends when both directions have "
                  "ended. An abort is passed on as an abort: when one side resets or fails, both "
                  "sides are aborted, so the other peer sees its stream cut, not ended: RST on "
                  "TCP, no close_notify on TLS, an aborted vchan (a Unix socket peer reads eof, or "
                  "ECONNRESET when bytes it sent were unread; '-' is closed and the exit status is "
                  "1). SIGINT and SIGTERM abort every relay in progress and exit."},
                 {}}};
    examples = {
        {"flowstack cat - tcp:example.org:80", "stdin/stdout to a TCP server"},
        {"flowstack cat tcp-listen:8080,fork tcp:[::1]:80", "forward every connection"},
        {"flowstack cat unix-listen:/tmp/s tcp:db:5432", "a Unix socket in front of TCP"},
        {"flowstack cat --stack-tap fs0 --stack-address 10.0.0.2/24 stack-listen:80,fork "
         "tcp:127.0.0.1:8080",
         "a server on the userspace stack (reached through TAP device fs0) relayed to a kernel "
         "socket"},
    };
    set_footer("\n" + kinds.describe());
  }

  const kind_registry* kinds() const override { return &kinds_; }

  int run() override {
    std::vector<address> parsed;
    for (const auto& text : addresses_) {
      auto a = parse_address(text, kinds_);
      if (!a) {
        std::fprintf(stderr, "flowstack cat: %s\n", a.error().detail.c_str());
        return exit_usage;
      }
      parsed.push_back(std::move(*a));
    }
    if (parsed[0].transport.kind->name == "-" && parsed[1].transport.kind->name == "-") {
      std::fprintf(stderr, "flowstack cat: both addresses are '-', expected at most one\n");
      return exit_usage;
    }
    if (parsed[0].transport.has("fork") && parsed[1].transport.kind->name == "-") {
      std::fprintf(stderr,
                   "flowstack cat: %s: fork serves many peers but '-' is one stdin and stdout; "
                   "expected fork without '-' (or '-' without fork)\n",
                   parsed[0].text.c_str());
      return exit_usage;
    }
    if (parsed[1].transport.has("fork")) {
      std::fprintf(stderr,
                   "flowstack cat: %s: fork applies to the first address only, expected it "
                   "there\n",
                   parsed[1].text.c_str());
      return exit_usage;
    }
    auto setup = check_stack_options(stack_, "--stack-");
    if (!setup) {
      std::fprintf(stderr, "flowstack cat: %s\n", setup.error().c_str());
      return exit_usage;
    }
    options_.stack = std::move(*setup);
    return run_cat(parsed[0], parsed[1], options_);
  }

 private:
  const kind_registry& kinds_;
  cat_options options_;
  stack_options stack_;
  std::vector<std::string> addresses_;
};

class dns_forward_command final : public command {
 public:
  dns_forward_command() {
    app = std::make_shared<CLI::App>(
        "Forward DNS queries over UDP and TCP to upstream servers, with a cache.", "dns-forward");
    app->add_option("--config", options_.config_file,
                    "upstream servers in the line format (nameserver IP[#PORT], zone, timeout, "
                    "order, search, assume-offline-after); default: the resolv.conf servers");
    app->add_option("--resolv-conf", options_.resolv_conf,
                    "the resolv.conf to read without --config")
        ->capture_default_str();
    app->add_option("--hosts", options_.hosts_file, "local names")->capture_default_str();
    app->add_option("--listen", options_.listen,
                    "HOST:PORT to serve on UDP and TCP, repeatable (default 127.0.0.1:1053)");
    app->add_option("--metrics", options_.metrics,
                    "HOST:PORT serving Prometheus metrics over HTTP");
    app->add_option("--cache-entries", options_.cache_entries, "cache size in answers; 0: no cache")
        ->capture_default_str();
    app->add_option("--max-udp-size", options_.max_udp_size,
                    "the largest UDP answer sent, whatever the client advertises")
        ->capture_default_str()
        ->check(CLI::Range(512, 65535));
    app->add_option("--udp-receive-buffer", options_.udp_receive_buffer,
                    "bytes of kernel receive buffer per UDP listener, for bursts of queries "
                    "(0: the kernel's default; net.core.rmem_max caps it unless run as root)")
        ->capture_default_str();
    app->add_option("--on-failure", on_failure_,
                    "what a client gets when every upstream fails: servfail or drop")
        ->capture_default_str()
        ->check(CLI::IsMember({"servfail", "drop"}));
    app->add_option("--query-log", options_.query_log_size,
                    "how many recent queries SIGUSR1 prints")
        ->capture_default_str();
    app->add_option("--log-level", level_, "error, warn, info or debug")
        ->capture_default_str()
        ->check(CLI::IsMember({"error", "warn", "info", "debug"}));
    sections = {{"Signals",
                 {"SIGHUP reloads the config and hosts files; SIGUSR1 prints the last queries to "
                  "stderr; SIGINT and SIGTERM stop taking queries, answer those in flight and "
                  "exit 0."},
                 {}}};
    examples = {
        {"flowstack dns-forward",
         "forward to the servers of /etc/resolv.conf on 127.0.0.1:1053; query it with "
         "kdig @127.0.0.1 -p 1053 example.com"},
        {"flowstack dns-forward --config forward.conf --listen 127.0.0.1:53",
         "forward to the servers of forward.conf on port 53"},
    };
    set_footer();
  }

  int run() override {
    options_.level = *parse_log_level(level_);
    options_.servfail_on_failure = on_failure_ == "servfail";
    return run_dns_forward(options_);
  }

 private:
  dns_forward_options options_;
  std::string level_ = "info";
  std::string on_failure_ = "servfail";
};

class stack_command final : public command {
 public:
  stack_command() {
    app = std::make_shared<CLI::App>(
        "Bring the userspace TCP/IP stack up on a TAP device and keep it answering.", "stack");
    add_stack_options(*app, stack_, "--");
    app->add_option("--pcap", stack_.pcap, "write every frame received and sent to a capture");
    app->add_flag("-v,--verbose", verbose_,
                  "print the counters at the end (frames, drops by reason, TCP, connections)");
    app->add_option("--interval", interval_,
                    "with -v: also every N seconds when they changed; 0: at the end only")
        ->capture_default_str();
    sections = {{"How it runs",
                 {"The stack opens the TAP device (creating it when absent), announces its "
                  "address with a gratuitous ARP, and answers ARP, ping, and TCP segments to "
                  "ports no one listens on (with RST) until SIGINT or SIGTERM; then it exits 0. "
                  "The kernel's side of the device is whoever configures it: `ip link set NAME "
                  "up` and an address on the stack's subnet. A stack that cannot come up (no "
                  "/dev/net/tun, not permitted, a non-TAP interface of that name) exits 1."},
                 {}}};
    examples = {
        {"flowstack stack --tap fs0 --address 10.0.0.2/24 -v",
         "a stack on fs0; after `ip link set fs0 up && ip addr add 10.0.0.1/24 dev fs0`, "
         "`ping 10.0.0.2` is answered"},
        {"flowstack stack --pcap run.pcap",
         "the same on flowstack0, with a capture to open in "
         "Wireshark"},
    };
    set_footer();
  }

  int run() override {
    auto setup = check_stack_options(stack_, "--");
    if (!setup) {
      std::fprintf(stderr, "flowstack stack: %s\n", setup.error().c_str());
      return exit_usage;
    }
    return run_stack(*setup, verbose_, std::chrono::seconds(interval_));
  }

 private:
  stack_options stack_;
  bool verbose_ = false;
  unsigned interval_ = 0;
};

// The program's own command line: --help, --version, and the commands as subcommands.
std::unique_ptr<CLI::App> program_app(const std::vector<std::unique_ptr<command>>& commands) {
  auto app = std::make_unique<CLI::App>(
      "flowstack: flows (reliable byte streams) over TCP, Unix sockets and more.", "flowstack");
  app->require_subcommand(1);
  app->set_version_flag("--version", std::string("flowstack ") + FLOWSTACK_VERSION);
  app->footer(std::string("\nCommands:\n"
                          "  cat [-v] [--progress] ADDRESS ADDRESS\n"
                          "           relay bytes both ways between two endpoints, like socat;\n"
                          "           `flowstack cat --help` describes addresses\n"
                          "  dns-forward [--config FILE] [--listen ADDR]... [--metrics ADDR]\n"
                          "           a DNS forwarder on UDP and TCP (default 127.0.0.1:1053)\n"
                          "  stack [--tap NAME] [--address IP/PREFIX] [-v] [--pcap FILE]\n"
                          "           the userspace TCP/IP stack on a TAP device, answering\n"
                          "           ARP and ping until stopped\n"
                          "  `man flowstack` documents every command, option and address kind.\n") +
              exit_codes_text());
  for (const auto& c : commands) app->add_subcommand(c->app);
  // The manual page, for the build to install: hidden from --help, since nobody types it.
  app->add_flag_callback(
         "--man-page",
         [program = app.get(), &commands] {
           manual m{program, FLOWSTACK_VERSION, {}, exit_codes};
           for (const auto& c : commands)
             m.commands.push_back({c->app.get(), c->sections, c->examples, c->kinds()});
           std::fputs(roff_manual(m).c_str(), stdout);
           throw CLI::Success();
         })
      ->group("");
  return app;
}

bool names_a_command(CLI::App& app, const std::string& word) {
  auto commands = app.get_subcommands([](CLI::App*) { return true; });
  return std::any_of(commands.begin(), commands.end(),
                     [&word](CLI::App* c) { return c->check_name(word); });
}

// Reads the command line into `app` and its commands. Words CLI11 would misread are dealt with
// first: a first word that names no command, and an address such as "-,fork" that looks like an
// option ("--" before it keeps it an address). Returns the exit status when there is nothing to
// run (help, version, a malformed command line).
std::optional<int> parse(CLI::App& app, std::vector<std::string> args) {
  if (!args.empty() && args[0] != "--version" && args[0] != "-h" && args[0] != "--help" &&
      args[0] != "--man-page" && !names_a_command(app, args[0])) {
    const bool option = args[0].starts_with("-");
    std::fprintf(
        stderr,
        "flowstack: unknown %s '%s', expected a command (cat, dns-forward, stack), --help or "
        "--version\n",
        option ? "option" : "command", flowstack::escape_controls(args[0]).c_str());
    return exit_usage;
  }
  if (!args.empty() && args[0] == "cat") {
    auto address = std::find_if(args.begin() + 1, args.end(),
                                [](const std::string& a) { return a.starts_with("-,"); });
    if (address != args.end()) args.insert(address, "--");
  }
  std::reverse(args.begin(), args.end());  // CLI11 takes a vector in reverse order

  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // help, version, the manual
    // CLI11 says "The following argument was not expected: -x"; say it as the program's other
    // messages are said, after the command's name.
    std::string who = app.get_name();
    for (const CLI::App* c : app.get_subcommands()) who += " " + c->get_name();
    std::fprintf(stderr, "%s: %s; %s --help lists what is expected\n", who.c_str(),
                 in_our_voice(flowstack::escape_controls(e.what())).c_str(), who.c_str());
    return exit_usage;
  }
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  kind_registry kinds = default_kinds();
  std::vector<std::unique_ptr<command>> commands;
  commands.push_back(std::make_unique<cat_command>(kinds));
  commands.push_back(std::make_unique<dns_forward_command>());
  commands.push_back(std::make_unique<stack_command>());
  auto app = program_app(commands);

  if (auto status = parse(*app, std::vector<std::string>(argv + 1, argv + argc))) return *status;
  for (const auto& c : commands)
    if (c->app->parsed()) return c->run();
  return exit_usage;
}
