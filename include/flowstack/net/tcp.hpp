// The TCP flow, whichever stack carries it: `flow.as<net::tcp_flow>()`.
//
// A TCP flow follows the flow contract (flowstack/core/flow.hpp): shutdown(write) sends FIN,
// close ends the connection at once.
#pragma once

#include <asio/awaitable.hpp>
#include <flowstack/core/flow.hpp>
#include <flowstack/net/address.hpp>
#include <flowstack/net/options.hpp>
#include <span>

namespace flowstack::net {

class tcp_flow : public flow_impl {
 public:
  using flow_impl::flow_impl;

  // The remote endpoint (the seeds' get_dest) and the local one.
  virtual tcp_endpoint dst() const = 0;
  virtual tcp_endpoint src() const = 0;
  tcp_endpoint get_dest() const { return dst(); }

  // write / writev that push the bytes to the network at once: they resolve when the stack has
  // taken the bytes with no coalescing delay (Nagle's).
  virtual asio::awaitable<write_result> write_nodelay(buffer data) = 0;
  virtual asio::awaitable<write_result> writev_nodelay(std::span<const buffer> data) = 0;

  virtual void set_nodelay(bool on) = 0;
  virtual void set_keepalive(const keepalive& k) = 0;
};

}  // namespace flowstack::net
