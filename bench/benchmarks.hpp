// The subcommands of flowstack_bench. Each runs flowstack and its peer side by side, several
// times, and prints medians and the ratio.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace flowstack::bench {

struct bulk_options {
  std::uint64_t bytes = 1ull << 30;
  std::size_t chunk = 64 * 1024;
  int runs = 5;
  std::string only;  // run one contender (flowstack, plain, iperf3), e.g. under perf or strace
};
int run_bulk(const bulk_options& o);

struct pingpong_options {
  std::size_t message = 64;
  int round_trips = 20000;
  int runs = 5;
  std::string only;  // run one contender (flowstack, plain)
};
int run_pingpong(const pingpong_options& o);

struct relay_options {
  std::string flowstack_program;  // the `flowstack` CLI
  std::uint64_t bytes = 512ull << 20;
  std::size_t chunk = 64 * 1024;
  int runs = 5;
};
int run_relay(const relay_options& o);

struct memory_options {
  int connections = 10000;
  int runs = 3;
  std::string kind;  // set: measure only this kind, in this process (see memory.cpp)
};
int run_memory(const memory_options& o);

}  // namespace flowstack::bench
