#include "kinds.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <asio/ip/address.hpp>
#include <chrono>
#include <flowstack/socket/tcp.hpp>
#include <flowstack/socket/unix.hpp>
#include <flowstack/tls/tls.hpp>
#include <optional>

#include "stdio_flow.hpp"
#include "userspace_stack.hpp"

namespace flowstack::cli {
namespace {

// Listeners of a net stack (or two: "all addresses" is 0.0.0.0 and [::], the latter IPv6 only).
class net_listening final : public listening {
 public:
  explicit net_listening(std::vector<net::listener> listeners) : listeners_(std::move(listeners)) {}

  std::string local_address() const override {
    std::string out;
    for (const auto& l : listeners_) out += (out.empty() ? "" : " and ") + l.local_address();
    return out;
  }
  void stop() override {
    for (auto& l : listeners_) l.unlisten();
  }

 private:
  std::vector<net::listener> listeners_;
};

net::flow_options flow_options_of(const endpoint& ep) {
  net::flow_options o;
  if (auto bytes = ep.value("rcvbuf")) o.read_buffer_size = static_cast<std::size_t>(*bytes);
  o.nodelay = ep.has("nodelay");
  if (ep.has("keepalive")) o.keepalive = net::keepalive{};
  return o;
}

net::listen_options listen_options_of(const endpoint& ep, listen_limits limits) {
  net::listen_options o;
  o.flow = flow_options_of(ep);
  o.max_connections = limits.max_connections;
  return o;
}

net::flow_handler to_flow_handler(accept_handler handler) {
  return [handler = std::move(handler)](flow& f) { return handler(f); };
}

std::optional<std::string> check_fork_options(const endpoint& ep) {
  if (ep.has("max-children") && !ep.has("fork")) return "max-children needs fork";
  return std::nullopt;
}

// A path that no socket address can hold is malformed, found before anything is opened.
std::optional<std::string> check_unix_path(const endpoint& ep) {
  if (ep.path.size() <= socket::max_unix_path_length) return std::nullopt;
  return "PATH is " + std::to_string(ep.path.size()) + " bytes, longer than the " +
         std::to_string(socket::max_unix_path_length) + " a Unix socket address holds";
}

std::optional<std::string> check_unix_listen(const endpoint& ep) {
  if (auto what = check_unix_path(ep)) return what;
  return check_fork_options(ep);
}

asio::awaitable<result<flow>> connect_stdio(const endpoint&, const open_context& ctx) {
  co_return stdio_flow(ctx.executor);
}

asio::awaitable<result<flow>> connect_tcp(const endpoint& ep, const open_context&) {
  net::connect_options o;
  static_cast<net::flow_options&>(o) = flow_options_of(ep);
  if (auto ms = ep.value("connect-timeout")) o.timeout = std::chrono::milliseconds(*ms);
  net::host_port where{ep.host, ep.port};
  auto f = co_await socket::connect(where, o);
  co_return f;
}

asio::awaitable<result<flow>> connect_unix(const endpoint& ep, const open_context&) {
  auto f = co_await socket::unix_connect(ep.path);
  co_return f;
}

asio::awaitable<result<std::unique_ptr<listening>>> listen_tcp(const endpoint& ep,
                                                               const open_context& ctx,
                                                               listen_limits limits,
                                                               accept_handler handler) {
  auto options = listen_options_of(ep, limits);
  std::vector<net::listener> listeners;
  if (ep.host.empty()) {
    // All addresses: IPv4 first; IPv6 on the same port when the machine has it.
    auto v4 = socket::listen(ctx.executor, net::tcp_endpoint(asio::ip::address_v4::any(), ep.port),
                             to_flow_handler(handler), options);
    if (!v4) co_return fail(v4.error());
    auto port = v4->local_port();
    listeners.push_back(std::move(*v4));
    auto v6 = socket::listen(ctx.executor, net::tcp_endpoint(asio::ip::address_v6::any(), port),
                             to_flow_handler(handler), options);
    if (v6) listeners.push_back(std::move(*v6));
  } else {
    std::error_code ec;
    net::tcp_endpoint local(asio::ip::make_address(ep.host, ec), ep.port);
    if (ec) {
      // A name listens on the first address it resolves to, as socat does.
      net::host_port where{ep.host, ep.port};
      auto resolved = co_await socket::resolve(where);
      if (!resolved) co_return fail(resolved.error());
      if (resolved->empty()) co_return fail(net::net_errc::invalid_address);
      local = resolved->front();
    }
    auto l = socket::listen(ctx.executor, local, to_flow_handler(handler), options);
    if (!l) co_return fail(l.error());
    listeners.push_back(std::move(*l));
  }
  co_return listening_of(std::move(listeners));
}

asio::awaitable<result<std::unique_ptr<listening>>> listen_unix(const endpoint& ep,
                                                                const open_context& ctx,
                                                                listen_limits limits,
                                                                accept_handler handler) {
  auto l = socket::unix_listen(ctx.executor, ep.path, to_flow_handler(std::move(handler)),
                               listen_options_of(ep, limits));
  if (!l) co_return fail(l.error());
  co_return listening_of(std::move(*l));
}

const option_spec fork_option{"fork", option_type::flag,
                              "serve every connection, each with its own second address"};
const option_spec max_children_option{
    "max-children", option_type::count,
    "with fork: relays at once, default 64; later peers wait to be accepted", 1};

// The userspace stack's TCP takes the kernel's options: nodelay and keepalive are its own
// (Nagle, keepalive probes), rcvbuf the largest read as for any flow.
const std::vector<option_spec> tcp_connect_options{
    {"nodelay", option_type::flag, "send small writes at once (TCP_NODELAY)"},
    {"keepalive", option_type::flag, "probe an idle connection (SO_KEEPALIVE)"},
    {"connect-timeout", option_type::milliseconds, "give up when the handshake takes longer", 1},
    {"rcvbuf", option_type::bytes, "largest read, in bytes (k, m suffixes), default 64k", 1}};
const std::vector<option_spec> tcp_listen_options{
    fork_option,
    max_children_option,
    {"nodelay", option_type::flag, "TCP_NODELAY on accepted connections"},
    {"keepalive", option_type::flag, "SO_KEEPALIVE on accepted connections"},
    {"rcvbuf", option_type::bytes, "largest read, in bytes, default 64k", 1}};

// ---- the userspace stack ----

// The userspace stack resolves no names: a host is its address, written as one.
std::optional<std::string> check_stack_host(const endpoint& ep) {
  std::error_code ec;
  if (!ep.host.empty() && (asio::ip::make_address_v4(ep.host, ec), ec)) {
    return "HOST \"" + ep.host +
           "\" is not an IPv4 address; the userspace stack resolves no names and speaks IPv4 only";
  }
  return std::nullopt;
}

std::optional<std::string> check_stack_listen(const endpoint& ep) {
  if (auto what = check_stack_host(ep)) return what;
  return check_fork_options(ep);
}

result<stack::direct_stack*> stack_of(const open_context& ctx) {
  if (ctx.stack == nullptr) return fail(net::net_errc::unreachable);
  return ctx.stack->get(ctx.executor);
}

asio::awaitable<result<flow>> connect_stack(const endpoint& ep, const open_context& ctx) {
  auto s = stack_of(ctx);
  if (!s) co_return fail(s.error());
  net::connect_options o;
  static_cast<net::flow_options&>(o) = flow_options_of(ep);
  if (auto ms = ep.value("connect-timeout")) o.timeout = std::chrono::milliseconds(*ms);
  auto f = co_await (*s)->connect({asio::ip::make_address_v4(ep.host), ep.port}, o);
  co_return f;
}

asio::awaitable<result<std::unique_ptr<listening>>> listen_stack(const endpoint& ep,
                                                                 const open_context& ctx,
                                                                 listen_limits limits,
                                                                 accept_handler handler) {
  auto s = stack_of(ctx);
  if (!s) co_return fail(s.error());
  auto host = ep.host.empty() ? asio::ip::address_v4::any() : asio::ip::make_address_v4(ep.host);
  auto l = (*s)->listen({host, ep.port}, to_flow_handler(std::move(handler)),
                        listen_options_of(ep, limits));
  if (!l) co_return fail(l.error());
  co_return listening_of(std::move(*l));
}

// ---- tls ----

const std::vector<option_spec> tls_options{
    {"ca", option_type::text, "trusted CAs (PEM file); default: the system's"},
    {"cert", option_type::text, "our certificate chain (PEM file); needed when accepting"},
    {"key", option_type::text, "our private key (PEM file); needed when accepting"},
    {"sni", option_type::text, "client: the server name sent and verified"},
    {"alpn", option_type::text, "protocols offered/accepted, separated by ':' (h2:http/1.1)"},
    {"verify", option_type::count, "1 (default): verify the peer's certificate; 0: don't"},
    {"allow-truncation", option_type::flag, "a peer's eof without close_notify is eof"},
    {"min-version", option_type::text, "oldest TLS version accepted: 1.2 (default) or 1.3"},
    {"max-version", option_type::text, "newest TLS version offered: 1.2 or 1.3 (default)"},
    {"ciphers", option_type::text, "TLS 1.2 cipher list (OpenSSL syntax); default ECDHE with AEAD"},
    {"ciphersuites", option_type::text, "TLS 1.3 suites, ':'-separated; default OpenSSL's"},
    {"groups", option_type::text, "key exchange groups, e.g. X25519:P-256"},
    {"handshake-timeout", option_type::milliseconds,
     "give up on a TLS handshake that takes longer (default 10000)", 1},
    {"max-handshakes", option_type::count,
     "with fork: handshakes at once, besides max-children (default 128); one more abandons "
     "the oldest",
     1},
};

std::optional<tls::version> tls_version_of(const std::string& text) {
  if (text == "1.2") return tls::version::tls1_2;
  if (text == "1.3") return tls::version::tls1_3;
  return std::nullopt;
}

bool is_tls_option(const std::string& name) {
  return std::any_of(tls_options.begin(), tls_options.end(),
                     [&](const option_spec& o) { return o.name == name; });
}

std::optional<std::string> check_tls(const endpoint& ep) {
  if (ep.value("verify").value_or(1) > 1) return "verify must be 0 or 1";
  if (ep.has("cert") != ep.has("key")) return "cert and key go together";
  for (const char* name : {"min-version", "max-version"}) {
    if (auto v = ep.text_value(name); v && !tls_version_of(*v))
      return std::string(name) + " must be 1.2 or 1.3";
  }
  return std::nullopt;
}

std::optional<std::string> check_tls_part(const endpoint& ep, bool accepted) {
  if (accepted && !ep.has("cert")) return "accepting TLS needs cert=FILE and key=FILE";
  if (!accepted && ep.has("max-handshakes")) return "max-handshakes is for accepting TLS";
  if (!accepted && ep.value("verify").value_or(1) == 1 && !ep.has("sni"))
    return "verifying the server needs sni=NAME (or verify=0)";
  return std::nullopt;
}

tls::config tls_config_of(const endpoint& ep) {
  tls::config c;
  c.ca_file = ep.text_value("ca").value_or("");
  c.certificate_file = ep.text_value("cert").value_or("");
  c.private_key_file = ep.text_value("key").value_or("");
  c.verify_peer = ep.value("verify").value_or(1) == 1;
  c.allow_truncation = ep.has("allow-truncation");
  if (auto ms = ep.value("handshake-timeout")) c.handshake_timeout = std::chrono::milliseconds(*ms);
  if (auto v = ep.text_value("min-version"))
    c.min_version = tls_version_of(*v).value_or(c.min_version);
  if (auto v = ep.text_value("max-version"))
    c.max_version = tls_version_of(*v).value_or(c.max_version);
  c.ciphers = ep.text_value("ciphers").value_or("");
  c.ciphersuites = ep.text_value("ciphersuites").value_or("");
  c.groups = ep.text_value("groups").value_or("");
  std::string alpn = ep.text_value("alpn").value_or("");
  for (std::size_t begin = 0; !alpn.empty() && begin <= alpn.size();) {
    auto end = std::min(alpn.find(':', begin), alpn.size());
    if (end > begin) c.alpn.push_back(alpn.substr(begin, end - begin));
    begin = end + 1;
  }
  return c;
}

// The files a config reads, as they are on disk now: a change of any of them (a renewed
// certificate written in place or renamed over the old one) gives a different stamp.
struct file_stamp {
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = -1;  // -1: missing
  std::int64_t modified_ns = 0;
  friend bool operator==(const file_stamp&, const file_stamp&) = default;
};

std::vector<file_stamp> stamps_of(const tls::config& c) {
  std::vector<file_stamp> out;
  for (const std::string* path : {&c.certificate_file, &c.private_key_file, &c.ca_file}) {
    file_stamp stamp;
    struct stat st {};
    if (!path->empty() && ::stat(path->c_str(), &st) == 0) {
      stamp = {st.st_dev, st.st_ino, st.st_size,
               std::int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
    }
    out.push_back(stamp);
  }
  return out;
}

// One TLS context for every connection of an address: resumption needs the server's ticket keys
// and session cache, and the client's remembered sessions, to outlive a connection.
//
// The context is made again when one of its files changes (checked with stat at each
// connection), so that a long-running server picks up a renewed certificate without a restart;
// connections already made keep the context they started with, and the new one starts with an
// empty session cache. A change that does not load (a key that does not match its certificate
// yet, while the pair is being replaced) fails the connections that come meanwhile with the
// error, rather than going on silently with the old files; the next connection tries again.
// Replacing both files by rename avoids that window.
class tls_layer final : public layer {
 public:
  static result<std::unique_ptr<layer>> open(const endpoint& ep, const open_context& ctx) {
    std::unique_ptr<tls_layer> made(new tls_layer(ep, ctx.accepted));
    auto loaded = made->load();
    if (!loaded) return fail(loaded.error());
    return std::unique_ptr<layer>(std::move(made));
  }

  asio::awaitable<result<flow>> wrap(flow inner) override {
    if (stamps_of(config_) != stamps_) {
      auto loaded = load();
      if (!loaded) {
        co_await inner.close();
        co_return fail(loaded.error());
      }
    }
    // A copy: a reload during this handshake must not take the context from under it.
    tls::context ctx = context_;
    detailed<flow> f;
    if (accepted_) {
      f = co_await tls::server(ctx, std::move(inner));
    } else {
      f = co_await tls::client(ctx, std::move(inner), server_name_);
    }
    if (!f) co_return fail(f.error().code);
    co_return std::move(*f);
  }

  std::string agreed(const flow& wrapped) const override {
    auto* tls = wrapped.as<tls::tls_flow>();
    if (tls == nullptr) return {};
    auto info = tls->epoch();
    return "TLS handshake done, " + tls->description() + ": " + info.version + ", " + info.cipher +
           ", ALPN " + (info.alpn.empty() ? "none" : info.alpn) + ", " +
           (info.resumed ? "resumed session" : "new session");
  }

 private:
  tls_layer(const endpoint& ep, bool accepted)
      : config_(tls_config_of(ep)),
        accepted_(accepted),
        server_name_(ep.text_value("sni").value_or("")) {}

  result<void> load() {
    auto stamps = stamps_of(config_);  // before reading: a change while loading loads again
    auto made = tls::context::make(config_, accepted_ ? tls::role::server : tls::role::client);
    if (!made) return fail(made.error().code);
    context_ = std::move(*made);
    stamps_ = std::move(stamps);
    return {};
  }

  tls::config config_;
  bool accepted_;
  std::string server_name_;
  tls::context context_;
  std::vector<file_stamp> stamps_;
};

// Splits a shorthand's options: TLS ones to the layer, the rest to the transport.
std::vector<element> expand_tls(const element& e, const std::string& transport, bool client) {
  element layer{"tls", std::nullopt, {}, "tls"};
  element inner{transport, e.args, {}, transport + (e.args ? ":" + *e.args : "")};
  for (const auto& o : e.options) (is_tls_option(o.name) ? layer : inner).options.push_back(o);
  bool has_sni = std::any_of(layer.options.begin(), layer.options.end(),
                             [](const option& o) { return o.name == "sni"; });
  if (client && !has_sni && e.args) {
    // The name to verify is the host connected to, as a browser does.
    if (auto hp = parse_host_port(*e.args, false)) layer.options.push_back({"sni", hp->host});
  }
  return {layer, inner};
}

}  // namespace

std::unique_ptr<listening> listening_of(std::vector<net::listener> listeners) {
  return std::make_unique<net_listening>(std::move(listeners));
}

std::unique_ptr<listening> listening_of(net::listener l) {
  std::vector<net::listener> listeners;
  listeners.push_back(std::move(l));
  return listening_of(std::move(listeners));
}

void add_tls_kinds(kind_registry& kinds) {
  kinds.add({
      .name = "tls",
      .role = kind_role::layer,
      .args = arg_shape::none,
      .usage = "tls[,OPTION...]|TRANSPORT",
      .help = "TLS: server over a listener, else client; one context per address (sessions resume, "
              "files changed are read again); tls:HOST:PORT = tls,sni=HOST|tcp:HOST:PORT",
      .options = tls_options,
      // `tls` alone is the layer; `tls:HOST:PORT` stands for the layer over tcp.
      .expand = [](const element& e) -> std::vector<element> {
        if (!e.args) return {};
        return expand_tls(e, "tcp", true);
      },
      .check = check_tls,
      .check_part = check_tls_part,
      .open_layer = tls_layer::open,
  });
  kinds.add({
      .name = "tls-listen",
      .role = kind_role::listener,
      .args = arg_shape::optional_host_port,
      .usage = "tls-listen:[HOST:]PORT,cert=FILE,key=FILE",
      .help = "tls,OPTIONS|tcp-listen:[HOST:]PORT (tcp-listen's options such as fork go there)",
      .expand = [](const element& e) { return expand_tls(e, "tcp-listen", false); },
  });
}

void add_transport_kinds(kind_registry& kinds) {
  kinds.add({
      .name = "-",
      .role = kind_role::connector,
      .args = arg_shape::none,
      .usage = "-",
      .help = "standard input and output; eof from the peer closes stdout",
      .connect = connect_stdio,
  });
  kinds.add({
      .name = "tcp",
      .role = kind_role::connector,
      .args = arg_shape::host_port,
      .usage = "tcp:HOST:PORT",
      .help = "connect over TCP (HOST a name, an IPv4 address or [IPv6])",
      .options = tcp_connect_options,
      .connect = connect_tcp,
  });
  kinds.add({
      .name = "tcp-listen",
      .role = kind_role::listener,
      .args = arg_shape::optional_host_port,
      .usage = "tcp-listen:[HOST:]PORT",
      .help = "accept TCP connections on PORT (0: any free port), on HOST or all addresses",
      .options = tcp_listen_options,
      .check = check_fork_options,
      .listen = listen_tcp,
  });
  kinds.add({
      .name = "unix",
      .role = kind_role::connector,
      .args = arg_shape::path,
      .usage = "unix:PATH",
      .help = "connect to a Unix stream socket (PATH a file, or @NAME an abstract socket)",
      .check = check_unix_path,
      .connect = connect_unix,
  });
  kinds.add({
      .name = "unix-listen",
      .role = kind_role::listener,
      .args = arg_shape::path,
      .usage = "unix-listen:PATH",
      .help = "accept connections on a Unix stream socket (its file is removed at the end; "
              "@NAME: an abstract socket, no file)",
      .options = {fork_option, max_children_option},
      .check = check_unix_listen,
      .listen = listen_unix,
  });
}

void add_stack_kinds(kind_registry& kinds) {
  kinds.add({
      .name = "stack",
      .role = kind_role::connector,
      .args = arg_shape::host_port,
      .usage = "stack:HOST:PORT",
      .help = "connect over TCP on the userspace stack (see the Userspace stack options; HOST an "
              "IPv4 address)",
      .options = tcp_connect_options,
      .check = check_stack_host,
      .connect = connect_stack,
  });
  kinds.add({
      .name = "stack-listen",
      .role = kind_role::listener,
      .args = arg_shape::optional_host_port,
      .usage = "stack-listen:[HOST:]PORT",
      .help = "accept TCP connections on the userspace stack's PORT (0: any free port)",
      .options = tcp_listen_options,
      .check = check_stack_listen,
      .listen = listen_stack,
  });
}

void add_vchan_kinds(kind_registry& kinds);  // vchan_kinds.cpp

kind_registry default_kinds() {
  kind_registry kinds;
  add_transport_kinds(kinds);
  add_tls_kinds(kinds);
  add_stack_kinds(kinds);
  add_vchan_kinds(kinds);
  return kinds;
}

}  // namespace flowstack::cli
