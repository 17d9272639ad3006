#include <sys/stat.h>
#include <unistd.h>

#include <asio/local/stream_protocol.hpp>
#include <asio/this_coro.hpp>
#include <flowstack/socket/error.hpp>
#include <flowstack/socket/unix.hpp>
#include <string_view>

#include "socket_acceptor.hpp"
#include "socket_flow.hpp"

namespace flowstack::socket {
namespace {

using stream = asio::local::stream_protocol;

// Linux's abstract namespace: a name with no file behind it, written "@name" as ss(8) and socat
// print it, which the kernel reads as a NUL and then the name.
bool is_abstract(std::string_view path) {
  return path.starts_with('@');
}

stream::endpoint endpoint_of(const std::string& path) {
  if (!is_abstract(path)) return stream::endpoint(path);
  std::string name = path;
  name[0] = '\0';
  return stream::endpoint(name);
}

std::string path_text(const stream::endpoint& endpoint) {
  auto path = endpoint.path();
  if (path.empty()) return "(unnamed)";
  if (path[0] == '\0') path[0] = '@';
  return path;
}

flow wrap_unix(stream::socket socket, const net::flow_options& options) {
  std::error_code ec;
  auto local = socket.local_endpoint(ec);
  auto remote = socket.remote_endpoint(ec);
  auto description = "unix " + path_text(local) + " -> " + path_text(remote);
  return make_flow<detail::socket_flow<stream, flow_impl>>(std::move(socket), options,
                                                           std::move(description));
}

struct file_id {
  dev_t device = 0;
  ino_t inode = 0;
  bool operator==(const file_id&) const = default;
};

std::optional<file_id> socket_file(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) return std::nullopt;
  return file_id{st.st_dev, st.st_ino};
}

class unix_acceptor final : public detail::socket_acceptor<stream> {
 public:
  unix_acceptor(asio::any_io_executor executor, const net::flow_options& options, std::string path)
      : socket_acceptor(executor), options_(options), path_(std::move(path)) {}
  ~unix_acceptor() override { close(); }

  void close() override {
    socket_acceptor::close();
    // Remove the file only while it is still ours: another listener may have replaced it.
    if (bound_ && socket_file(path_) == bound_) ::unlink(path_.c_str());
    bound_.reset();
  }
  std::string local_address() const override { return path_; }
  unsigned short local_port() const override { return 0; }
  // Remembers the socket file just bound, to remove it when listening stops (an abstract name
  // has no file, and goes away with the socket).
  void bound() {
    if (!is_abstract(path_)) bound_ = socket_file(path_);
  }

 private:
  flow wrap(stream::socket socket) override { return wrap_unix(std::move(socket), options_); }

  net::flow_options options_;
  std::string path_;
  std::optional<file_id> bound_;
};

// True when a process accepts on the socket file at `path`: connecting answers.
bool someone_listens(asio::any_io_executor executor, const std::string& path) {
  // Non-blocking: a live listener with a full backlog answers EAGAIN instead of blocking us.
  stream::socket probe(executor);
  std::error_code ec;
  probe.open(stream(), ec);
  if (ec) return true;
  probe.non_blocking(true, ec);
  probe.connect(endpoint_of(path), ec);
  return map_system_error(ec) != net::net_errc::refused;
}

// Asio's endpoint constructor throws for a path longer than sun_path holds; flowstack's I/O
// answers with an error value instead.
bool fits_socket_address(const std::string& path) {
  return path.size() <= max_unix_path_length;
}

}  // namespace

asio::awaitable<result<flow>> unix_connect(std::string path, net::flow_options options) {
  if (!fits_socket_address(path))
    co_return fail(std::make_error_code(std::errc::filename_too_long));
  auto executor = co_await asio::this_coro::executor;
  stream::socket socket(executor);
  auto where = endpoint_of(path);
  auto [ec] = co_await socket.async_connect(where, detail::as_result);
  if (ec) co_return fail(map_system_error(ec));
  co_return wrap_unix(std::move(socket), options);
}

result<net::listener> unix_listen(asio::any_io_executor executor, std::string path,
                                  net::flow_handler handler, net::listen_options options) {
  if (!fits_socket_address(path)) return fail(std::make_error_code(std::errc::filename_too_long));
  auto from = std::make_unique<unix_acceptor>(executor, options.flow, path);
  auto& acceptor = from->socket();
  std::error_code ec;
  acceptor.open(stream(), ec);
  if (ec) return fail(map_system_error(ec));
  acceptor.bind(endpoint_of(path), ec);
  if (ec == asio::error::address_in_use && !is_abstract(path)) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && !S_ISSOCK(st.st_mode))
      return fail(socket_errc::not_a_socket);
    if (socket_file(path) && !someone_listens(executor, path)) {
      // A socket file that nobody accepts on is left over from a process that died: replace it.
      ::unlink(path.c_str());
      acceptor.bind(endpoint_of(path), ec);
    }
  }
  if (ec) return fail(map_system_error(ec));
  from->bound();
  acceptor.listen(options.backlog, ec);
  if (ec) return fail(map_system_error(ec));  // the acceptor removes the file it bound
  return net::serve(executor, std::move(from), std::move(handler), options.max_connections);
}

}  // namespace flowstack::socket
