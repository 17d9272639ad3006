// network_namespace: a network namespace made by a test and deleted when the test ends, even on
// failure. Tests that need an unresponsive or vanishing peer build it here from veth pairs, so
// no packet ever leaves the namespaces the test made. Needs root and `ip` (iproute2).
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

namespace flowstack::test {

class network_namespace {
 public:
  explicit network_namespace(const std::string& tag)
      : name_("flowstack-" + tag + "-" + std::to_string(::getpid()) + "-" +
              std::to_string(counter()++)) {
    created_ = shell("ip netns add " + name_);
    if (created_) ip("link set lo up");
  }
  ~network_namespace() {
    if (created_) shell("ip netns del " + name_);
  }
  network_namespace(const network_namespace&) = delete;
  network_namespace& operator=(const network_namespace&) = delete;

  const std::string& name() const { return name_; }
  bool ok() const { return created_; }

  // Runs `ip -n NAME ARGS`; a failure fails the test.
  bool ip(const std::string& args) const { return shell("ip -n " + name_ + " " + args); }

  // Runs `fn` with this thread inside the namespace: sockets made meanwhile belong to it (and
  // stay there afterwards). The thread's own namespace is restored afterwards.
  template <typename F>
  auto enter(F fn) const {
    struct restore {
      int self;
      ~restore() {
        if (self >= 0) {
          if (::setns(self, CLONE_NEWNET) != 0) std::abort();  // nothing sane is left
          ::close(self);
        }
      }
    } back{::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)};
    int target = ::open(("/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC);
    EXPECT_GE(target, 0) << "no namespace file for " << name_;
    if (target >= 0) {
      EXPECT_EQ(::setns(target, CLONE_NEWNET), 0) << "setns " << name_;
      ::close(target);
    }
    return fn();
  }

 private:
  static std::atomic<int>& counter() {
    static std::atomic<int> n{0};
    return n;
  }
  static bool shell(const std::string& command) {
    int status = std::system((command + " 2>&1").c_str());
    bool ok = status == 0;
    EXPECT_TRUE(ok) << "command failed: " << command;
    return ok;
  }

  std::string name_;
  bool created_ = false;
};

}  // namespace flowstack::test
