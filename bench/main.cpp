// flowstack_bench: side-by-side benchmarks of flowstack against plain sockets, iperf3 and socat
// on loopback (DESIGN.md §4). Every subcommand runs both sides in the same run and prints the
// ratio; bench/run-all.sh runs them all.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <chrono>

#include "benchmarks.hpp"
#include "common.hpp"

int main(int argc, char** argv) {
  using namespace flowstack::bench;
  ::signal(SIGPIPE, SIG_IGN);

  CLI::App app{"flowstack side-by-side benchmarks (loopback only)"};
  app.require_subcommand(1);
  int time_limit = 240;
  app.add_option("--time-limit", time_limit, "Give up after this many seconds")
      ->capture_default_str();

  auto size_option = [](CLI::App* cmd, const char* name, std::uint64_t& into, const char* what) {
    cmd->add_option_function<std::string>(
           name, [&into](const std::string& text) { into = parse_size(text); }, what)
        ->default_str(std::to_string(into));
  };

  bulk_options bulk;
  auto* bulk_cmd =
      app.add_subcommand("bulk", "One-way transfer: flowstack vs plain sockets vs iperf3");
  size_option(bulk_cmd, "--bytes", bulk.bytes, "Bytes per run (e.g. 1G)");
  bulk_cmd->add_option("--chunk", bulk.chunk, "Bytes per write")->capture_default_str();
  bulk_cmd->add_option("--runs", bulk.runs, "Runs of each contender")->capture_default_str();
  bulk_cmd->add_option("--only", bulk.only, "Run one contender, for profiling")
      ->check(CLI::IsMember({"flowstack", "plain", "iperf3"}));

  pingpong_options pingpong;
  auto* pingpong_cmd =
      app.add_subcommand("pingpong", "Round-trip latency: flowstack vs plain sockets");
  pingpong_cmd->add_option("--message", pingpong.message, "Message size")->capture_default_str();
  pingpong_cmd->add_option("--round-trips", pingpong.round_trips, "Round trips per run")
      ->capture_default_str();
  pingpong_cmd->add_option("--runs", pingpong.runs, "Runs of each contender")
      ->capture_default_str();
  pingpong_cmd->add_option("--only", pingpong.only, "Run one contender, for profiling")
      ->check(CLI::IsMember({"flowstack", "plain"}));

  relay_options relay;
  auto* relay_cmd = app.add_subcommand("relay", "TCP relay: flowstack cat vs socat");
  relay_cmd->add_option("--flowstack", relay.flowstack_program, "Path of the flowstack program")
      ->required();
  size_option(relay_cmd, "--bytes", relay.bytes, "Bytes per run (e.g. 512M)");
  relay_cmd->add_option("--runs", relay.runs, "Runs of each contender")->capture_default_str();

  memory_options memory;
  auto* memory_cmd =
      app.add_subcommand("memory", "Heap per idle connection: flowstack vs asio vs plain");
  memory_cmd->add_option("--connections", memory.connections, "Idle connections")
      ->capture_default_str();
  memory_cmd->add_option("--runs", memory.runs, "Runs of each kind")->capture_default_str();
  memory_cmd->add_option("--kind", memory.kind, "Measure one kind in this process (internal)");

  CLI11_PARSE(app, argc, argv);
  arm_watchdog(std::chrono::seconds(time_limit));

  if (bulk_cmd->parsed()) return run_bulk(bulk);
  if (pingpong_cmd->parsed()) return run_pingpong(pingpong);
  if (relay_cmd->parsed()) return run_relay(relay);
  if (memory_cmd->parsed()) return run_memory(memory);
  return 1;
}
