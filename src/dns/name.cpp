#include <flowstack/dns/name.hpp>

#include <flowstack/dns/error.hpp>

#include <algorithm>

namespace flowstack::dns {
namespace {

char ascii_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
}

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

}  // namespace

bool label_equal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

result<name> name::from_labels(std::vector<std::string> labels) {
  std::size_t total = 1;
  for (const auto& label : labels) {
    if (label.empty()) return fail(make_error_code(dns_errc::bad_name));
    if (label.size() > max_label_length) return fail(make_error_code(dns_errc::label_too_long));
    total += label.size() + 1;
  }
  if (total > max_wire_length) return fail(make_error_code(dns_errc::name_too_long));
  return name(std::move(labels));
}

result<name> name::parse(std::string_view text) {
  if (text == ".") return name();
  if (text.empty()) return fail(make_error_code(dns_errc::bad_name));
  std::vector<std::string> labels;
  std::string label;
  bool ended_with_dot = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    ended_with_dot = false;
    if (c == '.') {
      if (label.empty()) return fail(make_error_code(dns_errc::bad_name));
      labels.push_back(std::move(label));
      label.clear();
      ended_with_dot = true;
    } else if (c == '\\') {
      if (i + 1 >= text.size()) return fail(make_error_code(dns_errc::bad_name));
      if (is_digit(text[i + 1])) {
        if (i + 3 >= text.size() || !is_digit(text[i + 2]) || !is_digit(text[i + 3]))
          return fail(make_error_code(dns_errc::bad_name));
        int value = (text[i + 1] - '0') * 100 + (text[i + 2] - '0') * 10 + (text[i + 3] - '0');
        if (value > 255) return fail(make_error_code(dns_errc::bad_name));
        label += static_cast<char>(value);
        i += 3;
      } else {
        label += text[i + 1];
        i += 1;
      }
    } else {
      label += c;
    }
    if (label.size() > max_label_length) return fail(make_error_code(dns_errc::label_too_long));
  }
  if (!ended_with_dot) labels.push_back(std::move(label));
  return from_labels(std::move(labels));
}

std::size_t name::wire_length() const noexcept {
  std::size_t total = 1;
  for (const auto& label : labels_) total += label.size() + 1;
  return total;
}

std::string name::to_string() const {
  if (labels_.empty()) return ".";
  std::string out;
  for (const auto& label : labels_) {
    for (char ch : label) {
      auto c = static_cast<unsigned char>(ch);
      switch (c) {
        case '.':
        case '\\':
        case '"':
        case '(':
        case ')':
        case ';':
        case '@':
        case '$':
          out += '\\';
          out += ch;
          break;
        default:
          if (c <= 0x20 || c >= 0x7f) {
            out += '\\';
            out += char('0' + c / 100);
            out += char('0' + c / 10 % 10);
            out += char('0' + c % 10);
          } else {
            out += ch;
          }
      }
    }
    out += '.';
  }
  return out;
}

name name::lowercased() const {
  name out = *this;
  for (auto& label : out.labels_)
    for (auto& c : label) c = ascii_lower(c);
  return out;
}

bool name::is_subdomain_of(const name& zone) const noexcept {
  if (zone.labels_.size() > labels_.size()) return false;
  auto offset = labels_.size() - zone.labels_.size();
  for (std::size_t i = 0; i < zone.labels_.size(); ++i)
    if (!label_equal(labels_[offset + i], zone.labels_[i])) return false;
  return true;
}

bool operator==(const name& a, const name& b) noexcept {
  return a.labels_.size() == b.labels_.size() &&
         std::equal(a.labels_.begin(), a.labels_.end(), b.labels_.begin(), label_equal);
}

}  // namespace flowstack::dns

std::size_t std::hash<flowstack::dns::name>::operator()(
    const flowstack::dns::name& n) const noexcept {
  // FNV-1a over the lowercased labels, each ended by its length so that labels cannot run
  // together.
  std::size_t h = 1469598103934665603ull;
  auto mix = [&h](unsigned char c) {
    h ^= c;
    h *= 1099511628211ull;
  };
  for (const auto& label : n.labels()) {
    for (char c : label) mix(static_cast<unsigned char>((c >= 'A' && c <= 'Z') ? c + 32 : c));
    mix(static_cast<unsigned char>(label.size()));
  }
  return h;
}
