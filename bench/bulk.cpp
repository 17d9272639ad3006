// Bulk one-way transfer over loopback TCP with 64 KiB writes: flowstack flows vs plain blocking
// sockets vs iperf3, run after one another in the same process run, several times.
//
// Each contender sends the same byte count; throughput is bytes / (first write .. receiver's
// eof). iperf3 reports its own receiver-side rate (sum_received), which it measures the same way
// from its first byte.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <future>
#include <thread>
#include <vector>

#include "benchmarks.hpp"
#include "flowstack_side.hpp"

namespace flowstack::bench {
namespace {

constexpr auto run_limit = std::chrono::seconds(60);

struct bulk_receipt {
  std::uint64_t bytes = 0;
  clock::time_point end;
  std::error_code error;
  std::promise<void> done;
};

asio::awaitable<void> receive_to_eof(flow& f, bulk_receipt* receipt) {
  for (;;) {
    auto got = co_await f.read();
    if (!got) {
      receipt->error = got.error();
      break;
    }
    if (got->is_eof()) break;
    receipt->bytes += got->data().size();
  }
  receipt->end = clock::now();
  receipt->done.set_value();
}

struct sent {
  clock::time_point start;
  std::error_code error;
};

asio::awaitable<sent> send_bulk(asio::any_io_executor, std::uint16_t port, std::uint64_t bytes,
                                std::size_t chunk) {
  sent out;
  auto connected = co_await socket::connect(loopback_endpoint(port));
  if (!connected) {
    out.error = connected.error();
    co_return out;
  }
  flow f = std::move(*connected);
  auto block = buffer::create(chunk);  // written again and again, never changed
  out.start = clock::now();
  for (std::uint64_t left = bytes; left > 0;) {
    auto n = static_cast<std::size_t>(std::min<std::uint64_t>(left, chunk));
    auto w = co_await f.write(n == chunk ? block : block.sub(0, n));
    if (!w) {
      out.error = w.error();
      break;
    }
    left -= n;
  }
  co_await f.shutdown(shutdown_mode::write);
  // Wait for the receiver to close, so that our close cannot cut off bytes still queued.
  for (;;) {
    auto r = co_await f.read();
    if (!r || r->is_eof()) break;
  }
  co_await f.close();
  co_return out;
}

double flowstack_bulk(std::uint64_t bytes, std::size_t chunk) {
  bulk_receipt receipt;
  auto done = receipt.done.get_future();
  flowstack_server server([r = &receipt](flow& f) { return receive_to_eof(f, r); });
  auto s = run_client(
      [&](asio::any_io_executor ex) { return send_bulk(ex, server.port(), bytes, chunk); },
      run_limit);
  if (s.error) die("flowstack bulk sender: " + s.error.message());
  if (done.wait_for(run_limit) != std::future_status::ready) die("flowstack bulk receiver hung");
  if (receipt.error) die("flowstack bulk receiver: " + receipt.error.message());
  if (receipt.bytes != bytes) die("flowstack bulk: received " + std::to_string(receipt.bytes));
  return static_cast<double>(bytes) / std::chrono::duration<double>(receipt.end - s.start).count();
}

double plain_bulk(std::uint64_t bytes, std::size_t chunk) {
  auto l = plain_listen();
  plain_sink sink(l.fd, chunk, run_limit);
  int fd = plain_connect(l.port);
  if (fd < 0) die("plain bulk connect failed");
  set_io_timeout(fd, run_limit);
  auto start = clock::now();
  if (!send_blocks(fd, bytes, chunk)) die("plain bulk send failed");
  ::shutdown(fd, SHUT_WR);
  recv_until_eof(fd);
  ::close(fd);
  auto [received, end] = sink.join();
  ::close(l.fd);
  if (received != bytes) die("plain bulk: received " + std::to_string(received.value_or(0)));
  return static_cast<double>(bytes) / std::chrono::duration<double>(end - start).count();
}

// Pulls a number that follows `"key":` after `after` in iperf3's JSON.
std::optional<double> json_number_after(const std::string& json, const std::string& after,
                                        const std::string& key) {
  auto at = json.find("\"" + after + "\"");
  if (at == std::string::npos) return std::nullopt;
  at = json.find("\"" + key + "\"", at);
  if (at == std::string::npos) return std::nullopt;
  at = json.find(':', at);
  if (at == std::string::npos) return std::nullopt;
  return std::strtod(json.c_str() + at + 1, nullptr);
}

double iperf3_bulk(std::uint64_t bytes, std::size_t chunk) {
  auto port = std::to_string(free_port());
  auto server = spawn({"iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", port}, child_output::discard);
  if (!wait_listening(static_cast<std::uint16_t>(std::stoi(port)), std::chrono::seconds(5))) {
    die("iperf3 -s did not start listening");
  }
  auto client = spawn({"iperf3", "-c", "127.0.0.1", "-p", port, "-l", std::to_string(chunk), "-n",
                       std::to_string(bytes), "-J"},
                      child_output::capture);
  auto json = read_all(client.stdout_fd);
  int status = wait_child(client, run_limit);
  wait_child(server, std::chrono::seconds(10));
  if (status != 0) die("iperf3 -c failed (status " + std::to_string(status) + "):\n" + json);
  auto bps = json_number_after(json, "sum_received", "bits_per_second");
  if (!bps || *bps <= 0) die("no sum_received.bits_per_second in iperf3's output:\n" + json);
  return *bps / 8;
}

}  // namespace

int run_bulk(const bulk_options& o) {
  auto wanted = [&](const char* name) { return o.only.empty() || o.only == name; };
  bool with_iperf3 = wanted("iperf3") && have_program("iperf3");
  std::vector<double> fs, plain, iperf;
  std::printf("bulk: one-way loopback TCP, %s per run, %zu-byte writes, %d runs (median)\n",
              format_bytes(o.bytes).c_str(), o.chunk, o.runs);
  if (wanted("iperf3") && !with_iperf3) {
    std::printf("  iperf3 not found: install Debian's iperf3 to compare with it\n");
  }
  std::fflush(stdout);
  std::vector<std::function<void()>> contenders;
  if (wanted("flowstack"))
    contenders.push_back([&] { fs.push_back(flowstack_bulk(o.bytes, o.chunk)); });
  if (wanted("plain")) contenders.push_back([&] { plain.push_back(plain_bulk(o.bytes, o.chunk)); });
  if (with_iperf3) contenders.push_back([&] { iperf.push_back(iperf3_bulk(o.bytes, o.chunk)); });
  for (int run = 0; run < o.runs; ++run) {
    // Rotate the order so that a slow phase of the machine does not always hit the same one.
    for (std::size_t i = 0; i < contenders.size(); ++i) {
      contenders[(i + static_cast<std::size_t>(run)) % contenders.size()]();
    }
  }
  auto row = [](const char* name, const std::vector<double>& v) {
    if (v.empty()) return;
    std::printf("  %-28s %12s   runs:", name, format_rate(median(v)).c_str());
    for (double x : v) std::printf(" %.2f", x / 1e9);
    std::printf("\n");
  };
  row("flowstack flows", fs);
  row("plain blocking sockets", plain);
  row("iperf3", iperf);
  if (!fs.empty() && !plain.empty()) {
    double vs_plain = median(fs) / median(plain);
    std::printf("  %-28s %12s   target >= 0.90x: %s\n", "flowstack / plain",
                format_ratio(vs_plain).c_str(), vs_plain >= 0.9 ? "met" : "MISSED");
  }
  if (!fs.empty() && !iperf.empty()) {
    std::printf("  %-28s %12s\n", "flowstack / iperf3",
                format_ratio(median(fs) / median(iperf)).c_str());
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace flowstack::bench
