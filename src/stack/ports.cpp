#include <flowstack/stack/ports.hpp>

namespace flowstack::stack {

port_allocator::port_allocator(std::uint16_t first, std::uint16_t last, std::uint64_t seed)
    : first_(first),
      last_(last < first ? first : last),
      random_(seed),
      free_(std::size_t(last_) - first_ + 1) {
  if (first_ == 0) {
    first_ = 1;  // port 0 is never handed out
    --free_;
  }
}

std::optional<std::uint16_t> port_allocator::allocate() {
  if (free_ == 0) return std::nullopt;
  const std::size_t size = std::size_t(last_) - first_ + 1;
  std::size_t at = std::uniform_int_distribution<std::size_t>(0, size - 1)(random_);
  for (std::size_t tried = 0; tried < size; ++tried, at = (at + 1) % size) {
    auto port = static_cast<std::uint16_t>(first_ + at);
    if (!used_[port]) {
      used_[port] = true;
      --free_;
      return port;
    }
  }
  return std::nullopt;  // unreachable while free_ counts right
}

bool port_allocator::reserve(std::uint16_t port) {
  if (port == 0 || used_[port]) return false;
  used_[port] = true;
  if (in_range(port)) --free_;
  return true;
}

void port_allocator::release(std::uint16_t port) {
  if (port == 0 || !used_[port]) return;
  used_[port] = false;
  if (in_range(port)) ++free_;
}

}  // namespace flowstack::stack
