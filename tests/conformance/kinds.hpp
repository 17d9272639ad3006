// The flow kinds the conformance suite runs against. A kind is a type with
//
//   static constexpr const char* name;
//   static asio::awaitable<std::pair<flow, flow>> make_pair(asio::any_io_executor);
//
// giving two connected ends; optionally `static constexpr std::size_t bulk_bytes` when the
// kind cannot move the default 64 MiB of the bulk test in a few seconds. A new flow kind (TLS,
// vchan, the userspace stack) joins the suite with one more struct here and one more entry in
// `all_kinds`.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <flowstack/core/flow.hpp>
#include <flowstack/core/memory_flow.hpp>
#include <string>
#include <utility>

#include "support/record_flow.hpp"

namespace flowstack::conformance {

struct memory_kind {
  static constexpr const char* name = "memory";
  static asio::awaitable<std::pair<flow, flow>> make_pair(asio::any_io_executor ex) {
    co_return memory_pair(ex);
  }
};

// Every read delivers 1..7 bytes: a delivery that cuts the stream anywhere.
struct memory_cut_kind {
  static constexpr const char* name = "memory_cut_reads";
  static constexpr std::size_t bulk_bytes = 1 << 20;  // reads of 4 bytes on average
  static asio::awaitable<std::pair<flow, flow>> make_pair(asio::any_io_executor ex) {
    auto ends = memory_pair(ex);
    ends.first.as<memory_flow>()->cut_reads(7, 1);
    ends.second.as<memory_flow>()->cut_reads(7, 2);
    co_return std::move(ends);
  }
};

// A layered flow (records, test/support/record_flow.hpp) over a memory pair that cuts reads,
// so record headers arrive in pieces.
struct layered_memory_kind {
  static constexpr const char* name = "records_over_memory_cut_reads";
  static constexpr std::size_t bulk_bytes = 1 << 20;
  static asio::awaitable<std::pair<flow, flow>> make_pair(asio::any_io_executor ex) {
    auto ends = memory_pair(ex);
    ends.first.as<memory_flow>()->cut_reads(7, 3);
    ends.second.as<memory_flow>()->cut_reads(7, 4);
    co_return std::pair{test::layer_records(std::move(ends.first)),
                        test::layer_records(std::move(ends.second))};
  }
};

template <typename Kind>
constexpr std::size_t bulk_bytes_of() {
  if constexpr (requires { Kind::bulk_bytes; }) {
    return Kind::bulk_bytes;
  } else {
    return std::size_t{64} << 20;
  }
}

struct kind_names {
  template <typename Kind>
  static std::string GetName(int) {
    return Kind::name;
  }
};

using all_kinds = ::testing::Types<memory_kind, memory_cut_kind, layered_memory_kind>;

}  // namespace flowstack::conformance
