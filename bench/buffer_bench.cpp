// Micro-benchmarks of flowstack::buffer: the operations every read and write path leans on.
// The views (sub, shift, split) share memory, so they should cost a reference count, not a copy.
#include <benchmark/benchmark.h>

#include <array>
#include <flowstack/core/buffer.hpp>
#include <string>
#include <vector>

namespace {

using flowstack::buffer;

void create(benchmark::State& state) {
  auto size = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    auto b = buffer::create(size);
    benchmark::DoNotOptimize(b.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(create)->Arg(64)->Arg(4096)->Arg(64 * 1024);

void create_uninitialized(benchmark::State& state) {
  auto size = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    auto b = buffer::create_uninitialized(size);
    benchmark::DoNotOptimize(b.data());
  }
}
BENCHMARK(create_uninitialized)->Arg(64)->Arg(4096)->Arg(64 * 1024);

void sub(benchmark::State& state) {
  auto b = buffer::create(4096);
  for (auto _ : state) {
    auto v = b.sub(100, 1000);
    benchmark::DoNotOptimize(v.data());
  }
}
BENCHMARK(sub);

void shift(benchmark::State& state) {
  auto b = buffer::create(4096);
  for (auto _ : state) {
    auto v = b.shift(100);
    benchmark::DoNotOptimize(v.data());
  }
}
BENCHMARK(shift);

void split(benchmark::State& state) {
  auto b = buffer::create(4096);
  for (auto _ : state) {
    auto [head, tail] = b.split(1000);
    benchmark::DoNotOptimize(head.data());
    benchmark::DoNotOptimize(tail.data());
  }
}
BENCHMARK(split);

// Copying a view: one atomic increment and decrement.
void copy_view(benchmark::State& state) {
  auto b = buffer::create(4096);
  for (auto _ : state) {
    buffer v = b;
    benchmark::DoNotOptimize(v.data());
  }
}
BENCHMARK(copy_view);

void concat(benchmark::State& state) {
  auto parts_count = static_cast<std::size_t>(state.range(0));
  std::vector<buffer> parts;
  for (std::size_t i = 0; i < parts_count; ++i) parts.push_back(buffer::create(1024));
  for (auto _ : state) {
    auto all = buffer::concat(parts);
    benchmark::DoNotOptimize(all.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0) * 1024);
}
BENCHMARK(concat)->Arg(2)->Arg(16);

void of_string(benchmark::State& state) {
  std::string text(static_cast<std::size_t>(state.range(0)), 'x');
  for (auto _ : state) {
    auto b = buffer::of_string(text);
    benchmark::DoNotOptimize(b.data());
  }
}
BENCHMARK(of_string)->Arg(16)->Arg(1024);

// The baseline a buffer should be compared with: a std::string of the same size.
void std_string_copy(benchmark::State& state) {
  std::string text(static_cast<std::size_t>(state.range(0)), 'x');
  for (auto _ : state) {
    std::string copy = text;
    benchmark::DoNotOptimize(copy.data());
  }
}
BENCHMARK(std_string_copy)->Arg(16)->Arg(1024);

void get_set_be32(benchmark::State& state) {
  auto b = buffer::create(64);
  std::uint32_t x = 0;
  for (auto _ : state) {
    b.set_be32(8, x);
    x += b.get_be32(8) + 1;
    benchmark::DoNotOptimize(x);
  }
}
BENCHMARK(get_set_be32);

}  // namespace

BENCHMARK_MAIN();
