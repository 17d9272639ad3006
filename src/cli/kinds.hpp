// The kinds of endpoint `flowstack cat` knows: each is one registration in a kind_registry
// (address.hpp), with how its address reads and how it opens.
#pragma once

#include <flowstack/net/listener.hpp>
#include <memory>
#include <vector>

#include "address.hpp"

namespace flowstack::cli {

// The relay's view of listeners that a stack's accept loop (net::serve) runs.
std::unique_ptr<listening> listening_of(std::vector<net::listener> listeners);
std::unique_ptr<listening> listening_of(net::listener l);

// `-`, `tcp`, `tcp-listen`, `unix`, `unix-listen`.
void add_transport_kinds(kind_registry& kinds);

// Every kind the program offers.
kind_registry default_kinds();

}  // namespace flowstack::cli
