#include "listener_state.hpp"

namespace flowstack::socket {

listener& listener::operator=(listener&& other) noexcept {
  if (this != &other) {
    unlisten();
    state_ = std::move(other.state_);
  }
  return *this;
}

listener::~listener() {
  unlisten();
}

void listener::unlisten() {
  if (state_) state_->stop();
}

std::string listener::local_address() const {
  return state_ ? state_->local_address() : "";
}

unsigned short listener::local_port() const {
  return state_ ? state_->local_port() : 0;
}

std::size_t listener::active_connections() const {
  return state_ ? state_->active.load() : 0;
}

std::size_t listener::accepted_connections() const {
  return state_ ? state_->accepted.load() : 0;
}

}  // namespace flowstack::socket
