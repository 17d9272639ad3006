#include <flowstack/core/combinators.hpp>
#include <flowstack/core/wait_queue.hpp>
#include <flowstack/dns/framing.hpp>
#include <flowstack/dns/upstream.hpp>

#include "query_id.hpp"
#include "timers.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/this_coro.hpp>

#include <algorithm>
#include <deque>
#include <list>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace flowstack::dns {
namespace {

// RFC 5452 §9.1: an answer is taken only when its id, its question (name compared without
// regard to case, type, class) and its QR bit all match; anything else may be spoofed.
bool is_answer_to(const message& answer, std::uint16_t id, const question& asked) {
  return answer.header.qr && answer.header.id == id && answer.questions.size() == 1 &&
         answer.questions.front() == asked;
}

// Asio delivers a cancellation once, to the operation pending at that moment. When that
// operation had already completed, the signal is only recorded in the coroutine's state, so
// every loop that starts a new wait checks it first (or a with_timeout would never return).
asio::awaitable<bool> cancellation_requested() {
  auto state = co_await asio::this_coro::cancellation_state;
  co_return state.cancelled() != asio::cancellation_type::none;
}

// The query's wire form with `id` in place of the caller's: a copy, so that a frame still held
// by an older attempt is never changed under it.
buffer with_id(const std::vector<std::uint8_t>& wire, std::uint16_t id) {
  auto out = buffer::copy_of(std::as_bytes(std::span(wire)));
  out.set_be16(0, id);
  return out;
}

// What a query needs before it goes out: its one question and the caller's id (to match and to
// restore), and its wire form.
struct outgoing {
  question asked;
  std::uint16_t caller_id = 0;
  std::vector<std::uint8_t> wire;
};

result<outgoing> prepare(const message& query) {
  if (query.questions.size() != 1) return fail(flow_errc::invalid_argument);
  auto wire = encode(query);
  if (!wire) return fail(wire.error());
  return outgoing{query.questions.front(), query.header.id, std::move(*wire)};
}

// What both kinds share: the in-flight cap with its queue, query ids, close() and the count of
// callers still inside query().
class upstream_base : public upstream {
 public:
  upstream_base(asio::any_io_executor executor, server_address server,
                upstream_transport& transport, upstream_options options, clock& time)
      : executor_(executor),
        server_(std::move(server)),
        transport_(transport),
        options_(options),
        time_(time),
        // Ids are 16 bits: more queries in flight than ids would wait for an id forever.
        cap_(std::clamp<std::size_t>(options.max_in_flight, 1, 0xffff)),
        slots_(executor),
        drained_(executor) {}

  const server_address& address() const noexcept override { return server_; }
  std::size_t in_flight() const noexcept override { return in_flight_; }

 protected:
  // Counts a caller inside query(), so that close() can wait for every one to leave.
  class caller_guard {
   public:
    explicit caller_guard(upstream_base& u) : u_(u) { ++u_.callers_; }
    caller_guard(const caller_guard&) = delete;
    caller_guard& operator=(const caller_guard&) = delete;
    ~caller_guard() {
      if (--u_.callers_ == 0) u_.drained_.notify_all();
    }

   private:
    upstream_base& u_;
  };

  // One of the max_in_flight slots, taken by acquire_slot().
  class slot_guard {
   public:
    explicit slot_guard(upstream_base& u) : u_(u) {}
    slot_guard(const slot_guard&) = delete;
    slot_guard& operator=(const slot_guard&) = delete;
    ~slot_guard() {
      --u_.in_flight_;
      u_.slots_.notify_one();
    }

   private:
    upstream_base& u_;
  };

  // A query id held while the query is in flight.
  class id_guard {
   public:
    id_guard(upstream_base& u, std::uint16_t id) : u_(u), id_(id) {}
    id_guard(const id_guard&) = delete;
    id_guard& operator=(const id_guard&) = delete;
    ~id_guard() { u_.ids_in_flight_.erase(id_); }
    std::uint16_t id() const noexcept { return id_; }

   private:
    upstream_base& u_;
    std::uint16_t id_;
  };

  // Waits for a turn when max_in_flight queries are already out (back-pressure). On success the
  // caller owns one slot and must hold a slot_guard for it.
  asio::awaitable<result<void>> acquire_slot() {
    while (!closed_ && in_flight_ >= cap_) {
      bool stop = co_await cancellation_requested();
      if (stop) co_return fail(flow_errc::cancelled);
      bool woken = co_await slots_.wait();
      if (!woken) co_return fail(flow_errc::cancelled);
    }
    if (closed_) co_return fail(flow_errc::closed);
    ++in_flight_;
    co_return result<void>{};
  }

  result<std::uint16_t> allocate_id() { return ids_.allocate(ids_in_flight_); }

  // Wakes the callers waiting for a slot; they see closed_ and leave.
  void begin_close() {
    closed_ = true;
    slots_.notify_all();
  }

  // Waits until no caller is inside query() any more.
  asio::awaitable<void> wait_for_callers() {
    while (callers_ > 0) {
      bool woken = co_await drained_.wait();
      if (!woken) co_return;
    }
  }

  asio::any_io_executor executor_;
  server_address server_;
  upstream_transport& transport_;
  upstream_options options_;
  clock& time_;
  std::size_t cap_;
  bool closed_ = false;

 private:
  std::size_t in_flight_ = 0;
  std::size_t callers_ = 0;
  wait_queue slots_;
  wait_queue drained_;
  detail::query_id_source ids_;
  std::unordered_set<std::uint16_t> ids_in_flight_;
};

// ---- UDP ---------------------------------------------------------------------------------------

// Waits for the datagram that answers the query; drops every other one (RFC 5452 §9.1).
asio::awaitable<result<message>> receive_answer(datagram_channel& channel, std::uint16_t id,
                                                const question& asked) {
  // This runs as a child of an awaitable operator: a cancellation must end it with an error
  // value, not an exception.
  co_await asio::this_coro::throw_if_cancelled(false);
  for (;;) {
    bool stop = co_await cancellation_requested();
    if (stop) co_return fail(flow_errc::cancelled);
    auto datagram = co_await channel.receive();
    if (!datagram) co_return fail(datagram.error());
    auto answer = decode(*datagram);
    if (answer && is_answer_to(*answer, id, asked)) co_return std::move(*answer);
  }
}

// Sends the query again as `schedule` says, on `time`. Ends only with an error: a failed send,
// or a cancellation once the answer has come.
asio::awaitable<result<message>> resend(datagram_channel& channel, const buffer& datagram,
                                        clock& time, detail::resend_schedule schedule) {
  co_await asio::this_coro::throw_if_cancelled(false);
  for (;;) {
    bool stop = co_await cancellation_requested();
    if (stop) co_return fail(flow_errc::cancelled);
    bool woken = co_await time.wait_until(schedule.next_deadline());
    if (!woken) co_return fail(flow_errc::cancelled);
    if (!schedule.due(time.now())) continue;
    auto sent = co_await channel.send(datagram);
    if (!sent) co_return fail(sent.error());
  }
}

class udp_upstream final : public upstream_base {
 public:
  using upstream_base::upstream_base;

  ~udp_upstream() override {
    for (auto& entry : channels_) close_channel(entry);
  }

  asio::awaitable<result<message>> query(const message& query) override;
  asio::awaitable<void> close() override;

 private:
  // A fresh channel that is not connected to itself. A self-connected one is closed at once,
  // so the server's port is free again when it comes back, and another is opened: the kernel
  // picks source ports at random, so a second pick lands on the same port only when the
  // ephemeral range is that small.
  result<std::unique_ptr<datagram_channel>> open_channel() {
    constexpr int attempts = 3;
    for (int i = 0; i < attempts; ++i) {
      auto opened = transport_.open_datagram(server_);
      if (!opened) return opened;
      auto local = (*opened)->local_address();
      if (!local || *local != server_) return opened;
      (*opened)->close();
    }
    return fail(dns_errc::self_connected);
  }

  struct channel_entry {
    std::unique_ptr<datagram_channel> channel;
    bool closed = false;
  };

  // The channel of one query: known to close(), closed and freed when the query ends however
  // it ends.
  class channel_guard {
   public:
    channel_guard(udp_upstream& u, std::unique_ptr<datagram_channel> channel)
        : u_(u), entry_(u.channels_.insert(u.channels_.end(), channel_entry{std::move(channel)})) {}
    channel_guard(const channel_guard&) = delete;
    channel_guard& operator=(const channel_guard&) = delete;
    ~channel_guard() {
      close_channel(*entry_);
      u_.channels_.erase(entry_);
    }
    datagram_channel& operator*() const noexcept { return *entry_->channel; }

   private:
    udp_upstream& u_;
    std::list<channel_entry>::iterator entry_;
  };

  static void close_channel(channel_entry& entry) {
    if (entry.closed) return;
    entry.closed = true;
    entry.channel->close();
  }

  std::list<channel_entry> channels_;
};

asio::awaitable<result<message>> udp_upstream::query(const message& query) {
  caller_guard caller(*this);
  auto out = prepare(query);
  if (!out) co_return fail(out.error());
  const question& asked = out->asked;

  auto got_slot = co_await acquire_slot();
  if (!got_slot) co_return fail(got_slot.error());
  slot_guard slot(*this);
  auto id = allocate_id();
  if (!id) co_return fail(id.error());
  id_guard id_held(*this, *id);
  const buffer datagram = with_id(out->wire, *id);

  // A fresh channel per query: a fresh random source port (RFC 5452 §9.2).
  auto opened = open_channel();
  if (!opened) co_return fail(opened.error());
  channel_guard channel(*this, std::move(*opened));

  auto sent = co_await (*channel).send(datagram);
  if (closed_) co_return fail(flow_errc::closed);
  if (!sent) co_return fail(sent.error());

  bool stop = co_await cancellation_requested();
  if (stop) co_return fail(flow_errc::cancelled);
  using namespace asio::experimental::awaitable_operators;
  const detail::resend_schedule schedule(time_.now(), options_.resend_interval);
  auto raced = co_await (receive_answer(*channel, *id, asked) ||
                         resend(*channel, datagram, time_, schedule));
  if (closed_) co_return fail(flow_errc::closed);
  result<message> answer =
      raced.index() == 0 ? std::move(std::get<0>(raced)) : std::move(std::get<1>(raced));
  if (answer) answer->header.id = out->caller_id;
  co_return answer;
}

asio::awaitable<void> udp_upstream::close() {
  begin_close();
  // A receive pending on a closed channel ends with operation_aborted; its query then sees
  // closed_ and fails `closed`.
  for (auto& entry : channels_) close_channel(entry);
  co_await wait_for_callers();
}

// ---- TCP ---------------------------------------------------------------------------------------

// One query waiting on a connection, owned by its query() call.
struct pending_query {
  pending_query(asio::any_io_executor executor, question q)
      : asked(std::move(q)), done(std::move(executor)) {}
  question asked;
  std::optional<result<message>> outcome;
  bool sent = false;   // its frame was written
  bool retry = false;  // the connection failed before the frame was sent
  wait_queue done;
};

// One connection and the three tasks that serve it: a writer (frames from every query, in
// order), a reader (answers dispatched by id) and an idle watcher. The tasks hold the
// connection, never the upstream, so they may finish after the upstream is gone; the clock
// outlives them all.
struct tcp_connection {
  tcp_connection(asio::any_io_executor executor, flow s, clock& t, clock::duration idle_timeout)
      : stream(std::move(s)),
        writer_wake(executor),
        time(t),
        idle(idle_timeout, t.now()),
        idle_changed(executor),
        tasks_done(executor) {}

  void add(std::uint16_t id, pending_query* p, buffer frame) {
    pending.emplace(id, p);
    outgoing.emplace_back(id, std::move(frame));
    if (idle.is_idle()) {
      idle.busy();
      idle_changed.notify_all();
    }
    writer_wake.notify_one();
  }

  // The query with `id` no longer waits (answered, failed or cancelled).
  void remove(std::uint16_t id) {
    bool removed = pending.erase(id) != 0;
    auto queued = std::find_if(outgoing.begin(), outgoing.end(),
                               [id](const auto& entry) { return entry.first == id; });
    if (queued != outgoing.end()) {
      outgoing.erase(queued);
      removed = true;
    }
    if (removed) arm_idle_timer();
  }

  void answer(std::unordered_map<std::uint16_t, pending_query*>::iterator it, message m) {
    pending_query* p = it->second;
    pending.erase(it);
    p->outcome.emplace(std::move(m));
    p->done.notify_one();
    arm_idle_timer();
  }

  // RFC 7766 §6.2.1: every query still waiting on a connection that ended fails with it.
  void end(std::error_code ec) {
    if (ended) return;
    ended = true;
    for (auto& [id, p] : pending) {
      p->retry = !p->sent;
      p->outcome.emplace(fail(ec));
      p->done.notify_one();
    }
    pending.clear();
    outgoing.clear();
    idle_changed.notify_all();
    writer_wake.notify_all();
  }

  void arm_idle_timer() {
    if (ended || !pending.empty() || !outgoing.empty()) return;
    idle.idle(time.now());
    idle_changed.notify_all();
  }

  void task_finished() {
    --tasks;
    tasks_done.notify_all();
  }

  flow stream;
  std::deque<std::pair<std::uint16_t, buffer>> outgoing;  // frames not yet handed to the flow
  std::unordered_map<std::uint16_t, pending_query*> pending;
  wait_queue writer_wake;
  clock& time;
  detail::idle_timer idle;
  wait_queue idle_changed;  // idle became busy or the other way, or the connection ended
  bool ended = false;
  int tasks = 0;
  wait_queue tasks_done;
};

// Writes queued frames, gathering what has piled up into one writev; closes the flow once the
// connection has ended, which also ends the reader's pending read.
asio::awaitable<void> write_frames(std::shared_ptr<tcp_connection> conn) {
  constexpr std::size_t max_batch = 64;
  std::vector<buffer> parts;
  std::vector<std::uint16_t> ids;
  for (;;) {
    while (conn->outgoing.empty() && !conn->ended) co_await conn->writer_wake.wait();
    if (conn->ended) break;
    parts.clear();
    ids.clear();
    while (!conn->outgoing.empty() && ids.size() < max_batch) {
      auto& [id, frame] = conn->outgoing.front();
      // RFC 1035 §4.2.2: two octets of length before each message.
      auto prefix = buffer::create(2);
      prefix.set_be16(0, static_cast<std::uint16_t>(frame.size()));
      parts.push_back(std::move(prefix));
      parts.push_back(std::move(frame));
      ids.push_back(id);
      conn->outgoing.pop_front();
    }
    auto written = co_await conn->stream.writev(parts);
    if (!written) {
      conn->end(written.error());
      break;
    }
    for (auto id : ids) {
      auto it = conn->pending.find(id);
      if (it != conn->pending.end()) it->second->sent = true;
    }
  }
  co_await conn->stream.close();
  conn->task_finished();
}

// Reads answers and hands each to the query with its id, when it answers that query's question.
asio::awaitable<void> read_answers(std::shared_ptr<tcp_connection> conn) {
  for (;;) {
    auto framed = co_await read_tcp_message(conn->stream);
    if (!framed) {
      conn->end(framed.error());
      break;
    }
    if (!*framed) {
      conn->end(make_error_code(flow_errc::closed));
      break;
    }
    auto answer = decode(**framed);
    if (!answer) continue;
    auto it = conn->pending.find(answer->header.id);
    if (it == conn->pending.end() || !is_answer_to(*answer, it->first, it->second->asked)) continue;
    conn->answer(it, std::move(*answer));
  }
  conn->writer_wake.notify_all();
  conn->task_finished();
}

// Ends the connection once it has carried nothing for idle_timeout (RFC 7766 §6.2.3: clients
// close idle connections).
asio::awaitable<void> close_when_idle(std::shared_ptr<tcp_connection> conn) {
  using namespace asio::experimental::awaitable_operators;
  while (!conn->ended) {
    if (conn->idle.expired(conn->time.now())) {
      conn->end(make_error_code(flow_errc::closed));
      break;
    }
    if (auto deadline = conn->idle.deadline()) {
      co_await (conn->time.wait_until(*deadline) || conn->idle_changed.wait());
    } else {
      co_await conn->idle_changed.wait();
    }
  }
  conn->task_finished();
}

class tcp_upstream final : public upstream_base {
 public:
  tcp_upstream(asio::any_io_executor executor, server_address server, upstream_transport& transport,
               upstream_options options, clock& time)
      : upstream_base(executor, std::move(server), transport, options, time),
        connected_(executor) {}

  ~tcp_upstream() override {
    // Without close(): the tasks end on their own, holding only their connection.
    for (auto& c : connections_) c->end(make_error_code(flow_errc::closed));
  }

  asio::awaitable<result<message>> query(const message& query) override;
  asio::awaitable<void> close() override;

 private:
  // A query registered on a connection until it ends.
  class registration {
   public:
    registration(std::shared_ptr<tcp_connection> conn, std::uint16_t id, pending_query* p,
                 buffer frame)
        : conn_(std::move(conn)), id_(id) {
      conn_->add(id_, p, std::move(frame));
    }
    registration(const registration&) = delete;
    registration& operator=(const registration&) = delete;
    ~registration() { conn_->remove(id_); }

   private:
    std::shared_ptr<tcp_connection> conn_;
    std::uint16_t id_;
  };

  asio::awaitable<result<std::shared_ptr<tcp_connection>>> connection();

  std::shared_ptr<tcp_connection> current_;
  std::vector<std::shared_ptr<tcp_connection>> connections_;  // every one whose tasks may run
  bool connecting_ = false;
  std::uint64_t connect_attempts_ = 0;
  std::error_code connect_error_;  // of the last attempt
  wait_queue connected_;
};

// The open connection, or a new one. Queries that arrive while one is being opened wait for
// it, and share its failure rather than each trying again.
asio::awaitable<result<std::shared_ptr<tcp_connection>>> tcp_upstream::connection() {
  for (;;) {
    if (closed_) co_return fail(flow_errc::closed);
    if (current_ && !current_->ended) co_return current_;
    if (!connecting_) break;
    const std::uint64_t attempt = connect_attempts_;
    while (connecting_ && attempt == connect_attempts_ && !closed_) {
      bool stop = co_await cancellation_requested();
      if (stop) co_return fail(flow_errc::cancelled);
      bool woken = co_await connected_.wait();
      if (!woken) co_return fail(flow_errc::cancelled);
    }
    if (attempt != connect_attempts_ && connect_error_) co_return fail(connect_error_);
  }

  struct connecting_guard {
    tcp_upstream& u;
    explicit connecting_guard(tcp_upstream& up) : u(up) { u.connecting_ = true; }
    ~connecting_guard() {
      u.connecting_ = false;
      ++u.connect_attempts_;
      u.connected_.notify_all();
    }
  };
  result<flow> stream;
  {
    connecting_guard guard(*this);
    stream = co_await transport_.connect_stream(server_);
    connect_error_ = stream ? std::error_code{} : stream.error();
  }
  if (!stream) co_return fail(stream.error());
  if (closed_) {
    co_await stream->close();
    co_return fail(flow_errc::closed);
  }

  std::erase_if(connections_, [](const auto& c) { return c->tasks == 0; });
  auto conn =
      std::make_shared<tcp_connection>(executor_, std::move(*stream), time_, options_.idle_timeout);
  current_ = conn;
  connections_.push_back(conn);
  conn->tasks = 3;
  asio::co_spawn(executor_, write_frames(conn), asio::detached);
  asio::co_spawn(executor_, read_answers(conn), asio::detached);
  asio::co_spawn(executor_, close_when_idle(conn), asio::detached);
  co_return conn;
}

asio::awaitable<result<message>> tcp_upstream::query(const message& query) {
  caller_guard caller(*this);
  auto out = prepare(query);
  if (!out) co_return fail(out.error());
  if (out->wire.size() > 0xffff) co_return fail(make_error_code(dns_errc::message_too_large));
  const question& asked = out->asked;

  auto got_slot = co_await acquire_slot();
  if (!got_slot) co_return fail(got_slot.error());
  slot_guard slot(*this);

  for (int attempt = 0;; ++attempt) {
    auto got = co_await connection();
    if (!got) co_return fail(got.error());
    std::shared_ptr<tcp_connection> conn = std::move(*got);
    if (conn->ended) continue;  // ended while this caller was being resumed
    auto id = allocate_id();
    if (!id) co_return fail(id.error());
    id_guard id_held(*this, *id);
    pending_query pending(executor_, asked);
    registration registered(conn, *id, &pending, with_id(out->wire, *id));
    while (!pending.outcome) {
      bool stop = co_await cancellation_requested();
      if (stop) co_return fail(flow_errc::cancelled);
      bool woken = co_await pending.done.wait();
      if (!woken) co_return fail(flow_errc::cancelled);
    }
    if (closed_) co_return fail(flow_errc::closed);
    // A write that failed before this query's frame went out: one more try on a new
    // connection. A query already sent fails with its connection (it may have been answered).
    if (!*pending.outcome && pending.retry && attempt == 0) continue;
    result<message> answer = std::move(*pending.outcome);
    if (answer) answer->header.id = out->caller_id;
    co_return answer;
  }
}

asio::awaitable<void> tcp_upstream::close() {
  begin_close();
  connected_.notify_all();
  for (auto& c : connections_) c->end(make_error_code(flow_errc::closed));
  for (auto& c : connections_) {
    while (c->tasks > 0) {
      bool woken = co_await c->tasks_done.wait();
      if (!woken) co_return;
    }
  }
  connections_.clear();
  current_.reset();
  co_await wait_for_callers();
}

}  // namespace

std::unique_ptr<upstream> make_upstream(asio::any_io_executor executor, upstream_protocol protocol,
                                        server_address server, upstream_transport& transport,
                                        upstream_options options, clock& time) {
  if (protocol == upstream_protocol::udp) {
    return std::make_unique<udp_upstream>(std::move(executor), std::move(server), transport,
                                          options, time);
  }
  return std::make_unique<tcp_upstream>(std::move(executor), std::move(server), transport, options,
                                        time);
}

}  // namespace flowstack::dns
