// Addresses of `flowstack cat`: what a person writes to name one end of a relay, and the registry
// of the kinds of endpoint they may name.
//
// Syntax
//
//   ADDRESS := (LAYER '|')* TRANSPORT      layers outermost first: 'tls,sni=x|tcp:host:443'
//   element := KIND[':' ARGS](',' OPTION['=' VALUE])*
//
//   LAYER and TRANSPORT are elements. KIND is a registered name (`-`, `tcp`, `tcp-listen`, …);
//   ARGS is everything after the first ':' up to the first unescaped ',' or '|'. A backslash
//   escapes ',', '|' and '\' inside ARGS and values (`unix:/tmp/a\,b` names "/tmp/a,b"); a
//   backslash before any other character is an error. IPv6 hosts are written in brackets:
//   `tcp:[::1]:80`.
//
// Kinds come in three roles: transport connectors (`tcp:HOST:PORT`), transport listeners
// (`tcp-listen:[HOST:]PORT`) and layers, which wrap a flow into another flow (`tls`). A kind
// is one registration in a `kind_registry`: how its ARGS read, which options it takes, and the
// function that opens it. A kind may also be a shorthand that stands for several elements
// (`tls:HOST:PORT` for `tls|tcp:HOST:PORT`).
//
// Parsing checks everything that can be checked without touching the network, so a malformed
// address is reported before anything is opened, with what was wrong and what was expected:
// "tcp:localhost: missing port, expected tcp:HOST:PORT".
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <cstdint>
#include <flowstack/core/error.hpp>
#include <flowstack/core/flow.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flowstack::cli {

class userspace_stack;  // userspace_stack.hpp

// ---- syntax: elements as written --------------------------------------------------------------

struct option {
  std::string name;
  std::optional<std::string> value;  // unescaped; none for a flag
  friend bool operator==(const option&, const option&) = default;
};

// One element as written, escapes resolved.
struct element {
  std::string kind;
  std::optional<std::string> args;  // unescaped; none when there is no ':'
  std::vector<option> options;
  std::string text;  // KIND[:ARGS] as written, for messages
};

// Splits an address into its elements (outermost first) without knowing any kind: the structure
// only. Fails with net_errc::invalid_address, the sentence naming the position and the rule
// broken.
detailed<std::vector<element>> split_address(std::string_view text);

// ---- kinds -----------------------------------------------------------------------------------

enum class kind_role { connector, listener, layer };

// How a kind's ARGS read.
enum class arg_shape {
  none,                // `-`, `tls`
  host_port,           // HOST:PORT, port 1-65535
  optional_host_port,  // [HOST:]PORT, port 0-65535 (0: any free port)
  path,                // a file system path, not empty
  text,                // anything, checked by the kind itself when it opens
};

// text: a value required, kept as written (escapes resolved); read with endpoint::text().
enum class option_type { flag, count, milliseconds, bytes, text };

struct option_spec {
  std::string name;
  option_type type = option_type::flag;
  std::string help;
  std::uint64_t min = 0;  // smallest value accepted (not for flags)
};

// An element checked against its kind: typed args and options.
struct endpoint {
  const struct kind* kind = nullptr;
  std::string text;  // as written
  std::string host;  // host_port shapes; IPv6 without brackets; empty: any (listeners)
  std::uint16_t port = 0;
  std::string path;                              // path and text shapes
  std::map<std::string, std::uint64_t> options;  // flags hold 1
  std::map<std::string, std::string> texts;      // text options

  bool has(std::string_view name) const {
    return options.contains(std::string(name)) || texts.contains(std::string(name));
  }
  std::optional<std::uint64_t> value(std::string_view name) const {
    auto it = options.find(std::string(name));
    if (it == options.end()) return std::nullopt;
    return it->second;
  }
  std::optional<std::string> text_value(std::string_view name) const {
    auto it = texts.find(std::string(name));
    if (it == texts.end()) return std::nullopt;
    return it->second;
  }
};

// What an opener gets besides the endpoint.
struct open_context {
  asio::any_io_executor executor;
  // True for flows a listener accepted: a layer takes the server's part of its protocol.
  bool accepted = false;
  // The command's userspace stack, for the stack kinds; brought up by the first that opens.
  userspace_stack* stack = nullptr;
};

// A listening transport as the relay sees it. The listener stops when this is destroyed.
class listening {
 public:
  virtual ~listening() = default;
  // The bound address, e.g. "127.0.0.1:41234" or a socket path.
  virtual std::string local_address() const = 0;
  // Stops accepting; connections already accepted go on. Idempotent.
  virtual void stop() = 0;
};

// Called with each accepted flow; the flow is closed when the handler returns.
using accept_handler = std::function<asio::awaitable<void>(flow&)>;

struct listen_limits {
  std::size_t max_connections = 64;  // handlers running at once
};

// A layer of one address, opened once and used for every flow of that address, so that what it
// keeps between connections is shared by all of them (TLS: one context, so one session cache and
// one set of ticket keys, and the certificate files read once rather than per connection).
class layer {
 public:
  virtual ~layer() = default;
  // Wraps `inner` (the flow of the part below); returns once the layer's handshake is done.
  // Cancelling it (the relay abandoning a handshake) closes `inner`.
  virtual asio::awaitable<result<flow>> wrap(flow inner) = 0;
  // What the handshake of `wrapped` (a flow this layer made) agreed on, one line for -v; empty
  // when there is nothing to tell.
  virtual std::string agreed(const flow& wrapped) const = 0;
};

using connect_fn =
    std::function<asio::awaitable<result<flow>>(const endpoint&, const open_context&)>;
using listen_fn = std::function<asio::awaitable<result<std::unique_ptr<listening>>>(
    const endpoint&, const open_context&, listen_limits, accept_handler)>;
// Opens a layer for `endpoint` taking the part `open_context::accepted` says; errors are those of
// its settings (an unreadable certificate, say), reported before any connection.
using open_layer_fn =
    std::function<result<std::unique_ptr<layer>>(const endpoint&, const open_context&)>;

struct kind {
  std::string name;
  kind_role role = kind_role::connector;
  arg_shape args = arg_shape::none;
  std::string usage;  // e.g. "tcp:HOST:PORT", quoted in errors after "expected"
  std::string help;   // one line for --help
  std::vector<option_spec> options;
  // A shorthand rewrites its element as several, outermost first (`tls:H:P` -> `tls`, `tcp:H:P`).
  // The result is parsed like written elements. Nothing means the element is written in full:
  // one name may be both (`tls` is a layer, `tls:H:P` a shorthand).
  std::function<std::vector<element>(const element&)> expand;
  // Checks that concern several options at once; returns what is wrong, or nothing.
  std::function<std::optional<std::string>(const endpoint&)> check;
  // Layers: checks that depend on the part the layer takes, the server's (`accepted`: over a
  // listener) or the client's; returns what is wrong, or nothing.
  std::function<std::optional<std::string>(const endpoint&, bool accepted)> check_part;

  connect_fn connect;        // connectors
  listen_fn listen;          // listeners
  open_layer_fn open_layer;  // layers
};

class kind_registry {
 public:
  // Adds a kind; a second kind with the same name replaces the first.
  void add(kind k);
  const kind* find(std::string_view name) const;
  // In the order added.
  const std::vector<std::unique_ptr<kind>>& kinds() const noexcept { return kinds_; }

  // "-, tcp, tcp-listen, unix, unix-listen"
  std::string names() const;
  // The kinds of one role, in the order added.
  std::vector<const kind*> of_role(kind_role role) const;
  // The address part of --help: syntax, every kind with its options.
  std::string describe() const;

 private:
  std::vector<std::unique_ptr<kind>> kinds_;
};

// What an option looks like in an address: "fork", "max-children=N", "cert=VALUE".
std::string option_usage(const option_spec& o);

// The titles of --help's and the manual's sections on each role: "Transports that connect".
std::string_view role_title(kind_role role);

// Text that --help (describe()) and the manual page both print, written once.
struct help_entry {
  std::string term;
  std::string text;
};
struct syntax_text {
  std::vector<help_entry> forms;   // ADDRESS := ..., element := ...
  std::vector<std::string> notes;  // escapes, brackets, ... one sentence each
};
const syntax_text& address_syntax();

// ---- parsed addresses ------------------------------------------------------------------------

struct address {
  std::string text;
  std::vector<endpoint> layers;  // outermost first
  endpoint transport;

  bool is_listener() const noexcept { return transport.kind->role == kind_role::listener; }
};

// Parses and checks an address against `kinds`. Fails with net_errc::invalid_address and one
// sentence: what was wrong, where, and what was expected.
detailed<address> parse_address(std::string_view text, const kind_registry& kinds);

// HOST:PORT (connectors: port 1-65535) or, `for_listen`, [HOST:]PORT (port 0-65535, 0 picks a
// free port). IPv6 hosts in brackets; the host comes back without them. Fails with
// net_errc::invalid_address and what is wrong with this text ("missing port"): the caller, which
// knows the element it came from, puts that in front.
struct host_and_port {
  std::string host;
  std::uint16_t port = 0;
};
detailed<host_and_port> parse_host_port(std::string_view text, bool for_listen);

}  // namespace flowstack::cli
