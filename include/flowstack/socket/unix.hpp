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

// A path that starts with '@' names a socket in Linux's abstract namespace ("@name", as ss(8)
// and socat print it; the kernel sees a NUL, then the name): no file is made, and the name goes
// away with the socket. A file whose name starts with '@' is reached as "./@name". Descriptions
// and local_address() write abstract names with the '@' too.
asio::awaitable<result<flow>> unix_connect(std::string path, net::flow_options options = {});

// Listens on `path` (a file, or '@' and an abstract name). A stale socket file left by a dead
// process is replaced; a live one, or an abstract name already bound, gives address_in_use; a
// file that is not a socket gives socket_errc::not_a_socket and is left alone. The file is
// removed when the listener stops.
result<net::listener> unix_listen(asio::any_io_executor executor, std::string path,
                                  net::flow_handler handler, net::listen_options options = {});

}  // namespace flowstack::socket
