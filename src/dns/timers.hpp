// The forwarder's timers as plain objects (DESIGN.md §5, sans I/O): each is told what happened
// and when, and says what to do and when it next needs to be woken. The coroutines that drive
// them only wait on a clock until that deadline and carry out the answer, so the rules here are
// tested with plain time points (tests/dns/timers_test.cpp) and run the same on any clock.
#pragma once

#include <flowstack/core/clock.hpp>

#include <algorithm>
#include <chrono>
#include <optional>

namespace flowstack::dns::detail {

// When a UDP query goes out again (RFC 1035 §4.2.1: UDP is not reliable): every `interval`
// after the last send, until the query ends. A wake-up that comes late (a suspended machine, a
// clock that jumped) sends once and counts the next interval from then, rather than sending
// the resends it missed in a burst.
class resend_schedule {
 public:
  // An interval under a millisecond counts as one: zero would resend in a busy loop.
  resend_schedule(clock::time_point sent, clock::duration interval)
      : interval_(std::max<clock::duration>(interval, std::chrono::milliseconds(1))),
        next_(sent + interval_) {}

  clock::time_point next_deadline() const noexcept { return next_; }

  // Called when woken at `now`: whether to send the query again. When it says yes, the next
  // deadline has moved one interval past `now`.
  bool due(clock::time_point now) noexcept {
    if (now < next_) return false;
    next_ = now + interval_;
    ++resends_;
    return true;
  }

  unsigned resends() const noexcept { return resends_; }

 private:
  clock::duration interval_;
  clock::time_point next_;
  unsigned resends_ = 0;
};

// RFC 7766 §6.2.3: a connection that carries nothing is closed after an idle timeout. Busy
// while anything is outstanding on it (a query waiting for its answer, an answer not yet
// written): no deadline. Idle from the moment the last of those ended: the deadline is
// `timeout` later. A new connection starts idle.
class idle_timer {
 public:
  idle_timer(clock::duration timeout, clock::time_point now) : timeout_(timeout) { idle(now); }

  void busy() noexcept { deadline_.reset(); }
  void idle(clock::time_point now) noexcept { deadline_ = now + timeout_; }

  bool is_idle() const noexcept { return deadline_.has_value(); }
  // When the connection times out, unless it becomes busy first; nothing while busy.
  std::optional<clock::time_point> deadline() const noexcept { return deadline_; }
  bool expired(clock::time_point now) const noexcept { return deadline_ && now >= *deadline_; }

 private:
  clock::duration timeout_;
  std::optional<clock::time_point> deadline_;
};

}  // namespace flowstack::dns::detail
