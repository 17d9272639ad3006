// Fuzz target for the address parser of `flowstack cat` (src/cli/address.hpp).
//
// Any input must give an address or a one-sentence error, never a crash or a hang, and:
//   - a parsed address ends in a transport and has only layers before it;
//   - an error is invalid_address with a non-empty line;
//   - splitting is lossless: the elements, written back with escapes, split to the same ones.
//
// With clang this is a libFuzzer target; with g++ it is linked with replay_main.cpp, which runs
// it over the files and directories named on the command line (the corpus).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <flowstack/net/error.hpp>

#include "address.hpp"
#include "kinds.hpp"

namespace {

using namespace flowstack::cli;

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "address_fuzz: invariant broken: %s\n", what);
  std::abort();
}

std::string escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == ',' || c == '|' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::string write_back(const std::vector<element>& elements) {
  std::string out;
  for (std::size_t i = 0; i < elements.size(); ++i) {
    const element& e = elements[i];
    if (i) out += '|';
    out += escape(e.kind);
    if (e.args) out += ":" + escape(*e.args);
    for (const option& o : e.options) {
      out += "," + escape(o.name);
      if (o.value) out += "=" + escape(*o.value);
    }
  }
  return out;
}

const kind_registry& registry() {
  // The real kinds, plus a layer and a shorthand so that the layering paths are reached.
  static const kind_registry kinds = [] {
    kind_registry k = default_kinds();
    k.add({.name = "layer",
           .role = kind_role::layer,
           .usage = "layer",
           .options = {{"n", option_type::count, "", 1}}});
    k.add({.name = "short",
           .role = kind_role::connector,
           .args = arg_shape::host_port,
           .usage = "short:HOST:PORT",
           .expand = [](const element& e) {
             return std::vector<element>{{"layer", std::nullopt, e.options, "layer"},
                                         {"tcp", e.args, {}, "tcp"}};
           }});
    return k;
  }();
  return kinds;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  auto parsed = parse_address(text, registry());
  if (parsed) {
    check(parsed->transport.kind != nullptr, "a parsed address has a transport");
    check(parsed->transport.kind->role != kind_role::layer, "the last element is a transport");
    for (const auto& layer : parsed->layers)
      check(layer.kind && layer.kind->role == kind_role::layer, "only layers come before it");
  } else {
    check(parsed.error().code == flowstack::net::net_errc::invalid_address,
          "an error is invalid_address");
    check(!parsed.error().detail.empty(), "an error says something");
  }

  auto split = split_address(text);
  if (split) {
    auto again = split_address(write_back(*split));
    check(again.has_value(), "written-back elements split again");
    check(again->size() == split->size(), "same number of elements");
    for (std::size_t i = 0; i < split->size(); ++i) {
      check((*again)[i].kind == (*split)[i].kind, "same kind");
      check((*again)[i].args == (*split)[i].args, "same args");
      check((*again)[i].options == (*split)[i].options, "same options");
    }
  }
  return 0;
}
