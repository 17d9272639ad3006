// A strict reader of HTTP/1.1 request heads (RFC 9112 §2-§6), for the metrics endpoint. Private
// to the dns module; separate from the I/O so tests and the fuzz target drive it directly.
#pragma once

#include <flowstack/core/expected.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace flowstack::dns::http {

// The largest request head (request line and header fields) the server reads.
inline constexpr std::size_t max_head_length = 8 * 1024;

struct request {
  std::string method;     // case-sensitive token (RFC 9110 §9.1)
  std::string target;     // as sent
  std::string path;       // the target's path: absolute-form reduced to it, the query removed
  int version_minor = 1;  // HTTP/1.0 or HTTP/1.1
  std::vector<std::pair<std::string, std::string>> fields;  // names as sent, values trimmed
  bool keep_alive = true;            // after this request, per version and Connection
  std::uint64_t content_length = 0;  // 0 when absent

  // The first field's value with this name (case-insensitive), or empty.
  std::string_view field(std::string_view name) const noexcept;
};

struct parse_error {
  int status = 400;  // the response to send: 400, 501 (Transfer-Encoding) or 505 (version)
  std::string what;  // one sentence for logs
};

// Where the head in `data` ends: the offset just past its blank line (CRLF CRLF), or npos when
// no complete head is there yet.
std::size_t find_head_end(std::string_view data) noexcept;

// False when `data`, the start of a request head still arriving, can already never become a
// request: a control or non-ASCII octet in the request line, a bare LF, more than two spaces
// before the first line ends. Lets the server answer binary garbage at once instead of waiting
// for a blank line that will not come.
bool plausible_request_start(std::string_view data) noexcept;

// Parses a complete head (what find_head_end delimits, blank line included). Rejects: bare CR or
// LF, a request line without exactly three parts, a method that is not a token, a target with
// spaces or controls, versions other than HTTP/1.0 and HTTP/1.1, field names that are not tokens
// or have space before the colon (§5.1), obsolete line folding (§5.2), control characters in
// values, HTTP/1.1 without exactly one Host (§3.2), bad or conflicting Content-Length (§6.3),
// and any Transfer-Encoding (this server reads no bodies).
expected<request, parse_error> parse_request(std::string_view head);

}  // namespace flowstack::dns::http
