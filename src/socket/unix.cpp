#include <sys/stat.h>
#include <unistd.h>

#include <asio/local/stream_protocol.hpp>
#include <asio/this_coro.hpp>
#include <flowstack/socket/unix.hpp>

#include "listener_state.hpp"
#include "socket_flow.hpp"

namespace flowstack::socket {
namespace {

using stream = asio::local::stream_protocol;

std::string path_text(const stream::endpoint& endpoint) {
  auto path = endpoint.path();
  return path.empty() ? std::string("(unnamed)") : path;
}

flow wrap_unix(stream::socket socket, const flow_options& options) {
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

struct unix_listener_state final : detail::acceptor_state<stream> {
  using acceptor_state::acceptor_state;

  void close_acceptor() override {
    acceptor_state::close_acceptor();
    // Remove the file only while it is still ours: another listener may have replaced it.
    if (bound && socket_file(path) == bound) ::unlink(path.c_str());
    bound.reset();
  }
  flow wrap(stream::socket socket) override { return wrap_unix(std::move(socket), options.flow); }
  std::string local_address() const override { return path; }
  unsigned short local_port() const override { return 0; }

  std::string path;
  std::optional<file_id> bound;
};

// True when a process accepts on the socket file at `path`: connecting answers.
bool someone_listens(asio::any_io_executor executor, const std::string& path) {
  // Non-blocking: a live listener with a full backlog answers EAGAIN instead of blocking us.
  stream::socket probe(executor);
  std::error_code ec;
  probe.open(stream(), ec);
  if (ec) return true;
  probe.non_blocking(true, ec);
  probe.connect(stream::endpoint(path), ec);
  return map_system_error(ec) != socket_errc::refused;
}

}  // namespace

asio::awaitable<result<flow>> unix_connect(std::string path, flow_options options) {
  auto executor = co_await asio::this_coro::executor;
  stream::socket socket(executor);
  auto [ec] = co_await socket.async_connect(stream::endpoint(path), detail::as_result);
  if (ec) co_return fail(map_system_error(ec));
  co_return wrap_unix(std::move(socket), options);
}

result<listener> unix_listen(asio::any_io_executor executor, std::string path, flow_handler handler,
                             listen_options options) {
  auto s = std::make_shared<unix_listener_state>(executor, std::move(handler), std::move(options));
  s->path = path;
  auto& acceptor = s->acceptor;
  std::error_code ec;
  acceptor.open(stream(), ec);
  if (ec) return fail(map_system_error(ec));
  acceptor.bind(stream::endpoint(path), ec);
  if (ec == asio::error::address_in_use && socket_file(path) && !someone_listens(executor, path)) {
    // A socket file that nobody accepts on is left over from a process that died: replace it.
    ::unlink(path.c_str());
    acceptor.bind(stream::endpoint(path), ec);
  }
  if (ec) return fail(map_system_error(ec));
  s->bound = socket_file(path);
  acceptor.listen(s->options.backlog, ec);
  if (ec) {
    s->stop();
    return fail(map_system_error(ec));
  }
  detail::start_accepting<stream>(s);
  return listener(std::move(s));
}

}  // namespace flowstack::socket
