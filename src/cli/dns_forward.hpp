// `flowstack dns-forward`: the DNS forwarder daemon over the kernel's UDP and TCP.
//
// Servers come from --config (the line format of dns/config.hpp) or else from the resolv.conf
// file; local names from the hosts file. It listens on every --listen address over UDP and TCP,
// serves Prometheus metrics on --metrics, and runs until SIGINT or SIGTERM, when it stops taking
// queries, lets the ones in flight finish and exits 0. SIGHUP reloads the config and the hosts
// file (a config that does not parse is reported and the old one kept); SIGUSR1 prints the last
// queries to stderr.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace flowstack::cli {

enum class log_level { error, warn, info, debug };

struct dns_forward_options {
  std::optional<std::string> config_file;
  std::string resolv_conf = "/etc/resolv.conf";
  std::string hosts_file = "/etc/hosts";
  std::vector<std::string> listen;  // HOST:PORT; empty: 127.0.0.1:1053
  std::optional<std::string> metrics;
  std::size_t cache_entries = 100'000;  // 0: no cache
  std::size_t max_udp_size = 1232;
  // SO_RCVBUF of the UDP listeners, in bytes (0: the kernel's default). A burst of queries
  // waits there while the forwarder is busy; the kernel's default (about 200 KiB) drops most of
  // a 2,000-query burst.
  std::size_t udp_receive_buffer = 4 * 1024 * 1024;
  bool servfail_on_failure = true;
  std::size_t query_log_size = 1024;
  log_level level = log_level::info;
};

// Parses "error", "warn", "info" or "debug".
std::optional<log_level> parse_log_level(const std::string& text);

// Runs the daemon until a signal stops it; returns the exit status.
int run_dns_forward(const dns_forward_options& options);

}  // namespace flowstack::cli
