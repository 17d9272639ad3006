// record_flow: the smallest layered flow, a test double that layered transports (TLS, vchan)
// follow. It frames the bytes of its writes into records (a 4-byte big-endian length, then at
// most max_record bytes) over an inner flow it owns, and ends its sending direction with an
// empty record: the shape of TLS (records, close_notify) without the cryptography.
//
// The layering rules of the flow contract (DESIGN.md §1.3) as this flow follows them:
//   close            closes the inner flow;
//   shutdown(write)  sends the end record; the inner write side stays open;
//   shutdown(read)   shuts the inner read side (nothing more is read through it);
//   both halves done closes the inner flow;
//   inner eof        is outer eof (inside a record it is unexpected_eof: a truncated stream);
//   inner `closed`   from a write closes the outer write side (the base does that for `closed`);
//   other errors     of the inner flow fail the outer flow, the inner error kept as it is.
#pragma once

#include <algorithm>
#include <cstddef>
#include <flowstack/core/combinators.hpp>
#include <flowstack/core/flow.hpp>
#include <string>
#include <vector>

namespace flowstack::test {

class record_flow final : public flow_impl {
 public:
  static constexpr std::size_t max_record = 16 * 1024;
  static constexpr std::size_t header_size = 4;

  explicit record_flow(flow inner) : flow_impl(inner.get_executor()), inner_(std::move(inner)) {}

  flow_impl* underlying() noexcept override { return &inner_.impl(); }
  std::string description() const override { return "records over " + inner_.description(); }

 protected:
  asio::awaitable<read_result> do_read() override {
    // Peek first so that an inner eof between records is told apart from a truncated record.
    auto first = co_await inner_.read();
    if (!first) co_return fail(first.error());
    if (first->is_eof()) {
      co_await end_read();
      co_return data_or_eof::eof();
    }
    inner_.unread(std::move(*first).data());
    auto header = co_await read_exactly(inner_, header_size);
    if (!header) co_return fail(header.error());
    std::uint32_t length = header->get_be32(0);
    if (length == 0) {
      co_await end_read();
      co_return data_or_eof::eof();
    }
    auto payload = co_await read_exactly(inner_, length);
    if (!payload) {
      // read_exactly put the partial payload back; the header goes in front of it, so a read
      // cancelled from outside (with_timeout) loses no byte.
      inner_.unread(*header);
      co_return fail(payload.error());
    }
    co_return data_or_eof(std::move(*payload));
  }

  asio::awaitable<write_result> do_writev(std::span<const buffer> data) override {
    std::vector<buffer> records;
    for (const auto& part : data) {
      buffer rest = part;
      while (!rest.empty()) {
        auto [piece, later] = rest.split(std::min(rest.size(), max_record));
        auto header = buffer::create(header_size);
        header.set_be32(0, static_cast<std::uint32_t>(piece.size()));
        records.push_back(std::move(header));
        records.push_back(std::move(piece));
        rest = std::move(later);
      }
    }
    co_return co_await inner_.writev(records);
  }

  asio::awaitable<void> do_shutdown_read() override {
    co_await inner_.shutdown(shutdown_mode::read);
    co_await end_read();
  }

  asio::awaitable<void> do_shutdown_write() override {
    // The end record is best effort: shutdown never fails, and a peer that is gone needs none.
    auto end = buffer::create(header_size);
    co_await inner_.write(std::move(end));
    write_done_ = true;
    if (read_done_) co_await inner_.close();
  }

  asio::awaitable<void> do_close() override { co_await inner_.close(); }

 private:
  asio::awaitable<void> end_read() {
    read_done_ = true;
    if (write_done_) co_await inner_.close();
  }

  flow inner_;
  bool read_done_ = false;
  bool write_done_ = false;
};

// Layers records over `inner`.
inline flow layer_records(flow inner) {
  return make_flow<record_flow>(std::move(inner));
}

}  // namespace flowstack::test
