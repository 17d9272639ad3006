#include "cat.hpp"

#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <flowstack/core/combinators.hpp>
#include <flowstack/core/wait_queue.hpp>
#include <list>
#include <memory>

namespace flowstack::cli {
namespace {

constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);
using clock = std::chrono::steady_clock;

constexpr std::size_t default_max_children = 64;
constexpr std::size_t default_max_handshakes = 128;

// True while --progress has a line on the terminal without its newline.
bool progress_line_open = false;

void say(const std::string& line) {
  if (progress_line_open) std::fputs("\r\033[K", stderr);
  progress_line_open = false;
  std::fprintf(stderr, "flowstack cat: %s\n", line.c_str());
}

std::string reason(const std::error_code& ec) {
  return in_our_voice(ec.message());
}

std::string format_bytes(double n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (n >= 1024 && unit < 4) {
    n /= 1024;
    ++unit;
  }
  char out[32];
  if (unit == 0)
    std::snprintf(out, sizeof out, "%.0f %s", n, units[unit]);
  else
    std::snprintf(out, sizeof out, "%.1f %s", n, units[unit]);
  return out;
}

std::string format_rate(double bytes, double seconds) {
  if (seconds <= 0) return "- B/s";
  return format_bytes(bytes / seconds) + "/s";
}

double seconds_of(clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

const copy_stats& stats_of(const copy_result& r) {
  return r ? *r : r.error().stats;
}

// One relay between two flows, known to the stopper so that a signal can close its flows.
struct session {
  explicit session(asio::any_io_executor executor) : closers_done(std::move(executor)) {}
  flow* a = nullptr;
  flow* b = nullptr;
  copy_stats ab;  // live counts for --progress
  copy_stats ba;
  int closers = 0;  // stoppers closing this session's flows right now
  wait_queue closers_done;
};

// The handshake of the first address's layers over one accepted flow, while it runs.
struct handshake {
  explicit handshake(asio::any_io_executor executor) : abandon(std::move(executor)) {}
  bool abandoned = false;
  wait_queue abandon;  // notified when abandoned
};

// The second address when it is a listener: one peer is taken, later ones are turned away.
struct accept_once {
  bool taken = false;
  bool done = false;
  listening* listener = nullptr;
};

class relay {
 public:
  relay(asio::io_context& io, const address& first, const address& second, cat_options options)
      : io_(io),
        first_(first),
        second_(second),
        options_(options),
        signals_(io, SIGINT, SIGTERM),
        changed_(io.get_executor()),
        progress_timer_(io),
        stop_timer_(io),
        stack_(options.stack) {}

  int run() {
    auto done = [this](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& what) {
          say(std::string("internal error: ") + what.what());
        } catch (...) {
          say("internal error");
        }
        status_ = exit_failure;
      }
      finish();
    };
    asio::co_spawn(io_, main(), done);
    asio::co_spawn(io_, watch_signals(), asio::detached);
    if (options_.progress && ::isatty(STDERR_FILENO)) {
      asio::co_spawn(io_, show_progress(), asio::detached);
    }
    io_.run();
    if (signal_ != 0) return 128 + signal_;
    return status_;
  }

 private:
  void finish() {
    finished_ = true;
    std::error_code ignored;
    signals_.cancel(ignored);
    progress_timer_.cancel();
    stop_timer_.cancel();
    changed_.notify_all();
    if (options_.verbose && stack_.running()) {
      std::string lines = stack_.counters();
      for (std::size_t at = 0, end; (end = lines.find('\n', at)) != std::string::npos; at = end + 1)
        say("userspace stack " + lines.substr(at, end - at));
    }
    // Its loops run while it exists: dropped, it ends once its flows have, and so does run().
    stack_.release();
  }

  void failed(const std::string& message) {
    say(message);
    status_ = exit_failure;
  }

  // A session's failure: with fork it is one peer's, reported while the others go on; without,
  // the program's.
  void session_failed(const std::string& message) {
    if (first_.transport.has("fork"))
      say(message);
    else
      failed(message);
  }

  // Runs one step of a session. An exception thrown in it (a kind, or a library call that
  // throws where flowstack expects an error value) ends that session only and is reported as
  // its failure; the caller releases what the session holds afterwards, which it can do with
  // co_await here and not in a handler.
  asio::awaitable<void> contained(asio::awaitable<void> step, std::string what) {
    try {
      co_await std::move(step);
    } catch (const std::exception& e) {
      session_failed(what + " failed: " + e.what());
    } catch (...) {
      session_failed(what + " failed: unknown exception");
    }
  }

  // A max-children place, held while a relay runs, and given back however it ends.
  class slot {
   public:
    explicit slot(relay& r) : r_(r) { ++r_.active_; }
    slot(const slot&) = delete;
    slot& operator=(const slot&) = delete;
    ~slot() {
      --r_.active_;
      r_.changed_.notify_all();
    }

   private:
    relay& r_;
  };

  // An entry in a list the signal watcher or the handshake bound walks (sessions, second
  // listeners, handshakes), removed however its owner ends; removing it earlier is allowed.
  template <typename T>
  class listed {
   public:
    listed(std::list<T*>& list, T& item) : list_(list), item_(&item) { list.push_back(item_); }
    listed(const listed&) = delete;
    listed& operator=(const listed&) = delete;
    ~listed() { list_.remove(item_); }

   private:
    std::list<T*>& list_;
    T* item_;
  };

  open_context context(bool accepted) {
    return open_context{io_.get_executor(), accepted, &stack_};
  }

  // Each address's layers, opened once for all of its connections.
  bool open_layers() {
    return open_layers_of(first_, first_layers_) && open_layers_of(second_, second_layers_);
  }

  bool open_layers_of(const address& addr, std::vector<std::unique_ptr<layer>>& into) {
    for (const endpoint& ep : addr.layers) {
      auto opened = ep.kind->open_layer(ep, context(addr.is_listener()));
      if (!opened) {
        failed(addr.text + ": " + reason(opened.error()));
        return false;
      }
      into.push_back(std::move(*opened));
    }
    return true;
  }

  const std::vector<std::unique_ptr<layer>>& layers_of(const address& addr) const {
    return &addr == &first_ ? first_layers_ : second_layers_;
  }

  asio::awaitable<void> main() {
    if (!open_layers()) co_return;
    if (first_.is_listener()) {
      co_await serve_listener();
      co_return;
    }
    result<flow> a = fail(flow_errc::closed);
    auto opening = open_first(a);
    co_await contained(std::move(opening), "opening " + first_.text);
    if (!a) co_return;
    co_await serve(*a);
    co_await a->close();
  }

  asio::awaitable<void> open_first(result<flow>& a) {
    a = co_await open_connector(first_, context(false));
    if (!a) failed(first_.text + ": " + reason(a.error()));
  }

  // The layers of `addr` around `f`, innermost first.
  asio::awaitable<result<flow>> wrap_layers(const address& addr, flow f) {
    const auto& layers = layers_of(addr);
    for (std::size_t i = layers.size(); i-- > 0;) {
      auto wrapped = co_await layers[i]->wrap(std::move(f));
      if (!wrapped) co_return wrapped;
      f = std::move(*wrapped);
      if (options_.verbose) {
        if (auto line = layers[i]->agreed(f); !line.empty()) say(line);
      }
    }
    co_return f;
  }

  asio::awaitable<result<flow>> open_connector(const address& addr, open_context ctx) {
    auto f = co_await addr.transport.kind->connect(addr.transport, ctx);
    if (!f) co_return f;
    auto wrapped = co_await wrap_layers(addr, std::move(*f));
    co_return wrapped;
  }

  // Relays of the first address's peers at once.
  std::size_t max_children() const {
    const endpoint& ep = first_.transport;
    if (!ep.has("fork")) return 1;
    return static_cast<std::size_t>(ep.value("max-children").value_or(default_max_children));
  }

  // Handshakes of the first address's layers in progress at once (with fork); they are not
  // relays yet, so they do not count in max-children.
  std::size_t max_handshakes() const {
    std::size_t limit = default_max_handshakes;
    for (const endpoint& ep : first_.layers) {
      if (auto n = ep.value("max-handshakes"))
        limit = std::min(limit, static_cast<std::size_t>(*n));
    }
    return limit;
  }

  // A listener given port 0 bound one the user cannot guess: it is said even without -v.
  bool announces(const endpoint& ep) const {
    return options_.verbose || (ep.kind->args == arg_shape::optional_host_port && ep.port == 0);
  }

  // The listener runs a handler for each relay and for each handshake in progress.
  listen_limits limits_of(const endpoint& ep) const {
    bool handshakes = ep.has("fork") && !first_.layers.empty();
    return listen_limits{max_children() + (handshakes ? max_handshakes() : 0)};
  }

  // The first address listens: one peer, or every peer with fork.
  asio::awaitable<void> serve_listener() {
    const endpoint& ep = first_.transport;
    bool fork = ep.has("fork");
    auto limits = limits_of(ep);
    accept_handler handler = [this](flow& a) { return serve_accepted(a); };
    auto l = co_await ep.kind->listen(ep, context(true), limits, handler);
    if (!l) {
      failed(first_.text + ": " + reason(l.error()));
      co_return;
    }
    listening_ = std::move(*l);
    if (announces(ep)) say("listening on " + listening_->local_address());
    while (!stopping_ && (fork || !served_one_)) {
      co_await changed_.wait();
    }
    listening_->stop();
    while (active_ > 0) {
      co_await changed_.wait();
    }
    listening_.reset();
  }

  asio::awaitable<void> serve_accepted(flow& accepted) {
    const endpoint& ep = first_.transport;
    bool fork = ep.has("fork");
    if (!fork) {
      // One peer only: a second one accepted on another address family is turned away.
      if (taken_) co_return;
      taken_ = true;
      if (listening_) listening_->stop();
    }
    if (first_.layers.empty()) {
      co_await relay_accepted(accepted);
    } else if (!stopping_) {
      result<flow> a = fail(flow_errc::closed);
      std::string peer = accepted.description();
      auto layering = handshake_first(accepted, a);
      co_await contained(std::move(layering), "opening " + first_.text + " for " + peer);
      if (a) {
        co_await relay_accepted(*a);
        co_await a->close();
      }
    }
    served_one_ = true;
    changed_.notify_all();
  }

  // The first address's layers over an accepted flow; a failure is the session's.
  asio::awaitable<void> handshake_first(flow& accepted, result<flow>& a) {
    a = co_await handshake_accepted(std::move(accepted));
    if (a || stopping_) co_return;
    std::string why = a.error() == flow_errc::cancelled
                          ? "handshake abandoned for a newer connection (max-handshakes " +
                                std::to_string(max_handshakes()) + " in progress)"
                          : reason(a.error());
    session_failed(first_.text + ": " + why);  // without fork, the one connection failed
  }

  // Takes one of max-children's slots, then relays `a`.
  asio::awaitable<void> relay_accepted(flow& a) {
    // "All addresses" is two kernel listeners: the limit holds for both together.
    while (!stopping_ && active_ >= max_children()) {
      co_await changed_.wait();
    }
    if (stopping_) co_return;
    slot held(*this);
    co_await serve(a);
  }

  // Runs the first address's layers over an accepted flow; the error `cancelled` when the
  // handshake was abandoned. When max-handshakes are already in progress the oldest is
  // abandoned (its flow closed) to make room: a peer that never ends its handshake, silent or
  // slow on purpose, then holds its place only until newer peers come, and real clients, whose
  // handshakes take milliseconds, get through instead of waiting for the handshake timeout. The
  // price is that a burst of more real handshakes at once than the bound loses its oldest.
  asio::awaitable<result<flow>> handshake_accepted(flow accepted) {
    using namespace asio::experimental::awaitable_operators;
    handshake h(io_.get_executor());
    listed<handshake> known(handshakes_, h);
    if (handshakes_.size() > max_handshakes()) abandon(*handshakes_.front());
    std::exception_ptr thrown;
    auto raced =
        co_await (uncancelled_wrap(first_, std::move(accepted), thrown) || until_abandoned(h));
    if (thrown) std::rethrow_exception(thrown);  // the session's to report, once out of the race
    // A handshake that ended, even as it was being abandoned, keeps its outcome; a failure
    // because of the abandonment is told as such.
    if (raced.index() == 0 && (std::get<0>(raced) || !h.abandoned)) {
      co_return std::move(std::get<0>(raced));
    }
    co_return fail(flow_errc::cancelled);
  }

  void abandon(handshake& h) {
    h.abandoned = true;
    handshakes_.remove(&h);
    h.abandon.notify_all();
  }

  // wrap_layers, ending with an error rather than an exception when cancelled. An exception
  // thrown by a layer is handed out in `thrown`: the race (`||`) waits for one operation to
  // succeed, so a throw there would leave the handshake waiting to be abandoned.
  asio::awaitable<result<flow>> uncancelled_wrap(const address& addr, flow f,
                                                 std::exception_ptr& thrown) {
    co_await asio::this_coro::throw_if_cancelled(false);
    try {
      co_return co_await wrap_layers(addr, std::move(f));
    } catch (...) {
      thrown = std::current_exception();
    }
    co_return fail(flow_errc::closed);
  }

  static asio::awaitable<void> until_abandoned(handshake& h) {
    co_await asio::this_coro::throw_if_cancelled(false);
    while (!h.abandoned) {
      bool notified = co_await h.abandon.wait();
      if (!notified) co_return;  // the handshake ended first
    }
  }

  // `a` is the first address's flow: open the second and relay. The session is known to the
  // signal watcher until it ends, and its flows outlive the watcher's closes, on every path.
  asio::awaitable<void> serve(flow& a) {
    result<flow> b = fail(flow_errc::closed);
    session s(io_.get_executor());
    s.a = &a;
    {
      listed<session> known(sessions_, s);
      auto relaying = open_second_and_relay(s, a, b);
      co_await contained(std::move(relaying), "relay of " + a.description());
    }
    total_ab_ += s.ab.bytes_written;
    total_ba_ += s.ba.bytes_written;
    co_await wait_for_closers(s);
    if (b) co_await b->close();
  }

  asio::awaitable<void> open_second_and_relay(session& s, flow& a, result<flow>& b) {
    if (second_.is_listener()) {
      co_await serve_second_listener(s, a);
    } else if (!stopping_) {
      b = co_await open_connector(second_, context(false));
      if (!b) {
        session_failed(second_.text + ": " + reason(b.error()));
      } else if (!stopping_) {
        s.b = &*b;
        co_await relay_flows(s, a, *b);
      }
    }
  }

  asio::awaitable<void> serve_second_listener(session& s, flow& a) {
    const endpoint& ep = second_.transport;
    auto once = std::make_shared<accept_once>();
    accept_handler handler = [this, once, &s, &a](flow& b) {
      return relay_accepted_second(once, s, a, b);
    };
    auto l = co_await ep.kind->listen(ep, context(true), listen_limits{1}, handler);
    if (!l) {
      failed(second_.text + ": " + reason(l.error()));
      co_return;
    }
    std::unique_ptr<listening> listener = std::move(*l);
    once->listener = listener.get();
    listed<listening> known(second_listeners_, *listener);
    if (announces(ep)) say("listening on " + listener->local_address());
    // Once the peer is taken, wait for its relay to end even when stopping: it uses `s` and `a`.
    while (!once->done && !(stopping_ && !once->taken)) {
      co_await changed_.wait();
    }
    listener->stop();
    once->listener = nullptr;
  }

  asio::awaitable<void> relay_accepted_second(std::shared_ptr<accept_once> once, session& s,
                                              flow& a, flow& accepted) {
    if (once->taken || stopping_) co_return;
    once->taken = true;
    if (once->listener) once->listener->stop();
    result<flow> b = fail(flow_errc::closed);  // the layers over `accepted`, when it has some
    std::string peer = accepted.description();
    auto relaying = layer_second_and_relay(s, a, accepted, b);
    co_await contained(std::move(relaying), "relay of " + peer);
    co_await wait_for_closers(s);
    s.b = nullptr;
    if (b) co_await b->close();
    once->done = true;
    changed_.notify_all();
  }

  asio::awaitable<void> layer_second_and_relay(session& s, flow& a, flow& accepted,
                                               result<flow>& b) {
    if (second_.layers.empty()) {
      s.b = &accepted;
      co_await relay_flows(s, a, accepted);
      co_return;
    }
    b = co_await wrap_layers(second_, std::move(accepted));
    if (!b) {
      failed(second_.text + ": " + reason(b.error()));
      co_return;
    }
    s.b = &*b;
    co_await relay_flows(s, a, *b);
  }

  asio::awaitable<void> wait_for_closers(session& s) {
    while (s.closers > 0) {
      co_await s.closers_done.wait();
    }
  }

  asio::awaitable<void> relay_flows(session& s, flow& a, flow& b) {
    std::string a_name = a.description();
    std::string b_name = b.description();
    if (options_.verbose) say("relaying " + a_name + " <=> " + b_name);
    auto results = co_await proxy(a, b, &s.ab, &s.ba);
    const copy_result& ab = results.first;
    const copy_result& ba = results.second;
    if (options_.verbose) report_stats(a_name, b_name, stats_of(ab), stats_of(ba));
    if (stopping_) co_return;
    auto explain = [&](const copy_result& r, const std::string& src, const std::string& dst) {
      const copy_error& e = r.error();
      bool reading = e.side == copy_side::source;
      // A write that finds the flow closed in the middle of a relay: the other end went away.
      std::string why = !reading && e.error == flow_condition::closed
                            ? "broken pipe: the reader went away before taking every byte"
                            : reason(e.error);
      return std::string("relay ") + src + " => " + dst + " failed " +
             (reading ? "reading from " + src : "writing to " + dst) + ": " + why;
    };
    std::string problem;
    if (!ab)
      problem = explain(ab, a_name, b_name);
    else if (!ba)
      problem = explain(ba, b_name, a_name);
    if (!problem.empty()) session_failed(problem);
  }

  void report_stats(const std::string& a, const std::string& b, const copy_stats& ab,
                    const copy_stats& ba) {
    auto line = [](const std::string& src, const std::string& dst, const copy_stats& s) {
      return src + " => " + dst + ": " + std::to_string(s.bytes_written) + " bytes (" +
             format_bytes(static_cast<double>(s.bytes_written)) + "), " + std::to_string(s.reads) +
             " reads, " + std::to_string(s.writes) + " writes";
    };
    say(line(a, b, ab));
    say(line(b, a, ba));
    double seconds = seconds_of(std::max(ab.duration, ba.duration));
    char took[32];
    std::snprintf(took, sizeof took, "%.3f s", seconds);
    say(std::string("took ") + took + ", " +
        format_rate(static_cast<double>(ab.bytes_written + ba.bytes_written), seconds));
  }

  asio::awaitable<void> watch_signals() {
    auto [ec, number] = co_await signals_.async_wait(as_tuple);
    if (ec || finished_) co_return;
    signal_ = number;
    stopping_ = true;
    if (listening_) listening_->stop();
    for (listening* l : second_listeners_) l->stop();
    while (!handshakes_.empty()) abandon(*handshakes_.front());
    // Mark every session before the first close: a session waits for its closers before its
    // flows go away.
    std::vector<session*> victims(sessions_.begin(), sessions_.end());
    for (session* s : victims) ++s->closers;
    // Aborted, not closed: a peer must not take a relay cut by a signal for a complete one.
    for (session* s : victims) {
      if (s->a) co_await s->a->abort();
      if (s->b) co_await s->b->abort();
      --s->closers;
      s->closers_done.notify_all();
    }
    changed_.notify_all();

    // A connect still in progress may take long: give the relays a moment, then leave.
    stop_timer_.expires_after(std::chrono::seconds(3));
    auto [timer_ec] = co_await stop_timer_.async_wait(as_tuple);
    if (timer_ec || finished_) co_return;
    std::fflush(stderr);
    std::_Exit(128 + signal_);
  }

  asio::awaitable<void> show_progress() {
    auto last_time = clock::now();
    std::uint64_t last_ab = 0, last_ba = 0;
    for (;;) {
      progress_timer_.expires_after(std::chrono::milliseconds(250));
      auto [ec] = co_await progress_timer_.async_wait(as_tuple);
      if (ec || finished_) break;
      std::uint64_t ab = total_ab_, ba = total_ba_;
      for (session* s : sessions_) {
        ab += s->ab.bytes_written;
        ba += s->ba.bytes_written;
      }
      auto now = clock::now();
      double dt = seconds_of(now - last_time);
      std::fprintf(stderr, "\r  %s => %s: %s (%s)   %s => %s: %s (%s)\033[K", first_.text.c_str(),
                   second_.text.c_str(), format_bytes(double(ab)).c_str(),
                   format_rate(double(ab - last_ab), dt).c_str(), second_.text.c_str(),
                   first_.text.c_str(), format_bytes(double(ba)).c_str(),
                   format_rate(double(ba - last_ba), dt).c_str());
      progress_line_open = true;
      last_time = now;
      last_ab = ab;
      last_ba = ba;
    }
    if (progress_line_open) std::fputs("\n", stderr);
    progress_line_open = false;
  }

  asio::io_context& io_;
  const address& first_;
  const address& second_;
  cat_options options_;
  asio::signal_set signals_;
  wait_queue changed_;  // sessions ended, a peer was served, or stopping began
  asio::steady_timer progress_timer_;
  asio::steady_timer stop_timer_;

  std::unique_ptr<listening> listening_;    // the first address, when it listens
  std::list<listening*> second_listeners_;  // the second address's, one per session
  std::list<session*> sessions_;
  std::vector<std::unique_ptr<layer>> first_layers_;  // as address::layers, outermost first
  std::vector<std::unique_ptr<layer>> second_layers_;
  std::list<handshake*> handshakes_;  // the first address's, oldest first
  std::size_t active_ = 0;            // relays of accepted peers running
  bool taken_ = false;                // without fork: the one peer has come
  bool served_one_ = false;
  bool stopping_ = false;
  bool finished_ = false;
  int signal_ = 0;
  int status_ = exit_ok;
  std::uint64_t total_ab_ = 0;  // bytes of relays that ended, for --progress
  std::uint64_t total_ba_ = 0;
  userspace_stack stack_;
};

}  // namespace

std::string in_our_voice(std::string message) {
  auto is_upper = [](char c) { return c >= 'A' && c <= 'Z'; };
  auto is_lower = [](char c) { return c >= 'a' && c <= 'z'; };
  // The first word, and the first after each ": " ("ADDRESS: At least 2 required").
  for (std::size_t at = 0; at + 1 < message.size();) {
    if (is_upper(message[at]) && (is_lower(message[at + 1]) || message[at + 1] == ' '))
      message[at] = static_cast<char>(message[at] - 'A' + 'a');
    auto next = message.find(": ", at);
    if (next == std::string::npos) break;
    at = next + 2;
  }
  return message;
}

int run_cat(const address& first, const address& second, const cat_options& options) {
  std::signal(SIGPIPE, SIG_IGN);
  asio::io_context io;
  int status;
  {
    relay r(io, first, second, options);
    status = r.run();
  }
  return status;
}

}  // namespace flowstack::cli
