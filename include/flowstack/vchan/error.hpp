// Errors of vchan flows (category "vchan").
#pragma once

#include <flowstack/core/error.hpp>

namespace flowstack::vchan {

enum class vchan_errc {
  // The peer wrote something into the shared header that the protocol cannot produce: an
  // index more than a ring ahead, a ring order out of range, an unknown live value.
  corrupt = 1,
  // A port name outside [a-zA-Z0-9_-]+.
  invalid_port,
  // A ring size that is zero or larger than the largest ring flowstack maps.
  invalid_ring_size,
  // No server listens on that (domain, port).
  no_server,
  // A live server already listens on that (domain, port).
  port_in_use,
  // The rendezvous did not follow the protocol (no descriptors, wrong greeting).
  handshake_failed,
  // The rendezvous path does not fit in a Unix socket address.
  path_too_long,
  // The peer's shared memory is not sealed against shrinking, so it could cut the mapping
  // from under us at any time (memfd F_SEAL_SHRINK is required).
  memory_not_sealed,
  // The runtime directory exists but is not a directory.
  runtime_dir_not_a_directory,
};

const std::error_category& vchan_category() noexcept;

inline std::error_code make_error_code(vchan_errc e) noexcept {
  return {static_cast<int>(e), vchan_category()};
}

}  // namespace flowstack::vchan

template <>
struct std::is_error_code_enum<flowstack::vchan::vchan_errc> : std::true_type {};
