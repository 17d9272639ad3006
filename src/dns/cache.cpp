// The forwarder's answer cache: an LRU list plus a hash index, both O(1) per operation.
#include <flowstack/dns/cache.hpp>

#include <algorithm>
#include <list>
#include <unordered_map>
#include <utility>

namespace flowstack::dns {

namespace {

using std::chrono::seconds;

// EDNS options kept with a cached answer: only those about the answer itself. Extended DNS
// Errors (RFC 8914) explain the answer, so they are served again. Every other option belongs to
// the transaction that fetched the answer and is dropped: NSID names the server that answered
// that query (RFC 5001 §2.1, and it was asked by that client), COOKIE is per client and server
// (RFC 7873 §5.4), PADDING is sized for one message (RFC 7830), keepalive is about one TCP
// connection (RFC 7828), and an unknown option cannot be judged. A client that asks for NSID
// and is answered from the cache gets no NSID, which RFC 5001 §2.2 allows.
constexpr std::uint16_t option_extended_error = 15;

bool replayable(const edns_option& o) {
  return o.code == option_extended_error;
}

struct key {
  name qname;  // lowercased
  rr_type qtype = rr_type::a;
  rr_class qclass = rr_class::in;
  // The header bits that change the answer: DO (DNSSEC records or not), CD (an upstream
  // validator's checks bypassed, RFC 4035 §3.2.2: an answer fetched with CD=1 may be bogus and
  // must not reach a client that relies on validation), RD (RFC 1035 §4.1.1: without it a
  // recursive upstream answers only from what it has).
  bool dnssec_ok = false;
  bool checking_disabled = false;
  bool recursion_desired = false;

  friend bool operator==(const key&, const key&) = default;
};

struct key_hash {
  std::size_t operator()(const key& k) const noexcept {
    std::size_t h = std::hash<name>{}(k.qname);
    std::size_t extra = static_cast<std::size_t>(k.qtype) << 17 ^
                        static_cast<std::size_t>(k.qclass) << 3 ^ (k.dnssec_ok ? 1u : 0u) ^
                        (k.checking_disabled ? 2u : 0u) ^ (k.recursion_desired ? 4u : 0u);
    return h ^ (extra + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2));
  }
};

std::optional<key> key_of(const message& query) {
  if (query.questions.empty()) return std::nullopt;
  const question& q = query.questions.front();
  return key{q.qname.lowercased(), q.qtype,        q.qclass, query.edns && query.edns->dnssec_ok,
             query.header.cd,      query.header.rd};
}

// What an entry costs besides the answer's octets: the key's name, type, class and bits.
std::size_t key_overhead(const key& k) {
  return k.qname.wire_length() + 5;
}

template <typename F>
void for_each_record(message& m, F f) {
  for (auto& r : m.answers) f(r);
  for (auto& r : m.authority) f(r);
  for (auto& r : m.additional) f(r);
}

seconds clamp_ttl(seconds ttl, seconds lo, seconds hi) {
  // A configuration with min above max keeps max: the upper bound is the safety limit.
  return std::min(std::max(ttl, lo), hi);
}

// The time an answer may be kept (before clamping), or nothing when it must not be kept.
struct lifetime {
  seconds ttl;
  bool negative = false;
};

std::optional<lifetime> lifetime_of(const message& answer) {
  if (answer.header.tc) return std::nullopt;  // a truncated answer is incomplete
  const std::uint16_t rc = answer.full_rcode();
  const bool nxdomain = rc == static_cast<std::uint16_t>(rcode::nxdomain);
  if (rc != static_cast<std::uint16_t>(rcode::noerror) && !nxdomain) return std::nullopt;

  if (!nxdomain && !answer.answers.empty()) {
    std::uint32_t smallest = UINT32_MAX;
    auto visit = [&](const std::vector<record>& section) {
      for (const auto& r : section) smallest = std::min(smallest, r.ttl);
    };
    visit(answer.answers);
    visit(answer.authority);
    visit(answer.additional);  // the OPT record is message::edns, never here
    return lifetime{seconds(smallest), false};
  }

  // RFC 2308 §5: a negative answer lives for the SOA record's TTL capped by its MINIMUM field;
  // without an SOA in the authority section it must not be cached.
  for (const auto& r : answer.authority) {
    if (r.type != rr_type::soa) continue;
    const auto* soa = std::get_if<rdata_soa>(&r.data);
    if (soa == nullptr) continue;
    return lifetime{seconds(std::min(r.ttl, soa->minimum)), true};
  }
  return std::nullopt;
}

}  // namespace

struct cache::state {
  struct entry {
    dns::key key;
    message answer;  // record TTLs as they stand at `stored`
    clock::time_point stored;
    seconds ttl;
    std::size_t bytes = 0;
  };

  explicit state(cache_options o) : options(o) {}

  void erase(std::list<entry>::iterator it) {
    stats.bytes -= it->bytes;
    index.erase(it->key);
    lru.erase(it);
    stats.entries = lru.size();
  }

  void evict_to_bounds() {
    while (!lru.empty() && (lru.size() > options.max_entries || stats.bytes > options.max_bytes)) {
      erase(std::prev(lru.end()));
      ++stats.evictions;
    }
  }

  cache_options options;
  std::list<entry> lru;  // most recently used first
  std::unordered_map<dns::key, std::list<entry>::iterator, key_hash> index;
  cache_stats stats;
};

cache::cache(cache_options options) : state_(std::make_unique<state>(options)) {}
cache::~cache() = default;

std::optional<message> cache::lookup(const message& query, clock::time_point now) {
  auto& s = *state_;
  auto k = key_of(query);
  auto found = k ? s.index.find(*k) : s.index.end();
  if (found == s.index.end()) {
    ++s.stats.misses;
    return std::nullopt;
  }
  auto it = found->second;
  // Floor: a record never looks younger than it is. A clock that went backwards counts as no
  // time spent.
  const seconds spent =
      now > it->stored ? std::chrono::floor<seconds>(now - it->stored) : seconds(0);
  if (spent >= it->ttl) {
    s.erase(it);
    ++s.stats.misses;
    ++s.stats.expirations;
    return std::nullopt;
  }
  s.lru.splice(s.lru.begin(), s.lru, it);
  ++s.stats.hits;

  message answer = it->answer;
  const auto spent_count = static_cast<std::uint64_t>(spent.count());
  for_each_record(answer, [&](record& r) {
    r.ttl = r.ttl > spent_count ? static_cast<std::uint32_t>(r.ttl - spent_count) : 0;
  });

  // The answer is to this query: its id, its RD and CD bits (RFC 4035 §3.2.2 copies CD from the
  // query; both are part of the key, so this only restates them), its question as it spelled it
  // (clients that randomise the case of names match it octet for octet,
  // draft-vixie-dnsext-dns0x20).
  const question& asked = query.questions.front();
  answer.header.id = query.header.id;
  answer.header.rd = query.header.rd;
  answer.header.cd = query.header.cd;
  answer.questions.assign(1, asked);
  for_each_record(answer, [&](record& r) {
    if (r.owner == asked.qname) r.owner = asked.qname;
  });
  // RFC 6891 §7: no OPT record in the answer to a query without one.
  if (!query.edns) answer.edns.reset();
  return answer;
}

void cache::insert(const message& query, const message& answer, clock::time_point now) {
  auto& s = *state_;
  auto k = key_of(query);
  if (!k) return;
  auto life = lifetime_of(answer);
  if (!life) return;

  const seconds ttl = life->negative
                          ? clamp_ttl(life->ttl, s.options.min_ttl, s.options.max_negative_ttl)
                          : clamp_ttl(life->ttl, s.options.min_ttl, s.options.max_ttl);
  if (ttl <= seconds(0)) return;

  state::entry e{*k, answer, now, ttl, 0};
  // Every record carries the entry's bounds: none is served with a TTL above the entry's limit,
  // and none below min_ttl while the entry lives.
  const auto lo = static_cast<std::uint32_t>(
      std::min<std::int64_t>(std::min(s.options.min_ttl, ttl).count(), UINT32_MAX));
  const auto hi = static_cast<std::uint32_t>(std::min<std::int64_t>(
      (life->negative ? ttl : std::max(s.options.max_ttl, ttl)).count(), UINT32_MAX));
  for_each_record(e.answer, [&](record& r) { r.ttl = std::min(std::max(r.ttl, lo), hi); });
  if (e.answer.edns) {
    std::erase_if(e.answer.edns->options, [](const edns_option& o) { return !replayable(o); });
  }

  auto wire = encode(e.answer);
  if (!wire) return;
  e.bytes = wire->size() + key_overhead(*k);
  if (e.bytes > s.options.max_bytes || s.options.max_entries == 0) return;

  if (auto old = s.index.find(*k); old != s.index.end()) s.erase(old->second);
  s.lru.push_front(std::move(e));
  s.index.emplace(*k, s.lru.begin());
  s.stats.bytes += s.lru.front().bytes;
  s.stats.entries = s.lru.size();
  ++s.stats.insertions;
  s.evict_to_bounds();
}

void cache::clear() {
  state_->lru.clear();
  state_->index.clear();
  state_->stats.entries = 0;
  state_->stats.bytes = 0;
}

cache_stats cache::stats() const noexcept {
  return state_->stats;
}

const cache_options& cache::options() const noexcept {
  return state_->options;
}

}  // namespace flowstack::dns
