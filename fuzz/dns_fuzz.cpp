// Fuzz target for the DNS codec (include/flowstack/dns/message.hpp).
//
// Any input must decode to a message or to an error with a sentence that ends in an offset inside
// the input, never a crash or a hang; decode and decode_detailed must agree on the outcome and
// the code; and a decoded message must:
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

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>

namespace {

using namespace flowstack::dns;

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "dns_fuzz: invariant broken: %s\n", what);
  std::abort();
}

// "<what> (at offset N)", with something said and N inside the input.
void check_sentence(std::string_view detail, std::size_t size) {
  constexpr std::string_view at = " (at offset ";
  auto where = detail.rfind(at);
  check(where != std::string_view::npos && where > 0, "an error says what was wrong and where");
  auto number = detail.substr(where + at.size());
  std::size_t offset = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), offset);
  check(ec == std::errc() && std::string_view(end, number.data() + number.size()) == ")",
        "an error ends with its offset");
  check(offset <= size, "the error's offset lies in the input");
}

std::size_t records_in(const message& m) {
  return m.questions.size() + m.answers.size() + m.authority.size() + m.additional.size() +
         (m.edns ? 1 : 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> input(data, size);
  auto plain = decode(input);
  auto m = decode_detailed(input);
  check(plain.has_value() == m.has_value(), "both decoders agree");
  if (!m) {
    check(plain.error() == m.error().code, "both decoders fail with the same code");
    check_sentence(m.error().detail, size);
    return 0;
  }
  check(*plain == *m, "both decoders give the same message");
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
