// Query ids for upstream queries: unpredictable (RFC 5452 §9.2) and never one already in flight.
#pragma once

#include <flowstack/core/error.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <unordered_set>

namespace flowstack::dns::detail {

// Random 16-bit ids from the kernel's CSPRNG (getrandom(2)), read a block at a time so that a
// busy forwarder makes one system call per 128 ids rather than one per query.
class query_id_source {
 public:
  // A fresh id not in `in_flight`, inserted into it. Fails only when the kernel gives no random
  // octets, or when every id is in flight.
  result<std::uint16_t> allocate(std::unordered_set<std::uint16_t>& in_flight);

 private:
  result<std::uint16_t> next();

  std::array<std::uint8_t, 256> pool_{};
  std::size_t used_ = pool_.size();
};

}  // namespace flowstack::dns::detail
