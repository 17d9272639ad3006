// vchan: shared-memory channels between two processes on one host, as flows.
//
// A channel is named by (domain, port), as in Xen. Without Xen, the name is a Unix socket entry
// `<runtime dir>/<domid>-<port>` (runtime dir: options::runtime_dir, else $FLOWSTACK_VCHAN_DIR,
// else $XDG_RUNTIME_DIR/flowstack-vchan, else /run/flowstack-vchan; created with mode 0700).
// The server listens there; a client connects and receives, by SCM_RIGHTS, a memfd holding the
// rings (libxenvchan's layout, ring.hpp) and two eventfds, one per direction of notification.
// The Unix connection stays open for the life of the channel: its end-of-file tells an end that
// the peer process is gone, even when it was killed and never cleared its live flag.
//
// Flow semantics (DESIGN.md §1):
//   read           copies what the ring holds into a fresh buffer and frees the ring space at once;
//                  after the peer closed or shut down its write side, the ring is drained first,
//                  then eof.
//   write          waits until every byte is in the ring (not until the peer read it).
//   shutdown(write) sets this end's shut_write bit (bit 0x80 of its own notify byte, ring.hpp)
//                  and wakes the peer, which reads eof once the ring is empty; the other direction
//                  keeps working.
//   shutdown(read) sets this end's shut_read bit (0x40) and wakes the peer: later reads here
//                  give eof, and the peer's writes fail `closed`, since nothing it writes would
//                  ever be read (a writer is told, rather than left waiting on a full ring).
//   close          sets this end's shut_write bit and its live flag to 0, wakes the peer, unmaps
//                  the rings and closes the descriptors. Pending operations end with `closed`.
//                  The peer drains, then reads eof; its writes fail `closed`.
//   abort          close without the shut_write bit: the peer drains, then its read fails
//                  flow_errc::reset (the stream was cut). A peer process that dies leaves its
//                  live flag set: only the rendezvous connection tells, and that reads as eof,
//                  as TCP's FIN from a killed process does.
//   A peer that breaks the protocol in shared memory fails the flow, both directions at once,
//                  with vchan_errc::corrupt: every pending read and write wakes with it.
// Hostile peers: the server seals the memfd against shrinking and growing (F_SEAL_SHRINK,
// F_SEAL_GROW, F_SEAL_SEAL), and a client refuses memory without F_SEAL_SHRINK
// (memory_not_sealed), so no peer can truncate a live mapping into SIGBUS. Eventfd writes never
// block, whatever flags the peer sets on the shared descriptions (vchan.cpp, signal_event).
// Timeouts and cancellation come from outside (with_timeout), as for every flow.
#pragma once

#include <flowstack/core/flow.hpp>
#include <flowstack/vchan/error.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace flowstack::vchan {

// A vchan port name: one or more of [a-zA-Z0-9_-].
class port {
 public:
  // Throws std::invalid_argument naming the rule and the bad string.
  explicit port(std::string_view name);
  // vchan_errc::invalid_port for a bad name, with a sentence naming the rule and the name.
  static detailed<port> parse(std::string_view name);
  static bool is_valid(std::string_view name) noexcept;

  const std::string& name() const noexcept { return name_; }
  friend bool operator==(const port&, const port&) = default;

 private:
  std::string name_;
};

struct options {
  // Where rendezvous entries live; empty means default_runtime_dir().
  std::string runtime_dir;
  // The bound on each step of the rendezvous: a client waits this long for the server's
  // descriptors after its hello, and a server gives a fresh connection this long to say hello
  // before dropping it and taking the next. Either ends in flow_errc::timeout for a client.
  std::chrono::milliseconds rendezvous_timeout = std::chrono::seconds(5);
};

// 1 MiB each way (Xen's largest ring): a bulk transfer sleeps and wakes once per ring-full, and
// on a busy machine each wake-up costs far more than the copy, so a ring 4 times larger than
// 256 KiB measured up to 4 times fewer sleeps (docs/benchmarks.md).
inline constexpr std::size_t default_ring_size = 1024 * 1024;

// $FLOWSTACK_VCHAN_DIR, else $XDG_RUNTIME_DIR/flowstack-vchan, else /run/flowstack-vchan.
std::string default_runtime_dir();
// The rendezvous entry of (domid, port) under `runtime_dir`.
std::string entry_path(const std::string& runtime_dir, unsigned domid, const port& p);

// Offers (domid, port) and waits for one client. `read_size` and `write_size` are the minimum
// ring sizes this end reads from and writes to (rounded up to a power of two, at least 1 KiB,
// at most 256 MiB). The entry exists as soon as this is called (a client may connect before the
// result is awaited); it is removed once the client is in, or when the wait ends (error,
// timeout, cancellation). A stale entry from a dead server is replaced; a live one gives
// port_in_use. Connections are greeted side by side and the first to say hello is the client;
// one that says nothing within options::rendezvous_timeout is dropped, so it cannot keep a real
// client out.
asio::awaitable<result<flow>> server(asio::any_io_executor executor, unsigned domid, port p,
                                     std::size_t read_size = default_ring_size,
                                     std::size_t write_size = default_ring_size,
                                     const options& opts = options());

// server(), with the errors it can know before a client comes (a bad ring size, a port in use,
// a runtime directory that cannot hold the entry, a path too long) returned at once; on success
// the entry is bound and the awaitable waits for the client.
result<asio::awaitable<result<flow>>> offer(asio::any_io_executor executor, unsigned domid, port p,
                                            std::size_t read_size = default_ring_size,
                                            std::size_t write_size = default_ring_size,
                                            const options& opts = options());

// Connects to the server of (domid, port): no_server when none listens there, flow_errc::timeout
// when it does not send the descriptors within options::rendezvous_timeout, memory_not_sealed
// when its shared memory could be shrunk under us.
asio::awaitable<result<flow>> client(asio::any_io_executor executor, unsigned domid, port p,
                                     const options& opts = options());

// The transport behind a vchan flow (`f.as<vchan::vchan_flow>()`).
class vchan_flow : public flow_impl {
 public:
  using flow_impl::flow_impl;
  // The shared memory (header and rings) while the flow is open: for inspection and tests.
  virtual std::span<std::byte> shared_memory() const noexcept = 0;
  virtual std::size_t read_ring_size() const noexcept = 0;
  virtual std::size_t write_ring_size() const noexcept = 0;
};

}  // namespace flowstack::vchan
