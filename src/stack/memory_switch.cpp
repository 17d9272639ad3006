#include <algorithm>
#include <asio/experimental/awaitable_operators.hpp>
#include <flowstack/core/wait_queue.hpp>
#include <flowstack/stack/ipv4.hpp>
#include <flowstack/stack/memory_switch.hpp>
#include <flowstack/stack/segment.hpp>
#include <map>

namespace flowstack::stack {

struct memory_switch::port {
  port(asio::any_io_executor executor, mac_address a, link_faults f)
      : mac(a), faults(std::move(f)), changed(std::move(executor)) {}

  mac_address mac;
  link_faults faults;
  port_counters counters;
  // Frames on their way, by the time they arrive (then by the order they were sent).
  std::multimap<std::pair<clock::time_point, std::uint64_t>, buffer> queue;
  std::uint64_t sent = 0;
  // The switch the port is on; null once the switch is gone (the port then says closed).
  memory_switch* owner = nullptr;
  clock::time_point link_free{};  // when the link has sent everything queued before
  wait_queue changed;
  bool closed = false;
};

class switch_port final : public device {
 public:
  switch_port(memory_switch& s, clock& time, std::unique_ptr<memory_switch::port> p)
      : clock_(time), port_(std::move(p)) {
    port_->owner = &s;
  }
  ~switch_port() override {
    close();
    if (port_->owner) std::erase(port_->owner->ports_, port_.get());
  }

  asio::awaitable<result<frame>> receive() override {
    using namespace asio::experimental::awaitable_operators;
    memory_switch::port& p = *port_;
    for (;;) {
      if (p.closed) co_return fail(flow_errc::closed);
      if (p.queue.empty()) {
        co_await p.changed.wait();
        continue;
      }
      auto head = p.queue.begin();
      auto arrives = head->first.first;
      if (arrives <= clock_.now()) {
        frame f{std::move(head->second)};
        p.queue.erase(head);
        co_return f;
      }
      // A frame sent meanwhile may arrive sooner (the one this waits for was held back).
      co_await (clock_.wait_until(arrives) || p.changed.wait());
    }
  }

  result<void> send(buffer data) override {
    if (port_->closed) return fail(flow_errc::closed);
    port_->owner->forward(*port_, data);
    return {};
  }

  std::size_t mtu() const noexcept override { return port_->faults.mtu; }
  mac_address address() const noexcept override { return port_->mac; }
  void close() override {
    port_->closed = true;
    port_->queue.clear();
    port_->changed.notify_all();
  }

 private:
  clock& clock_;
  std::unique_ptr<memory_switch::port> port_;
};

namespace {

// An ACK with no data and no SYN, FIN or RST: what delayed-ACK and ACK-loss tests are about.
bool is_pure_ack(const buffer& data) {
  auto bytes = data.octets();
  auto f = parse_ethernet(bytes);
  if (!f || f->type != static_cast<std::uint16_t>(ethertype::ipv4)) return false;
  auto p = parse_ipv4(f->payload, false);
  if (!p || p->header.protocol != static_cast<std::uint8_t>(ip_protocol::tcp) ||
      p->header.is_fragment())
    return false;
  auto s = parse_tcp(p->payload, checksum(), false);
  if (!s) return false;
  return s->header.flags == tcp_flag::ack && s->payload.empty();
}

}  // namespace

memory_switch::memory_switch(asio::any_io_executor executor, clock& time, std::uint64_t seed)
    : executor_(std::move(executor)), clock_(time), random_(seed) {}

// Ports that outlive the switch (a stack that is still closing its connections, say) are
// closed: their sends and receives fail instead of reaching a switch that is gone.
memory_switch::~memory_switch() {
  for (port* p : ports_) {
    p->owner = nullptr;
    p->closed = true;
    p->queue.clear();
    p->changed.notify_all();
  }
}

std::unique_ptr<device> memory_switch::connect(const mac_address& address, link_faults faults) {
  auto p = std::make_unique<port>(executor_, address, std::move(faults));
  ports_.push_back(p.get());
  return std::make_unique<switch_port>(*this, clock_, std::move(p));
}

const memory_switch::port_counters* memory_switch::counters(const mac_address& address) const {
  for (const port* p : ports_) {
    if (p->mac == address) return &p->counters;
  }
  return nullptr;
}

void memory_switch::forward(const port& from, const buffer& data) {
  if (data.size() < ethernet_header_size) return;
  mac_address to;
  std::copy_n(data.octets().data(), 6, to.bytes.begin());
  if (!to.is_multicast()) {
    for (port* p : ports_) {
      if (p->mac == to && p != &from) return deliver(*p, data);
    }
  }
  // Broadcast, multicast, or an address no port has: every other port gets a copy.
  for (port* p : ports_) {
    if (p != &from) deliver(*p, data.clone());
  }
}

void memory_switch::deliver(port& to, const buffer& data) {
  const link_faults& f = to.faults;
  port_counters& c = to.counters;
  const auto now = clock_.now();
  // The same draws for every frame of a faulty link, whatever its faults, so a seed replays the
  // same run; a link without faults draws nothing (1 is never below a probability).
  double lose = 1, lose_ack = 1, twice = 1, hold = 1, damage = 1;
  if (f.loss > 0 || f.ack_loss > 0 || f.duplicate > 0 || f.reorder > 0 || f.corrupt > 0) {
    std::uniform_real_distribution<double> uniform(0, 1);
    lose = uniform(random_);
    lose_ack = uniform(random_);
    twice = uniform(random_);
    hold = uniform(random_);
    damage = uniform(random_);
  }

  bool in_outage = std::any_of(f.outages.begin(), f.outages.end(), [now](const auto& window) {
    return window.first <= now && now < window.second;
  });
  if (in_outage) {
    ++c.in_outage;
    return;
  }
  if (data.size() > ethernet_header_size + f.mtu) {
    ++c.too_big;
    return;
  }
  if (lose < f.loss) {
    ++c.lost;
    return;
  }
  if (lose_ack < f.ack_loss && is_pure_ack(data)) {
    ++c.acks_lost;
    return;
  }
  if (to.queue.size() >= f.queue_frames) {
    ++c.queue_full;
    return;
  }
  buffer delivered = data;
  if (damage < f.corrupt) {
    delivered = data.clone();
    std::uniform_int_distribution<std::size_t> at(0, delivered.size() * 8 - 1);
    std::size_t bit = at(random_);
    delivered.set_u8(bit / 8,
                     static_cast<std::uint8_t>(delivered.get_u8(bit / 8) ^ (1u << bit % 8)));
    ++c.corrupted;
  }
  clock::duration on_the_wire{};
  if (f.bits_per_second > 0) {
    on_the_wire = std::chrono::duration_cast<clock::duration>(
        std::chrono::duration<double>(double(data.size()) * 8 / double(f.bits_per_second)));
  }
  to.link_free = std::max(now, to.link_free) + on_the_wire;
  auto arrives = to.link_free + f.delay;
  if (hold < f.reorder) {
    arrives += f.reorder_delay;
    ++c.reordered;
  }
  to.queue.emplace(std::pair(arrives, to.sent++), delivered);
  ++c.delivered;
  if (twice < f.duplicate) {
    to.queue.emplace(std::pair(arrives, to.sent++), delivered);
    ++c.duplicated;
  }
  to.changed.notify_all();
}

}  // namespace flowstack::stack
