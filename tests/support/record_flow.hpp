// record_flow: the smallest layered flow, a test double that layered transports (TLS, vchan)
// follow. It frames the bytes of its writes into records (core's framing with a 32-bit length,
// at most max_record bytes each) over an inner flow it owns, and ends its sending direction with an
// empty record: the shape of TLS (records, close_notify) without the cryptography.
//
// The layering rules of the flow contract (DESIGN.md §1.3) as this flow follows them (close,
// abort and both halves done are layered_flow's):
//   close            closes the inner flow;
//   abort            aborts the inner flow, with no end record;
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
#include <flowstack/core/framing.hpp>
#include <flowstack/core/layered_flow.hpp>
#include <string>
#include <vector>

namespace flowstack::test {

class record_flow final : public layered_flow {
 public:
  static constexpr std::size_t max_record = 16 * 1024;
  static constexpr length_prefix prefix = length_prefix::be32;

  explicit record_flow(flow inner) : layered_flow(std::move(inner)) {}

  std::string description() const override { return "records over " + inner().description(); }

 protected:
  asio::awaitable<read_result> do_read() override {
    // A cut record and a read cancelled from outside (with_timeout) are read_frame's to handle:
    // the octets read so far go back into the inner flow, so a later read loses none.
    auto record = co_await read_frame(inner(), prefix, max_record);
    if (!record) co_return fail(record.error());
    if (!*record || (*record)->empty()) {  // the inner eof between records, or the end record
      co_await end_read();
      co_return data_or_eof::eof();
    }
    co_return data_or_eof(std::move(**record));
  }

  asio::awaitable<write_result> do_writev(std::span<const buffer> data) override {
    std::vector<buffer> records;
    for (const auto& part : data) {
      buffer rest = part;
      while (!rest.empty()) {
        auto [piece, later] = rest.split(std::min(rest.size(), max_record));
        records.push_back(frame_header(prefix, piece.size()));
        records.push_back(std::move(piece));
        rest = std::move(later);
      }
    }
    co_return co_await inner().writev(records);
  }

  asio::awaitable<void> do_shutdown_read() override {
    co_await inner().shutdown(shutdown_mode::read);
    co_await end_read();
  }

  asio::awaitable<void> do_shutdown_write() override {
    // The end record is best effort: shutdown never fails, and a peer that is gone needs none.
    co_await inner().write(frame_header(prefix, 0));
    co_await end_write();
  }
};

// Layers records over `inner`.
inline flow layer_records(flow inner) {
  return make_flow<record_flow>(std::move(inner));
}

}  // namespace flowstack::test
