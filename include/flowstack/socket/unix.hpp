// Unix stream sockets as flows: same contract as TCP (shutdown(write) is SHUT_WR).
#pragma once

#include <sys/un.h>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <flowstack/core/flow.hpp>
#include <flowstack/net/listener.hpp>
#include <flowstack/net/options.hpp>
#include <string>

namespace flowstack::socket {

// The longest path a Unix socket address holds: sun_path less its terminating NUL (107 bytes on
// Linux). A longer path gives std::errc::filename_too_long from unix_connect and unix_listen.
inline constexpr std::size_t max_unix_path_length = sizeof(sockaddr_un{}.sun_path) - 1;

asio::awaitable<result<flow>> unix_connect(std::string path, net::flow_options options = {});

// Listens on `path`. A stale socket file left by a dead process is replaced; a live one gives
// address_in_use. The file is removed when the listener stops.
result<net::listener> unix_listen(asio::any_io_executor executor, std::string path,
                                  net::flow_handler handler, net::listen_options options = {});

}  // namespace flowstack::socket
