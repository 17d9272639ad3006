#include <cerrno>
#include <flowstack/core/error.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace flowstack {
namespace {

class flow_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "flow"; }
  std::string message(int code) const override {
    switch (static_cast<flow_errc>(code)) {
      case flow_errc::closed:
        return "the flow is closed: it carries no more bytes in that direction";
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
      case flow_errc::reset:
        return "the peer aborted the flow: its stream was cut, not ended";
    }
    return "unknown flow error " + std::to_string(code);
  }

  std::error_condition default_error_condition(int code) const noexcept override {
    switch (static_cast<flow_errc>(code)) {
      case flow_errc::closed:
        return flow_condition::closed;
      case flow_errc::timeout:
        return flow_condition::timeout;
      case flow_errc::cancelled:
        return flow_condition::cancelled;
      case flow_errc::reset:
        return flow_condition::reset;
      default:
        return {code, *this};
    }
  }
};

class flow_condition_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "flow condition"; }
  std::string message(int condition) const override {
    switch (static_cast<flow_condition>(condition)) {
      case flow_condition::closed:
        return "closed";
      case flow_condition::timeout:
        return "timed out";
      case flow_condition::cancelled:
        return "cancelled";
      case flow_condition::refused:
        return "connection refused";
      case flow_condition::reset:
        return "connection reset";
      case flow_condition::unreachable:
        return "unreachable";
    }
    return "unknown flow condition " + std::to_string(condition);
  }

  // A code means a condition when its category maps it there, or when it is the errno that the
  // kernel reports for it (Asio's system category carries errno values too).
  bool equivalent(const std::error_code& code, int condition) const noexcept override {
    if (code.category().default_error_condition(code.value()) ==
        std::error_condition(condition, *this)) {
      return true;
    }
    auto kernel = errno_condition(code);
    return kernel && static_cast<int>(*kernel) == condition;
  }

 private:
  static std::optional<flow_condition> errno_condition(const std::error_code& code) noexcept {
    const std::string_view name = code.category().name();
    if (name != "system" && name != "generic" && name != "asio.system") return std::nullopt;
    switch (code.value()) {
      case EPIPE:
        return flow_condition::closed;
      case ETIMEDOUT:
        return flow_condition::timeout;
      case ECANCELED:
        return flow_condition::cancelled;
      case ECONNREFUSED:
        return flow_condition::refused;
      case ECONNRESET:
        return flow_condition::reset;
      case EHOSTUNREACH:
      case ENETUNREACH:
        return flow_condition::unreachable;
      default:
        return std::nullopt;
    }
  }
};

}  // namespace

const std::error_category& flow_category() noexcept {
  static const flow_category_impl category;
  return category;
}

const std::error_category& flow_condition_category() noexcept {
  static const flow_condition_category_impl category;
  return category;
}

}  // namespace flowstack
