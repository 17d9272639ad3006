// A strict reader of HTTP/1.1 request heads (RFC 9112 §2-§6). Separate from the I/O
// (http/server.hpp) so that tests and the fuzz target drive it directly.
#pragma once

#include <flowstack/core/expected.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace flowstack::http {

// How much of a request head the server reads before it gives up on the client.
struct limits {
  std::size_t max_request_line = 4 * 1024;  // octets before the first CRLF
  std::size_t max_head = 8 * 1024;          // the whole head, its blank line included
  std::size_t max_fields = 100;             // header field lines
};

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
  // The response to send: 400, 414 (request line too long), 431 (head too long or too many
  // fields), 501 (Transfer-Encoding) or 505 (version).
  int status = 400;
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

// The limit that `data`, a request head complete or still arriving, already breaks, if any: a
// request line longer than max_request_line (414), more than max_fields field lines or more than
// max_head octets (431). The server checks what it has read before it reads more, so a client
// cannot make it hold more than one read past the limits.
std::optional<parse_error> check_limits(std::string_view data, const limits& bounds = {});

// request-line = method SP request-target SP HTTP-version (RFC 9112 §3), without its CRLF: fills
// method, target, path and version_minor of `into`. Rejects a line without exactly three parts,
// a method that is not a token, a target with spaces or controls or that is neither a path, an
// absolute http(s) URI nor "*", and versions other than HTTP/1.0 and HTTP/1.1 (505 for a
// well-formed other version).
expected<void, parse_error> parse_request_line(std::string_view line, request& into);

// The field lines after the request line, each without its CRLF: appends them to `into.fields`
// and sets keep_alive and content_length. Rejects field names that are not tokens or have space
// before the colon (§5.1), obsolete line folding (§5.2), control characters in values, HTTP/1.1
// without exactly one Host (§3.2), more than one Host in any version, bad or conflicting
// Content-Length (§6.3), and any Transfer-Encoding (this server reads no bodies: 501).
expected<void, parse_error> parse_fields(const std::vector<std::string_view>& lines, request& into);

// Parses a complete head (what find_head_end delimits, blank line included): check_limits, then
// lines that end in CRLF (a bare CR or LF is rejected), then the request line and the fields.
expected<request, parse_error> parse_request(std::string_view head, const limits& bounds = {});

}  // namespace flowstack::http
