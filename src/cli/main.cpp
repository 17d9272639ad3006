// flowstack: the command-line program. Subcommands: cat, dns-forward.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <flowstack/core/text.hpp>
#include <string>
#include <vector>

#include "address.hpp"
#include "cat.hpp"
#include "dns_forward.hpp"
#include "kinds.hpp"

namespace {

constexpr const char* exit_codes =
    "Exit codes:\n"
    "  0        success\n"
    "  1        an endpoint could not be opened (refused, unreachable, timeout, ...) or a\n"
    "           relay failed; stderr says why\n"
    "  2        a malformed command line or address; stderr says what was expected\n"
    "  128+N    stopped by signal N (SIGINT 130, SIGTERM 143) after closing every flow\n";

constexpr const char* cat_semantics =
    "\nHow it runs:\n"
    "  The first address is opened first. A listener waits for a peer; with `fork` it serves\n"
    "  every peer, each with its own opening of the second address (at most max-children at\n"
    "  once), and runs until stopped; without fork it serves one peer and exits. The second\n"
    "  address is opened when the first has a peer. Bytes are relayed both ways; eof from one\n"
    "  side is passed on as a write shutdown (half-close) to the other, and the relay ends when\n"
    "  both directions have ended. An abort is passed on as an abort: when one side resets or\n"
    "  fails, both sides are aborted, so the other peer sees its stream cut, not ended: RST on\n"
    "  TCP, no close_notify on TLS, an aborted vchan (a Unix socket peer reads eof, or\n"
    "  ECONNRESET when bytes it sent were unread; '-' is closed and the exit status is 1).\n"
    "  SIGINT and SIGTERM abort every relay in progress and exit.\n"
    "\nExamples:\n"
    "  flowstack cat - tcp:example.org:80              stdin/stdout to a TCP server\n"
    "  flowstack cat tcp-listen:8080,fork tcp:[::1]:80  forward every connection\n"
    "  flowstack cat unix-listen:/tmp/s tcp:db:5432     a Unix socket in front of TCP\n\n";

bool names_a_command(CLI::App& app, const std::string& word) {
  auto commands = app.get_subcommands([](CLI::App*) { return true; });
  return std::any_of(commands.begin(), commands.end(),
                     [&word](CLI::App* c) { return c->check_name(word); });
}

}  // namespace

int main(int argc, char** argv) {
  using namespace flowstack::cli;
  kind_registry kinds = default_kinds();

  CLI::App app{"flowstack: flows (reliable byte streams) over TCP, Unix sockets and more."};
  app.name("flowstack");
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("flowstack ") + FLOWSTACK_VERSION);
  app.footer(std::string("\nCommands:\n"
                         "  cat [-v] [--progress] ADDRESS ADDRESS\n"
                         "           relay bytes both ways between two endpoints, like socat;\n"
                         "           `flowstack cat --help` describes addresses\n"
                         "  dns-forward [--config FILE] [--listen ADDR]... [--metrics ADDR]\n"
                         "           a DNS forwarder on UDP and TCP (default 127.0.0.1:1053)\n\n") +
             exit_codes);

  bool verbose = false;
  bool progress = false;
  std::vector<std::string> addresses;
  CLI::App* cat = app.add_subcommand(
      "cat", "Relay bytes both ways between two endpoints, passing half-close on.");
  cat->add_flag("-v,--verbose", verbose,
                "print the listening address, and at the end the bytes and operations each way, "
                "the duration and the rate, to stderr");
  cat->add_flag("--progress", progress,
                "show a live byte count and rate on stderr when it is a terminal");
  cat->add_option("ADDRESS", addresses, "the two endpoints, the first opened first")
      ->expected(2)
      ->required();
  cat->footer("\n" + kinds.describe() + cat_semantics + exit_codes);

  dns_forward_options dns;
  std::string level = "info";
  std::string on_failure = "servfail";
  CLI::App* forward = app.add_subcommand(
      "dns-forward", "Forward DNS queries over UDP and TCP to upstream servers, with a cache.");
  forward->add_option("--config", dns.config_file,
                      "upstream servers in the line format (nameserver IP[#PORT], zone, timeout, "
                      "order, search, assume-offline-after); default: the resolv.conf servers");
  forward->add_option("--resolv-conf", dns.resolv_conf, "the resolv.conf to read without --config")
      ->capture_default_str();
  forward->add_option("--hosts", dns.hosts_file, "local names")->capture_default_str();
  forward->add_option("--listen", dns.listen,
                      "HOST:PORT to serve on UDP and TCP, repeatable (default 127.0.0.1:1053)");
  forward->add_option("--metrics", dns.metrics, "HOST:PORT serving Prometheus metrics over HTTP");
  forward->add_option("--cache-entries", dns.cache_entries, "cache size in answers; 0: no cache")
      ->capture_default_str();
  forward
      ->add_option("--max-udp-size", dns.max_udp_size,
                   "the largest UDP answer sent, whatever the client advertises")
      ->capture_default_str()
      ->check(CLI::Range(512, 65535));
  forward
      ->add_option("--udp-receive-buffer", dns.udp_receive_buffer,
                   "bytes of kernel receive buffer per UDP listener, for bursts of queries "
                   "(0: the kernel's default; net.core.rmem_max caps it unless run as root)")
      ->capture_default_str();
  forward
      ->add_option("--on-failure", on_failure,
                   "what a client gets when every upstream fails: servfail or drop")
      ->capture_default_str()
      ->check(CLI::IsMember({"servfail", "drop"}));
  forward->add_option("--query-log", dns.query_log_size, "how many recent queries SIGUSR1 prints")
      ->capture_default_str();
  forward->add_option("--log-level", level, "error, warn, info or debug")
      ->capture_default_str()
      ->check(CLI::IsMember({"error", "warn", "info", "debug"}));
  forward->footer(
      "\nSignals: SIGHUP reloads the config and hosts files; SIGUSR1 prints the last queries to "
      "stderr;\nSIGINT and SIGTERM stop taking queries, answer those in flight and exit 0.\n"
      "Query it: kdig @127.0.0.1 -p 1053 example.com\n");

  // Words CLI11 would misread: a first word that names no command, and an address such as
  // "-,fork" that looks like an option ("--" before it keeps it an address).
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] != "--version" && args[0] != "-h" && args[0] != "--help" &&
      !names_a_command(app, args[0])) {
    const bool option = args[0].starts_with("-");
    std::fprintf(stderr,
                 "flowstack: unknown %s '%s', expected a command (cat, dns-forward), --help or "
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
    int code = app.exit(e);
    return code == 0 ? exit_ok : exit_usage;
  }

  if (cat->parsed()) {
    std::vector<address> parsed;
    for (const auto& text : addresses) {
      auto a = parse_address(text, kinds);
      if (!a) {
        std::fprintf(stderr, "flowstack cat: %s\n", a.error().c_str());
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
    return run_cat(parsed[0], parsed[1], cat_options{verbose, progress});
  }
  if (forward->parsed()) {
    dns.level = *parse_log_level(level);
    dns.servfail_on_failure = on_failure == "servfail";
    return run_dns_forward(dns);
  }
  return exit_usage;
}
