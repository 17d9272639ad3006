#include <gtest/gtest.h>

#include <deque>
#include <flowstack/core/memory_flow.hpp>
#include <flowstack/core/wait_queue.hpp>
#include <flowstack/net/listener.hpp>
#include <memory>
#include <stdexcept>

#include "support/async.hpp"
#include "support/run.hpp"

namespace flowstack::net {
namespace {

using namespace flowstack::test;

// An acceptor with no stack under it: the test hands it connections (or errors) one by one.
struct memory_acceptor_state {
  explicit memory_acceptor_state(asio::any_io_executor ex) : arrived(ex) {}
  std::deque<result<flow>> backlog;
  wait_queue arrived;
  bool closed = false;
  int accepts = 0;
};

class memory_acceptor final : public acceptor {
 public:
  explicit memory_acceptor(std::shared_ptr<memory_acceptor_state> s) : s_(std::move(s)) {}

  asio::awaitable<result<flow>> accept() override {
    while (!s_->closed && s_->backlog.empty()) co_await s_->arrived.wait();
    if (s_->closed) co_return fail(flow_errc::closed);
    auto next = std::move(s_->backlog.front());
    s_->backlog.pop_front();
    ++s_->accepts;
    co_return next;
  }
  void close() override {
    s_->closed = true;
    s_->arrived.notify_all();
  }
  std::string local_address() const override { return "memory"; }
  unsigned short local_port() const override { return 7; }

 private:
  std::shared_ptr<memory_acceptor_state> s_;
};

// A client connecting: one half of a memory pair goes to the acceptor, the other is returned.
flow knock(memory_acceptor_state& s, asio::any_io_executor ex) {
  auto [client, server] = memory_pair(ex);
  s.backlog.push_back(std::move(server));
  s.arrived.notify_one();
  return std::move(client);
}

// A handler that says hello and then waits until the test lets it return.
struct held_handlers {
  explicit held_handlers(asio::any_io_executor ex) : released(ex) {}
  flow_handler handler() {
    return [this](flow& f) -> asio::awaitable<void> {
      (void)co_await write_string(f, "hi");
      while (!release) co_await released.wait();
    };
  }
  void let_go() {
    release = true;
    released.notify_all();
  }
  bool release = false;
  wait_queue released;
};

TEST(serve, runs_the_handler_for_each_connection_and_closes_the_flow_after_it) {
  auto text = run([](asio::any_io_executor ex) -> asio::awaitable<std::string> {
    auto s = std::make_shared<memory_acceptor_state>(ex);
    flow_handler say_bye = [](flow& f) -> asio::awaitable<void> {
      (void)co_await write_string(f, "bye");
    };
    auto l = serve(ex, std::make_unique<memory_acceptor>(s), say_bye, 4);
    auto client = knock(*s, ex);
    auto got = co_await read_all(client);  // eof after the words: the loop closed the flow
    EXPECT_EQ(l.accepted_connections(), 1u);
    EXPECT_EQ(l.local_address(), "memory");
    EXPECT_EQ(l.local_port(), 7);
    co_return got.value_or("<error>");
  });
  EXPECT_EQ(text, "bye");
}

TEST(serve, runs_at_most_max_connections_handlers_and_takes_the_next_when_one_returns) {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto s = std::make_shared<memory_acceptor_state>(ex);
    held_handlers held(ex);
    auto l = serve(ex, std::make_unique<memory_acceptor>(s), held.handler(), 2);
    auto a = knock(*s, ex);
    auto b = knock(*s, ex);
    auto c = knock(*s, ex);
    auto said_a1 = co_await read_string(a, 2);
    EXPECT_EQ(said_a1.value_or("<error>"), "hi");
    auto said_b2 = co_await read_string(b, 2);
    EXPECT_EQ(said_b2.value_or("<error>"), "hi");
    co_await yield(10);
    EXPECT_EQ(l.active_connections(), 2u);
    EXPECT_EQ(s->accepts, 2) << "the third waits in the backlog while two handlers run";
    held.let_go();
    auto said_c3 = co_await read_string(c, 2);
    EXPECT_EQ(said_c3.value_or("<error>"), "hi");
    EXPECT_EQ(l.accepted_connections(), 3u);
  });
}

TEST(serve, a_failed_connection_does_not_stop_the_loop) {
  auto text = run([](asio::any_io_executor ex) -> asio::awaitable<std::string> {
    auto s = std::make_shared<memory_acceptor_state>(ex);
    held_handlers held(ex);
    held.let_go();
    auto l = serve(ex, std::make_unique<memory_acceptor>(s), held.handler(), 2);
    s->backlog.push_back(fail(std::make_error_code(std::errc::connection_aborted)));
    auto client = knock(*s, ex);
    auto got = co_await read_all(client);
    EXPECT_EQ(l.accepted_connections(), 1u);
    co_return got.value_or("<error>");
  });
  EXPECT_EQ(text, "hi");
}

TEST(serve, unlisten_closes_the_acceptor_and_lets_running_handlers_finish) {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto s = std::make_shared<memory_acceptor_state>(ex);
    held_handlers held(ex);
    auto l = serve(ex, std::make_unique<memory_acceptor>(s), held.handler(), 2);
    auto a = knock(*s, ex);
    auto said_a4 = co_await read_string(a, 2);
    EXPECT_EQ(said_a4.value_or("<error>"), "hi");
    l.unlisten();
    EXPECT_TRUE(s->closed);
    auto late = knock(*s, ex);
    co_await yield(10);
    EXPECT_EQ(s->accepts, 1) << "nothing is accepted after unlisten";
    held.let_go();
    auto rest = co_await read_all(a);
    EXPECT_EQ(rest.value_or("<error>"), "") << "the running handler finished and its flow closed";
    co_await late.close();
  });
}

TEST(serve, a_handler_that_throws_frees_its_slot) {
  auto text = run([](asio::any_io_executor ex) -> asio::awaitable<std::string> {
    auto s = std::make_shared<memory_acceptor_state>(ex);
    int calls = 0;
    flow_handler throws_first = [&calls](flow& f) -> asio::awaitable<void> {
      if (calls++ == 0) throw std::runtime_error("handler bug");
      (void)co_await write_string(f, "second");
    };
    auto l = serve(ex, std::make_unique<memory_acceptor>(s), throws_first, 1);
    auto first = knock(*s, ex);
    auto second = knock(*s, ex);
    auto got = co_await read_all(second);
    EXPECT_EQ(l.accepted_connections(), 2u);
    co_await first.close();
    co_return got.value_or("<error>");
  });
  EXPECT_EQ(text, "second");
}

}  // namespace
}  // namespace flowstack::net
