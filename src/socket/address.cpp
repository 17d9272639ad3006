#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <flowstack/socket/address.hpp>
#include <flowstack/socket/error.hpp>
#include <string>

namespace flowstack::socket {

asio::awaitable<result<std::vector<net::tcp_endpoint>>> resolve(net::host_port where) {
  auto executor = co_await asio::this_coro::executor;
  asio::ip::tcp::resolver resolver(executor);
  // Named, not temporaries inside the co_await expression (g++ 12 destroys those wrongly).
  std::string service = std::to_string(where.port);
  auto [ec, results] =
      co_await resolver.async_resolve(where.host, service, asio::ip::resolver_base::numeric_service,
                                      asio::experimental::as_tuple(asio::use_awaitable));
  if (ec) co_return fail(map_system_error(ec));
  std::vector<net::tcp_endpoint> endpoints;
  for (const auto& entry : results) endpoints.push_back(entry.endpoint());
  if (endpoints.empty()) co_return fail(net::net_errc::host_not_found);
  co_return endpoints;
}

}  // namespace flowstack::socket
