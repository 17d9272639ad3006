// Fuzz target for the DNS codec (include/flowstack/dns/message.hpp).
//
// Any input must decode to a message or to an error with a sentence, never a crash or a hang,
// and a decoded message must:
//   - encode, and decode back to an equal message with the same presentation (so the same case
//     in every name) unless the re-encoding had to leave records out (names the input
//     compressed where this encoder does not can make it longer than 65535 octets);
//   - encode again to the same octets (encoding is deterministic);
//   - encode to 512 octets into a message that decodes;
//   - print without crashing.
//
// With clang this is a libFuzzer target; with g++ it is linked with replay_main.cpp, which runs
// it over the files and directories named on the command line (the corpus).
#include <flowstack/dns/message.hpp>
#include <flowstack/dns/print.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

namespace {

using namespace flowstack::dns;

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "dns_fuzz: invariant broken: %s\n", what);
  std::abort();
}

std::size_t records_in(const message& m) {
  return m.questions.size() + m.answers.size() + m.authority.size() + m.additional.size() +
         (m.edns ? 1 : 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  decode_error detail;
  auto m = decode(std::span<const std::uint8_t>(data, size), &detail);
  if (!m) {
    check(!detail.what.empty(), "an error says what was wrong");
    check(detail.offset <= size, "the error's offset lies in the input");
    check(m.error() == detail.code, "the detail has the returned code");
    return 0;
  }
  std::string printed = to_string(*m);
  check(!printed.empty(), "a message prints");

  auto wire = encode(*m);
  check(wire.has_value(), "a decoded message encodes");
  auto again = decode(*wire);
  check(again.has_value(), "an encoded message decodes");
  if (records_in(*again) == records_in(*m)) {
    check(*again == *m, "the round trip gives an equal message");
    check(to_string(*again) == printed, "the round trip prints the same");
    auto wire2 = encode(*again);
    check(wire2.has_value() && *wire2 == *wire, "encoding is deterministic");
  }

  auto small = encode(*m, {.max_size = 512});
  check(small.has_value() && small->size() <= 512, "encoding to 512 octets fits");
  check(decode(*small).has_value(), "a truncated message decodes");
  return 0;
}
