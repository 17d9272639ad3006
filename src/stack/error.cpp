#include <flowstack/stack/error.hpp>
#include <string>

namespace flowstack::stack {
namespace {

class stack_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "stack"; }
  std::string message(int code) const override {
    switch (static_cast<stack_errc>(code)) {
      case stack_errc::truncated:
        return "truncated packet: shorter than its headers or its length field";
      case stack_errc::bad_checksum:
        return "bad checksum: the packet was damaged or forged";
      case stack_errc::bad_version:
        return "wrong IP version in the header";
      case stack_errc::bad_header_length:
        return "impossible header length";
      case stack_errc::bad_length:
        return "a length field contradicts the packet";
      case stack_errc::bad_option:
        return "malformed option";
      case stack_errc::source_routed:
        return "source-routed IPv4 packet (dropped, RFC 7126)";
      case stack_errc::unsupported:
        return "a kind of packet the stack does not handle";
    }
    return "unknown stack error " + std::to_string(code);
  }
};

}  // namespace

const std::error_category& stack_category() noexcept {
  static const stack_category_impl category;
  return category;
}

}  // namespace flowstack::stack
