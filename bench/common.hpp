// What every side-by-side benchmark needs: statistics over repeated runs, plain loopback sockets,
// outside programs (iperf3, socat, flowstack cat) started and always stopped, and a watchdog so
// that no run can hang.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace flowstack::bench {

using clock = std::chrono::steady_clock;

// Median and high percentiles of a sample (copies and sorts it).
double median(std::vector<double> values);
double percentile(std::vector<double> values, double p);  // p in [0, 100]

// Prints a failure and exits: a benchmark that cannot run says why instead of printing a number.
[[noreturn]] void die(const std::string& what);

// Ends the process (and every child it started) when `limit` passes: every run is bounded.
void arm_watchdog(std::chrono::seconds limit);

// Raises RLIMIT_NOFILE (soft and, as root, hard) to at least `count`.
void raise_fd_limit(std::size_t count);

// --- plain blocking sockets on loopback ----------------------------------------------------------

// A listening socket on 127.0.0.1 (port 0 picks one); returns the fd and its port.
struct plain_listener {
  int fd = -1;
  std::uint16_t port = 0;
};
plain_listener plain_listen(std::uint16_t port = 0, int backlog = 128);
int plain_accept(int listen_fd);
// Connects to 127.0.0.1:port, retrying while refused until `patience` passes.
int plain_connect(std::uint16_t port, std::chrono::milliseconds patience = std::chrono::seconds(5));
void set_nodelay(int fd);
// Bounds blocking send/recv so a stuck peer turns into an error, not a hang.
void set_io_timeout(int fd, std::chrono::seconds limit);
// Sends every byte; false on error.
bool send_all(int fd, const void* data, std::size_t size);
// Receives exactly `size` bytes; false on error or eof.
bool recv_exact(int fd, void* data, std::size_t size);
// Receives until eof and returns the byte count, or nullopt on error.
std::optional<std::uint64_t> recv_until_eof(int fd, std::size_t chunk = 64 * 1024);

// Sends `bytes` in blocks of `chunk` bytes; false when a send fails.
bool send_blocks(int fd, std::uint64_t bytes, std::size_t chunk);

// A thread that accepts one connection on `listen_fd` and reads it to eof: the receiving end of
// the bulk and relay benchmarks.
class plain_sink {
 public:
  struct receipt {
    std::optional<std::uint64_t> bytes;  // none when accept or a recv failed
    clock::time_point end;               // when eof arrived
  };

  plain_sink(int listen_fd, std::size_t chunk, std::chrono::seconds io_limit);
  plain_sink(const plain_sink&) = delete;
  plain_sink& operator=(const plain_sink&) = delete;
  ~plain_sink();

  // Waits for the thread (shut the listening fd down first to end a sink that never got a peer).
  receipt join();

 private:
  receipt receipt_;
  std::thread thread_;
};

// A port nobody listens on right now (bound and released: good enough on a quiet loopback).
std::uint16_t free_port();
// Waits until something listens on `port` (IPv4 or IPv6, from /proc/net/tcp*).
bool wait_listening(std::uint16_t port, std::chrono::milliseconds patience);

// --- outside programs ------------------------------------------------------------------------

struct child_process {
  int pid = -1;
  int stdout_fd = -1;  // when captured
  // User + system CPU time the child used, known once wait_child has reaped it.
  std::chrono::duration<double> cpu{0};
};
enum class child_output {
  inherit,  // stdout and stderr go where ours go
  capture,  // stdout into a pipe (child_process::stdout_fd), stderr inherited
  discard,  // both to /dev/null
};
// Starts argv[0] (searched in PATH) with stdin from /dev/null.
child_process spawn(const std::vector<std::string>& argv, child_output output);
// Waits for the child to exit; kills it after `limit`. Returns its exit status, or -1 when it had
// to be killed. Either way child.cpu is what the child used.
int wait_child(child_process& child, std::chrono::milliseconds limit);
// Reads the captured stdout to eof.
std::string read_all(int fd);
// True when `name` can be found in PATH or is an executable path.
bool have_program(const std::string& name);

// --- printing ------------------------------------------------------------------------------------

std::string format_rate(double bytes_per_second);  // "3.21 GB/s"
std::string format_ratio(double ratio);            // "0.97x"
std::string format_bytes(std::uint64_t bytes);     // "1.00 GiB"

// Parses "64K", "1G", "1000" (binary multiples).
std::uint64_t parse_size(const std::string& text);

}  // namespace flowstack::bench
