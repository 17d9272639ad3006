// The flow: a reliable, ordered byte stream connected to an endpoint, with one contract whatever
// carries it (kernel TCP, Unix sockets, TLS, vchan, the userspace stack, memory).
//
// Users hold a move-only `flow`; transports implement `flow_impl`. The contract (DESIGN.md §1)
// is enforced once, here in `flow_impl`'s public operations, so every transport behaves the same;
// a transport only implements the protected `do_*` hooks.
//
// Operations
//   read()      waits for data and returns a fresh buffer of at least one byte that the caller
//               owns, or eof (a value, never an error and never an empty buffer), or an error.
//   try_read()  what a read would return at once, without waiting: data already buffered, eof or
//               an error, or nothing (an empty optional) when a read would wait or the
//               transport cannot tell. Follows read's rules otherwise (a read in flight makes it
//               fail `read_in_progress`). For a layer that takes what has arrived before it
//               closes its inner flow (a kernel socket closed with unread bytes sends RST).
//   write(b)    resolves once the transport has accepted every byte of `b` (not delivered: a
//               partial acceptance waits for the rest). Do not change `b` afterwards.
//   writev(bs)  write for a sequence of buffers, in order.
//   shutdown(m) read: later reads return eof; buffered input may be dropped.
//               write: waits for the writes already queued, tells the peer no more data follows
//               (TCP FIN, TLS close_notify, vchan's shutdown flag); later writes fail `closed`.
//               read_write: both. Idempotent; never fails.
//   close()     terminates the flow and frees what it holds without waiting for the peer;
//               pending and later reads and writes fail `closed`; a second close does nothing.
//   abort()     a close that tells the peer the stream was cut rather than ended, so that it
//               cannot take a cut stream for a complete one: TCP sends RST (SO_LINGER {1, 0}),
//               TLS sends no close_notify and aborts its inner flow, vchan leaves without its
//               shutdown flag, a memory flow's peer reads `reset` once the queue is drained. The
//               peer's read then fails (condition flow_condition::reset, or TLS `truncated`)
//               instead of giving eof. A Unix stream socket has no reset: its peer reads eof,
//               or ECONNRESET when bytes it sent were still unread here. A transport that cannot
//               say it at all (stdio) closes. Queued writes may be lost. On this end abort is
//               close: pending and later operations fail `closed`; after close it does nothing.
//
// States: every cell is a test in tests/conformance/.
//
//   | state        | read                   | write / writev    | shutdown(read) | shutdown(write)
//   | close    |
//   |--------------|------------------------|-------------------|----------------|-----------------|----------|
//   | open         | data; eof→read-closed; | ok; error→failed  | →read-closed   | flush, signal,
//   | →closed  | |              | error→failed           |                   |                |
//   →write-closed   |          | | read-closed  | eof, forever           | as open           |
//   no-op          | →both-closed    | →closed  | | write-closed | as open                |
//   `closed`          | →both-closed   | no-op           | →closed  | | failed       | the error
//   again        | the error again   | no-op          | no-op           | →closed  | | closed |
//   `closed`               | `closed`          | no-op          | no-op           | no-op    |
//
//   The error that fails a flow is sticky in both directions, with two exceptions: a transport's
//   write that fails `closed` (the peer stopped reading) only closes the write side, and a read
//   cancelled from outside (with_timeout) leaves the flow usable, because no byte was taken.
//   A cancelled write fails the flow: part of it may have been sent.
//
// Concurrency: one read and one write may be in flight at once (full duplex). Writers are served
// in FIFO order and each write's bytes stay contiguous. A second read started while one is
// pending fails at once with `read_in_progress`: that is a program bug, not a race to win.
//
// Layering (TLS over TCP, anything over vchan): the outer flow owns the inner one. `close` on the
// outer flow always closes the inner, `abort` aborts it; `shutdown(write)` ends the outer protocol
// only and leaves the inner write side open; once both outer halves are closed the inner flow is
// closed. `underlying()` gives the inner flow back for inspection.
//
// Lifetime: a flow must outlive its pending operations; close it (or let them finish) before
// destroying it.
#pragma once

#include <flowstack/core/buffer.hpp>
#include <flowstack/core/error.hpp>
#include <flowstack/core/wait_queue.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace flowstack {

// What a read gives: data (at least one byte) or the end of the stream (mirage's `or_eof`).
class data_or_eof {
 public:
  data_or_eof() = default;  // eof
  explicit data_or_eof(buffer data) : data_(std::move(data)) {}
  static data_or_eof eof() { return {}; }

  bool is_eof() const noexcept { return data_.empty(); }
  const buffer& data() const& noexcept { return data_; }
  buffer&& data() && noexcept { return std::move(data_); }

 private:
  buffer data_;
};

using read_result = result<data_or_eof>;
using write_result = result<void>;

enum class shutdown_mode { read, write, read_write };

class flow_impl {
 public:
  explicit flow_impl(asio::any_io_executor executor);
  flow_impl(const flow_impl&) = delete;
  flow_impl& operator=(const flow_impl&) = delete;
  virtual ~flow_impl();

  asio::awaitable<read_result> read();
  std::optional<read_result> try_read();
  asio::awaitable<write_result> write(buffer data);
  asio::awaitable<write_result> writev(std::span<const buffer> data);
  asio::awaitable<void> shutdown(shutdown_mode mode);
  asio::awaitable<void> close();
  asio::awaitable<void> abort();

  // Puts bytes back in front of the stream: the next read returns them first. For parsers that
  // read past the end of what they need (read_exactly, framing).
  void unread(buffer data);

  // The flow this one is layered on, or nullptr for a transport at the bottom.
  virtual flow_impl* underlying() noexcept { return nullptr; }
  // A one-line description for logs and `flowstack cat -v`, e.g. "tcp 127.0.0.1:4242 -> [::1]:80".
  virtual std::string description() const = 0;

  const asio::any_io_executor& get_executor() const noexcept { return executor_; }
  bool is_closed() const noexcept { return closed_; }

 protected:
  // The transport's side of the contract. The base guarantees: at most one do_read and one
  // do_writev in flight; no do_read after read-closed, failed or closed; no do_writev after
  // write-closed, failed or closed; do_shutdown_write after every queued write; do_close once.
  //
  // do_read returns data (never empty), eof, or an error. do_writev accepts every byte or
  // returns an error; `closed` there means the peer no longer reads. Once do_close has run, the
  // base turns whatever a pending operation returns into `closed`.
  virtual asio::awaitable<read_result> do_read() = 0;
  // do_read without waiting: nothing when do_read would wait. The default cannot tell.
  virtual std::optional<read_result> do_try_read() { return std::nullopt; }
  virtual asio::awaitable<write_result> do_writev(std::span<const buffer> data) = 0;
  virtual asio::awaitable<void> do_shutdown_read();
  virtual asio::awaitable<void> do_shutdown_write() = 0;
  // Cancels pending operations and releases the transport's resources.
  virtual asio::awaitable<void> do_close() = 0;
  // do_close, telling the peer the stream was cut. The default closes: for transports that have
  // no way to say it. Runs instead of do_close, once.
  virtual asio::awaitable<void> do_abort();

 private:
  asio::awaitable<bool> acquire_write_turn();
  void release_write_turn();
  void fail_with(std::error_code ec);

  asio::any_io_executor executor_;
  std::optional<buffer> unread_;
  std::error_code error_;
  bool read_closed_ = false;
  bool write_closed_ = false;
  bool closed_ = false;
  bool reading_ = false;
  bool writing_ = false;
  wait_queue writers_;
};

// The value users hold: owns one flow_impl. Move-only.
class flow {
 public:
  flow() = default;
  explicit flow(std::unique_ptr<flow_impl> impl) : impl_(std::move(impl)) {}

  asio::awaitable<read_result> read() { return impl_->read(); }
  std::optional<read_result> try_read() { return impl_->try_read(); }
  asio::awaitable<write_result> write(buffer data) { return impl_->write(std::move(data)); }
  asio::awaitable<write_result> writev(std::span<const buffer> data) { return impl_->writev(data); }
  asio::awaitable<void> shutdown(shutdown_mode mode) { return impl_->shutdown(mode); }
  asio::awaitable<void> close() { return impl_->close(); }
  asio::awaitable<void> abort() { return impl_->abort(); }
  void unread(buffer data) { impl_->unread(std::move(data)); }

  // The older forms (dns-forward's SHUTDOWNABLE).
  asio::awaitable<void> shutdown_read() { return impl_->shutdown(shutdown_mode::read); }
  asio::awaitable<void> shutdown_write() { return impl_->shutdown(shutdown_mode::write); }

  flow_impl* underlying() const noexcept { return impl_->underlying(); }
  std::string description() const { return impl_->description(); }
  const asio::any_io_executor& get_executor() const noexcept { return impl_->get_executor(); }

  explicit operator bool() const noexcept { return impl_ != nullptr; }
  flow_impl& impl() const noexcept { return *impl_; }
  // The transport behind this flow when it is a T (e.g. net::tcp_flow for dst()), else null.
  template <typename T>
  T* as() const noexcept {
    return dynamic_cast<T*>(impl_.get());
  }
  // Gives up ownership, for layering one flow over another.
  std::unique_ptr<flow_impl> release() noexcept { return std::move(impl_); }

 private:
  std::unique_ptr<flow_impl> impl_;
};

template <typename Impl, typename... Args>
flow make_flow(Args&&... args) {
  return flow(std::make_unique<Impl>(std::forward<Args>(args)...));
}

}  // namespace flowstack
