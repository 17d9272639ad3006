#include <flowstack/core/flow.hpp>

#include <asio/error.hpp>

#include <array>

namespace flowstack {
namespace {

bool is_cancellation(std::error_code ec) {
  return ec == asio::error::operation_aborted || ec == flow_errc::cancelled;
}

}  // namespace

flow_impl::flow_impl(asio::any_io_executor executor)
    : executor_(executor), writers_(std::move(executor)) {}

flow_impl::~flow_impl() = default;

asio::awaitable<void> flow_impl::do_shutdown_read() {
  co_return;
}

asio::awaitable<void> flow_impl::do_abort() {
  co_await do_close();
}

void flow_impl::fail_with(std::error_code ec) {
  if (!error_) error_ = ec;
}

void flow_impl::unread(buffer data) {
  if (data.empty()) return;
  if (unread_) data = buffer::concat(std::array{data, *unread_});
  unread_ = std::move(data);
}

asio::awaitable<read_result> flow_impl::read() {
  // What the flow answers without its transport is try_read's answer, never "nothing".
  if (closed_ || error_ || reading_ || unread_ || read_closed_) co_return *try_read();

  // A guard, not two assignments: an exception thrown through a cancelled coroutine must not
  // leave the flow believing a read is still pending.
  struct reading_guard {
    bool& flag;
    explicit reading_guard(bool& f) : flag(f) { flag = true; }
    ~reading_guard() { flag = false; }
  };
  read_result r;
  {
    reading_guard guard(reading_);
    r = co_await do_read();
  }

  if (closed_) co_return fail(flow_errc::closed);
  if (!r) {
    if (is_cancellation(r.error())) co_return fail(flow_errc::cancelled);
    fail_with(r.error());
    co_return fail(error_);
  }
  if (read_closed_) co_return data_or_eof::eof();  // shut down while the read was pending
  if (r->is_eof()) read_closed_ = true;
  co_return r;
}

// read() answers from here whatever needs no transport: keep the two in step.
std::optional<read_result> flow_impl::try_read() {
  if (closed_) return fail(flow_errc::closed);
  if (error_) return fail(error_);
  if (reading_) return fail(flow_errc::read_in_progress);
  if (unread_) {
    auto data = std::move(*unread_);
    unread_.reset();
    return data_or_eof(std::move(data));
  }
  if (read_closed_) return data_or_eof::eof();
  auto r = do_try_read();
  if (!r) return std::nullopt;
  if (!*r) {
    fail_with(r->error());
    return fail(error_);
  }
  if ((*r)->is_eof()) read_closed_ = true;
  return r;
}

asio::awaitable<bool> flow_impl::acquire_write_turn() {
  while (writing_) {
    bool ok = co_await writers_.wait();
    if (!ok) co_return false;
  }
  writing_ = true;
  co_return true;
}

void flow_impl::release_write_turn() {
  writing_ = false;
  writers_.notify_one();
}

asio::awaitable<write_result> flow_impl::write(buffer data) {
  co_return co_await writev(std::span<const buffer>(&data, 1));
}

asio::awaitable<write_result> flow_impl::writev(std::span<const buffer> data) {
  bool ok = co_await acquire_write_turn();
  if (!ok) co_return fail(flow_errc::cancelled);
  write_result r;
  if (closed_) {
    r = fail(flow_errc::closed);
  } else if (error_) {
    r = fail(error_);
  } else if (write_closed_) {
    r = fail(flow_errc::closed);
  } else if (total_size(data) == 0) {
    r = {};
  } else {
    r = co_await do_writev(data);
    if (closed_) {
      r = fail(flow_errc::closed);
    } else if (!r) {
      if (r.error() == flow_errc::closed) {
        write_closed_ = true;
      } else {
        fail_with(is_cancellation(r.error()) ? make_error_code(flow_errc::cancelled) : r.error());
        r = fail(error_);
      }
    }
  }
  release_write_turn();
  co_return r;
}

asio::awaitable<void> flow_impl::shutdown(shutdown_mode mode) {
  if (closed_ || error_) co_return;
  if (mode != shutdown_mode::write && !read_closed_) {
    read_closed_ = true;
    unread_.reset();
    co_await do_shutdown_read();
  }
  if (mode != shutdown_mode::read && !write_closed_) {
    // Wait for the writes queued before us: shutdown flushes, it does not cut them off.
    bool ok = co_await acquire_write_turn();
    if (!ok) co_return;
    if (!write_closed_ && !closed_ && !error_) {
      write_closed_ = true;
      co_await do_shutdown_write();
    }
    release_write_turn();
  }
}

asio::awaitable<void> flow_impl::close() {
  if (closed_) co_return;
  closed_ = true;
  unread_.reset();
  co_await do_close();
  writers_.notify_all();
}

asio::awaitable<void> flow_impl::abort() {
  if (closed_) co_return;
  closed_ = true;
  unread_.reset();
  co_await do_abort();
  writers_.notify_all();
}

}  // namespace flowstack
