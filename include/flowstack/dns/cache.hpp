// An answer cache for the forwarder.
//
// Keyed by (name lowercased, type, class, and the DO, CD and RD bits: each changes the answer).
// Positive answers live for their smallest TTL; NXDOMAIN and NODATA answers for the SOA's TTL
// capped by its MINIMUM (RFC 2308 §5); answers without a usable TTL (SERVFAIL, truncated, no SOA in
// a negative answer) are not kept. TTLs are clamped to [min_ttl, max_ttl] and count down: a hit
// returns every record's TTL reduced by the time spent in the cache. Bounded in entries and in
// bytes, evicting the least recently used. Time is passed in (the resolver reads it from its
// clock), so tests need no sleeps.
#pragma once

#include <flowstack/dns/message.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

namespace flowstack::dns {

struct cache_options {
  std::size_t max_entries = 100'000;
  std::size_t max_bytes = 64 * 1024 * 1024;  // counted as the answers' wire size
  std::chrono::seconds min_ttl{0};
  std::chrono::seconds max_ttl{86'400};
  std::chrono::seconds max_negative_ttl{3'600};
};

struct cache_stats {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t insertions = 0;
  std::uint64_t evictions = 0;  // entries dropped to stay within max_entries / max_bytes
  std::size_t entries = 0;
  std::size_t bytes = 0;
  std::uint64_t expirations = 0;  // entries found expired by a lookup (also counted as misses)
};

class cache {
 public:
  // Time points of flowstack::clock (core/clock.hpp), without the awaitables of that header.
  using clock = std::chrono::steady_clock;

  explicit cache(cache_options options = {});
  ~cache();
  cache(const cache&) = delete;
  cache& operator=(const cache&) = delete;

  // The cached answer to `query` (its first question), with the query's id, RD and CD bits and the
  // TTLs counted down to `now`; nothing on a miss or when the entry has expired.
  std::optional<message> lookup(const message& query, clock::time_point now);

  // Keeps `answer` to `query` if it is worth keeping (see above). Replaces an older entry. Of the
  // answer's EDNS options only Extended DNS Errors (RFC 8914) are kept; the others (NSID, COOKIE,
  // PADDING, ...) belong to the exchange that fetched it and are never served again.
  void insert(const message& query, const message& answer, clock::time_point now);

  void clear();
  cache_stats stats() const noexcept;
  const cache_options& options() const noexcept;

 private:
  struct state;
  std::unique_ptr<state> state_;
};

}  // namespace flowstack::dns
