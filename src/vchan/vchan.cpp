#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/read.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <flowstack/core/combinators.hpp>
#include <flowstack/core/text.hpp>
#include <flowstack/core/wait_queue.hpp>
#include <flowstack/vchan/ring.hpp>
#include <flowstack/vchan/vchan.hpp>
#include <list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace flowstack::vchan {
namespace {

constexpr auto as_result = asio::experimental::as_tuple(asio::use_awaitable);
using unix_socket = asio::local::stream_protocol::socket;

// The greeting that carries the descriptors: a version, so a later layout can refuse old peers.
constexpr std::array<char, 8> greeting = {'F', 'S', 'V', 'C', 'H', 'A', 'N', '1'};
// What a client says first. A connection that never says it (a probe for a stale entry, a
// client that died at once) is dropped and the server waits for the next one.
constexpr std::array<char, 8> hello = {'F', 'S', 'V', 'C', 'H', 'E', 'L', 'O'};
// The most one read returns: large enough for bulk, small enough that the allocator reuses
// the block (larger blocks are fresh mappings, and touching fresh pages costs more than the copy).
constexpr std::uint32_t max_read = 64 * 1024;
// How long an end polls the ring before it sleeps on the eventfd: a peer that answers within
// this time is seen without a system call or a wake-up on either side.
constexpr auto spin_time = std::chrono::microseconds(20);

// Whether to poll before sleeping. Polling pays only while it usually works: the peer is
// running and answers within spin_time. When it does not (the peer is idle, or the machine is
// busy and the peer waits for a core), every failed poll burns spin_time of CPU, and on a busy
// machine that makes both ends look CPU-bound to the scheduler, which then wakes them late:
// measured on 2 loaded cores, a 64-byte round trip took 95-110 us with polling every time and
// 15 us without. So after a few failed polls in a row, the next waits sleep at once, for a
// number of waits that doubles while polling keeps failing; one poll that works resets it.
class spin_policy {
 public:
  bool should_spin() noexcept {
    if (skip_ == 0) return true;
    --skip_;
    return false;
  }
  void succeeded() noexcept {
    failures_ = 0;
    backoff_ = first_backoff;
  }
  void failed() noexcept {
    if (++failures_ < failures_before_backoff) return;
    failures_ = 0;
    skip_ = backoff_;
    backoff_ = std::min(backoff_ * 2, last_backoff);
  }

 private:
  static constexpr unsigned failures_before_backoff = 4;
  static constexpr unsigned first_backoff = 16;
  static constexpr unsigned last_backoff = 4096;
  unsigned failures_ = 0;
  unsigned skip_ = 0;
  unsigned backoff_ = first_backoff;
};

std::error_code last_error() {
  return {errno, std::system_category()};
}

class fd_guard {
 public:
  explicit fd_guard(int fd = -1) noexcept : fd_(fd) {}
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  ~fd_guard() { reset(); }
  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// The eventfds are shared with the peer, and so are their file status flags: the peer can clear
// O_NONBLOCK at any time (or hand over a blocking eventfd), and a write to a full counter then
// blocks this process for good. So every write first checks, with poll(2) and a zero timeout,
// that the counter has room (a full counter already means "signalled", so nothing is lost by
// skipping), and forces O_NONBLOCK back on if it was cleared. Only a peer that fills the counter
// and clears the flag in the few instructions between our checks and our write could still
// stall us, and only until it reads its counter.
bool ensure_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return false;
  if ((flags & O_NONBLOCK) != 0) return true;
  return ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

bool ready_now(int fd, short events) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & events) != 0;
}

void signal_event(int fd) {
  if (!ready_now(fd, POLLOUT) || !ensure_nonblocking(fd)) return;
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(fd, &one, sizeof one);
}

// Everything an open channel holds. Shared with the two background waits (event and link), so
// it outlives the flow until they have seen their descriptors closed.
struct channel_state {
  channel_state(asio::any_io_executor ex, std::byte* memory, std::size_t memory_size,
                const shared_layout& layout, role r, unix_socket link_socket, int own_event_fd,
                int peer_event_fd)
      : memory(memory),
        memory_size(memory_size),
        end(memory, layout, r),
        own_event(ex, own_event_fd),
        peer_event(peer_event_fd),
        link(std::move(link_socket)),
        changed(ex) {}

  ~channel_state() { release(); }

  void signal_peer() const {
    if (peer_event < 0) return;
    signal_event(peer_event);
  }

  void wake() {
    ++generation;
    changed.notify_all();
  }

  // A broken protocol seen in one direction breaks both: the shared header can no longer be
  // trusted, so every waiter (read and write) is woken to fail with the same error at once.
  std::error_code fail_channel(std::error_code ec) {
    if (!failure) {
      failure = ec;
      wake();
    }
    return failure;
  }

  // Tells the peer we are gone and frees everything; idempotent. Leaving without the shut_write
  // bit is an abort: the peer learns that the stream was cut, not ended.
  void release(bool abort = false) {
    if (closed) return;
    closed = true;
    if (!abort) end.set_shut_write();
    end.set_live(layout::live_closed);
    signal_peer();
    std::error_code ec;
    own_event.close(ec);
    link.close(ec);
    ::close(peer_event);
    peer_event = -1;
    ::munmap(memory, memory_size);
    memory = nullptr;
    wake();
  }

  std::byte* memory;
  std::size_t memory_size;
  channel_end end;
  asio::posix::stream_descriptor own_event;  // the peer signals it; we wait on it
  int peer_event;                            // we signal it; the peer waits on it
  unix_socket link;                          // the rendezvous connection: its eof = peer gone
  wait_queue changed;                        // woken on every signal, peer loss or close
  std::uint64_t generation = 0;
  spin_policy spin;
  std::error_code failure;  // the first corruption seen, in either direction (sticky)
  bool peer_gone = false;
  bool read_shut = false;
  bool closed = false;
};

// Drains the eventfd on each signal and wakes the waiting operations. One waiter for both
// directions, so a read and a write pending at once never steal each other's signal.
asio::awaitable<void> pump_events(std::shared_ptr<channel_state> s) {
  for (;;) {
    auto [ec] =
        co_await s->own_event.async_wait(asio::posix::descriptor_base::wait_read, as_result);
    if (s->closed || ec) co_return;
    // The peer holds this eventfd too: it may have drained it or made it blocking meanwhile.
    int fd = s->own_event.native_handle();
    if (ready_now(fd, POLLIN) && ensure_nonblocking(fd)) {
      std::uint64_t count = 0;
      [[maybe_unused]] auto n = ::read(fd, &count, sizeof count);
    }
    s->wake();
  }
}

// Watches the rendezvous connection: end-of-file or an error there means the peer process is
// gone (closed, or killed before it could clear its live flag).
asio::awaitable<void> watch_link(std::shared_ptr<channel_state> s) {
  for (;;) {
    auto [ec] = co_await s->link.async_wait(asio::socket_base::wait_read, as_result);
    if (s->closed) co_return;
    if (!ec) {
      std::array<char, 64> scratch{};
      auto n = ::recv(s->link.native_handle(), scratch.data(), scratch.size(), MSG_DONTWAIT);
      if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR))) continue;
    }
    s->peer_gone = true;
    s->wake();
    co_return;
  }
}

// Polling pays only when the peer can run at the same time: not when this process may use a
// single CPU (yielding there instead hands the core to whatever else is runnable, for a whole
// time slice).
bool worth_polling() {
  static const bool several_cpus = [] {
    cpu_set_t set;
    CPU_ZERO(&set);
    return ::sched_getaffinity(0, sizeof set, &set) != 0 || CPU_COUNT(&set) > 1;
  }();
  return several_cpus;
}

// Polls `ready` for a short while, when `policy` says it is worth it; true as soon as it holds.
template <typename Ready>
bool spin_until(spin_policy& policy, Ready ready) {
  if (!worth_polling() || !policy.should_spin()) return ready();
  auto until = std::chrono::steady_clock::now() + spin_time;
  for (int i = 0;; ++i) {
    if (ready()) {
      policy.succeeded();
      return true;
    }
    if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) {
      policy.failed();
      return false;
    }
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();  // lets the sibling hyper-thread run while we poll
#endif
  }
}

// Waits until something changed since `generation` was read. False when cancelled.
asio::awaitable<bool> wait_for_change(std::shared_ptr<channel_state> s, std::uint64_t generation) {
  while (s->generation == generation && !s->closed) {
    bool ok = co_await s->changed.wait();
    if (!ok) co_return false;
  }
  co_return true;
}

class vchan_flow_impl final : public vchan_flow {
 public:
  vchan_flow_impl(asio::any_io_executor ex, std::shared_ptr<channel_state> state,
                  std::string description)
      : vchan_flow(std::move(ex)), s_(std::move(state)), description_(std::move(description)) {}

  ~vchan_flow_impl() override { s_->release(); }

  std::string description() const override { return description_; }
  std::span<std::byte> shared_memory() const noexcept override {
    if (s_->closed) return {};
    return {s_->memory, s_->memory_size};
  }
  std::size_t read_ring_size() const noexcept override { return s_->end.read_ring_size(); }
  std::size_t write_ring_size() const noexcept override { return s_->end.write_ring_size(); }

 protected:
  asio::awaitable<read_result> do_read() override {
    auto s = s_;
    for (;;) {
      if (s->closed) co_return fail(flow_errc::closed);
      if (s->failure) co_return fail(s->failure);
      if (s->read_shut) co_return data_or_eof::eof();
      auto ready = s->end.readable();
      if (!ready) co_return fail(s->fail_channel(ready.error()));
      if (*ready > 0) co_return take(s, *ready);
      // Empty: did the peer stop writing? The flags are read before the ring is looked at
      // again, so bytes written before them are never lost.
      auto ended = peer_stopped_writing(*s);
      if (!ended) co_return fail(s->fail_channel(ended.error()));
      if (*ended) {
        auto last = s->end.readable();
        if (!last) co_return fail(s->fail_channel(last.error()));
        if (*last > 0) continue;
        auto cut = peer_aborted(*s);
        if (!cut) co_return fail(s->fail_channel(cut.error()));
        if (*cut) co_return fail(flow_errc::reset);
        co_return data_or_eof::eof();
      }
      // Poll briefly before sleeping: a peer that is writing right now answers sooner than a
      // wake-up could. The ring is re-checked properly below either way.
      if (spin_until(s->spin, [&s] {
            auto r = s->end.readable();
            return !r || *r > 0 || s->end.peer_shut_write();
          })) {
        continue;
      }
      std::uint64_t seen = s->generation;
      s->end.request(layout::notify_write);
      // Re-check after asking: a write that came before the request signals nobody.
      auto again = s->end.readable();
      if (!again) co_return fail(s->fail_channel(again.error()));
      if (*again > 0) continue;
      auto ended_now = peer_stopped_writing(*s);
      if (!ended_now) co_return fail(s->fail_channel(ended_now.error()));
      if (*ended_now) continue;
      bool ok = co_await wait_for_change(s, seen);
      if (!ok) co_return fail(flow_errc::cancelled);
    }
  }

  asio::awaitable<write_result> do_writev(std::span<const buffer> data) override {
    auto s = s_;
    for (const auto& part : data) {
      std::span<const std::byte> rest = part.bytes();
      while (!rest.empty()) {
        if (s->closed) co_return fail(flow_errc::closed);
        if (s->failure) co_return fail(s->failure);
        auto lost = peer_stopped_reading(*s);
        if (!lost) co_return fail(s->fail_channel(lost.error()));
        if (*lost) co_return fail(flow_errc::closed);
        auto space = s->end.writable();
        if (!space) co_return fail(s->fail_channel(space.error()));
        if (*space > 0) {
          auto n = std::min<std::size_t>(*space, rest.size());
          if (s->end.write(rest.first(n))) s->signal_peer();
          rest = rest.subspan(n);
          continue;
        }
        if (spin_until(s->spin, [&s] {
              auto r = s->end.writable();
              return !r || *r > 0;
            })) {
          continue;
        }
        std::uint64_t seen = s->generation;
        s->end.request(layout::notify_read);
        auto again = s->end.writable();
        if (!again) co_return fail(s->fail_channel(again.error()));
        if (*again > 0) continue;
        auto lost_now = peer_stopped_reading(*s);
        if (!lost_now) co_return fail(s->fail_channel(lost_now.error()));
        if (*lost_now) continue;
        bool ok = co_await wait_for_change(s, seen);
        if (!ok) co_return fail(flow_errc::cancelled);
      }
    }
    co_return write_result{};
  }

  asio::awaitable<void> do_shutdown_read() override {
    // Wakes a pending read, which then ends with eof (what the ring holds is dropped unread),
    // and tells the peer that its writes can no longer be read: they fail `closed`.
    s_->read_shut = true;
    if (!s_->closed && !s_->failure) {
      s_->end.set_shut_read();
      s_->signal_peer();
    }
    s_->wake();
    co_return;
  }

  asio::awaitable<void> do_shutdown_write() override {
    if (!s_->closed && !s_->failure) {
      s_->end.set_shut_write();
      s_->signal_peer();
    }
    s_->wake();
    co_return;
  }

  asio::awaitable<void> do_close() override {
    s_->release();
    co_return;
  }

  asio::awaitable<void> do_abort() override {
    s_->release(true);
    co_return;
  }

 private:
  static read_result take(const std::shared_ptr<channel_state>& s, std::uint32_t ready) {
    auto data = buffer::create_uninitialized(std::min(ready, max_read));
    if (s->end.read(data.bytes())) s->signal_peer();
    return data_or_eof(std::move(data));
  }

  // The peer will write no more: it shut down its write side, closed, or its process is gone.
  static result<bool> peer_stopped_writing(const channel_state& s) {
    if (s.end.peer_shut_write()) return true;
    return peer_lost(s);
  }

  // Nobody will read what this end writes: the peer shut down its read side, closed, or its
  // process is gone.
  static result<bool> peer_stopped_reading(const channel_state& s) {
    if (s.end.peer_shut_read()) return true;
    return peer_lost(s);
  }

  // The peer left without saying its stream was complete: it aborted.
  static result<bool> peer_aborted(const channel_state& s) {
    if (s.end.peer_shut_write()) return false;
    auto live = s.end.peer_live();
    if (!live) return fail(live.error());
    return *live == layout::live_closed;
  }

  // The peer is no longer there: it closed, or its process is gone.
  static result<bool> peer_lost(const channel_state& s) {
    if (s.peer_gone) return true;
    auto live = s.end.peer_live();
    if (!live) return fail(live.error());
    return *live == layout::live_closed;
  }

  std::shared_ptr<channel_state> s_;
  std::string description_;
};

flow start_flow(asio::any_io_executor ex, std::shared_ptr<channel_state> state,
                std::string description) {
  asio::co_spawn(ex, pump_events(state), asio::detached);
  asio::co_spawn(ex, watch_link(state), asio::detached);
  return make_flow<vchan_flow_impl>(ex, std::move(state), std::move(description));
}

std::string size_text(std::size_t bytes) {
  if (bytes % (1024 * 1024) == 0) return std::to_string(bytes / (1024 * 1024)) + " MiB";
  return std::to_string(bytes / 1024) + " KiB";
}

asio::awaitable<result<flow>> failed(std::error_code ec) {
  co_return fail(ec);
}

// Makes the runtime directory (mode 0700) and its parents where missing.
std::error_code make_runtime_dir(const std::string& dir) {
  for (std::size_t at = 1; at <= dir.size(); ++at) {
    if (at != dir.size() && dir[at] != '/') continue;
    std::string prefix = dir.substr(0, at);
    if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) return last_error();
  }
  struct stat info {};
  if (::stat(dir.c_str(), &info) != 0) return last_error();
  if (!S_ISDIR(info.st_mode)) return make_error_code(vchan_errc::runtime_dir_not_a_directory);
  return {};
}

bool fits_unix_path(const std::string& path) {
  return path.size() < sizeof(sockaddr_un{}.sun_path);
}

// True when a live server answers at `path`; false for a stale entry (nobody listens).
bool someone_listens(const std::string& path) {
  fd_guard probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (probe.get() < 0) return true;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  if (::connect(probe.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    return true;
  }
  return errno != ECONNREFUSED && errno != ENOENT;
}

// Removes the rendezvous entry when the server's wait ends, however it ends.
class entry_guard {
 public:
  explicit entry_guard(std::string path) : path_(std::move(path)) {}
  entry_guard(const entry_guard&) = delete;
  entry_guard& operator=(const entry_guard&) = delete;
  ~entry_guard() { remove(); }
  void remove() {
    if (!path_.empty()) ::unlink(path_.c_str());
    path_.clear();
  }

 private:
  std::string path_;
};

std::error_code send_descriptors(int socket_fd, std::array<int, 3> fds) {
  msghdr message{};
  iovec io{const_cast<char*>(greeting.data()), greeting.size()};
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int) * 3)> control{};
  message.msg_control = control.data();
  message.msg_controllen = control.size();
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int) * 3);
  std::memcpy(CMSG_DATA(header), fds.data(), sizeof(int) * 3);
  if (::sendmsg(socket_fd, &message, MSG_NOSIGNAL) != static_cast<ssize_t>(greeting.size())) {
    return last_error();
  }
  return {};
}

// Waits for a client's hello on a fresh connection: false when it closes or says something else.
asio::awaitable<bool> receive_hello(unix_socket& link) {
  std::array<char, hello.size()> said{};
  auto [ec, n] = co_await asio::async_read(link, asio::buffer(said), as_result);
  co_return !ec && n == said.size() && said == hello;
}

// The server's side of the rendezvous while it waits for its one client. Every connection
// gets its own wait for the hello, bounded by the hello timeout, and they run side by side: a
// connection that stays silent never delays the clients queued behind it, and the first to say
// hello wins.
struct rendezvous {
  rendezvous(asio::local::stream_protocol::acceptor a, clock::duration timeout)
      : acceptor(std::move(a)), hello_timeout(timeout), arrived(acceptor.get_executor()) {}

  // Closes the listener and every connection still greeting; their waits end at once.
  void finish() {
    done = true;
    std::error_code ignored;
    acceptor.close(ignored);
    for (auto& connection : greeting) connection.close(ignored);
    arrived.notify_all();
  }

  asio::local::stream_protocol::acceptor acceptor;
  clock::duration hello_timeout;
  std::list<unix_socket> greeting;  // connections waiting to say hello
  std::optional<unix_socket> winner;
  std::error_code error;  // the listener failed
  wait_queue arrived;     // woken on a winner or a listener failure
  bool done = false;
};

asio::awaitable<void> greet(std::shared_ptr<rendezvous> r, std::list<unix_socket>::iterator at) {
  auto greeted = co_await with_timeout(receive_hello(*at), r->hello_timeout);
  if (!r->done && !r->winner && greeted && *greeted) {
    r->winner.emplace(std::move(*at));
    r->arrived.notify_all();
  }
  r->greeting.erase(at);
}

asio::awaitable<void> accept_clients(std::shared_ptr<rendezvous> r) {
  while (!r->done) {
    auto [ec, accepted] = co_await r->acceptor.async_accept(as_result);
    if (r->done) co_return;
    if (ec) {
      r->error = ec;
      r->arrived.notify_all();
      co_return;
    }
    auto at = r->greeting.insert(r->greeting.end(), std::move(accepted));
    asio::co_spawn(r->acceptor.get_executor(), greet(r, at), asio::detached);
  }
}

asio::awaitable<result<flow>> serve(asio::local::stream_protocol::acceptor acceptor,
                                    std::string path, shared_layout layout, std::string description,
                                    clock::duration hello_timeout) {
  entry_guard entry(path);
  auto ex = acceptor.get_executor();
  auto r = std::make_shared<rendezvous>(std::move(acceptor), hello_timeout);
  asio::co_spawn(ex, accept_clients(r), asio::detached);
  bool waited = true;
  while (waited && !r->winner && !r->error) waited = co_await r->arrived.wait();
  std::optional<unix_socket> chosen = std::move(r->winner);
  std::error_code accept_ec = r->error;
  r->finish();
  entry.remove();
  if (!chosen) co_return fail(accept_ec ? accept_ec : make_error_code(flow_errc::cancelled));
  unix_socket link = std::move(*chosen);

  fd_guard memfd(::memfd_create("flowstack-vchan", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (memfd.get() < 0) co_return fail(last_error());
  if (::ftruncate(memfd.get(), static_cast<off_t>(layout.total_size)) != 0) {
    co_return fail(last_error());
  }
  // The client gets this descriptor: sealed, it can never resize the memory we have mapped.
  if (::fcntl(memfd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    co_return fail(last_error());
  }
  void* mapped =
      ::mmap(nullptr, layout.total_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd.get(), 0);
  if (mapped == MAP_FAILED) co_return fail(last_error());
  auto* memory = static_cast<std::byte*>(mapped);
  init_header({memory, layout.total_size}, layout);
  fd_guard to_server(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  fd_guard to_client(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  std::error_code ec;
  if (to_server.get() < 0 || to_client.get() < 0) {
    ec = last_error();
  } else {
    ec = send_descriptors(link.native_handle(), {memfd.get(), to_server.get(), to_client.get()});
  }
  if (ec) {
    ::munmap(mapped, layout.total_size);
    co_return fail(ec);
  }
  auto state =
      std::make_shared<channel_state>(ex, memory, layout.total_size, layout, role::server,
                                      std::move(link), to_server.release(), to_client.release());
  co_return start_flow(ex, std::move(state), std::move(description));
}

// Receives the greeting and exactly three descriptors; closes any it does not keep.
result<std::array<int, 3>> receive_descriptors(int socket_fd) {
  std::array<char, greeting.size()> text{};
  msghdr message{};
  iovec io{text.data(), text.size()};
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int) * 8)> control{};
  message.msg_control = control.data();
  message.msg_controllen = control.size();
  ssize_t n = ::recvmsg(socket_fd, &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (n < 0) return fail(last_error());
  std::vector<int> fds;
  for (cmsghdr* h = CMSG_FIRSTHDR(&message); h != nullptr; h = CMSG_NXTHDR(&message, h)) {
    if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) continue;
    std::size_t count = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof fd);
      fds.push_back(fd);
    }
  }
  bool good = n == static_cast<ssize_t>(greeting.size()) && text == greeting && fds.size() == 3 &&
              (message.msg_flags & MSG_CTRUNC) == 0;
  if (!good) {
    for (int fd : fds) ::close(fd);
    return fail(vchan_errc::handshake_failed);
  }
  return std::array<int, 3>{fds[0], fds[1], fds[2]};
}

asio::awaitable<result<void>> wait_readable(unix_socket& link) {
  auto [ec] = co_await link.async_wait(asio::socket_base::wait_read, as_result);
  if (ec) co_return fail(ec);
  co_return result<void>{};
}

asio::awaitable<result<flow>> attach(asio::any_io_executor ex, std::string path,
                                     std::string description, clock::duration timeout) {
  unix_socket link(ex);
  asio::local::stream_protocol::endpoint there(path);
  auto [connect_ec] = co_await link.async_connect(there, as_result);
  if (connect_ec) {
    int e = connect_ec.value();
    if (e == ENOENT || e == ECONNREFUSED) co_return fail(vchan_errc::no_server);
    co_return fail(connect_ec);
  }
  auto [hello_ec, said] = co_await asio::async_write(link, asio::buffer(hello), as_result);
  if (hello_ec) co_return fail(vchan_errc::no_server);
  result<std::array<int, 3>> fds = fail(vchan_errc::handshake_failed);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto left =
        std::chrono::duration_cast<clock::duration>(deadline - std::chrono::steady_clock::now());
    auto waited = co_await with_timeout(wait_readable(link), std::max(left, clock::duration{}));
    if (!waited) co_return fail(waited.error());
    fds = receive_descriptors(link.native_handle());
    if (fds || (fds.error().value() != EAGAIN && fds.error().value() != EINTR)) break;
  }
  if (!fds) co_return fail(fds.error());
  fd_guard memfd((*fds)[0]);
  fd_guard to_server((*fds)[1]);
  fd_guard to_client((*fds)[2]);

  // Unsealed memory could be truncated under our mapping (SIGBUS on the next access). The size
  // is read after the seal is seen, so it can no longer shrink.
  int seals = ::fcntl(memfd.get(), F_GET_SEALS);
  if (seals < 0 || (seals & F_SEAL_SHRINK) == 0) co_return fail(vchan_errc::memory_not_sealed);
  if (!ensure_nonblocking(to_server.get()) || !ensure_nonblocking(to_client.get())) {
    co_return fail(last_error());
  }
  struct stat info {};
  if (::fstat(memfd.get(), &info) != 0) co_return fail(last_error());
  auto size = static_cast<std::size_t>(info.st_size);
  std::size_t largest = layout::page_size + (std::size_t{2} << layout::max_order);
  if (info.st_size < static_cast<off_t>(layout::page_size) || size > largest) {
    co_return fail(vchan_errc::corrupt);
  }
  void* mapped = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd.get(), 0);
  if (mapped == MAP_FAILED) co_return fail(last_error());
  auto* memory = static_cast<std::byte*>(mapped);
  auto layout = validate_header({memory, size});
  if (!layout) {
    ::munmap(mapped, size);
    co_return fail(layout.error());
  }
  auto state =
      std::make_shared<channel_state>(ex, memory, size, *layout, role::client, std::move(link),
                                      to_client.release(), to_server.release());
  state->end.set_live(layout::live_open);
  state->signal_peer();
  co_return start_flow(ex, std::move(state), std::move(description));
}

}  // namespace

port::port(std::string_view name) : name_(name) {
  if (!is_valid(name)) throw std::invalid_argument(parse(name).error().detail);
}

bool port::is_valid(std::string_view name) noexcept {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

detailed<port> port::parse(std::string_view name) {
  if (!is_valid(name)) {
    return fail(vchan_errc::invalid_port,
                "invalid vchan port \"" + escape_controls(name) +
                    "\": a port name must match [a-zA-Z0-9_-]+ (one or more letters, digits, '_' "
                    "or '-')");
  }
  return port(name);
}

std::string default_runtime_dir() {
  if (const char* dir = std::getenv("FLOWSTACK_VCHAN_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg != nullptr && *xdg != '\0') {
    return std::string(xdg) + "/flowstack-vchan";
  }
  return "/run/flowstack-vchan";
}

std::string entry_path(const std::string& runtime_dir, unsigned domid, const port& p) {
  return runtime_dir + "/" + std::to_string(domid) + "-" + p.name();
}

result<asio::awaitable<result<flow>>> offer(asio::any_io_executor executor, unsigned domid, port p,
                                            std::size_t read_size, std::size_t write_size,
                                            const options& opts) {
  auto read_order = order_for_size(read_size);
  if (!read_order) return fail(read_order.error());
  auto write_order = order_for_size(write_size);
  if (!write_order) return fail(write_order.error());
  // The server reads the left ring and writes the right one.
  auto layout = choose_layout(*read_order, *write_order);
  if (!layout) return fail(layout.error());

  std::string dir = opts.runtime_dir.empty() ? default_runtime_dir() : opts.runtime_dir;
  std::string path = entry_path(dir, domid, p);
  if (!fits_unix_path(path)) return fail(vchan_errc::path_too_long);
  if (auto ec = make_runtime_dir(dir)) return fail(ec);

  asio::local::stream_protocol::acceptor acceptor(executor);
  std::error_code ec;
  acceptor.open(asio::local::stream_protocol(), ec);
  if (ec) return fail(ec);
  asio::local::stream_protocol::endpoint here(path);
  acceptor.bind(here, ec);
  if (ec && ec.value() == EADDRINUSE) {
    if (someone_listens(path)) return fail(vchan_errc::port_in_use);
    ::unlink(path.c_str());  // a dead server's entry
    ec.clear();
    acceptor.bind(here, ec);
  }
  if (ec) return fail(ec);
  acceptor.listen(16, ec);
  if (ec) {
    ::unlink(path.c_str());
    return fail(ec);
  }
  std::string description = "vchan server " + std::to_string(domid) + ":" + p.name() + " (read " +
                            size_text(layout->left.size) + ", write " +
                            size_text(layout->right.size) + ")";
  return serve(std::move(acceptor), std::move(path), *layout, std::move(description),
               opts.rendezvous_timeout);
}

asio::awaitable<result<flow>> server(asio::any_io_executor executor, unsigned domid, port p,
                                     std::size_t read_size, std::size_t write_size,
                                     const options& opts) {
  // Not a coroutine: the entry is bound before this returns, so a client may connect at once.
  auto offered = offer(std::move(executor), domid, std::move(p), read_size, write_size, opts);
  if (!offered) return failed(offered.error());
  return std::move(*offered);
}

asio::awaitable<result<flow>> client(asio::any_io_executor executor, unsigned domid, port p,
                                     const options& opts) {
  std::string dir = opts.runtime_dir.empty() ? default_runtime_dir() : opts.runtime_dir;
  std::string path = entry_path(dir, domid, p);
  if (!fits_unix_path(path)) return failed(vchan_errc::path_too_long);
  std::string description = "vchan client " + std::to_string(domid) + ":" + p.name();
  return attach(std::move(executor), std::move(path), std::move(description),
                opts.rendezvous_timeout);
}

}  // namespace flowstack::vchan
