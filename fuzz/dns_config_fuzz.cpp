// Fuzz target for the DNS forwarder's text inputs (include/flowstack/dns/config.hpp and
// hosts.hpp): the config format, resolv.conf and hosts files.
//
// Any input must parse or fail with a line number and a sentence, never crash or hang, and:
//   - a parsed config prints to text that parses back to an equal config, which prints the same;
//   - a parsed resolv.conf prints as a config that parses back equal;
//   - a server address that parses prints to text that parses back to the same address, and one
//     that does not says why;
//   - hosts::parse skips at most one line per line of input.
//
// With clang this is a libFuzzer target; with g++ it is linked with replay_main.cpp, which runs
// it over the files and directories named on the command line (the corpus).
#include <flowstack/dns/config.hpp>
#include <flowstack/dns/error.hpp>
#include <flowstack/dns/hosts.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace {

using namespace flowstack::dns;

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "dns_config_fuzz: invariant broken: %s\n", what);
  std::abort();
}

// The failure's detail is "line N: what".
void check_error(const flowstack::failure& f, std::size_t lines) {
  check(f.code == dns_errc::bad_config, "a parse fails with bad_config");
  std::string_view detail = f.detail;
  check(detail.starts_with("line "), "an error starts with its line");
  detail.remove_prefix(5);
  std::size_t line = 0;
  auto [end, ec] = std::from_chars(detail.data(), detail.data() + detail.size(), line);
  check(ec == std::errc() && line >= 1 && line <= lines, "an error names a line of the input");
  detail.remove_prefix(static_cast<std::size_t>(end - detail.data()));
  check(detail.starts_with(": ") && detail.size() > 2, "an error says what was wrong");
}

void check_reparses(const config& c) {
  std::string text = to_string(c);
  auto again = parse_config(text);
  check(again.has_value(), "a printed config parses");
  check(*again == c, "a printed config parses back equal");
  check(to_string(*again) == text, "a reparsed config prints the same");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::size_t lines = 1 + static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));

  auto c = parse_config(text);
  if (c)
    check_reparses(*c);
  else
    check_error(c.error(), lines);

  auto r = parse_resolv_conf(text);
  if (r)
    check_reparses(*r);
  else
    check_error(r.error(), lines);

  auto first_line = text.substr(0, text.find('\n'));
  if (auto a = parse_server_address(first_line)) {
    auto again = parse_server_address(a->to_string());
    check(again.has_value() && *again == *a, "a printed address parses back the same");
  } else {
    check(a.error().code == dns_errc::bad_config && !a.error().detail.empty(),
          "an address that does not parse says why");
  }

  std::size_t skipped = 0;
  auto h = hosts::parse(text, &skipped);
  check(skipped <= lines, "at most one skipped line per line");
  return 0;
}
