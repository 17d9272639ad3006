// Fault injection on memory_pair ends, shared by the core and conformance tests.
#pragma once

#include <flowstack/core/memory_flow.hpp>

#include <system_error>

namespace flowstack::test {

// An error no flow produces on its own, for injected failures.
inline const std::error_code io_error = std::make_error_code(std::errc::io_error);

// The fault-injection controls of a flow made by memory_pair.
inline memory_flow& faults(flow& f) {
  return *f.as<memory_flow>();
}

}  // namespace flowstack::test
