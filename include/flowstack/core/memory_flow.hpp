// memory_pair: two connected flows in one process, with a bounded capacity in each direction and
// fault injection, for tests and for gluing components together without a socket.
//
// Each direction holds at most `capacity` bytes: a writer really waits for the reader. A write's
// bytes are copied once into the queue, as a kernel copies into its socket buffer, so a reader
// owns the buffers it reads (DESIGN.md §1.1) even when a writer sends one buffer twice.
// Close and shutdown behave like a TCP connection's:
//   close / shutdown(write) on one end  -> the other end reads what is queued, then eof;
//   close / shutdown(read) on one end   -> the other end's writes fail `closed`;
//   abort on one end                    -> as close, but the other end reads `reset`, not eof;
//   shutdown(read) also ends this end's own pending read with eof.
#pragma once

#include <flowstack/core/clock.hpp>
#include <flowstack/core/flow.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <utility>

namespace flowstack {

struct memory_pair_options {
  std::size_t capacity = 256 * 1024;  // bytes per direction
};

class memory_flow final : public flow_impl {
 public:
  struct direction;  // one way's queue, shared by the two ends

  memory_flow(asio::any_io_executor executor, std::shared_ptr<direction> in,
              std::shared_ptr<direction> out, std::string name);
  ~memory_flow() override;

  // Fault injection, applied to this end.
  void fail_next_read(std::error_code ec) { fail_read_ = ec; }
  void fail_next_write(std::error_code ec) { fail_write_ = ec; }
  // Each read delivers a random 1..max_bytes (seeded, so a failure replays).
  void cut_reads(std::size_t max_bytes, std::uint64_t seed = 1);
  // Each read waits this long on `time` before it delivers.
  void delay_reads(clock::duration delay, clock& time = clock::steady()) {
    delay_ = delay;
    delay_clock_ = &time;
  }

  std::string description() const override { return name_; }

 protected:
  asio::awaitable<read_result> do_read() override;
  asio::awaitable<write_result> do_writev(std::span<const buffer> data) override;
  asio::awaitable<void> do_shutdown_read() override;
  asio::awaitable<void> do_shutdown_write() override;
  asio::awaitable<void> do_close() override;
  asio::awaitable<void> do_abort() override;

 private:
  std::size_t next_read_limit();

  std::shared_ptr<direction> in_;
  std::shared_ptr<direction> out_;
  std::string name_;
  std::error_code fail_read_;
  std::error_code fail_write_;
  std::size_t max_read_ = 0;  // 0: no cutting
  std::uint64_t rng_state_ = 0;
  clock::duration delay_{};
  clock* delay_clock_ = &clock::steady();
  bool terminated_ = false;
};

std::pair<flow, flow> memory_pair(asio::any_io_executor executor, memory_pair_options options = {});

}  // namespace flowstack
