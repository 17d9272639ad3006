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
// With clang this is a libFuzzer target. Built with FLOWSTACK_FUZZ_REPLAY (g++), it gets a main
// that runs the target over the files and directories named on the command line (the corpus).
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

#ifdef FLOWSTACK_FUZZ_REPLAY
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  std::vector<std::filesystem::path> inputs;
  for (int i = 1; i < argc; ++i) {
    std::filesystem::path p(argv[i]);
    if (std::filesystem::is_directory(p)) {
      for (const auto& entry : std::filesystem::directory_iterator(p))
        if (entry.is_regular_file()) inputs.push_back(entry.path());
    } else {
      inputs.push_back(p);
    }
  }
  if (inputs.empty()) {
    std::fprintf(stderr, "usage: %s FILE_OR_DIR...\n", argv[0]);
    return 2;
  }
  for (const auto& p : inputs) {
    std::ifstream in(p, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "cannot read %s\n", p.c_str());
      return 1;
    }
    std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  }
  std::printf("dns_fuzz: %zu inputs replayed\n", inputs.size());
  return 0;
}
#endif
