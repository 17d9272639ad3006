#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <deque>
#include <flowstack/core/combinators.hpp>
#include <flowstack/core/wait_queue.hpp>
#include <flowstack/net/error.hpp>
#include <flowstack/stack/direct_stack.hpp>
#include <flowstack/stack/icmp.hpp>
#include <flowstack/stack/udp.hpp>
#include <unordered_map>
#include <utility>

namespace flowstack::stack {
namespace {

using asio::ip::address_v4;

class direct_tcp_flow;
class direct_acceptor;
class direct_udp_socket;

constexpr std::size_t default_read_size = 64 * 1024;
constexpr std::size_t max_udp_payload = 65535 - ipv4_min_header_size - udp_header_size;

std::size_t tcp_payload_room(std::size_t mtu) {
  return mtu - ipv4_min_header_size - tcp_min_header_size;
}

}  // namespace

struct direct_stack::state : std::enable_shared_from_this<direct_stack::state> {
  state(asio::any_io_executor ex, std::unique_ptr<device> d, direct_stack_config c, clock& t)
      : executor(std::move(ex)),
        time(t),
        dev(std::move(d)),
        ip(dev->address(), with_device_mtu(c.ipv4, *dev), t.now(), c.network),
        tcp(c.ipv4.address, with_mss(c.tcp, ip.config().mtu)),
        udp_receive_buffer(c.udp_receive_buffer),
        udp_ports(c.tcp.ephemeral_first, c.tcp.ephemeral_last, c.tcp.seed ^ 0x5bd1e995u),
        wake(executor) {}

  static ipv4_config with_device_mtu(ipv4_config c, const device& d) {
    c.mtu = std::min(c.mtu, d.mtu());
    return c;
  }
  static tcp_layer::options with_mss(tcp_layer::options o, std::size_t mtu) {
    o.settings.mss =
        static_cast<std::uint16_t>(std::min<std::size_t>(o.settings.mss, tcp_payload_room(mtu)));
    return o;
  }

  void start();
  // Someone uses the stack (the stack object itself, a flow, a listener, a socket). When the
  // last lets go and the connections that are still closing have finished (TIME-WAIT does not
  // count), the device is closed and the loops end.
  void hold() noexcept { ++holders; }
  void let_go();
  void stop_when_idle();
  void stop();

  void input(const frame& f);
  void input_udp(const ipv4_delivery& d, clock::time_point now);
  void input_icmp(const ipv4_delivery& d, clock::time_point now);
  result<void> send_udp(std::uint16_t source_port, const net::udp_endpoint& to, const buffer& data);
  void poll();
  // Sends what the layers have to send, wakes whoever waits on a connection or a listener that
  // changed, and tells the timer when the next deadline came closer. Run after anything that
  // may have changed a layer.
  void flush();
  std::optional<clock::time_point> next_deadline() const;

  asio::any_io_executor executor;
  clock& time;
  std::unique_ptr<device> dev;
  ipv4_layer ip;
  tcp_layer tcp;
  std::size_t udp_receive_buffer;
  port_allocator udp_ports;
  std::unordered_map<std::uint16_t, direct_udp_socket*> udp;
  std::unordered_map<std::uint16_t, direct_acceptor*> acceptors;
  std::vector<buffer> frames;  // to send, gathered by the layers
  wait_queue wake;             // the timer loop reads the deadline again
  std::optional<clock::time_point> armed;
  std::size_t holders = 1;
  bool stopped = false;
  std::uint64_t udp_queue_drops = 0;
};

namespace {

// ---- TCP flows ---------------------------------------------------------------------------------

class direct_tcp_flow final : public net::tcp_flow {
 public:
  direct_tcp_flow(std::shared_ptr<direct_stack::state> st, tcp_layer::socket* s,
                  const net::flow_options& o)
      : net::tcp_flow(st->executor),
        state_(std::move(st)),
        socket_(s),
        read_size_(o.read_buffer_size == 0 ? default_read_size : o.read_buffer_size),
        changed_(state_->executor) {
    socket_->owner = this;
    socket_->connection.set_nodelay(o.nodelay);
    if (o.keepalive) set_keepalive(*o.keepalive);
    state_->hold();
  }

  ~direct_tcp_flow() override {
    if (socket_) {
      socket_->connection.close(state_->time.now());
      detach();
    }
  }

  static direct_tcp_flow& of(tcp_layer::socket* s) {
    return *static_cast<direct_tcp_flow*>(s->owner);
  }
  void notify() { changed_.notify_all(); }

  // Until the handshake is done: refused, timeout or unreachable when it fails.
  asio::awaitable<result<void>> established() {
    for (;;) {
      if (!socket_) co_return fail(flow_errc::closed);
      const auto& c = socket_->connection;
      if (c.error()) co_return fail(c.error());
      if (c.established_once()) co_return result<void>{};
      if (c.state() == tcp_state::closed) co_return fail(net::net_errc::refused);
      bool woken = co_await changed_.wait();
      if (!woken) co_return fail(flow_errc::cancelled);
    }
  }

  // A connect that is given up: nothing is sent, the socket goes.
  void give_up() {
    socket_->connection.abort();
    detach();
  }

  net::tcp_endpoint dst() const override {
    const auto& e = endpoints_or_last();
    return {e.remote_ip, e.remote_port};
  }
  net::tcp_endpoint src() const override {
    const auto& e = endpoints_or_last();
    return {e.local_ip, e.local_port};
  }
  std::string description() const override {
    return "tcp " + net::to_string(src()) + " -> " + net::to_string(dst()) + " (direct)";
  }

  asio::awaitable<write_result> write_nodelay(buffer data) override {
    co_return co_await writev_nodelay(std::span(&data, 1));
  }
  asio::awaitable<write_result> writev_nodelay(std::span<const buffer> data) override {
    // The bytes go out at once; what the connection still holds afterwards follows Nagle's rule
    // again.
    const bool was = nodelay_;
    set_nodelay(true);
    auto written = co_await writev(data);
    set_nodelay(was);
    co_return written;
  }
  void set_nodelay(bool on) override {
    nodelay_ = on;
    if (!socket_) return;
    socket_->connection.set_nodelay(on);
    update();
  }
  void set_keepalive(const net::keepalive& k) override {
    if (!socket_) return;
    socket_->connection.set_keepalive(k.after, k.interval,
                                      static_cast<unsigned>(std::max(k.probes, 1)));
    update();
  }

 protected:
  asio::awaitable<read_result> do_read() override {
    for (;;) {
      auto ready = do_try_read();
      if (ready) co_return std::move(*ready);
      bool woken = co_await changed_.wait();
      if (!woken) co_return fail(flow_errc::cancelled);
    }
  }

  std::optional<read_result> do_try_read() override {
    if (!socket_) return fail(flow_errc::closed);
    if (read_shut_) return data_or_eof();
    auto& c = socket_->connection;
    if (c.readable() > 0) {
      buffer data = c.read(read_size_);
      update();  // the window opened
      return data_or_eof(std::move(data));
    }
    if (c.at_eof()) return data_or_eof();
    if (c.error()) return fail(c.error());
    if (c.state() == tcp_state::closed) return fail(flow_errc::closed);
    return std::nullopt;
  }

  asio::awaitable<write_result> do_writev(std::span<const buffer> data) override {
    for (const buffer& b : data) {
      std::size_t done = 0;
      while (done < b.size()) {
        if (!socket_) co_return fail(flow_errc::closed);
        auto& c = socket_->connection;
        if (c.error()) co_return fail(c.error());
        if (!can_send(c.state())) co_return fail(flow_errc::closed);
        std::size_t taken = c.write(b.bytes().subspan(done), state_->time.now());
        done += taken;
        if (taken > 0) {
          update();
          continue;
        }
        bool woken = co_await changed_.wait();
        if (!woken) co_return fail(flow_errc::cancelled);
      }
    }
    co_return write_result{};
  }

  // Later and pending reads give eof. The connection is not told: bytes that still arrive wait
  // unread until the window closes, as they do on Linux after SHUT_RD.
  asio::awaitable<void> do_shutdown_read() override {
    read_shut_ = true;
    changed_.notify_all();
    co_return;
  }

  asio::awaitable<void> do_shutdown_write() override {
    if (socket_) {
      socket_->connection.shutdown_write(state_->time.now());
      update();
    }
    co_return;
  }

  asio::awaitable<void> do_close() override {
    if (socket_) {
      socket_->connection.close(state_->time.now());
      detach();
    }
    co_return;
  }

  asio::awaitable<void> do_abort() override {
    if (socket_) {
      socket_->connection.abort();
      detach();
    }
    co_return;
  }

 private:
  static bool can_send(tcp_state s) noexcept {
    return s == tcp_state::syn_sent || s == tcp_state::syn_received ||
           s == tcp_state::established || s == tcp_state::close_wait;
  }

  const tcp_endpoints& endpoints_or_last() const noexcept {
    return socket_ ? socket_->connection.endpoints() : last_endpoints_;
  }

  void update() {
    state_->tcp.update(socket_, state_->time.now());
    state_->flush();
  }

  // Hands the socket back to the layer (which lets the connection finish its close) and wakes
  // whoever waits here: they find the flow closed.
  void detach() {
    last_endpoints_ = socket_->connection.endpoints();
    state_->tcp.release(std::exchange(socket_, nullptr), state_->time.now());
    state_->flush();
    changed_.notify_all();
    state_->let_go();
  }

  std::shared_ptr<direct_stack::state> state_;
  tcp_layer::socket* socket_;
  tcp_endpoints last_endpoints_;
  std::size_t read_size_;
  bool nodelay_ = false;
  bool read_shut_ = false;
  wait_queue changed_;
};

// ---- listeners ---------------------------------------------------------------------------------

class direct_acceptor final : public net::acceptor {
 public:
  direct_acceptor(std::shared_ptr<direct_stack::state> st, std::uint16_t port, net::flow_options o)
      : state_(std::move(st)), port_(port), options_(o), ready_(state_->executor) {
    state_->acceptors[port_] = this;
    state_->hold();
  }
  ~direct_acceptor() override { close(); }

  void notify() { ready_.notify_all(); }

  asio::awaitable<result<flow>> accept() override {
    for (;;) {
      if (closed_ || state_->stopped) co_return fail(flow_errc::closed);
      if (auto* s = state_->tcp.accept(port_))
        co_return flow(std::make_unique<direct_tcp_flow>(state_, s, options_));
      bool woken = co_await ready_.wait();
      if (!woken) co_return fail(flow_errc::cancelled);
    }
  }

  void close() override {
    if (closed_) return;
    closed_ = true;
    state_->acceptors.erase(port_);
    state_->tcp.unlisten(port_, state_->time.now());
    state_->flush();
    ready_.notify_all();
    state_->let_go();
  }

  std::string local_address() const override {
    return net::to_string(net::tcp_endpoint(state_->tcp.local_address(), port_));
  }
  unsigned short local_port() const override { return port_; }

 private:
  std::shared_ptr<direct_stack::state> state_;
  std::uint16_t port_;
  net::flow_options options_;
  wait_queue ready_;
  bool closed_ = false;
};

// ---- UDP sockets -------------------------------------------------------------------------------

class direct_udp_socket final : public net::datagram_socket {
 public:
  direct_udp_socket(std::shared_ptr<direct_stack::state> st, std::uint16_t port,
                    std::optional<net::udp_endpoint> peer, std::size_t receive_buffer)
      : state_(std::move(st)),
        port_(port),
        peer_(peer),
        limit_(receive_buffer),
        arrived_(state_->executor) {
    state_->udp[port_] = this;
    state_->hold();
  }
  ~direct_udp_socket() override { close(); }

  // A connected socket takes datagrams from its peer only (RFC 5452 §9.2).
  bool takes_from(const net::udp_endpoint& from) const noexcept { return !peer_ || *peer_ == from; }

  void notify() { arrived_.notify_all(); }

  void push(net::datagram d) {
    if (queued_bytes_ + d.data.size() > limit_) {
      ++state_->udp_queue_drops;
      return;
    }
    queued_bytes_ += d.data.size();
    queue_.push_back(std::move(d));
    arrived_.notify_one();
  }

  // As a kernel socket does: a connected socket's next receive, once the datagrams that came
  // before are read, fails with what the error says; an unconnected socket hears nothing of it
  // (it could not tell which of its peers the error is about without IP_RECVERR).
  void input_icmp_error(const net::udp_endpoint& about, unreachable_code code) {
    if (!peer_ || *peer_ != about || code == unreachable_code::fragmentation_needed) return;
    pending_error_ = error_of(code);
    arrived_.notify_all();
  }

  asio::awaitable<result<void>> send_to(buffer data, net::udp_endpoint to) override {
    if (closed_) co_return fail(flow_errc::closed);
    co_return state_->send_udp(port_, to, data);
  }

  asio::awaitable<result<net::datagram>> receive_from(std::size_t max_size) override {
    for (;;) {
      if (!queue_.empty()) {
        net::datagram d = std::move(queue_.front());
        queue_.pop_front();
        queued_bytes_ -= d.data.size();
        if (d.data.size() > max_size) d.data = d.data.sub(0, max_size);
        co_return d;
      }
      if (closed_ || state_->stopped) co_return fail(flow_errc::closed);
      if (pending_error_) co_return fail(std::exchange(pending_error_, {}));
      bool woken = co_await arrived_.wait();
      if (!woken) co_return fail(flow_errc::cancelled);
    }
  }

  asio::awaitable<result<void>> send(buffer data) override {
    if (!peer_) co_return fail(std::make_error_code(std::errc::destination_address_required));
    co_return co_await send_to(std::move(data), *peer_);
  }

  asio::awaitable<result<buffer>> receive(std::size_t max_size) override {
    auto d = co_await receive_from(max_size);
    if (!d) co_return fail(d.error());
    co_return std::move(d->data);
  }

  net::udp_endpoint local_endpoint() const override { return {state_->tcp.local_address(), port_}; }
  std::size_t receive_buffer_size() const override { return limit_; }

  void close() override {
    if (closed_) return;
    closed_ = true;
    state_->udp.erase(port_);
    state_->udp_ports.release(port_);
    queue_.clear();
    arrived_.notify_all();
    state_->let_go();
  }

 private:
  std::shared_ptr<direct_stack::state> state_;
  std::uint16_t port_;
  std::optional<net::udp_endpoint> peer_;
  std::size_t limit_;
  std::deque<net::datagram> queue_;
  std::size_t queued_bytes_ = 0;
  std::error_code pending_error_;
  wait_queue arrived_;
  bool closed_ = false;
};

asio::awaitable<void> receive_loop(std::shared_ptr<direct_stack::state> s) {
  while (!s->stopped) {
    auto f = co_await s->dev->receive();
    if (!f) break;
    s->input(*f);
  }
  s->stop();  // without its device, the stack can do nothing more
}

asio::awaitable<void> timer_loop(std::shared_ptr<direct_stack::state> s) {
  using namespace asio::experimental::awaitable_operators;
  while (!s->stopped) {
    auto deadline = s->next_deadline();
    s->armed = deadline;
    if (!deadline) {
      co_await s->wake.wait();
      continue;
    }
    auto woken = co_await (s->time.wait_until(*deadline) || s->wake.wait());
    if (s->stopped) break;
    if (woken.index() == 0) s->poll();
  }
}

}  // namespace

// ---- the driver --------------------------------------------------------------------------------

void direct_stack::state::start() {
  ip.announce(frames);
  flush();
  asio::co_spawn(executor, receive_loop(shared_from_this()), asio::detached);
  asio::co_spawn(executor, timer_loop(shared_from_this()), asio::detached);
}

void direct_stack::state::let_go() {
  if (--holders == 0) stop_when_idle();
}

void direct_stack::state::stop_when_idle() {
  if (holders == 0 && tcp.closing_or_open() == 0) stop();
}

void direct_stack::state::stop() {
  if (stopped) return;
  stopped = true;
  tcp.abort_all(time.now());
  flush();  // the last RSTs, and every flow learns that its connection is gone
  dev->close();
  wake.notify_all();
  for (auto& [port, a] : acceptors) a->notify();
  for (auto& [port, u] : udp) u->notify();
}

void direct_stack::state::input(const frame& f) {
  const auto now = time.now();
  auto d = ip.input(f, now, frames);
  if (d) {
    switch (static_cast<ip_protocol>(d->header.protocol)) {
      case ip_protocol::tcp:
        tcp.input(d->header, d->payload.octets(), d->checksums_verified, now);
        break;
      case ip_protocol::udp:
        input_udp(*d, now);
        break;
      case ip_protocol::icmp:
        input_icmp(*d, now);  // echo requests were answered below
        break;
      default:
        ip.send_unreachable(*d, unreachable_code::protocol, now, frames);
        break;
    }
  }
  flush();
}

void direct_stack::state::input_udp(const ipv4_delivery& d, clock::time_point now) {
  auto u = parse_udp(d.payload.octets(),
                     ipv4_pseudo_header(d.header.source, d.header.destination, ip_protocol::udp),
                     !d.checksums_verified);
  if (!u) return;
  net::udp_endpoint from(d.header.source, u->source_port);
  auto it = udp.find(u->destination_port);
  if (it == udp.end() || !it->second->takes_from(from)) {
    ip.send_unreachable(d, unreachable_code::port, now, frames);
    return;
  }
  const std::size_t offset = udp_header_size;
  it->second->push({d.payload.sub(offset, u->payload.size()).clone(), from});
}

// A destination unreachable quoting a packet we sent goes to the socket that sent it (RFC 1122
// §4.2.3.9 for TCP, §4.1.3.3 for UDP); the quote is the IP header and at least 8 bytes of the
// packet (RFC 792), which hold the ports and, for TCP, the sequence number.
void direct_stack::state::input_icmp(const ipv4_delivery& d, clock::time_point now) {
  auto m = parse_icmp(d.payload.octets(), false);  // verified below us
  if (!m || m->type != static_cast<std::uint8_t>(icmp_type::destination_unreachable)) return;
  auto quote = m->body;
  if (quote.size() < ipv4_min_header_size) return;
  const std::size_t header = (quote[0] & 0x0f) * 4u;
  if (header < ipv4_min_header_size || quote.size() < header + 8) return;
  auto load16 = [&](std::size_t at) { return std::uint16_t(quote[at] << 8 | quote[at + 1]); };
  const address_v4 source({quote[12], quote[13], quote[14], quote[15]});
  const address_v4 destination({quote[16], quote[17], quote[18], quote[19]});
  if (source != ip.config().address) return;
  const std::uint16_t local_port = load16(header);
  const std::uint16_t remote_port = load16(header + 2);
  const auto code = static_cast<unreachable_code>(m->code);
  if (quote[9] == static_cast<std::uint8_t>(ip_protocol::tcp)) {
    const std::uint32_t seq = std::uint32_t(load16(header + 4)) << 16 | load16(header + 6);
    tcp.input_icmp_error(destination, remote_port, local_port, seq, code, now);
  } else if (quote[9] == static_cast<std::uint8_t>(ip_protocol::udp)) {
    auto it = udp.find(local_port);
    if (it != udp.end()) it->second->input_icmp_error({destination, remote_port}, code);
  }
}

result<void> direct_stack::state::send_udp(std::uint16_t source_port, const net::udp_endpoint& to,
                                           const buffer& data) {
  if (!to.address().is_v4()) return fail(net::net_errc::unreachable);
  if (data.size() > max_udp_payload) return fail(std::make_error_code(std::errc::message_size));
  const auto destination = to.address().to_v4();
  buffer datagram = buffer::create(udp_header_size + data.size());
  std::copy_n(data.octets().data(), data.size(), datagram.octets().data() + udp_header_size);
  checksum sum = ipv4_pseudo_header(ip.config().address, destination, ip_protocol::udp);
  sum.add(datagram.octets().subspan(udp_header_size));
  write_udp_header(datagram.octets(), source_port, to.port(), data.size(), sum);
  auto sent = ip.send(destination, ip_protocol::udp, datagram, time.now(), frames);
  flush();
  return sent;
}

void direct_stack::state::poll() {
  const auto now = time.now();
  for (const auto& hop : ip.poll(now, frames))
    tcp.next_hop_lost([&](const address_v4& remote) { return ip.hop_for(remote) == hop; }, now);
  tcp.poll(now);
  flush();
}

void direct_stack::state::flush() {
  const auto now = time.now();
  for (auto& p : tcp.take_output())
    (void)ip.send(p.destination, ip_protocol::tcp, p.segment, now, frames);
  for (auto& f : frames) (void)dev->send(std::move(f));
  frames.clear();
  for (auto* s : tcp.take_changed())
    if (s->owner) direct_tcp_flow::of(s).notify();
  for (auto port : tcp.take_ready_listeners()) {
    auto it = acceptors.find(port);
    if (it != acceptors.end()) it->second->notify();
  }
  auto next = next_deadline();
  if (next && (!armed || *next < *armed)) wake.notify_all();
  if (holders == 0) stop_when_idle();
}

std::optional<clock::time_point> direct_stack::state::next_deadline() const {
  auto a = ip.next_deadline();
  auto b = tcp.next_deadline();
  if (!a) return b;
  if (!b) return a;
  return std::min(*a, *b);
}

// ---- the stack's interface ---------------------------------------------------------------------

direct_stack::direct_stack(asio::any_io_executor executor, std::unique_ptr<device> dev,
                           direct_stack_config config, clock& time)
    : state_(std::make_shared<state>(std::move(executor), std::move(dev), config, time)) {
  state_->start();
}

direct_stack::~direct_stack() {
  // Listeners stop; flows and sockets keep the stack running until they are closed.
  std::vector<direct_acceptor*> listening;
  for (auto& [port, a] : state_->acceptors) listening.push_back(a);
  for (auto* a : listening) a->close();
  state_->let_go();
}

asio::awaitable<result<flow>> direct_stack::connect(net::tcp_endpoint remote,
                                                    net::connect_options options) {
  auto st = state_;
  if (st->stopped) co_return fail(flow_errc::closed);
  if (!remote.address().is_v4()) co_return fail(net::net_errc::unreachable);
  auto s = st->tcp.connect(remote.address().to_v4(), remote.port(), st->time.now());
  if (!s) co_return fail(s.error());
  auto impl = std::make_unique<direct_tcp_flow>(st, *s, options);
  st->flush();
  result<void> opened;
  if (options.timeout) {
    opened = co_await with_timeout(impl->established(), *options.timeout, st->time);
  } else {
    opened = co_await impl->established();
  }
  if (!opened) {
    impl->give_up();
    if (opened.error() == flow_errc::timeout) co_return fail(net::net_errc::timeout);
    co_return fail(opened.error());
  }
  co_return flow(std::move(impl));
}

result<net::listener> direct_stack::listen(net::tcp_endpoint local, net::flow_handler handler,
                                           net::listen_options options) {
  if (state_->stopped) return fail(flow_errc::closed);
  const auto& a = local.address();
  if (!a.is_unspecified() && a != asio::ip::address(state_->ip.config().address))
    return fail(std::make_error_code(std::errc::address_not_available));
  auto port =
      state_->tcp.listen(local.port(), static_cast<std::size_t>(std::max(options.backlog, 1)));
  if (!port) return fail(port.error());
  return net::serve(state_->executor,
                    std::make_unique<direct_acceptor>(state_, *port, options.flow),
                    std::move(handler), options.max_connections);
}

result<std::unique_ptr<net::datagram_socket>> direct_stack::udp_bind(
    net::udp_endpoint local, net::datagram_options options) {
  if (state_->stopped) return fail(flow_errc::closed);
  const auto& a = local.address();
  if (!a.is_unspecified() && a != asio::ip::address(state_->ip.config().address))
    return fail(std::make_error_code(std::errc::address_not_available));
  std::uint16_t port = local.port();
  if (port == 0) {
    auto free = state_->udp_ports.allocate();
    if (!free) return fail(net::net_errc::address_in_use);
    port = *free;
  } else if (!state_->udp_ports.reserve(port)) {
    return fail(net::net_errc::address_in_use);
  }
  const std::size_t buffer =
      options.receive_buffer != 0 ? options.receive_buffer : state_->udp_receive_buffer;
  return std::make_unique<direct_udp_socket>(state_, port, std::nullopt, buffer);
}

result<std::unique_ptr<net::datagram_socket>> direct_stack::udp_connect(net::udp_endpoint remote) {
  if (state_->stopped) return fail(flow_errc::closed);
  if (!remote.address().is_v4()) return fail(net::net_errc::unreachable);
  auto port = state_->udp_ports.allocate();
  if (!port) return fail(net::net_errc::address_in_use);
  return std::make_unique<direct_udp_socket>(state_, *port, remote, state_->udp_receive_buffer);
}

const asio::any_io_executor& direct_stack::get_executor() const noexcept {
  return state_->executor;
}

const ipv4_layer& direct_stack::network() const noexcept {
  return state_->ip;
}

const tcp_layer& direct_stack::tcp() const noexcept {
  return state_->tcp;
}

std::uint64_t direct_stack::udp_queue_drops() const noexcept {
  return state_->udp_queue_drops;
}

}  // namespace flowstack::stack
