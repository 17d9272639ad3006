// The flow over the process's standard input and output (`-` in an address).
//
// Reads come from fd 0, writes go to fd 1. Pipes, terminals and sockets are driven by Asio's
// reactor; a regular file or /dev/null cannot be (epoll refuses them), so for those the flow
// falls back to plain blocking reads and writes, which never wait long on such files.
//
// shutdown(write) closes stdout so the reader downstream sees eof (fd 1 is then pointed at
// /dev/null so that no later file or socket takes its number); shutdown(read) stops reading
// stdin, ending a pending read with eof.
#pragma once

#include <flowstack/core/flow.hpp>

namespace flowstack::cli {

flow stdio_flow(asio::any_io_executor executor, int in_fd = 0, int out_fd = 1);

}  // namespace flowstack::cli
