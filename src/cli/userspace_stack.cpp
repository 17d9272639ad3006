#include "userspace_stack.hpp"

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <flowstack/core/text.hpp>
#include <flowstack/stack/pcap.hpp>
#include <functional>
#include <utility>

#include "cat.hpp"

namespace flowstack::cli {
namespace {

// The device under the stack, counting what passes so that -v can say it.
class counted_device final : public stack::device {
 public:
  counted_device(std::unique_ptr<stack::device> inner,
                 std::shared_ptr<userspace_stack::frame_counts> counts)
      : inner_(std::move(inner)), counts_(std::move(counts)) {}

  asio::awaitable<result<stack::frame>> receive() override {
    auto f = co_await inner_->receive();
    if (f) ++counts_->received;
    co_return f;
  }
  result<void> send(buffer frame) override {
    auto sent = inner_->send(std::move(frame));
    ++(sent ? counts_->sent : counts_->send_failed);
    return sent;
  }
  std::size_t mtu() const noexcept override { return inner_->mtu(); }
  stack::mac_address address() const noexcept override { return inner_->address(); }
  void close() override { inner_->close(); }

 private:
  std::unique_ptr<stack::device> inner_;
  std::shared_ptr<userspace_stack::frame_counts> counts_;
};

std::optional<asio::ip::address_v4> ipv4_of(const std::string& text) {
  std::error_code ec;
  auto a = asio::ip::make_address_v4(text, ec);
  if (ec) return std::nullopt;
  return a;
}

std::uint32_t mask_of(unsigned prefix) {
  return prefix == 0 ? 0 : ~std::uint32_t(0) << (32 - prefix);
}

}  // namespace

expected<stack_setup, std::string> check_stack_options(const stack_options& options,
                                                       const std::string& option_prefix) {
  stack_setup setup;
  const std::string& name = options.tap;
  if (name.empty() || name.size() > 15) {
    return unexpected(option_prefix + "tap \"" + escape_controls(name) +
                      "\": a TAP device name is 1 to " +
                      "15 characters, expected a shorter one such as flowstack0");
  }
  for (char c : name) {
    if (c == '/' || c == ':' || c <= ' ' || c == 0x7f) {
      return unexpected(option_prefix + "tap \"" + escape_controls(name) +
                        "\": an interface name " + "holds no '/', ':', space or control character");
    }
  }
  setup.tap.name = name;
  setup.tap.mtu = options.mtu;

  const std::string& text = options.address;
  auto slash = text.find('/');
  auto expected_form = "expected ADDRESS/PREFIX such as 10.0.0.2/24";
  auto address = ipv4_of(text.substr(0, slash));
  if (!address) {
    return unexpected(option_prefix + "address \"" + escape_controls(text) +
                      "\": not an IPv4 address, " + expected_form);
  }
  unsigned prefix = 24;
  if (slash != std::string::npos) {
    std::string_view digits(text.data() + slash + 1, text.size() - slash - 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || prefix < 1 ||
        prefix > 32) {
      return unexpected(option_prefix + "address \"" + escape_controls(text) +
                        "\": the prefix length is a number from 1 to 32, " + expected_form);
    }
  }
  const std::uint32_t mask = mask_of(prefix);
  const std::uint32_t host = address->to_uint();
  if (address->is_unspecified() || address->is_multicast() || address->is_loopback() ||
      (prefix < 31 && ((host & ~mask) == 0 || (host & ~mask) == ~mask))) {
    return unexpected(option_prefix + "address \"" + escape_controls(text) +
                      "\": no host may have this address (network, broadcast, loopback or " +
                      "multicast), " + expected_form);
  }
  setup.config.ipv4.address = *address;
  setup.config.ipv4.prefix_length = prefix;
  setup.config.ipv4.mtu = options.mtu;

  if (!options.gateway.empty()) {
    auto gateway = ipv4_of(options.gateway);
    if (!gateway) {
      return unexpected(option_prefix + "gateway \"" + escape_controls(options.gateway) +
                        "\": not an IPv4 address, expected one such as 10.0.0.1");
    }
    if ((gateway->to_uint() & mask) != (host & mask) || *gateway == *address) {
      return unexpected(option_prefix + "gateway " + options.gateway + ": not another host of " +
                        text + ", expected a neighbour on the stack's subnet");
    }
    setup.config.ipv4.gateway = *gateway;
  }
  setup.pcap = options.pcap;
  return setup;
}

std::string describe(const stack_setup& setup, const stack::direct_stack& running) {
  const auto& ip = running.network().config();
  std::string out = ip.address.to_string() + "/" + std::to_string(ip.prefix_length) + " on " +
                    setup.tap.name + " (MAC " + running.network().mac().to_string() + ", MTU " +
                    std::to_string(ip.mtu) + ")";
  if (ip.gateway) out += ", gateway " + ip.gateway->to_string();
  return out;
}

userspace_stack::userspace_stack(stack_setup setup)
    : setup_(std::move(setup)), frames_(std::make_shared<frame_counts>()) {}

userspace_stack::~userspace_stack() = default;

result<stack::direct_stack*> userspace_stack::get(asio::any_io_executor executor) {
  if (stack_) return stack_.get();
  auto tap = stack::open_tap(executor, setup_.tap);
  if (!tap) return fail(tap.error());
  std::unique_ptr<stack::device> dev = std::move(*tap);
  if (!setup_.pcap.empty()) {
    auto captured = stack::pcap_tap::open(setup_.pcap, std::move(dev), clock::steady());
    if (!captured) return fail(captured.error());
    dev = std::move(*captured);
  }
  stack_ = std::make_unique<stack::direct_stack>(
      executor, std::make_unique<counted_device>(std::move(dev), frames_), setup_.config);
  return stack_.get();
}

void userspace_stack::release() {
  stack_.reset();
}

std::string userspace_stack::counters() const {
  std::string out = "frames: " + std::to_string(frames_->received) + " in, " +
                    std::to_string(frames_->sent) + " out, " +
                    std::to_string(frames_->send_failed) + " not sent (device full)\n";
  if (!stack_) return out;
  using reason = stack::ipv4_layer::drop_reason;
  std::string drops;
  for (std::size_t r = 0; r < static_cast<std::size_t>(reason::count_); ++r) {
    auto n = stack_->network().drops(static_cast<reason>(r));
    if (n == 0) continue;
    drops += (drops.empty() ? "" : ", ") +
             std::string(stack::ipv4_layer::name_of(static_cast<reason>(r))) + " " +
             std::to_string(n);
  }
  if (auto n = stack_->udp_queue_drops()) {
    drops += (drops.empty() ? "" : ", ") + std::string("udp_queue_full ") + std::to_string(n);
  }
  out += "drops: " + (drops.empty() ? std::string("none") : drops) + "\n";
  const auto& tcp = stack_->tcp().stats();
  out += "segments: " + std::to_string(tcp.segments_in) + " in, " +
         std::to_string(tcp.segments_out) + " out, " + std::to_string(tcp.retransmissions) +
         " retransmitted (" + std::to_string(tcp.fast_retransmits) + " fast)\n";
  out += "tcp: malformed " + std::to_string(tcp.malformed) + ", resets_sent " +
         std::to_string(tcp.resets_sent) + ", syns_dropped " + std::to_string(tcp.syns_dropped) +
         ", table_full " + std::to_string(tcp.table_full) + ", not_for_us " +
         std::to_string(tcp.not_for_us) + ", over_budget " + std::to_string(tcp.over_budget) + "\n";
  out += "connections: " + std::to_string(stack_->tcp().connections()) + " (" +
         std::to_string(stack_->tcp().closing_or_open()) + " not in TIME-WAIT)\n";
  return out;
}

namespace {

void print_counters(const std::string& lines) {
  for (std::size_t at = 0, end; (end = lines.find('\n', at)) != std::string::npos; at = end + 1)
    std::fprintf(stderr, "flowstack stack: %s\n", lines.substr(at, end - at).c_str());
}

}  // namespace

int run_stack(const stack_setup& setup, bool verbose, std::chrono::seconds interval) {
  asio::io_context io;
  userspace_stack stack(setup);
  auto running = stack.get(io.get_executor());
  if (!running) {
    std::string with = setup.pcap.empty() ? "" : " with capture " + setup.pcap;
    std::fprintf(stderr, "flowstack stack: bringing the stack up on TAP device %s%s: %s\n",
                 setup.tap.name.c_str(), with.c_str(),
                 in_our_voice(running.error().message()).c_str());
    return exit_failure;
  }
  std::fprintf(stderr, "flowstack stack: up, %s; answering until SIGINT or SIGTERM\n",
               describe(setup, **running).c_str());

  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::steady_timer timer(io);
  std::string shown;
  std::function<void()> tick = [&] {
    timer.expires_after(interval);
    timer.async_wait([&](std::error_code ec) {
      if (ec) return;
      // Said again only when something moved, so that an idle stack stays quiet.
      if (auto now = stack.counters(); now != shown) print_counters(shown = now);
      tick();
    });
  };
  if (verbose && interval.count() > 0) tick();
  signals.async_wait([&](std::error_code ec, int) {
    if (ec) return;
    timer.cancel();
    if (verbose) print_counters(stack.counters());
    stack.release();
  });
  io.run();
  return exit_ok;
}

}  // namespace flowstack::cli
