// flowstack_tls_bench: TLS over loopback TCP with AES-128-GCM, side by side in one run.
//
// Bulk (one way, the same byte count for everyone; rate = bytes / wall time of the whole
// transfer, handshake included, until the receiver has the sender's close_notify):
//   flowstack   tls::client / tls::server flows over socket flows, a sender coroutine on this
//               thread and the receiver on a listener thread;
//   plain       the plain OpenSSL program (tls_plain.cpp): SSL_write / SSL_read on blocking
//               sockets, a sender and a receiver thread (the limit);
//   socat       two socat processes with their OPENSSL addresses: the client reads /dev/zero
//               (readbytes=N) into OPENSSL:, the server OPENSSL-LISTEN: into /dev/null; from
//               starting the client to the server's exit. With its default 8 KiB buffer and
//               with -b 65536.
// Handshakes (one connection at a time: connect, handshake, one byte each way, close), full and
// resumed: flowstack vs plain.
//
// Everyone uses the same certificate (ECDSA P-256 for "localhost", made by the openssl program
// in a temporary directory), verifies it, and is held to one suite; the run checks that each
// contender agreed on it (socat, which has no TLS 1.3 suite option, gets an OPENSSL_CONF).
//
//   flowstack_tls_bench [--bytes 1G] [--chunk 65536] [--runs 5] [--handshakes 1000]
//                       [--suite tls1.3|tls1.2|both] [--only flowstack|plain|socat]
#include <openssl/ssl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <flowstack/tls/tls.hpp>
#include <fstream>
#include <functional>
#include <future>
#include <vector>

#include "common.hpp"
#include "flowstack_side.hpp"
#include "tls_plain.hpp"

namespace flowstack::bench::tls_bench {
namespace {

constexpr auto run_limit = std::chrono::seconds(60);

struct options {
  std::uint64_t bytes = 1ull << 30;
  std::size_t chunk = 64 * 1024;
  int runs = 5;
  int handshakes = 1000;
  std::string suites = "both";
  std::string only;
};

// ---- certificates ------------------------------------------------------------------------------

credentials make_credentials() {
  char tmpl[] = "/tmp/flowstack-tls-bench-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) die("mkdtemp failed");
  credentials c{tmpl, std::string(tmpl) + "/cert.pem", std::string(tmpl) + "/key.pem"};
  auto openssl =
      spawn({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", c.key_file, "-out", c.cert_file, "-days", "2", "-subj",
             "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"},
            child_output::discard);
  if (wait_child(openssl, std::chrono::seconds(20)) != 0) {
    die("`openssl req` could not make the benchmark certificate (Debian's openssl package)");
  }
  return c;
}

// ---- flowstack ---------------------------------------------------------------------------------

tls::config flowstack_config(const credentials& c, const suite& s, bool resumption) {
  tls::config cfg;
  cfg.certificate_file = c.cert_file;
  cfg.private_key_file = c.key_file;
  cfg.ca_file = c.cert_file;
  cfg.min_version = cfg.max_version = static_cast<tls::version>(s.version);
  cfg.ciphers = s.ciphers;
  cfg.ciphersuites = s.ciphersuites;
  cfg.session_resumption = resumption;
  return cfg;
}

tls::context flowstack_context(const credentials& c, const suite& s, tls::role r, bool resume) {
  auto ctx = tls::context::make(flowstack_config(c, s, resume), r);
  if (!ctx) die("tls::context::make: " + ctx.error().message());
  return *ctx;
}

struct receipt {
  std::uint64_t bytes = 0;
  clock::time_point end;
  std::error_code error;
  std::promise<void> done;
};

asio::awaitable<void> receive_to_eof(flow& tcp, tls::context* ctx, receipt* r) {
  auto f = co_await tls::server(*ctx, std::move(tcp));
  if (!f) {
    r->error = f.error().code;
    r->done.set_value();
    co_return;
  }
  for (;;) {
    auto got = co_await f->read();
    if (!got) {
      r->error = got.error();
      break;
    }
    if (got->is_eof()) break;
    r->bytes += got->data().size();
  }
  r->end = clock::now();
  co_await f->close();  // our close_notify: the sender waits for it
  r->done.set_value();
}

struct sent {
  clock::time_point start;
  std::error_code error;
  std::string cipher;
};

asio::awaitable<sent> send_bulk(asio::any_io_executor, tls::context* ctx, std::uint16_t port,
                                std::uint64_t bytes, std::size_t chunk) {
  sent out;
  out.start = clock::now();
  auto tcp = co_await socket::connect(loopback_endpoint(port));
  if (!tcp) {
    out.error = tcp.error();
    co_return out;
  }
  auto f = co_await tls::client(*ctx, std::move(*tcp), "localhost");
  if (!f) {
    out.error = f.error().code;
    co_return out;
  }
  out.cipher = f->as<tls::tls_flow>()->epoch().cipher;
  auto block = buffer::create(chunk);  // written again and again, never changed
  for (std::uint64_t left = bytes; left > 0;) {
    auto n = static_cast<std::size_t>(std::min<std::uint64_t>(left, chunk));
    auto w = co_await f->write(n == chunk ? block : block.sub(0, n));
    if (!w) {
      out.error = w.error();
      break;
    }
    left -= n;
  }
  co_await f->shutdown(shutdown_mode::write);
  for (;;) {
    auto r = co_await f->read();
    if (!r || r->is_eof()) break;
  }
  co_await f->close();
  co_return out;
}

double flowstack_bulk(const credentials& c, const suite& s, std::uint64_t bytes,
                      std::size_t chunk) {
  auto server_ctx = flowstack_context(c, s, tls::role::server, true);
  auto client_ctx = flowstack_context(c, s, tls::role::client, true);
  receipt r;
  auto done = r.done.get_future();
  flowstack_server server(
      [ctx = &server_ctx, rp = &r](flow& f) { return receive_to_eof(f, ctx, rp); });
  auto out = run_client(
      [&](asio::any_io_executor ex) {
        return send_bulk(ex, &client_ctx, server.port(), bytes, chunk);
      },
      run_limit);
  if (out.error) die("flowstack TLS sender: " + out.error.message());
  if (out.cipher != s.cipher_name) die("flowstack TLS agreed on " + out.cipher);
  if (done.wait_for(run_limit) != std::future_status::ready) die("flowstack TLS receiver hung");
  if (r.error) die("flowstack TLS receiver: " + r.error.message());
  if (r.bytes != bytes) die("flowstack TLS bulk: received " + std::to_string(r.bytes));
  return static_cast<double>(bytes) / std::chrono::duration<double>(r.end - out.start).count();
}

asio::awaitable<void> answer_one(flow& tcp, tls::context* ctx) {
  auto f = co_await tls::server(*ctx, std::move(tcp));
  if (!f) co_return;
  auto got = co_await f->read();
  if (!got || got->is_eof()) co_return;
  auto w = co_await f->write(buffer::of_string("a"));
  if (!w) co_return;
  for (;;) {
    auto r = co_await f->read();
    if (!r || r->is_eof()) break;
  }
  co_await f->close();
}

struct handshake_tally {
  std::error_code error;
  int failed_at = -1;
  int reused = 0;
  clock::time_point start;
};

asio::awaitable<handshake_tally> connect_many(asio::any_io_executor, tls::context* ctx,
                                              std::uint16_t port, int count, int warmup) {
  handshake_tally t;
  net::connect_options opts;
  opts.nodelay = true;
  auto ping = buffer::of_string("h");
  for (int i = 0; i < count + warmup; ++i) {
    if (i == warmup) t.start = clock::now();
    auto tcp = co_await socket::connect(loopback_endpoint(port), opts);
    if (!tcp) {
      t.error = tcp.error();
      t.failed_at = i;
      co_return t;
    }
    auto f = co_await tls::client(*ctx, std::move(*tcp), "localhost");
    if (!f) {
      t.error = f.error().code;
      t.failed_at = i;
      co_return t;
    }
    auto w = co_await f->write(ping);
    auto r = co_await f->read();  // after the TLS 1.3 tickets
    if (!w || !r || r->is_eof()) {
      t.error = !w ? w.error() : !r ? r.error() : make_error_code(flow_errc::closed);
      t.failed_at = i;
      co_return t;
    }
    if (i >= warmup && f->as<tls::tls_flow>()->epoch().resumed) ++t.reused;
    co_await f->close();
  }
  co_return t;
}

double flowstack_handshakes(const credentials& c, const suite& s, int count, bool resumed) {
  auto server_ctx = flowstack_context(c, s, tls::role::server, resumed);
  auto client_ctx = flowstack_context(c, s, tls::role::client, resumed);
  net::listen_options lo;
  lo.flow.nodelay = true;
  flowstack_server server([ctx = &server_ctx](flow& f) { return answer_one(f, ctx); }, lo);
  int warmup = resumed ? 1 : 0;
  auto t = run_client(
      [&](asio::any_io_executor ex) {
        return connect_many(ex, &client_ctx, server.port(), count, warmup);
      },
      run_limit);
  auto seconds = std::chrono::duration<double>(clock::now() - t.start).count();
  if (t.error) {
    die("flowstack TLS connection " + std::to_string(t.failed_at) + ": " + t.error.message());
  }
  if (t.reused != (resumed ? count : 0)) {
    die("flowstack TLS: " + std::to_string(t.reused) + " of " + std::to_string(count) +
        " handshakes resumed a session");
  }
  return count / seconds;
}

// ---- socat -------------------------------------------------------------------------------------

// socat 1.7 sets the TLS 1.2 cipher list only; TLS 1.3 suites come from OpenSSL's configuration.
std::string write_openssl_conf(const credentials& c, const suite& s) {
  std::string path = c.dir + "/openssl-" + std::to_string(s.version) + ".cnf";
  std::ofstream conf(path);
  conf << "openssl_conf = bench_init\n[bench_init]\nssl_conf = bench_ssl\n"
       << "[bench_ssl]\nsystem_default = bench_tls\n[bench_tls]\n"
       << "Ciphersuites = " << (s.ciphersuites.empty() ? "TLS_AES_128_GCM_SHA256" : s.ciphersuites)
       << "\n";
  return path;
}

std::vector<std::string> socat_tls_options(const suite& s) {
  const char* v = s.version == TLS1_3_VERSION ? "TLS1.3" : "TLS1.2";
  std::vector<std::string> o{std::string("min-version=") + v, std::string("max-version=") + v};
  if (!s.ciphers.empty()) o.push_back("cipher=" + s.ciphers);
  return o;
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += "," + p;
  return out;
}

child_process start_socat_server(const credentials& c, const suite& s, const std::string& conf,
                                 std::uint16_t port, std::size_t buffer_size) {
  std::vector<std::string> argv{"socat", "-u"};
  if (buffer_size != 0) argv.insert(argv.end(), {"-b", std::to_string(buffer_size)});
  argv.push_back("OPENSSL-LISTEN:" + std::to_string(port) + ",bind=127.0.0.1,reuseaddr,cert=" +
                 c.cert_file + ",key=" + c.key_file + ",verify=0" + join(socat_tls_options(s)));
  argv.push_back("OPEN:/dev/null");
  ::setenv("OPENSSL_CONF", conf.c_str(), 1);
  auto server = spawn(argv, child_output::discard);
  ::unsetenv("OPENSSL_CONF");
  if (!wait_listening(port, std::chrono::seconds(5))) die("socat OPENSSL-LISTEN did not start");
  return server;
}

double socat_bulk(const credentials& c, const suite& s, const std::string& conf,
                  std::uint64_t bytes, std::size_t buffer_size) {
  auto port = free_port();
  auto server = start_socat_server(c, s, conf, port, buffer_size);
  std::vector<std::string> argv{"socat", "-u"};
  if (buffer_size != 0) argv.insert(argv.end(), {"-b", std::to_string(buffer_size)});
  argv.push_back("OPEN:/dev/zero,readbytes=" + std::to_string(bytes));
  argv.push_back("OPENSSL:127.0.0.1:" + std::to_string(port) + ",cafile=" + c.cert_file +
                 ",commonname=localhost" + join(socat_tls_options(s)));
  ::setenv("OPENSSL_CONF", conf.c_str(), 1);
  auto start = clock::now();
  auto client = spawn(argv, child_output::inherit);
  ::unsetenv("OPENSSL_CONF");
  int client_status = wait_child(client, run_limit);
  int server_status = wait_child(server, run_limit);
  auto end = clock::now();
  if (client_status != 0 || server_status != 0) {
    die("socat TLS transfer failed (client status " + std::to_string(client_status) + ", server " +
        std::to_string(server_status) + ")");
  }
  return static_cast<double>(bytes) / std::chrono::duration<double>(end - start).count();
}

// A socat server under the benchmark's settings must choose the suite even for a client that
// prefers another: else the comparison would not be like for like.
void check_socat_suite(const credentials& c, const suite& s, const std::string& conf) {
  auto port = free_port();
  auto server = start_socat_server(c, s, conf, port, 0);
  auto chosen = cipher_chosen_by_server(port);
  wait_child(server, std::chrono::seconds(5));
  if (chosen != s.cipher_name) die("socat chose " + chosen + ", not " + s.cipher_name);
}

// ---- report ------------------------------------------------------------------------------------

// CPU seconds used so far by this process and its reaped children (socat): a contender's cost
// that the other programs on a shared machine disturb far less than its wall time.
double cpu_seconds() {
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  rusage self{}, children{};
  ::getrusage(RUSAGE_SELF, &self);
  ::getrusage(RUSAGE_CHILDREN, &children);
  return seconds(self.ru_utime) + seconds(self.ru_stime) + seconds(children.ru_utime) +
         seconds(children.ru_stime);
}

struct samples {
  std::vector<double> rate;  // bytes per second
  std::vector<double> cpu;   // CPU seconds per GiB, both ends together
};

void measure(samples& into, std::uint64_t bytes, const std::function<double()>& once) {
  double before = cpu_seconds();
  into.rate.push_back(once());
  into.cpu.push_back((cpu_seconds() - before) / static_cast<double>(bytes) * (1ull << 30));
}

void bulk_row(const char* name, const samples& v) {
  if (v.rate.empty()) return;
  std::printf("  %-30s %10.2f GB/s   cpu %5.2f s/GiB   runs:", name, median(v.rate) / 1e9,
              median(v.cpu));
  for (double x : v.rate) std::printf(" %.2f", x / 1e9);
  std::printf("\n");
}

void row(const char* name, const std::vector<double>& v, double unit, const char* unit_name) {
  if (v.empty()) return;
  std::printf("  %-30s %10.2f %-5s  runs:", name, median(v) / unit, unit_name);
  for (double x : v) std::printf(" %.2f", x / unit);
  std::printf("\n");
}

void ratio(const char* name, const std::vector<double>& a, const std::vector<double>& b,
           double target) {
  if (a.empty() || b.empty()) return;
  double r = median(a) / median(b);
  if (target > 0) {
    std::printf("  %-30s %10s         target >= %.2fx: %s\n", name, format_ratio(r).c_str(), target,
                r >= target ? "met" : "MISSED");
  } else {
    std::printf("  %-30s %10s\n", name, format_ratio(r).c_str());
  }
}

void run_bulk(const options& o, const credentials& c, const suite& s) {
  auto wanted = [&](const char* name) { return o.only.empty() || o.only == name; };
  bool with_socat = wanted("socat") && have_program("socat");
  std::string conf = write_openssl_conf(c, s);
  if (with_socat) check_socat_suite(c, s, conf);
  std::printf(
      "tls bulk, %s %s: one-way loopback TCP, %s per run, %zu-byte writes, %d runs "
      "(median; handshake included)\n",
      s.label.c_str(), s.cipher_name.c_str(), format_bytes(o.bytes).c_str(), o.chunk, o.runs);
  if (wanted("socat") && !with_socat) {
    std::printf("  socat not found: install Debian's socat to compare with it\n");
  }
  std::fflush(stdout);
  samples fs, plain, socat8k, socat64k;
  std::vector<std::function<void()>> contenders;
  if (wanted("flowstack")) {
    contenders.push_back(
        [&] { measure(fs, o.bytes, [&] { return flowstack_bulk(c, s, o.bytes, o.chunk); }); });
  }
  if (wanted("plain")) {
    contenders.push_back(
        [&] { measure(plain, o.bytes, [&] { return plain_bulk(c, s, o.bytes, o.chunk); }); });
  }
  if (with_socat) {
    contenders.push_back(
        [&] { measure(socat8k, o.bytes, [&] { return socat_bulk(c, s, conf, o.bytes, 0); }); });
    contenders.push_back([&] {
      measure(socat64k, o.bytes, [&] { return socat_bulk(c, s, conf, o.bytes, 65536); });
    });
  }
  for (int run = 0; run < o.runs; ++run) {
    // Rotate the order so that a slow phase of the machine does not always hit the same one.
    for (std::size_t i = 0; i < contenders.size(); ++i) {
      contenders[(i + static_cast<std::size_t>(run)) % contenders.size()]();
    }
  }
  bulk_row("flowstack tls flows", fs);
  bulk_row("plain OpenSSL (blocking)", plain);
  bulk_row("socat OPENSSL (default 8 KiB)", socat8k);
  bulk_row("socat OPENSSL -b 65536", socat64k);
  ratio("flowstack / plain OpenSSL", fs.rate, plain.rate, 0.85);
  ratio("flowstack / socat", fs.rate, socat8k.rate, 1.5);
  ratio("flowstack / socat -b 65536", fs.rate, socat64k.rate, 0);
  // CPU per byte: how much of the wall-time ratio is the code rather than the machine's load.
  ratio("cpu: plain / flowstack", plain.cpu, fs.cpu, 0);
  ratio("cpu: socat / flowstack", socat8k.cpu, fs.cpu, 0);
  ratio("cpu: socat -b 65536 / flowstack", socat64k.cpu, fs.cpu, 0);
  std::fflush(stdout);
}

void run_handshakes(const options& o, const credentials& c, const suite& s) {
  auto wanted = [&](const char* name) { return o.only.empty() || o.only == name; };
  std::printf(
      "tls handshakes, %s: %d connections per run one at a time (connect, handshake, "
      "1 byte each way, close), %d runs (median)\n",
      s.label.c_str(), o.handshakes, o.runs);
  std::fflush(stdout);
  for (bool resumed : {false, true}) {
    std::vector<double> fs, plain;
    for (int run = 0; run < o.runs; ++run) {
      if (wanted("flowstack")) fs.push_back(flowstack_handshakes(c, s, o.handshakes, resumed));
      if (wanted("plain")) plain.push_back(plain_handshakes(c, s, o.handshakes, resumed));
    }
    std::string what = resumed ? "resumed" : "full";
    row(("flowstack, " + what).c_str(), fs, 1, "/s");
    row(("plain OpenSSL, " + what).c_str(), plain, 1, "/s");
    ratio(("flowstack / plain, " + what).c_str(), fs, plain, 0);
  }
  std::fflush(stdout);
}

}  // namespace
}  // namespace flowstack::bench::tls_bench

int main(int argc, char** argv) {
  using namespace flowstack::bench;
  using namespace flowstack::bench::tls_bench;
  ::signal(SIGPIPE, SIG_IGN);
  // Load OpenSSL's own configuration now: the OPENSSL_CONF given to socat is for socat only.
  OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG, nullptr);

  CLI::App app{"TLS over loopback: flowstack vs plain OpenSSL vs socat"};
  options o;
  int time_limit = 600;
  app.add_option_function<std::string>(
         "--bytes", [&o](const std::string& text) { o.bytes = parse_size(text); },
         "Bytes per bulk run (e.g. 1G)")
      ->default_str("1G");
  app.add_option("--chunk", o.chunk, "Bytes per write")->capture_default_str();
  app.add_option("--runs", o.runs, "Runs of each contender")->capture_default_str();
  app.add_option("--handshakes", o.handshakes, "Connections per handshake run (0: none)")
      ->capture_default_str();
  app.add_option("--suite", o.suites, "Which versions")
      ->check(CLI::IsMember({"tls1.3", "tls1.2", "both"}))
      ->capture_default_str();
  app.add_option("--only", o.only, "Run one contender, for profiling")
      ->check(CLI::IsMember({"flowstack", "plain", "socat"}));
  app.add_option("--time-limit", time_limit, "Give up after this many seconds")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  arm_watchdog(std::chrono::seconds(time_limit));

  auto c = make_credentials();
  std::vector<suite> suites;
  if (o.suites != "tls1.2") {
    suites.push_back(
        {"TLS 1.3", TLS1_3_VERSION, "", "TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256"});
  }
  if (o.suites != "tls1.3") {
    suites.push_back({"TLS 1.2", TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256", "",
                      "ECDHE-ECDSA-AES128-GCM-SHA256"});
  }
  std::printf("certificate: ECDSA P-256 for localhost, verified by every client\n");
  for (const auto& s : suites) {
    if (o.bytes > 0) run_bulk(o, c, s);
    if (o.handshakes > 0 && o.only != "socat") run_handshakes(o, c, s);
  }
  std::filesystem::remove_all(c.dir);
  return 0;
}
