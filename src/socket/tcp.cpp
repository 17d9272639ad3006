#include <netinet/in.h>
#include <netinet/tcp.h>

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/this_coro.hpp>
#include <flowstack/socket/tcp.hpp>

#include "socket_acceptor.hpp"
#include "socket_flow.hpp"

namespace flowstack::socket {
namespace {

using net::connect_options;
using net::flow_options;
using net::tcp_endpoint;

using tcp = asio::ip::tcp;
using keep_idle = asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPIDLE>;
using keep_interval = asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPINTVL>;
using keep_count = asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPCNT>;

class tcp_socket_flow final : public detail::socket_flow<tcp, net::tcp_flow> {
 public:
  tcp_socket_flow(tcp::socket socket, const flow_options& options, tcp_endpoint local,
                  tcp_endpoint remote)
      : socket_flow(std::move(socket), options,
                    "tcp " + net::to_string(local) + " -> " + net::to_string(remote)),
        local_(local),
        remote_(remote),
        nodelay_(options.nodelay) {
    set_nodelay(options.nodelay);
    if (options.keepalive) set_keepalive(*options.keepalive);
  }

  tcp_endpoint dst() const override { return remote_; }
  tcp_endpoint src() const override { return local_; }

  asio::awaitable<write_result> write_nodelay(buffer data) override {
    co_return co_await writev_nodelay(std::span<const buffer>(&data, 1));
  }

  asio::awaitable<write_result> writev_nodelay(std::span<const buffer> data) override {
    // Setting TCP_NODELAY also pushes out anything Nagle holds back. Writes are served in
    // order, so this write's bytes go out with no coalescing delay; the setting is put back
    // once no nodelay write is in flight.
    if (nodelay_writes_++ == 0 && !nodelay_) apply_nodelay(true);
    auto r = co_await writev(data);
    if (--nodelay_writes_ == 0 && !nodelay_) apply_nodelay(false);
    co_return r;
  }

  void set_nodelay(bool on) override {
    nodelay_ = on;
    if (nodelay_writes_ == 0) apply_nodelay(on);
  }

  void set_keepalive(const net::keepalive& k) override {
    std::error_code ec;
    socket_.set_option(asio::socket_base::keep_alive(true), ec);
    socket_.set_option(keep_idle(static_cast<int>(std::max<long long>(k.after.count(), 1))), ec);
    socket_.set_option(keep_interval(static_cast<int>(std::max<long long>(k.interval.count(), 1))),
                       ec);
    socket_.set_option(keep_count(std::max(k.probes, 1)), ec);
  }

 private:
  void apply_nodelay(bool on) {
    std::error_code ec;
    socket_.set_option(tcp::no_delay(on), ec);
  }

  tcp_endpoint local_;
  tcp_endpoint remote_;
  bool nodelay_;
  int nodelay_writes_ = 0;
};

flow wrap_tcp(tcp::socket socket, const flow_options& options) {
  std::error_code ec;
  auto local = socket.local_endpoint(ec);
  auto remote = socket.remote_endpoint(ec);
  return make_flow<tcp_socket_flow>(std::move(socket), options, local, remote);
}

class tcp_acceptor final : public detail::socket_acceptor<tcp> {
 public:
  tcp_acceptor(asio::any_io_executor executor, const flow_options& options)
      : socket_acceptor(executor), options_(options) {}

  std::string local_address() const override { return net::to_string(local_); }
  unsigned short local_port() const override { return local_.port(); }
  void set_local(tcp_endpoint local) { local_ = local; }

 private:
  flow wrap(tcp::socket socket) override { return wrap_tcp(std::move(socket), options_); }

  flow_options options_;
  tcp_endpoint local_;
};

// Connects `socket` to `remote`, giving up after `timeout` on `time` when one is set.
asio::awaitable<std::error_code> connect_socket(tcp::socket& socket, tcp_endpoint remote,
                                                std::optional<std::chrono::milliseconds> timeout,
                                                clock& time) {
  if (!timeout) {
    auto [ec] = co_await socket.async_connect(remote, detail::as_result);
    co_return ec;
  }
  using namespace asio::experimental::awaitable_operators;
  auto raced =
      co_await (socket.async_connect(remote, detail::as_result) || time.wait_for(*timeout));
  if (raced.index() == 1) co_return make_error_code(net::net_errc::timeout);
  auto [ec] = std::get<0>(raced);
  co_return ec;
}

}  // namespace

asio::awaitable<result<flow>> connect(tcp_endpoint remote, connect_options options) {
  auto executor = co_await asio::this_coro::executor;
  tcp::socket socket(executor);
  std::error_code ec;
  socket.open(remote.protocol(), ec);
  if (ec) co_return fail(map_system_error(ec));
  ec = co_await connect_socket(socket, remote, options.timeout, *options.clock);
  if (ec) co_return fail(map_system_error(ec));
  co_return wrap_tcp(std::move(socket), options);
}

asio::awaitable<result<flow>> connect(tcp_endpoint remote, std::size_t read_buffer_size) {
  connect_options options;
  options.read_buffer_size = read_buffer_size;
  co_return co_await connect(remote, options);
}

asio::awaitable<result<flow>> connect(net::host_port where, connect_options options) {
  auto endpoints = co_await resolve(std::move(where));
  if (!endpoints) co_return fail(endpoints.error());
  std::error_code last;
  for (const auto& endpoint : *endpoints) {
    auto r = co_await connect(endpoint, options);
    if (r) co_return r;
    last = r.error();
  }
  co_return fail(last);
}

result<net::listener> listen(asio::any_io_executor executor, tcp_endpoint local,
                             net::flow_handler handler, net::listen_options options) {
  auto from = std::make_unique<tcp_acceptor>(executor, options.flow);
  auto& acceptor = from->socket();
  std::error_code ec;
  acceptor.open(local.protocol(), ec);
  if (ec) return fail(map_system_error(ec));
  // A v6 listener takes v6 only, so [::1]:P and 127.0.0.1:P can both be bound.
  if (local.address().is_v6()) acceptor.set_option(asio::ip::v6_only(true), ec);
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  acceptor.bind(local, ec);
  if (ec) return fail(map_system_error(ec));
  acceptor.listen(options.backlog, ec);
  if (ec) return fail(map_system_error(ec));
  from->set_local(acceptor.local_endpoint(ec));
  return net::serve(executor, std::move(from), std::move(handler), options.max_connections);
}

}  // namespace flowstack::socket
