#include <flowstack/vchan/error.hpp>
#include <string>

namespace flowstack::vchan {
namespace {

class vchan_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "vchan"; }
  std::string message(int code) const override {
    switch (static_cast<vchan_errc>(code)) {
      case vchan_errc::corrupt:
        return "vchan shared memory is corrupt: the peer wrote impossible ring indices, orders "
               "or flags";
      case vchan_errc::invalid_port:
        return "invalid vchan port: a port name is one or more of the characters [a-zA-Z0-9_-]";
      case vchan_errc::invalid_ring_size:
        return "invalid vchan ring size: give 1 byte to 256 MiB (rounded up to a power of two, "
               "at least 1 KiB)";
      case vchan_errc::no_server:
        return "no vchan server listens on that domain and port";
      case vchan_errc::port_in_use:
        return "a vchan server already listens on that domain and port";
      case vchan_errc::handshake_failed:
        return "vchan rendezvous failed: the peer did not send the shared memory and event "
               "descriptors";
      case vchan_errc::path_too_long:
        return "vchan rendezvous path too long for a Unix socket: choose a shorter runtime "
               "directory";
      case vchan_errc::memory_not_sealed:
        return "vchan peer's shared memory is not sealed against shrinking (F_SEAL_SHRINK): "
               "refused, since the peer could truncate it while it is mapped";
      case vchan_errc::runtime_dir_not_a_directory:
        return "vchan runtime directory is not a directory: choose another with "
               "$FLOWSTACK_VCHAN_DIR";
    }
    return "unknown vchan error " + std::to_string(code);
  }
};

}  // namespace

const std::error_category& vchan_category() noexcept {
  static const vchan_category_impl category;
  return category;
}

}  // namespace flowstack::vchan
