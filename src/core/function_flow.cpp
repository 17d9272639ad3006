#include <flowstack/core/function_flow.hpp>

#include <algorithm>
#include <cstring>
#include <memory>

namespace flowstack {
namespace {

class callback_flow final : public flow_impl {
 public:
  callback_flow(asio::any_io_executor executor, function_flow_callbacks callbacks,
                std::size_t read_size)
      : flow_impl(std::move(executor)),
        callbacks_(std::move(callbacks)),
        read_size_(std::max<std::size_t>(read_size, 1)) {}

  std::string description() const override { return "function flow"; }

 protected:
  asio::awaitable<read_result> do_read() override {
    if (!callbacks_.input) co_return data_or_eof::eof();
    auto chunk = buffer::create_uninitialized(read_size_);
    std::size_t n = std::min(callbacks_.input(chunk.bytes()), read_size_);
    if (n == 0) co_return data_or_eof::eof();
    co_return data_or_eof(chunk.sub(0, n));
  }

  asio::awaitable<write_result> do_writev(std::span<const buffer> data) override {
    if (!callbacks_.output) co_return fail(flow_errc::closed);
    for (const auto& part : data) {
      if (!part.empty()) callbacks_.output(part);
    }
    co_return write_result{};
  }

  asio::awaitable<void> do_shutdown_write() override { co_return; }

  asio::awaitable<void> do_close() override {
    if (callbacks_.on_close) callbacks_.on_close();
    co_return;
  }

 private:
  function_flow_callbacks callbacks_;
  std::size_t read_size_;
};

}  // namespace

flow function_flow(asio::any_io_executor executor, function_flow_callbacks callbacks,
                   std::size_t read_size) {
  return make_flow<callback_flow>(std::move(executor), std::move(callbacks), read_size);
}

flow string_flow(asio::any_io_executor executor, std::string input, std::string* output,
                 std::size_t read_size) {
  auto source = std::make_shared<std::pair<std::string, std::size_t>>(std::move(input), 0);
  function_flow_callbacks callbacks;
  callbacks.input = [source](std::span<std::byte> into) {
    auto& [text, at] = *source;
    std::size_t n = std::min(into.size(), text.size() - at);
    std::memcpy(into.data(), text.data() + at, n);
    at += n;
    return n;
  };
  if (output) callbacks.output = [output](const buffer& b) { output->append(b.as_string_view()); };
  return function_flow(std::move(executor), std::move(callbacks), read_size);
}

flow buffers_flow(asio::any_io_executor executor, std::vector<buffer> input,
                  std::vector<buffer>* output) {
  std::erase_if(input, [](const buffer& b) { return b.empty(); });
  std::size_t largest = 1;
  for (const auto& b : input) largest = std::max(largest, b.size());
  auto source = std::make_shared<std::pair<std::vector<buffer>, std::size_t>>(std::move(input), 0);
  function_flow_callbacks callbacks;
  // Each read is sized for the largest buffer, and gives exactly one input buffer.
  callbacks.input = [source](std::span<std::byte> into) -> std::size_t {
    auto& [parts, next] = *source;
    if (next == parts.size()) return 0;
    const auto& part = parts[next++];
    std::memcpy(into.data(), part.data(), part.size());
    return part.size();
  };
  if (output) callbacks.output = [output](const buffer& b) { output->push_back(b); };
  return function_flow(std::move(executor), std::move(callbacks), largest);
}

}  // namespace flowstack
