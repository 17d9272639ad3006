// The HTTP/1.1 request-head parser of http/request.hpp.
#include <flowstack/http/request.hpp>

#include <charconv>

namespace flowstack::http {

namespace {

// tchar (RFC 9110 §5.6.2).
bool is_tchar(unsigned char c) noexcept {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool is_token(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (!is_tchar(c)) return false;
  return true;
}

// field-content: VCHAR, SP, HTAB and obs-text (RFC 9110 §5.5).
bool is_field_value(std::string_view s) noexcept {
  for (unsigned char c : s)
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  return true;
}

bool iequal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto x = static_cast<unsigned char>(a[i]);
    auto y = static_cast<unsigned char>(b[i]);
    if (x >= 'A' && x <= 'Z') x |= 0x20;
    if (y >= 'A' && y <= 'Z') y |= 0x20;
    if (x != y) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

unexpected<parse_error> reject(std::string what, int status = 400) {
  return unexpected(parse_error{status, std::move(what)});
}

// The path of a target: origin-form "/p?q", or absolute-form "http://host/p?q" (RFC 9112 §3.2.2,
// which a server must accept).
std::string path_of(std::string_view target) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.size() >= scheme.size() && iequal(target.substr(0, scheme.size()), scheme)) {
      target.remove_prefix(scheme.size());
      auto slash = target.find('/');
      target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
      break;
    }
  }
  auto end = target.find_first_of("?#");
  return std::string(target.substr(0, end));
}

}  // namespace

std::string_view request::field(std::string_view name) const noexcept {
  for (const auto& [n, v] : fields)
    if (iequal(n, name)) return v;
  return {};
}

std::size_t find_head_end(std::string_view data) noexcept {
  auto at = data.find("\r\n\r\n");
  return at == std::string_view::npos ? at : at + 4;
}

bool plausible_request_start(std::string_view data) noexcept {
  int spaces = 0;
  for (std::size_t i = 0; i < data.size(); ++i) {
    const auto c = static_cast<unsigned char>(data[i]);
    if (c == '\r') {
      if (i + 1 == data.size()) return true;  // the LF may come next
      return data[i + 1] == '\n';
    }
    if (c == ' ' && ++spaces > 2) return false;
    if (c < 0x20 || c >= 0x7f) return false;
  }
  return true;
}

std::optional<parse_error> check_limits(std::string_view data, const limits& bounds) {
  // The first line ends at its CR (plausible_request_start refuses a CR without its LF).
  const auto line_end = data.find('\r');
  const auto line_length = line_end == std::string_view::npos ? data.size() : line_end;
  if (line_length > bounds.max_request_line)
    return parse_error{414, "the request line is longer than the server reads"};
  if (data.size() > bounds.max_head)
    return parse_error{431, "the request head is longer than the server reads"};
  // Field lines are the CRLFs after the first one, less the blank line's once it has come.
  std::size_t fields = 0;
  for (auto at = data.find("\r\n"); at != std::string_view::npos; at = data.find("\r\n", at + 2))
    ++fields;
  if (fields > 0) --fields;  // the request line's
  if (fields > 0 && data.ends_with("\r\n\r\n")) --fields;
  if (fields > bounds.max_fields) return parse_error{431, "the request has too many header fields"};
  return std::nullopt;
}

expected<void, parse_error> parse_request_line(std::string_view line, request& into) {
  auto sp1 = line.find(' ');
  auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
    return reject("the request line is not 'METHOD TARGET HTTP/1.1'");
  auto method = line.substr(0, sp1);
  auto target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  auto version = line.substr(sp2 + 1);
  if (!is_token(method)) return reject("the method is not a token");
  if (target.empty()) return reject("the request target is empty");
  for (unsigned char c : target)
    if (c <= 0x20 || c >= 0x7f) return reject("the request target has a control or space");
  if (version == "HTTP/1.1") {
    into.version_minor = 1;
  } else if (version == "HTTP/1.0") {
    into.version_minor = 0;
  } else if (version.size() == 8 && version.substr(0, 5) == "HTTP/" && version[6] == '.' &&
             version[5] >= '0' && version[5] <= '9' && version[7] >= '0' && version[7] <= '9') {
    return reject("only HTTP/1.0 and HTTP/1.1 are served", 505);
  } else {
    return reject("the version is not 'HTTP/1.1'");
  }
  if (target.front() != '/' && !(target.size() > 7 && iequal(target.substr(0, 7), "http://")) &&
      !(target.size() > 8 && iequal(target.substr(0, 8), "https://")) && target != "*")
    return reject("the request target is neither a path nor an absolute URI");
  into.method = std::string(method);
  into.target = std::string(target);
  into.path = path_of(target);
  return {};
}

expected<void, parse_error> parse_fields(const std::vector<std::string_view>& lines,
                                         request& into) {
  int hosts = 0;
  bool have_length = false;
  bool close = false;
  bool keep_alive_token = false;
  for (std::string_view field : lines) {
    if (field.empty()) return reject("an empty line inside the header fields");
    if (field.front() == ' ' || field.front() == '\t')
      return reject("obsolete line folding in the header fields");  // RFC 9112 §5.2
    auto colon = field.find(':');
    if (colon == std::string_view::npos) return reject("a header field has no colon");
    auto name = field.substr(0, colon);
    // RFC 9112 §5.1: no whitespace between the field name and the colon.
    if (!is_token(name)) return reject("a header field name is not a token");
    auto value = trim(field.substr(colon + 1));
    if (!is_field_value(value)) return reject("a header field value has a control character");
    into.fields.emplace_back(std::string(name), std::string(value));

    if (iequal(name, "host")) {
      ++hosts;
    } else if (iequal(name, "content-length")) {
      // RFC 9112 §6.3: a list of equal values may be sent as one; anything else is fatal.
      std::uint64_t length = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
      if (value.empty() || ec != std::errc() || end != value.data() + value.size())
        return reject("Content-Length is not a number");
      if (have_length && length != into.content_length)
        return reject("two different Content-Length fields");
      into.content_length = length;
      have_length = true;
    } else if (iequal(name, "transfer-encoding")) {
      return reject("Transfer-Encoding is not supported", 501);
    } else if (iequal(name, "connection")) {
      while (!value.empty()) {
        auto comma = value.find(',');
        auto option = trim(value.substr(0, comma));
        if (iequal(option, "close")) close = true;
        if (iequal(option, "keep-alive")) keep_alive_token = true;
        value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
      }
    }
  }
  if (into.version_minor == 1 && hosts == 0) return reject("an HTTP/1.1 request without Host");
  if (hosts > 1) return reject("more than one Host field");
  // RFC 9112 §9.3: 1.1 stays open unless "close"; 1.0 closes unless "keep-alive".
  into.keep_alive = !close && (into.version_minor == 1 || keep_alive_token);
  return {};
}

expected<request, parse_error> parse_request(std::string_view head, const limits& bounds) {
  if (auto broken = check_limits(head, bounds)) return unexpected(std::move(*broken));
  if (head.size() < 4 || head.substr(head.size() - 4) != "\r\n\r\n")
    return reject("the request head does not end with an empty line");
  head.remove_suffix(2);  // every line, the last one included, now ends with CRLF

  std::vector<std::string_view> lines;
  while (!head.empty()) {
    auto end = head.find("\r\n");
    auto line = head.substr(0, end);
    // RFC 9112 §2.2: a bare CR must be rejected; this strict reader also refuses a bare LF.
    if (line.find_first_of("\r\n") != std::string_view::npos)
      return reject("a line ends with a bare CR or LF instead of CRLF");
    lines.push_back(line);
    head.remove_prefix(end + 2);
  }
  if (lines.empty() || lines[0].empty()) return reject("the request line is empty");

  request req;
  if (auto ok = parse_request_line(lines[0], req); !ok) return unexpected(std::move(ok.error()));
  lines.erase(lines.begin());
  if (auto ok = parse_fields(lines, req); !ok) return unexpected(std::move(ok.error()));
  return req;
}

}  // namespace flowstack::http
