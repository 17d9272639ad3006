#include <flowstack/core/memory_flow.hpp>

#include <algorithm>
#include <deque>

namespace flowstack {

struct memory_flow::direction {
  explicit direction(asio::any_io_executor executor, std::size_t capacity)
      : capacity(capacity), readable(executor), writable(executor) {}

  std::size_t capacity;
  std::deque<buffer> queued;
  std::size_t queued_bytes = 0;
  bool writer_done = false;     // no more bytes will come: eof after the queue
  bool writer_aborted = false;  // ...and the stream was cut: `reset` after the queue
  bool reader_gone = false;     // nobody reads: writes fail `closed`
  wait_queue readable;
  wait_queue writable;
};

memory_flow::memory_flow(asio::any_io_executor executor, std::shared_ptr<direction> in,
                         std::shared_ptr<direction> out, std::string name)
    : flow_impl(std::move(executor)),
      in_(std::move(in)),
      out_(std::move(out)),
      name_(std::move(name)) {}

memory_flow::~memory_flow() {
  // A flow dropped without close still ends both directions for its peer.
  in_->reader_gone = true;
  out_->writer_done = true;
  in_->writable.notify_all();
  out_->readable.notify_all();
}

void memory_flow::cut_reads(std::size_t max_bytes, std::uint64_t seed) {
  max_read_ = max_bytes;
  // splitmix64 of the seed: every seed gives its own cuts (`seed | 1` made 2 and 3 the same),
  // and xorshift needs a state that is not zero.
  std::uint64_t z = seed + 0x9e3779b97f4a7c15;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  z ^= z >> 31;
  rng_state_ = z != 0 ? z : 1;
}

std::size_t memory_flow::next_read_limit() {
  if (max_read_ == 0) return SIZE_MAX;
  // xorshift64: enough randomness for chunk sizes, and replayable from the seed.
  rng_state_ ^= rng_state_ << 13;
  rng_state_ ^= rng_state_ >> 7;
  rng_state_ ^= rng_state_ << 17;
  return 1 + rng_state_ % max_read_;
}

asio::awaitable<read_result> memory_flow::do_read() {
  if (fail_read_) co_return fail(std::exchange(fail_read_, {}));
  while (in_->queued.empty() && !in_->writer_done && !in_->reader_gone && !terminated_) {
    bool ok = co_await in_->readable.wait();
    if (!ok) co_return fail(flow_errc::cancelled);
  }
  if (terminated_) co_return fail(flow_errc::closed);
  if (in_->reader_gone) co_return data_or_eof::eof();
  if (in_->queued.empty()) {
    if (in_->writer_aborted) co_return fail(flow_errc::reset);
    co_return data_or_eof::eof();
  }

  if (delay_ != decltype(delay_){}) {
    bool due = co_await delay_clock_->wait_for(delay_);
    if (!due) co_return fail(flow_errc::cancelled);
    if (terminated_) co_return fail(flow_errc::closed);
  }

  auto& front = in_->queued.front();
  std::size_t n = std::min(front.size(), next_read_limit());
  auto [taken, rest] = front.split(n);
  if (rest.empty()) {
    in_->queued.pop_front();
  } else {
    front = std::move(rest);
  }
  in_->queued_bytes -= n;
  in_->writable.notify_all();
  co_return data_or_eof(std::move(taken));
}

asio::awaitable<write_result> memory_flow::do_writev(std::span<const buffer> data) {
  if (fail_write_) co_return fail(std::exchange(fail_write_, {}));
  for (const auto& part : data) {
    buffer rest = part;
    while (!rest.empty()) {
      if (terminated_) co_return fail(flow_errc::closed);
      if (out_->reader_gone) co_return fail(flow_errc::closed);
      std::size_t room = out_->capacity - std::min(out_->capacity, out_->queued_bytes);
      if (room == 0) {
        bool ok = co_await out_->writable.wait();
        if (!ok) co_return fail(flow_errc::cancelled);
        continue;
      }
      auto [now, later] = rest.split(std::min(room, rest.size()));
      out_->queued_bytes += now.size();
      // A copy, so that the reader owns what it reads: it may change its buffers, and a writer
      // may send the same buffer twice or keep it.
      out_->queued.push_back(now.clone());
      out_->readable.notify_all();
      rest = std::move(later);
    }
  }
  co_return write_result{};
}

asio::awaitable<void> memory_flow::do_shutdown_read() {
  in_->reader_gone = true;
  in_->queued.clear();
  in_->queued_bytes = 0;
  in_->writable.notify_all();
  in_->readable.notify_all();  // a pending read ends with eof
  co_return;
}

asio::awaitable<void> memory_flow::do_shutdown_write() {
  out_->writer_done = true;
  out_->readable.notify_all();
  co_return;
}

asio::awaitable<void> memory_flow::do_close() {
  terminated_ = true;
  // Wake our own pending read and write, and end both directions for the peer.
  in_->readable.notify_all();
  out_->writable.notify_all();
  co_await do_shutdown_read();
  co_await do_shutdown_write();
}

asio::awaitable<void> memory_flow::do_abort() {
  out_->writer_aborted = true;
  co_await do_close();
}

std::pair<flow, flow> memory_pair(asio::any_io_executor executor, memory_pair_options options) {
  auto a_to_b = std::make_shared<memory_flow::direction>(executor, options.capacity);
  auto b_to_a = std::make_shared<memory_flow::direction>(executor, options.capacity);
  return {make_flow<memory_flow>(executor, b_to_a, a_to_b, "memory a"),
          make_flow<memory_flow>(executor, a_to_b, b_to_a, "memory b")};
}

}  // namespace flowstack
