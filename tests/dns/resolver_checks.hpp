// The end of every resolver and server test over the fake upstream.
#pragma once

#include "fake_upstream.hpp"

#include <flowstack/dns/resolver.hpp>

#include <gtest/gtest.h>

namespace flowstack::dns::test {

// Closes the resolver, checks that nothing it opened upstream is left open, and ends the fake.
inline asio::awaitable<void> finish(resolver& r, fake_upstream& fake) {
  co_await r.close();
  EXPECT_EQ(fake.open_flows(), 0u) << "upstream connections left open";
  EXPECT_EQ(fake.open_channels(), 0u) << "upstream datagram channels left open";
  co_await fake.shutdown();
}

}  // namespace flowstack::dns::test
