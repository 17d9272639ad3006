// Connection errors, whichever network stack reports them (category "net"): the seeds'
// `Refused` and `Timeout` of create_connection, and what listen and the running connection add.
//
// Each code means a flow_condition (flowstack/core/error.hpp) where there is one, so that
// `ec == flow_condition::timeout` holds for a connect timeout as for any other.
#pragma once

#include <flowstack/core/error.hpp>

namespace flowstack::net {

enum class net_errc {
  refused = 1,      // nothing listens there (RST in answer to our SYN)
  timeout,          // no answer in time: connect timeout, keepalive or retransmissions gave up
  unreachable,      // no route to the host or network
  reset,            // the peer reset the connection
  address_in_use,   // listen: something is bound there already
  invalid_address,  // an address string that does not parse
  host_not_found,   // a host name that resolves to no address
};

const std::error_category& net_category() noexcept;

inline std::error_code make_error_code(net_errc e) noexcept {
  return {static_cast<int>(e), net_category()};
}

}  // namespace flowstack::net

template <>
struct std::is_error_code_enum<flowstack::net::net_errc> : std::true_type {};
