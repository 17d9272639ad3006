// Relaying between two TCP connections: `flowstack cat tcp-listen:P1 tcp:127.0.0.1:P2` vs socat
// with its default 8 KiB buffer vs socat -b 65536. A sender pushes N bytes into P1 in 64 KiB
// writes and half-closes; a sink at P2 reads to eof. Throughput is N / (connect .. sink's eof);
// the relay's own start-up is outside the measured time. The relay's CPU time (user + system, from
// wait4) per GiB moved is printed beside it: on a shared machine the rate follows the load, while
// the CPU a relay spends on each byte hardly moves.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <thread>
#include <vector>

#include "benchmarks.hpp"
#include "common.hpp"

namespace flowstack::bench {
namespace {

constexpr auto run_limit = std::chrono::seconds(60);

struct relay_kind {
  const char* name;
  // The relay's command line, listening on `in` and connecting to 127.0.0.1:`out`.
  std::function<std::vector<std::string>(std::uint16_t in, std::uint16_t out)> command;
};

struct relay_run {
  double rate;         // bytes per second
  double cpu_per_gib;  // the relay process's CPU seconds per GiB
};

relay_run relay_once(const relay_kind& kind, std::uint64_t bytes, std::size_t chunk) {
  auto sink_listener = plain_listen();
  plain_sink sink(sink_listener.fd, chunk, run_limit);
  auto in_port = free_port();
  auto relay = spawn(kind.command(in_port, sink_listener.port), child_output::inherit);
  if (!wait_listening(in_port, std::chrono::seconds(5))) {
    wait_child(relay, std::chrono::milliseconds(0));
    ::shutdown(sink_listener.fd, SHUT_RDWR);
    sink.join();
    die(std::string(kind.name) + " did not start listening on port " + std::to_string(in_port));
  }
  int fd = plain_connect(in_port);
  if (fd < 0) die(std::string("cannot connect to ") + kind.name);
  set_io_timeout(fd, run_limit);
  auto start = clock::now();
  if (!send_blocks(fd, bytes, chunk)) die(std::string("sending into ") + kind.name + " failed");
  ::shutdown(fd, SHUT_WR);
  recv_until_eof(fd);  // the relay passes the sink's close back
  ::close(fd);
  auto [received, end] = sink.join();
  ::close(sink_listener.fd);
  int status = wait_child(relay, std::chrono::seconds(5));
  if (received != bytes) {
    die(std::string(kind.name) + ": the sink received " + std::to_string(received.value_or(0)) +
        " of " + std::to_string(bytes) + " bytes");
  }
  if (status != 0) {
    std::fprintf(stderr, "  note: %s exited with status %d after the transfer\n", kind.name,
                 status);
  }
  return {static_cast<double>(bytes) / std::chrono::duration<double>(end - start).count(),
          relay.cpu.count() / (static_cast<double>(bytes) / (1 << 30))};
}

}  // namespace

int run_relay(const relay_options& o) {
  std::vector<relay_kind> kinds;
  kinds.push_back({"flowstack cat", [&](std::uint16_t in, std::uint16_t out) {
                     return std::vector<std::string>{o.flowstack_program, "cat",
                                                     "tcp-listen:127.0.0.1:" + std::to_string(in),
                                                     "tcp:127.0.0.1:" + std::to_string(out)};
                   }});
  bool with_socat = have_program("socat");
  if (with_socat) {
    auto socat = [](std::vector<std::string> extra) {
      return [extra](std::uint16_t in, std::uint16_t out) {
        std::vector<std::string> argv{"socat"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        argv.push_back("TCP-LISTEN:" + std::to_string(in) + ",bind=127.0.0.1,reuseaddr");
        argv.push_back("TCP:127.0.0.1:" + std::to_string(out));
        return argv;
      };
    };
    kinds.push_back({"socat (default 8 KiB)", socat({})});
    kinds.push_back({"socat -b 65536", socat({"-b", "65536"})});
  }

  std::printf("relay: sender -> relay -> sink over loopback TCP, %s per run, %d runs (median)\n",
              format_bytes(o.bytes).c_str(), o.runs);
  if (!with_socat) std::printf("  socat not found: install Debian's socat to compare with it\n");
  std::fflush(stdout);
  std::vector<std::vector<double>> rates(kinds.size());
  std::vector<std::vector<double>> cpu(kinds.size());
  for (int run = 0; run < o.runs; ++run) {
    for (std::size_t i = 0; i < kinds.size(); ++i) {
      auto k = (i + static_cast<std::size_t>(run)) % kinds.size();
      auto r = relay_once(kinds[k], o.bytes, o.chunk);
      rates[k].push_back(r.rate);
      cpu[k].push_back(r.cpu_per_gib);
    }
  }
  for (std::size_t k = 0; k < kinds.size(); ++k) {
    std::printf("  %-28s %12s   runs:", kinds[k].name, format_rate(median(rates[k])).c_str());
    for (double x : rates[k]) std::printf(" %.2f", x / 1e9);
    std::printf("\n  %-28s %9.0f ms/GiB   runs:", "  relay CPU", median(cpu[k]) * 1e3);
    for (double x : cpu[k]) std::printf(" %.0f", x * 1e3);
    std::printf("\n");
  }
  if (with_socat) {
    double vs_default = median(rates[0]) / median(rates[1]);
    double vs_64k = median(rates[0]) / median(rates[2]);
    std::printf("  %-28s %12s   target >= 2.00x: %s\n", "flowstack / socat",
                format_ratio(vs_default).c_str(), vs_default >= 2.0 ? "met" : "MISSED");
    std::printf("  %-28s %12s\n", "flowstack / socat -b 65536", format_ratio(vs_64k).c_str());
    std::printf("  %-28s %12s / %s\n", "CPU per byte, socat / flowstack",
                format_ratio(median(cpu[1]) / median(cpu[0])).c_str(),
                format_ratio(median(cpu[2]) / median(cpu[0])).c_str());
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace flowstack::bench
