// fake_upstream: an in-memory upstream_transport with a scriptable DNS server behind it, for the
// tests of the upstream, the resolver and the server. Header-only; needs flowstack_dns.
//
// What it gives
//   connect_stream(server)  one end of a memory_pair; a fake server coroutine serves the other
//                           end (RFC 1035 §4.2.2 framing, any number of queries, answers in the
//                           order the replies say).
//   open_datagram(server)   an in-memory datagram_channel; what it sends reaches the fake server
//                           at once, the replies land in its receive queue.
//                           self_connect_opens(n): the next n are connected to themselves.
//   Any server_address is accepted: one fake stands for every upstream of a resolver, and
//   fake_query::server says which one was asked (set_behaviour(server, ...) per server).
//
// Messages: make_query(name, type, id) and make_answer(query) build the usual pair; to_wire
// encodes. An answer of another shape: edit make_answer(q) and send it with fake_reply::of.
//
// Scripting: a behaviour maps each query the server receives to a fake_reply: which messages
// to send back (a normal answer, a wrong id or wrong question first, garbage, nothing), after
// what delay, whether to hold them until release_held() (answers out of order), whether to close
// the connection. Behaviours are plain functions (not coroutines), so lambdas may capture.
//
//   asio::awaitable<void> example(asio::any_io_executor ex) {
//     fake_upstream fake(ex);  // answers every query (answer_all)
//     fake.set_behaviour([](const fake_query& q) {
//       return q.number == 0 ? fake_reply::drop() : fake_reply::answer(q.query);
//     });
//     auto up = make_upstream(ex, upstream_protocol::udp, fake.address(), fake);
//     auto query = make_query("www.example.com", rr_type::a);
//     auto answer = co_await up->query(query);
//     co_await up->close();
//     EXPECT_EQ(fake.open_channels(), 0u);  // leak checks: the client side's view, exact
//     EXPECT_EQ(fake.open_flows(), 0u);
//     co_await fake.shutdown();  // ends the fake server's own coroutines; always call it last
//   }
//
// Counters: queries_received (all, per server, per protocol), connections_opened,
// channels_opened, open_flows / open_channels (client ends not yet closed), held(), received()
// (every query in arrival order, with the id the client chose). wait_until(condition) and
// wait_for_queries(n) wait for the server's side to catch up without sleeping.
// Faults: fail_connects, fail_opens, fail_client_writes (the client's writes fail),
// close_connections() (the server hangs up).
//
// Time: delayed replies wait on the clock given to the constructor. Tests give it their manual
// clock and pass fake.time() on to the upstreams, resolvers and servers they make, so that every
// timer of a test runs on that one clock (flowstack::test::run_on_manual_clock runs such a test,
// jumping time forward whenever nothing else can run).
//
// Lifetime: the fake must outlive every upstream using it; call shutdown() before it goes away.
#pragma once

#include <flowstack/core/clock.hpp>
#include <flowstack/core/memory_flow.hpp>
#include <flowstack/core/wait_queue.hpp>
#include <flowstack/dns/framing.hpp>
#include <flowstack/dns/message.hpp>
#include <flowstack/dns/transport.hpp>
#include <flowstack/dns/upstream.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/error.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace flowstack::dns::test {

// ---- messages ----------------------------------------------------------------------------------

// A recursive query for one name, as a stub resolver sends it.
inline message make_query(std::string_view qname, rr_type type = rr_type::a,
                          std::uint16_t id = 0x4242) {
  message m;
  m.header.id = id;
  m.header.rd = true;
  m.questions.push_back(question{*name::parse(qname), type, rr_class::in});
  return m;
}

// The fake server's answer to `query`: same id and question, QR and RA set, one record for A
// (192.0.2.1) and AAAA (2001:db8::1) questions, none (NODATA) for other types.
inline message make_answer(const message& query) {
  message m;
  m.header = query.header;
  m.header.qr = true;
  m.header.ra = true;
  m.questions = query.questions;
  if (!query.questions.empty()) {
    const auto& q = query.questions.front();
    if (q.qtype == rr_type::a) {
      m.answers.push_back(record{q.qname, rr_type::a, rr_class::in, 300, rdata_a{{192, 0, 2, 1}}});
    } else if (q.qtype == rr_type::aaaa) {
      rdata_aaaa v6{{0x20, 0x01, 0x0d, 0xb8}};
      v6.address[15] = 1;
      m.answers.push_back(record{q.qname, rr_type::aaaa, rr_class::in, 300, v6});
    }
  }
  return m;
}

inline buffer to_wire(const message& m) {
  auto wire = encode(m);
  return buffer::copy_of(std::as_bytes(std::span(*wire)));
}

// ---- scripting ---------------------------------------------------------------------------------

// One query as the fake server received it.
struct fake_query {
  message query;  // as decoded; its id is the one the client chose
  server_address server;
  upstream_protocol protocol = upstream_protocol::udp;
  std::size_t number = 0;  // 0-based, over everything the fake received
  std::size_t stream = 0;  // 0-based: which connection (TCP) or channel (UDP) it came on
};

// What the fake server does with one query.
struct fake_reply {
  std::vector<buffer> messages;   // sent back in order (framed on TCP)
  clock::duration delay{};        // before sending them
  bool hold = false;              // kept until release_held()
  bool close_connection = false;  // TCP: the server hangs up after sending the messages

  static fake_reply answer(const message& query) { return of(make_answer(query)); }
  // Any message, e.g. make_answer(q) with header.tc set or set_rcode(3) (NXDOMAIN).
  static fake_reply of(const message& m) { return with(to_wire(m)); }
  static fake_reply drop() { return {}; }
  // A forged answer (another address, 198.51.100.66) with another id first (RFC 5452: the
  // client must drop it and go on).
  static fake_reply wrong_id_first(const message& query) {
    auto wrong = make_answer(query);
    wrong.header.id = static_cast<std::uint16_t>(wrong.header.id ^ 0x5a5a);
    wrong.answers.clear();
    wrong.answers.push_back(record{query.questions.front().qname, rr_type::a, rr_class::in, 300,
                                   rdata_a{{198, 51, 100, 66}}});
    auto r = with(to_wire(wrong));
    r.messages.push_back(to_wire(make_answer(query)));
    return r;
  }
  // An answer to another name, with the right id, first.
  static fake_reply wrong_question_first(const message& query) {
    auto wrong = make_answer(query);
    wrong.questions.front().qname = *name::parse("wrong.invalid");
    auto r = with(to_wire(wrong));
    r.messages.push_back(to_wire(make_answer(query)));
    return r;
  }
  // A copy of the query itself (QR clear, right id and question) first.
  static fake_reply echo_first(const message& query) {
    auto r = with(to_wire(query));
    r.messages.push_back(to_wire(make_answer(query)));
    return r;
  }
  // Octets that do not decode first.
  static fake_reply garbage_first(const message& query) {
    auto r = with(buffer::of_string("\x42\x42\x81"));
    r.messages.push_back(to_wire(make_answer(query)));
    return r;
  }
  static fake_reply delayed(const message& query, clock::duration d) {
    auto r = answer(query);
    r.delay = d;
    return r;
  }
  static fake_reply held(const message& query) {
    auto r = answer(query);
    r.hold = true;
    return r;
  }
  static fake_reply hang_up() {
    fake_reply r;
    r.close_connection = true;
    return r;
  }

  static fake_reply with(buffer m) {
    fake_reply r;
    r.messages.push_back(std::move(m));
    return r;
  }
};

using fake_behaviour = std::function<fake_reply(const fake_query&)>;

inline fake_behaviour answer_all() {
  return [](const fake_query& q) { return fake_reply::answer(q.query); };
}
inline fake_behaviour never_answer() {
  return [](const fake_query&) { return fake_reply::drop(); };
}
// Drops the first `n` queries the fake receives (counted over all servers), answers the rest.
inline fake_behaviour drop_first(std::size_t n) {
  return [n](const fake_query& q) {
    return q.number < n ? fake_reply::drop() : fake_reply::answer(q.query);
  };
}
inline fake_behaviour hold_all() {
  return [](const fake_query& q) { return fake_reply::held(q.query); };
}

// ---- the fake ----------------------------------------------------------------------------------

namespace detail {

// Where a reply goes: a UDP channel's receive queue or a TCP connection's writer.
struct reply_sink {
  virtual ~reply_sink() = default;
  virtual void deliver(buffer message) = 0;
  virtual void hang_up() = 0;
};

struct fake_state {
  fake_state(asio::any_io_executor ex, clock& t)
      : executor(ex), time(t), changed(ex), delays_cancelled(ex) {}

  asio::any_io_executor executor;
  clock& time;
  fake_behaviour behaviour = answer_all();
  std::map<server_address, fake_behaviour> per_server;
  std::vector<fake_query> received;
  std::map<server_address, std::size_t> per_server_count;
  std::size_t udp_queries = 0;
  std::size_t tcp_queries = 0;
  std::size_t malformed = 0;
  std::size_t connections_opened = 0;
  std::size_t channels_opened = 0;
  std::size_t open_flows = 0;
  std::size_t open_channels = 0;
  std::size_t tasks = 0;  // server coroutines still running
  std::size_t connect_failures = 0;
  std::error_code connect_error;
  std::size_t open_failures = 0;
  std::error_code open_error;
  std::size_t self_connected_opens = 0;
  std::size_t write_failures = 0;
  std::error_code write_error;
  struct held_reply {
    std::shared_ptr<reply_sink> sink;
    fake_reply reply;
  };
  std::vector<held_reply> held;
  std::vector<std::weak_ptr<reply_sink>> connections;
  wait_queue changed;
  bool shutting_down = false;
  wait_queue delays_cancelled;  // wakes the delayed replies at shutdown

  void note_change() { changed.notify_all(); }

  static void send(reply_sink& sink, const fake_reply& reply) {
    for (const auto& m : reply.messages) sink.deliver(m);
    if (reply.close_connection) sink.hang_up();
  }

  // Records a query that arrived on `sink` and carries out the behaviour's reply.
  static void on_query(const std::shared_ptr<fake_state>& self, std::shared_ptr<reply_sink> sink,
                       const buffer& wire, const server_address& server, upstream_protocol protocol,
                       std::size_t stream) {
    auto decoded = decode(wire);
    if (!decoded) {
      ++self->malformed;
      self->note_change();
      return;
    }
    fake_query q{std::move(*decoded), server, protocol, self->received.size(), stream};
    ++(protocol == upstream_protocol::udp ? self->udp_queries : self->tcp_queries);
    ++self->per_server_count[server];
    auto it = self->per_server.find(server);
    fake_reply reply = it != self->per_server.end() ? it->second(q) : self->behaviour(q);
    self->received.push_back(std::move(q));
    if (reply.hold) {
      self->held.push_back({std::move(sink), std::move(reply)});
    } else if (reply.delay != clock::duration{}) {
      ++self->tasks;
      asio::co_spawn(self->executor, send_later(self, std::move(sink), std::move(reply)),
                     asio::detached);
    } else {
      send(*sink, reply);
    }
    self->note_change();
  }

  static asio::awaitable<void> send_later(std::shared_ptr<fake_state> self,
                                          std::shared_ptr<reply_sink> sink, fake_reply reply) {
    using namespace asio::experimental::awaitable_operators;
    const auto due = self->time.now() + reply.delay;
    co_await (self->time.wait_until(due) || self->delays_cancelled.wait());
    if (!self->shutting_down) send(*sink, reply);
    --self->tasks;
    self->note_change();
  }
};

// The client's end of a datagram channel and the fake server's view of it.
struct channel_state final : reply_sink {
  explicit channel_state(asio::any_io_executor ex) : readable(ex) {}
  void deliver(buffer m) override {
    if (closed) return;
    inbox.push_back(std::move(m));
    readable.notify_all();
  }
  void hang_up() override {}

  std::deque<buffer> inbox;
  wait_queue readable;
  bool closed = false;
};

class fake_channel final : public datagram_channel {
 public:
  fake_channel(std::shared_ptr<fake_state> st, server_address server, std::size_t index,
               bool self_connected = false)
      : st_(std::move(st)),
        cs_(std::make_shared<channel_state>(st_->executor)),
        server_(std::move(server)),
        index_(index),
        self_connected_(self_connected) {}
  ~fake_channel() override { close(); }

  asio::awaitable<result<void>> send(buffer datagram) override {
    if (cs_->closed) co_return fail(flow_errc::closed);
    if (self_connected_) {
      // Connected to itself: what it sends comes back to it, and the server never sees it.
      cs_->deliver(std::move(datagram));
      co_return result<void>{};
    }
    fake_state::on_query(st_, cs_, datagram, server_, upstream_protocol::udp, index_);
    co_return result<void>{};
  }

  asio::awaitable<result<buffer>> receive() override {
    auto cs = cs_;
    // Like a socket's receive, this honours a cancellation that arrives while it waits, and
    // not one delivered before it started.
    while (cs->inbox.empty() && !cs->closed) {
      bool woken = co_await cs->readable.wait();
      if (!woken) co_return fail(asio::error::operation_aborted);
    }
    if (cs->closed) co_return fail(asio::error::operation_aborted);
    auto datagram = std::move(cs->inbox.front());
    cs->inbox.pop_front();
    co_return datagram;
  }

  std::optional<server_address> local_address() const override {
    if (self_connected_) return server_;
    server_address ephemeral = server_;
    ephemeral.port = static_cast<std::uint16_t>(40000 + index_ % 20000);
    return ephemeral;
  }

  void close() override {
    if (cs_->closed) return;
    cs_->closed = true;
    cs_->inbox.clear();
    cs_->readable.notify_all();
    --st_->open_channels;
    st_->note_change();
  }

 private:
  std::shared_ptr<fake_state> st_;
  std::shared_ptr<channel_state> cs_;
  server_address server_;
  std::size_t index_;
  bool self_connected_ = false;
};

// The client's end of a connection: a memory flow, counted while open, with write faults.
class fake_stream final : public flow_impl {
 public:
  fake_stream(std::shared_ptr<fake_state> st, flow inner)
      : flow_impl(st->executor), st_(std::move(st)), inner_(std::move(inner)) {}
  ~fake_stream() override { uncount(); }

  flow_impl* underlying() noexcept override { return &inner_.impl(); }
  std::string description() const override { return "fake upstream connection"; }

 protected:
  asio::awaitable<read_result> do_read() override { co_return co_await inner_.read(); }
  asio::awaitable<write_result> do_writev(std::span<const buffer> data) override {
    if (st_->write_failures > 0) {
      --st_->write_failures;
      co_return fail(st_->write_error);
    }
    co_return co_await inner_.writev(data);
  }
  asio::awaitable<void> do_shutdown_read() override {
    co_await inner_.shutdown(shutdown_mode::read);
  }
  asio::awaitable<void> do_shutdown_write() override {
    co_await inner_.shutdown(shutdown_mode::write);
  }
  asio::awaitable<void> do_close() override {
    uncount();
    co_await inner_.close();
  }

 private:
  void uncount() {
    if (!counted_) return;
    counted_ = false;
    --st_->open_flows;
    st_->note_change();
  }

  std::shared_ptr<fake_state> st_;
  flow inner_;
  bool counted_ = true;
};

// The fake server's end of one connection.
struct server_connection final : reply_sink {
  explicit server_connection(asio::any_io_executor ex, flow f) : end(std::move(f)), wake(ex) {}
  void deliver(buffer m) override {
    out.emplace_back(std::move(m));
    wake.notify_all();
  }
  void hang_up() override {
    out.emplace_back(std::nullopt);
    wake.notify_all();
  }

  flow end;
  std::deque<std::optional<buffer>> out;  // nullopt: hang up here
  wait_queue wake;
};

inline asio::awaitable<void> serve_reads(std::shared_ptr<fake_state> st,
                                         std::shared_ptr<server_connection> conn,
                                         server_address server, std::size_t index) {
  for (;;) {
    auto framed = co_await read_tcp_message(conn->end);
    if (!framed || !*framed) break;
    fake_state::on_query(st, conn, **framed, server, upstream_protocol::tcp, index);
  }
  conn->hang_up();
  --st->tasks;
  st->note_change();
}

inline asio::awaitable<void> serve_writes(std::shared_ptr<fake_state> st,
                                          std::shared_ptr<server_connection> conn) {
  for (;;) {
    while (conn->out.empty()) co_await conn->wake.wait();
    auto next = std::move(conn->out.front());
    conn->out.pop_front();
    if (!next) break;
    auto written = co_await write_tcp_message(conn->end, std::move(*next));
    if (!written) break;
  }
  co_await conn->end.close();
  --st->tasks;
  st->note_change();
}

}  // namespace detail

class fake_upstream final : public upstream_transport {
 public:
  explicit fake_upstream(asio::any_io_executor executor, clock& time = clock::steady())
      : st_(std::make_shared<detail::fake_state>(std::move(executor), time)) {}

  // The clock the fake's delays run on, for the components under test.
  clock& time() const noexcept { return st_->time; }

  // The address to give make_upstream when one server is enough: 192.0.2.53#53.
  server_address address() const { return {asio::ip::make_address("192.0.2.53"), 53}; }

  // The behaviour for every server without one of its own (default: answer_all()).
  void set_behaviour(fake_behaviour b) { st_->behaviour = std::move(b); }
  void set_behaviour(const server_address& server, fake_behaviour b) {
    st_->per_server[server] = std::move(b);
  }

  // ---- upstream_transport
  asio::awaitable<result<flow>> connect_stream(const server_address& server) override {
    auto st = st_;
    if (st->connect_failures > 0) {
      --st->connect_failures;
      co_return fail(st->connect_error);
    }
    auto [client, server_end] = memory_pair(st->executor);
    auto conn = std::make_shared<detail::server_connection>(st->executor, std::move(server_end));
    std::size_t index = st->connections_opened++;
    ++st->open_flows;
    st->connections.push_back(conn);
    st->tasks += 2;
    asio::co_spawn(st->executor, detail::serve_reads(st, conn, server, index), asio::detached);
    asio::co_spawn(st->executor, detail::serve_writes(st, conn), asio::detached);
    st->note_change();
    co_return make_flow<detail::fake_stream>(st, std::move(client));
  }

  result<std::unique_ptr<datagram_channel>> open_datagram(const server_address& server) override {
    if (st_->open_failures > 0) {
      --st_->open_failures;
      return fail(st_->open_error);
    }
    std::size_t index = st_->channels_opened++;
    ++st_->open_channels;
    st_->note_change();
    bool self_connected = st_->self_connected_opens > 0;
    if (self_connected) --st_->self_connected_opens;
    return std::unique_ptr<datagram_channel>(
        std::make_unique<detail::fake_channel>(st_, server, index, self_connected));
  }

  // ---- faults
  void fail_connects(std::size_t count, std::error_code ec) {
    st_->connect_failures = count;
    st_->connect_error = ec;
  }
  void fail_opens(std::size_t count, std::error_code ec) {
    st_->open_failures = count;
    st_->open_error = ec;
  }
  // The next `count` datagram channels are connected to themselves, as a kernel socket is when
  // its random source port is the (dead) server's port: local_address() is the server's, and
  // what they send comes back to them.
  void self_connect_opens(std::size_t count) { st_->self_connected_opens = count; }
  // The next `count` writes on client connections fail with `ec` (the flow is then failed).
  void fail_client_writes(std::size_t count, std::error_code ec) {
    st_->write_failures = count;
    st_->write_error = ec;
  }
  // The server hangs up every open connection, after what it has already queued.
  void close_connections() {
    for (auto& weak : st_->connections) {
      if (auto conn = weak.lock()) conn->hang_up();
    }
  }

  // Sends the held replies, oldest first or newest first; returns how many.
  std::size_t release_held(bool newest_first = false) {
    auto held = std::exchange(st_->held, {});
    if (newest_first) std::reverse(held.begin(), held.end());
    for (auto& h : held) detail::fake_state::send(*h.sink, h.reply);
    return held.size();
  }

  // ---- counters
  std::size_t queries_received() const noexcept { return st_->received.size(); }
  std::size_t queries_received(const server_address& server) const {
    auto it = st_->per_server_count.find(server);
    return it == st_->per_server_count.end() ? 0 : it->second;
  }
  std::size_t udp_queries() const noexcept { return st_->udp_queries; }
  std::size_t tcp_queries() const noexcept { return st_->tcp_queries; }
  std::size_t malformed_queries() const noexcept { return st_->malformed; }
  std::size_t connections_opened() const noexcept { return st_->connections_opened; }
  std::size_t channels_opened() const noexcept { return st_->channels_opened; }
  std::size_t open_flows() const noexcept { return st_->open_flows; }
  std::size_t open_channels() const noexcept { return st_->open_channels; }
  std::size_t held() const noexcept { return st_->held.size(); }
  const std::vector<fake_query>& received() const noexcept { return st_->received; }

  // ---- waiting
  // Waits until `condition` holds, re-checking whenever the fake's state changes. False when
  // cancelled first (wrap it in with_timeout to bound it).
  asio::awaitable<bool> wait_until(std::function<bool()> condition) {
    auto st = st_;
    while (!condition()) {
      auto cancel = co_await asio::this_coro::cancellation_state;
      if (cancel.cancelled() != asio::cancellation_type::none) co_return false;
      bool woken = co_await st->changed.wait();
      if (!woken) co_return false;
    }
    co_return true;
  }
  asio::awaitable<bool> wait_for_queries(std::size_t n) {
    auto st = st_;
    while (st->received.size() < n) {
      auto cancel = co_await asio::this_coro::cancellation_state;
      if (cancel.cancelled() != asio::cancellation_type::none) co_return false;
      bool woken = co_await st->changed.wait();
      if (!woken) co_return false;
    }
    co_return true;
  }

  // Ends the fake server: drops held replies, cancels delayed ones, hangs up every connection
  // and waits for its coroutines to finish.
  asio::awaitable<void> shutdown() {
    auto st = st_;
    st->held.clear();
    st->shutting_down = true;
    st->delays_cancelled.notify_all();
    close_connections();
    while (st->tasks > 0) co_await st->changed.wait();
  }

 private:
  std::shared_ptr<detail::fake_state> st_;
};

}  // namespace flowstack::dns::test
