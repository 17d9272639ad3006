// layered_flow: the base of flows built on an inner flow they own (TLS, vchan, test records).
//
// It keeps the layering rules of the flow contract (DESIGN.md §1.3) in one place:
//   underlying()       is the inner flow;
//   close              closes the inner flow;
//   abort              aborts the inner flow;
//   both halves done   closes the inner flow: a derived flow says when a half is done
//                      (end_read, end_write), the base closes the inner flow once both are.
// The inner flow is closed or aborted once, whichever rule comes first.
#pragma once

#include <flowstack/core/flow.hpp>

namespace flowstack {

class layered_flow : public flow_impl {
 public:
  flow_impl* underlying() noexcept final { return &inner_.impl(); }

 protected:
  explicit layered_flow(flow inner);

  flow& inner() noexcept { return inner_; }
  const flow& inner() const noexcept { return inner_; }

  bool read_ended() const noexcept { return read_done_; }
  bool write_ended() const noexcept { return write_done_; }
  bool inner_closed() const noexcept { return inner_closed_; }

  // This flow's read (write) half is done: nothing more is read (sent) through the inner flow.
  // Once both are, the inner flow is closed.
  asio::awaitable<void> end_read();
  asio::awaitable<void> end_write();
  // Marks the half done without closing the inner flow yet (close and abort do that next).
  void mark_read_ended() noexcept { read_done_ = true; }
  void mark_write_ended() noexcept { write_done_ = true; }

  // Closes (aborts) the inner flow unless that has already happened.
  asio::awaitable<void> close_inner();
  asio::awaitable<void> abort_inner();

  // Runs once the inner flow is closed or aborted: for waiters that the inner flow's end frees.
  virtual void on_inner_closed() {}

  // Both halves end and the inner flow is closed (aborted). A flow that says goodbye first
  // (an end record, close_notify) does so in its own do_close and then calls this one.
  asio::awaitable<void> do_close() override;
  asio::awaitable<void> do_abort() override;

 private:
  asio::awaitable<void> close_inner_if_done();

  flow inner_;
  bool read_done_ = false;
  bool write_done_ = false;
  bool inner_closed_ = false;
};

}  // namespace flowstack
