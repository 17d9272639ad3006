// `flowstack cat`: relays bytes both ways between two addresses, like socat, each side a flow.
//
// The first address is opened first. A connector is connected; a listener waits for a peer
// and, with `fork`, serves every peer (at most max-children at once), each with its own
// opening of the second address; without fork it serves one peer and stops listening. The
// second address is opened once the first has a flow; if it is a listener it waits for one peer.
// The handshake of a listener's layers (TLS) is not a relay yet: at most max-handshakes of them
// run at once besides max-children's relays, and one more abandons the oldest. Each address's
// layers are opened once and shared by all its connections (TLS sessions resume).
//
// Half-close crosses the relay: eof read from one side becomes shutdown(write) on the other, and
// the relay ends when both directions have ended (flowstack::proxy). An abort crosses it as an
// abort: when a direction fails (a peer reset, a TLS stream cut without close_notify, any
// error), both flows are aborted (flow::abort: RST on TCP, no close_notify on TLS), so a peer
// can tell a cut stream from a complete one; so are the flows of a relay stopped by a signal.
#pragma once

#include <string>

#include "address.hpp"
#include "userspace_stack.hpp"

namespace flowstack::cli {

// Exit codes of the program, documented in --help.
enum exit_status : int {
  exit_ok = 0,
  exit_failure = 1,  // an endpoint could not be opened, or a relay failed
  exit_usage = 2,    // a malformed command line or address
};

struct cat_options {
  bool verbose = false;   // stats to stderr at the end of each relay, listening address
  bool progress = false;  // live byte counts on stderr when it is a terminal
  // The userspace stack of the stack kinds, brought up when one of them opens.
  stack_setup stack;
};

// A message in the program's voice, whose clauses start lower-case: a capitalised first word, as
// the kernel's, Asio's and CLI11's messages have ("No such file or directory"), is lowered at the
// start and after each ": "; a word in capitals ("TLS", "ADDRESS") is kept.
std::string in_our_voice(std::string message);

// Runs the relay to its end, or until SIGINT/SIGTERM (then 128 + the signal's number).
int run_cat(const address& first, const address& second, const cat_options& options);

}  // namespace flowstack::cli
