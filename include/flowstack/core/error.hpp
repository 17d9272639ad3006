// Errors of the flow contract, as std::error_code values (the seeds' pp_error / pp_write_error).
//
// Every module has its own category (`flow` here, `net`, `tls`, `vchan`, `dns`, …); every code
// prints a sentence a person can act on: `std::error_code::message()`.
//
// Where a person needs more than the code says (which line of a config, which byte of a message,
// which OpenSSL routine), the error travels as a `failure`: the code, for the program to decide on,
// and a sentence, for the person. Functions that can say more return `detailed<T>`; nothing
// carries detail in out-parameters, thread-locals or strings of its own. A caller that knows
// more (which line, which address) puts it in front of the inner sentence and keeps the inner
// code: "line 3: " + "timeout must be a number". Where errors are counted and dropped, not read
// (datagrams off the network), a plain result<T> twin that makes no sentence may stand beside
// the detailed one: dns::decode and dns::decode_detailed.
//
// What an error *means* is asked with a flow_condition, whatever layer reported it:
// `ec == flow_condition::timeout` holds for a with_timeout timeout, a TCP connect that timed out
// and a kernel ETIMEDOUT alike. Each module's category maps its codes to these conditions.
#pragma once

#include <flowstack/core/expected.hpp>
#include <string>
#include <system_error>

namespace flowstack {

enum class flow_errc {
  // The flow can no longer carry bytes in this direction (mirage's `Closed).
  closed = 1,
  // A read was started while another read on the same flow was still pending.
  read_in_progress,
  // An operation wrapped in with_timeout did not finish in time.
  timeout,
  // The operation was cancelled before it finished.
  cancelled,
  // The stream ended before the bytes a reader needed had arrived (read_exactly, framing).
  unexpected_eof,
  // An argument given to a flow operation is not acceptable (e.g. a zero-byte read_exactly).
  invalid_argument,
  // A length-prefixed frame is longer than its reader accepts or its prefix can say (framing).
  frame_too_large,
  // The peer aborted the flow: its stream was cut, not ended (flow::abort; condition reset).
  reset,
};

const std::error_category& flow_category() noexcept;

inline std::error_code make_error_code(flow_errc e) noexcept {
  return {static_cast<int>(e), flow_category()};
}

// What an error means to a caller deciding what to do next, across layers (std::error_condition).
enum class flow_condition {
  closed = 1,   // the flow can no longer carry bytes (closed, broken pipe)
  timeout,      // something did not happen in time
  cancelled,    // the operation was cancelled
  refused,      // nothing accepts connections there
  reset,        // the peer aborted the connection
  unreachable,  // no route to the peer
};

const std::error_category& flow_condition_category() noexcept;

inline std::error_condition make_error_condition(flow_condition c) noexcept {
  return {static_cast<int>(c), flow_condition_category()};
}

// Results of flow operations: a value or an error, never an exception.
template <typename T>
using result = expected<T, std::error_code>;

inline unexpected<std::error_code> fail(std::error_code ec) {
  return unexpected(ec);
}
inline unexpected<std::error_code> fail(flow_errc e) {
  return unexpected(make_error_code(e));
}

// An error with the sentence that explains it: "line 3: unknown keyword 'srever'". The detail is
// complete on its own (it is what a program prints after its name); the code says what kind of
// error it is. Made from a bare code, the detail is the code's message.
struct failure {
  std::error_code code;
  std::string detail;

  failure() = default;
  failure(std::error_code c) : code(c), detail(c.message()) {}  // NOLINT: a code is a failure
  failure(std::error_code c, std::string d) : code(c), detail(std::move(d)) {}

  const std::string& message() const noexcept { return detail; }
};

// A value, or a failure that says why not.
template <typename T>
using detailed = expected<T, failure>;

inline unexpected<failure> fail(std::error_code ec, std::string detail) {
  return unexpected(failure(ec, std::move(detail)));
}

}  // namespace flowstack

template <>
struct std::is_error_code_enum<flowstack::flow_errc> : std::true_type {};
template <>
struct std::is_error_condition_enum<flowstack::flow_condition> : std::true_type {};
