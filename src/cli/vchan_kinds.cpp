// `vchan:DOMID:PORT` and `vchan-listen:DOMID:PORT` for `flowstack cat`.
#include <sys/un.h>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/use_awaitable.hpp>

#include <charconv>
#include <chrono>
#include <flowstack/core/clock.hpp>
#include <flowstack/core/text.hpp>
#include <flowstack/core/wait_queue.hpp>
#include <flowstack/vchan/vchan.hpp>
#include <memory>
#include <optional>

#include "kinds.hpp"

namespace flowstack::cli {
namespace {

struct vchan_name {
  unsigned domid = 0;
  std::optional<vchan::port> port;
};

// A vchan name that does not parse, and why.
unexpected<failure> invalid_name(std::string why) {
  return fail(vchan::vchan_errc::invalid_port, std::move(why));
}

// "DOMID:PORT": a domain number (0-65535, as Xen's domid_t) and a port name.
detailed<vchan_name> parse_vchan_name(const std::string& text) {
  auto colon = text.find(':');
  if (colon == std::string::npos) return invalid_name("missing ':' before the port");
  std::string_view number(text.data(), colon);
  vchan_name name;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), name.domid);
  if (number.empty() || ec != std::errc() || end != number.data() + number.size() ||
      name.domid > 65535) {
    return invalid_name("domain \"" + escape_controls(number) +
                        "\" is not a number from 0 to 65535");
  }
  std::string port = text.substr(colon + 1);
  auto checked = vchan::port::parse(port);
  if (!checked) return unexpected(checked.error());
  // The entry is "<dir>/<domid>-<port>": with the shortest directory there is, one character.
  std::size_t shortest = 2 + std::to_string(name.domid).size() + 1 + port.size();
  if (shortest >= sizeof(sockaddr_un{}.sun_path)) {
    return invalid_name("vchan port \"" + port +
                        "\" is too long: its rendezvous path can never fit " +
                        "a Unix socket address (" +
                        std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " bytes at most)");
  }
  name.port = std::move(*checked);
  return name;
}

std::optional<std::string> check_vchan(const endpoint& ep) {
  auto name = parse_vchan_name(ep.path);
  if (!name) return std::move(name).error().detail;
  if (ep.has("max-children") && !ep.has("fork")) return "max-children needs fork";
  return std::nullopt;
}

asio::awaitable<result<flow>> connect_vchan(const endpoint& ep, const open_context& ctx) {
  auto name = parse_vchan_name(ep.path);
  if (!name) co_return fail(name.error().code);
  auto connecting = vchan::client(ctx.executor, name->domid, *name->port);
  auto f = co_await std::move(connecting);
  co_return f;
}

// A vchan port as an acceptor for the shared accept loop (net::serve): each accept() offers
// (domain, port) for one client, since a vchan channel is one to one. The loop stops accepting at
// max-children, so the port is offered again only while a relay slot is free.
class vchan_acceptor final : public net::acceptor {
 public:
  vchan_acceptor(asio::any_io_executor executor, vchan_name name, std::size_t read_size,
                 std::size_t write_size, asio::awaitable<result<flow>> first_offer)
      : executor_(executor),
        name_(std::move(name)),
        read_size_(read_size),
        write_size_(write_size),
        first_offer_(std::move(first_offer)),
        closing_(executor) {}

  asio::awaitable<result<flow>> accept() override {
    using namespace asio::experimental::awaitable_operators;
    if (closed_) co_return fail(flow_errc::closed);
    auto waiting =
        first_offer_ ? std::move(*first_offer_)
                     : vchan::server(executor_, name_.domid, *name_.port, read_size_, write_size_);
    first_offer_.reset();
    auto raced = co_await (std::move(waiting) || until_closed());
    if (raced.index() == 1) co_return fail(flow_errc::closed);
    auto accepted = std::move(std::get<0>(raced));
    if (!accepted) {
      // Offering again at once would fail the same way (the directory went away, another
      // server took the port): pause before the loop asks again.
      auto paused = co_await (clock::steady().wait_for(std::chrono::seconds(1)) || until_closed());
      if (paused.index() == 1) co_return fail(flow_errc::closed);
    }
    co_return accepted;
  }

  void close() override {
    closed_ = true;
    closing_.notify_all();
  }

  std::string local_address() const override {
    return "vchan " + std::to_string(name_.domid) + ":" + name_.port->name();
  }
  unsigned short local_port() const override { return 0; }

 private:
  asio::awaitable<void> until_closed() {
    while (!closed_) {
      bool woken = co_await closing_.wait();
      if (!woken) co_return;  // cancelled: the offer won the race
    }
  }

  asio::any_io_executor executor_;
  vchan_name name_;
  std::size_t read_size_;
  std::size_t write_size_;
  std::optional<asio::awaitable<result<flow>>> first_offer_;
  bool closed_ = false;
  wait_queue closing_;
};

asio::awaitable<result<std::unique_ptr<listening>>> listen_vchan(const endpoint& ep,
                                                                 const open_context& ctx,
                                                                 listen_limits limits,
                                                                 accept_handler handler) {
  auto name = parse_vchan_name(ep.path);
  if (!name) co_return fail(name.error().code);
  auto read_size =
      static_cast<std::size_t>(ep.value("read-size").value_or(vchan::default_ring_size));
  auto write_size =
      static_cast<std::size_t>(ep.value("write-size").value_or(vchan::default_ring_size));
  // The first offer binds the entry now, so a bad ring size, a port in use or a runtime
  // directory that cannot hold the entry is reported here, before anyone connects.
  auto first_offer = vchan::offer(ctx.executor, name->domid, *name->port, read_size, write_size);
  if (!first_offer) co_return fail(first_offer.error());
  auto acceptor = std::make_unique<vchan_acceptor>(ctx.executor, *name, read_size, write_size,
                                                   std::move(*first_offer));
  co_return listening_of(
      net::serve(ctx.executor, std::move(acceptor), std::move(handler), limits.max_connections));
}

const option_spec vchan_fork_option{"fork", option_type::flag,
                                    "offer the port again for the next client while relaying"};
const option_spec vchan_max_children_option{"max-children", option_type::count,
                                            "with fork: relays at once, default 64", 1};

}  // namespace

void add_vchan_kinds(kind_registry& kinds) {
  kinds.add({
      .name = "vchan",
      .role = kind_role::connector,
      .args = arg_shape::text,
      .usage = "vchan:DOMID:PORT",
      .help = "connect to a vchan server (shared-memory channel) on this host",
      .check = check_vchan,
      .connect = connect_vchan,
  });
  kinds.add({
      .name = "vchan-listen",
      .role = kind_role::listener,
      .args = arg_shape::text,
      .usage = "vchan-listen:DOMID:PORT",
      .help = "offer a vchan (shared-memory channel) to a client on this host "
              "(entries under $FLOWSTACK_VCHAN_DIR, $XDG_RUNTIME_DIR or /run)",
      .options = {vchan_fork_option,
                  vchan_max_children_option,
                  {"read-size", option_type::bytes,
                   "ring this end reads, in bytes (k, m suffixes), default 1m", 1},
                  {"write-size", option_type::bytes,
                   "ring this end writes, in bytes (k, m suffixes), default 1m", 1}},
      .check = check_vchan,
      .listen = listen_vchan,
  });
}

}  // namespace flowstack::cli
