// function_flow: a flow backed by callbacks (the C++ form of mirage-flow's in-memory flow `F`).
//
// Reads call `input` to fill a fresh buffer (returning how many bytes it wrote, 0 for eof);
// writes hand every buffer to `output`; close calls `on_close`. The callbacks run synchronously
// on the flow's executor. A flow without `output` refuses writes with `closed`.
#pragma once

#include <flowstack/core/flow.hpp>

#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace flowstack {

struct function_flow_callbacks {
  std::function<std::size_t(std::span<std::byte>)> input;  // 0 means eof
  std::function<void(const buffer&)> output;
  std::function<void()> on_close;
};

flow function_flow(asio::any_io_executor executor, function_flow_callbacks callbacks,
                   std::size_t read_size = 4096);

// Reads give `input` (in pieces of at most `read_size` bytes), then eof; writes are appended to
// `*output` when it is given.
flow string_flow(asio::any_io_executor executor, std::string input, std::string* output = nullptr,
                 std::size_t read_size = 4096);

// Reads give each of `input`'s buffers in turn (empty ones skipped), then eof; written buffers
// are appended to `*output` when it is given.
flow buffers_flow(asio::any_io_executor executor, std::vector<buffer> input,
                  std::vector<buffer>* output = nullptr);

}  // namespace flowstack
