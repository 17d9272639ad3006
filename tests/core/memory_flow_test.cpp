#include <flowstack/core/combinators.hpp>
#include <flowstack/core/memory_flow.hpp>

#include "support/run.hpp"

namespace flowstack {
namespace {

TEST(memory_pair, bytes_written_on_one_end_are_read_on_the_other) {
  auto got = test::run([](asio::any_io_executor ex) -> asio::awaitable<std::string> {
    auto [a, b] = memory_pair(ex);
    EXPECT_TRUE(co_await a.write(buffer::of_string("hello")));
    co_await a.shutdown(shutdown_mode::write);
    std::string text;
    for (;;) {
      auto r = co_await b.read();
      EXPECT_TRUE(r);
      if (!r || r->is_eof()) break;
      text += r->data().to_string();
    }
    co_return text;
  });
  EXPECT_EQ(got, "hello");
}

}  // namespace
}  // namespace flowstack
