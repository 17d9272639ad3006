#include "query_id.hpp"

#include <sys/random.h>

#include <cerrno>
#include <system_error>

namespace flowstack::dns::detail {

result<std::uint16_t> query_id_source::next() {
  if (used_ + 2 > pool_.size()) {
    std::size_t filled = 0;
    while (filled < pool_.size()) {
      ssize_t n = ::getrandom(pool_.data() + filled, pool_.size() - filled, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        return fail(std::error_code(errno, std::system_category()));
      }
      filled += static_cast<std::size_t>(n);
    }
    used_ = 0;
  }
  auto id = static_cast<std::uint16_t>(pool_[used_] << 8 | pool_[used_ + 1]);
  used_ += 2;
  return id;
}

result<std::uint16_t> query_id_source::allocate(std::unordered_set<std::uint16_t>& in_flight) {
  if (in_flight.size() > 0xffff)
    return fail(std::make_error_code(std::errc::resource_unavailable_try_again));
  for (;;) {
    auto id = next();
    if (!id) return id;
    // Drawing again (rather than stepping to a neighbour) keeps every free id equally likely.
    if (in_flight.insert(*id).second) return id;
  }
}

}  // namespace flowstack::dns::detail
