// `vchan:DOMID:PORT` and `vchan-listen:DOMID:PORT` for `flowstack cat`.
#include <sys/un.h>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/use_awaitable.hpp>

#include <charconv>
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

// "DOMID:PORT": a domain number (0-65535, as Xen's domid_t) and a port name.
expected<vchan_name, std::string> parse_vchan_name(const std::string& text) {
  auto colon = text.find(':');
  if (colon == std::string::npos) return unexpected(std::string("missing ':' before the port"));
  std::string_view number(text.data(), colon);
  vchan_name name;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), name.domid);
  if (number.empty() || ec != std::errc() || end != number.data() + number.size() ||
      name.domid > 65535) {
    return unexpected("domain \"" + escape_controls(number) + "\" is not a number from 0 to 65535");
  }
  std::string port = text.substr(colon + 1);
  if (!vchan::port::is_valid(port)) return unexpected(vchan::port::why(port));
  // The entry is "<dir>/<domid>-<port>": with the shortest directory there is, one character.
  std::size_t shortest = 2 + std::to_string(name.domid).size() + 1 + port.size();
  if (shortest >= sizeof(sockaddr_un{}.sun_path)) {
    return unexpected("vchan port \"" + port +
                      "\" is too long: its rendezvous path can never fit " +
                      "a Unix socket address (" +
                      std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " bytes at most)");
  }
  name.port.emplace(port);
  return name;
}

std::optional<std::string> check_vchan(const endpoint& ep) {
  auto name = parse_vchan_name(ep.path);
  if (!name) return name.error();
  if (ep.has("max-children") && !ep.has("fork")) return "max-children needs fork";
  return std::nullopt;
}

asio::awaitable<result<flow>> connect_vchan(const endpoint& ep, const open_context& ctx) {
  auto name = parse_vchan_name(ep.path);
  if (!name) co_return fail(vchan::vchan_errc::invalid_port);
  auto connecting = vchan::client(ctx.executor, name->domid, *name->port);
  auto f = co_await std::move(connecting);
  co_return f;
}

// Offers the (domain, port) again each time a client came in (vchan channels are one to one),
// while fewer than `max_connections` relays run.
struct vchan_offer {
  vchan_offer(asio::any_io_executor ex) : changed(ex) {}
  wait_queue changed;
  std::size_t active = 0;
  bool stopped = false;
  bool finished = false;
};

class vchan_listening final : public listening {
 public:
  vchan_listening(std::shared_ptr<vchan_offer> offer, std::string text)
      : offer_(std::move(offer)), text_(std::move(text)) {}
  ~vchan_listening() override { stop(); }
  std::string local_address() const override { return text_; }
  void stop() override {
    offer_->stopped = true;
    offer_->changed.notify_all();
  }

 private:
  std::shared_ptr<vchan_offer> offer_;
  std::string text_;
};

asio::awaitable<void> run_accepted(std::shared_ptr<vchan_offer> offer, accept_handler handler,
                                   flow f) {
  co_await handler(f);
  if (f) co_await f.close();  // a handler may keep the flow
  --offer->active;
  offer->changed.notify_all();
}

asio::awaitable<bool> until_stopped(std::shared_ptr<vchan_offer> offer) {
  while (!offer->stopped) {
    bool ok = co_await offer->changed.wait();
    if (!ok) co_return false;
  }
  co_return true;
}

asio::awaitable<void> offer_loop(std::shared_ptr<vchan_offer> offer, vchan_name name,
                                 std::size_t read_size, std::size_t write_size,
                                 listen_limits limits, accept_handler handler,
                                 asio::awaitable<result<flow>> first_offer) {
  using namespace asio::experimental::awaitable_operators;
  auto ex = co_await asio::this_coro::executor;
  bool first = true;
  while (!offer->stopped) {
    while (!offer->stopped && offer->active >= limits.max_connections) {
      co_await offer->changed.wait();
    }
    if (offer->stopped) break;
    auto waiting = first ? std::move(first_offer)
                         : vchan::server(ex, name.domid, *name.port, read_size, write_size);
    auto stopping = until_stopped(offer);
    auto raced = co_await (std::move(waiting) || std::move(stopping));
    if (raced.index() == 1) break;
    auto accepted = std::move(std::get<0>(raced));
    if (!accepted) break;
    first = false;
    ++offer->active;
    asio::co_spawn(ex, run_accepted(offer, handler, std::move(*accepted)), asio::detached);
  }
  offer->finished = true;
  offer->changed.notify_all();
}

asio::awaitable<result<std::unique_ptr<listening>>> listen_vchan(const endpoint& ep,
                                                                 const open_context& ctx,
                                                                 listen_limits limits,
                                                                 accept_handler handler) {
  auto name = parse_vchan_name(ep.path);
  if (!name) co_return fail(vchan::vchan_errc::invalid_port);
  auto read_size =
      static_cast<std::size_t>(ep.value("read-size").value_or(vchan::default_ring_size));
  auto write_size =
      static_cast<std::size_t>(ep.value("write-size").value_or(vchan::default_ring_size));
  // The first offer binds the entry now, so a bad ring size, a port in use or a runtime
  // directory that cannot hold the entry is reported here, before anyone connects.
  auto first_offer = vchan::offer(ctx.executor, name->domid, *name->port, read_size, write_size);
  if (!first_offer) co_return fail(first_offer.error());
  auto offer = std::make_shared<vchan_offer>(ctx.executor);
  asio::co_spawn(ctx.executor,
                 offer_loop(offer, *name, read_size, write_size, limits, std::move(handler),
                            std::move(*first_offer)),
                 asio::detached);
  std::unique_ptr<listening> l = std::make_unique<vchan_listening>(offer, "vchan " + ep.path);
  co_return l;
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
