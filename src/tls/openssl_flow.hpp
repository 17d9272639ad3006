// openssl_flow: the TLS flow's engine, OpenSSL over memory BIOs with the ciphertext carried by
// the inner flow. Private to the tls module; users see tls::tls_flow.
#pragma once

#include <openssl/ssl.h>

#include <flowstack/core/wait_queue.hpp>
#include <flowstack/tls/tls.hpp>
#include <memory>
#include <string>

#include "context_state.hpp"

namespace flowstack::tls::detail {

class openssl_flow final : public tls_flow {
 public:
  openssl_flow(flow inner, std::shared_ptr<context_state> ctx, SSL* ssl, std::string peer_name);
  ~openssl_flow() override;

  session_info epoch() const override;
  asio::awaitable<write_result> key_update(bool request_peer) override;
  const std::string& peer_name() const noexcept override { return peer_name_; }
  const failure& last_failure() const noexcept override { return failure_; }
  std::string description() const override;

  // Runs the handshake to its end within `timeout` (used by client() and server()); when it
  // fails, the inner flow is closed.
  asio::awaitable<detailed<void>> handshake(clock::duration timeout);

 protected:
  asio::awaitable<read_result> do_read() override;
  asio::awaitable<write_result> do_writev(std::span<const buffer> data) override;
  asio::awaitable<void> do_shutdown_read() override;
  asio::awaitable<void> do_shutdown_write() override;
  asio::awaitable<void> do_close() override;
  void on_inner_closed() override { out_turn_.notify_all(); }

 private:
  asio::awaitable<result<bool>> fill_in();
  asio::awaitable<write_result> flush_out();
  asio::awaitable<result<void>> run_handshake();
  asio::awaitable<void> send_close_notify();
  void drain_inner();
  std::error_code engine_error(int ssl_result, bool in_handshake);

  std::shared_ptr<context_state> ctx_;
  SSL* ssl_;
  BIO* rbio_;  // ciphertext from the peer, owned by ssl_
  BIO* wbio_;  // ciphertext to the peer, owned by ssl_
  std::string peer_name_;
  wait_queue out_turn_;
  std::error_code out_error_;
  bool out_busy_ = false;
  bool handshake_done_ = false;
  bool engine_failed_ = false;
  failure failure_;
  bool peer_ended_ = false;  // the peer's close_notify or the inner eof has been read
};

}  // namespace flowstack::tls::detail
