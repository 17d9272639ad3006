// The kinds of endpoint `flowstack cat` knows: each is one registration in a kind_registry
// (address.hpp), with how its address reads and how it opens.
#pragma once

#include "address.hpp"

namespace flowstack::cli {

// `-`, `tcp`, `tcp-listen`, `unix`, `unix-listen`.
void add_transport_kinds(kind_registry& kinds);

// Every kind the program offers.
kind_registry default_kinds();

}  // namespace flowstack::cli
