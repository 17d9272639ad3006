#include <flowstack/core/layered_flow.hpp>

namespace flowstack {

layered_flow::layered_flow(flow inner)
    : flow_impl(inner.get_executor()), inner_(std::move(inner)) {}

asio::awaitable<void> layered_flow::end_read() {
  read_done_ = true;
  co_await close_inner_if_done();
}

asio::awaitable<void> layered_flow::end_write() {
  write_done_ = true;
  co_await close_inner_if_done();
}

asio::awaitable<void> layered_flow::close_inner_if_done() {
  if (read_done_ && write_done_) co_await close_inner();
}

asio::awaitable<void> layered_flow::close_inner() {
  if (inner_closed_) co_return;
  inner_closed_ = true;
  co_await inner_.close();
  on_inner_closed();
}

asio::awaitable<void> layered_flow::abort_inner() {
  if (inner_closed_) co_return;
  inner_closed_ = true;
  co_await inner_.abort();
  on_inner_closed();
}

asio::awaitable<void> layered_flow::do_close() {
  read_done_ = true;
  write_done_ = true;
  co_await close_inner();
}

asio::awaitable<void> layered_flow::do_abort() {
  read_done_ = true;
  write_done_ = true;
  co_await abort_inner();
}

}  // namespace flowstack
