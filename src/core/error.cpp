#include <flowstack/core/error.hpp>

#include <string>

namespace flowstack {
namespace {

class flow_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "flow"; }
  std::string message(int code) const override {
    switch (static_cast<flow_errc>(code)) {
      case flow_errc::closed:
        return "attempted to write to a closed flow";
      case flow_errc::read_in_progress:
        return "a read is already pending on this flow (one reader at a time)";
      case flow_errc::timeout:
        return "the operation timed out";
      case flow_errc::cancelled:
        return "the operation was cancelled";
      case flow_errc::unexpected_eof:
        return "the flow ended before the expected number of bytes arrived";
      case flow_errc::invalid_argument:
        return "invalid argument to a flow operation";
      case flow_errc::frame_too_large:
        return "a length-prefixed frame is longer than its reader accepts or its prefix can say";
    }
    return "unknown flow error " + std::to_string(code);
  }
};

}  // namespace

const std::error_category& flow_category() noexcept {
  static const flow_category_impl category;
  return category;
}

}  // namespace flowstack
